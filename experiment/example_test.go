package experiment_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// printFault stands in for an engine's fault: it prints what it does.
type printFault struct{ what string }

func (f printFault) Name() string { return f.what }

func (f printFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	fmt.Println("inject", f.what)
	return fault.NewControl(func(context.Context) error { fmt.Println("revert", f.what); return nil }, nil), nil
}

// Run a template: the two stress actions run in parallel for their
// duration, then the kill runs. Real programs register the engines:
// fault.NewRegistry(stress.Actions(), netem.Actions(), procs.Actions()).
func ExampleRunTemplate() {
	tpl, err := template.Parse([]byte(`{
	  "description": "stress, then kill",
	  "roleArn": "arn:aws:iam::123456789012:role/fis",
	  "targets": {"me": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "ALL"}},
	  "actions": {
	    "cpu":  {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S"}, "targets": {"Tasks": "me"}},
	    "kill": {"actionId": "aws:ecs:task-kill-process", "parameters": {"processName": "app"},
	             "targets": {"Tasks": "me"}, "startAfter": ["cpu"]}
	  },
	  "stopConditions": [{"source": "none"}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mk := func(p fault.Params) (fault.Fault, error) { return printFault{p.Spec().ID}, nil }
	cpu, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	kill, _ := fault.ECSTaskActionSpec(fault.ActionTaskKillProcess)
	reg, _ := fault.NewRegistry([]fault.Action{{Spec: cpu, New: mk}, {Spec: kill, New: mk}})

	rep, err := experiment.RunTemplate(context.Background(), tpl, experiment.Config{
		Registry: reg, Targets: []experiment.Target{experiment.Host()}, NoJournal: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("experiment:", rep.State.Status)
	for _, a := range rep.Actions {
		fmt.Println(a.Name, a.State.Status)
	}
	// Output:
	// inject aws:ecs:task-cpu-stress
	// revert aws:ecs:task-cpu-stress
	// inject aws:ecs:task-kill-process
	// revert aws:ecs:task-kill-process
	// experiment: completed
	// cpu completed
	// kill completed
}

// Local probes are stop conditions too: a faultkit extension that stays
// out of the template.
func ExampleHTTPProbe() {
	cond := experiment.HTTPProbe("http://127.0.0.1:1/healthz", 0, nil)
	tripped, why, _ := cond.Check(context.Background())
	fmt.Println(cond.Source, tripped, why != "")
	// Output: faultkit:http-probe true true
}

// ParseTarget reads the runner's --target values.
func ExampleParseTarget() {
	for _, s := range []string{"host", "netns:demo", "pid:4242", "cgroup:/system.slice/app.service"} {
		t, err := experiment.ParseTarget(s)
		fmt.Println(t.Kind, t.Name, t.NetNS, err)
	}
	// Output:
	// host host  <nil>
	// netns netns:/run/netns/demo /run/netns/demo <nil>
	// pid pid:4242 /proc/4242/ns/net <nil>
	// cgroup cgroup:/system.slice/app.service  <nil>
}

// Start runs the experiment in the background; Stop stops it as FIS's
// StopExperiment does: running actions revert, pending ones are cancelled.
func ExampleExperiment_Stop() {
	tpl, _ := template.Parse([]byte(`{
	  "description": "long stress",
	  "roleArn": "arn:aws:iam::123456789012:role/fis",
	  "targets": {"me": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "ALL"}},
	  "actions": {
	    "cpu":   {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1H"}, "targets": {"Tasks": "me"}},
	    "after": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1M"}, "targets": {"Tasks": "me"},
	              "startAfter": ["cpu"]}
	  },
	  "stopConditions": [{"source": "none"}]
	}`))
	plan, _ := template.NewPlan(tpl, template.PlanOptions{})
	spec, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	reg, _ := fault.NewRegistry([]fault.Action{{Spec: spec, New: func(fault.Params) (fault.Fault, error) {
		return printFault{"cpu-stress"}, nil
	}}})
	running := make(chan struct{})
	e, _ := experiment.Start(context.Background(), plan, experiment.Config{
		Registry: reg, Targets: []experiment.Target{experiment.Host()}, NoJournal: true,
		Observer: func(ev experiment.Event) {
			if ev.Type == experiment.EventAction && ev.Status == string(experiment.ActionRunning) {
				close(running)
			}
		},
	})
	<-running
	e.Stop("Stopped from the example.")
	rep, err := e.Wait()
	fmt.Println(rep.State.Status, rep.State.Reason, errors.Is(err, experiment.ErrStopped))
	for _, a := range rep.Actions {
		fmt.Println(a.Name, a.State.Status)
	}
	// Output:
	// inject cpu-stress
	// revert cpu-stress
	// stopped Stopped from the example. true
	// cpu stopped
	// after cancelled
}
