package experiment_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// A real FIS template, through Parse, Validate and NewPlan: two parallel
// ECS actions and a third after both, on a COUNT(2) target with the
// engines replaced by test faults.
const parallelTemplate = `{
  "description": "two in parallel, then a third",
  "roleArn": "arn:aws:iam::123456789012:role/fis-demo",
  "targets": {
    "tasks": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "COUNT(2)"}
  },
  "actions": {
    "cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S", "percent": "30"}, "targets": {"Tasks": "tasks"}},
    "io":  {"actionId": "aws:ecs:task-io-stress",  "parameters": {"duration": "PT1S"}, "targets": {"Tasks": "tasks"}},
    "kill": {"actionId": "aws:ecs:task-kill-process", "parameters": {"processName": "demo-app"},
             "targets": {"Tasks": "tasks"}, "startAfter": ["cpu", "io"]}
  },
  "stopConditions": [{"source": "none"}],
  "experimentOptions": {"emptyTargetResolutionMode": "skip"}
}`

func TestRunTemplate(t *testing.T) {
	t.Parallel()
	tpl, err := template.Parse([]byte(parallelTemplate))
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	cfg := baseConfig(l)
	cfg.Targets = hosts(3)
	cfg.RegistryFor = testRegistryFor(l, fault.ActionTaskCPUStress, fault.ActionTaskIOStress, fault.ActionTaskKillProcess)
	rep, err := experiment.RunTemplate(context.Background(), tpl, cfg)
	if err != nil {
		t.Fatalf("RunTemplate: %v", err)
	}
	if rep.State.Status != experiment.StatusCompleted || rep.Template.Description != "two in parallel, then a third" {
		t.Fatalf("report = %+v %+v", rep.State, rep.Template)
	}
	for _, id := range []string{fault.ActionTaskCPUStress, fault.ActionTaskIOStress, fault.ActionTaskKillProcess} {
		if n := len(l.find("inject", id)); n != 2 {
			t.Errorf("%s injected on %d targets, want 2 (COUNT(2))", id, n)
		}
	}
	cpu, io, kill := mustAction(t, rep, "cpu"), mustAction(t, rep, "io"), mustAction(t, rep, "kill")
	if !cpu.StartTime.Before(io.EndTime) || !io.StartTime.Before(cpu.EndTime) {
		t.Errorf("cpu %v-%v and io %v-%v did not overlap", cpu.StartTime, cpu.EndTime, io.StartTime, io.EndTime)
	}
	if kill.StartTime.Before(cpu.EndTime) || kill.StartTime.Before(io.EndTime) {
		t.Errorf("kill started %v before cpu (%v) and io (%v) completed", kill.StartTime, cpu.EndTime, io.EndTime)
	}
	if v, _ := cpu.Metric("load_percent"); v != 30 {
		t.Errorf("cpu load_percent = %v, want the template's 30", v)
	}
	if kill.Duration != "PT0S" || kill.DurationSeconds != 0 {
		t.Errorf("kill duration = %q", kill.Duration)
	}
	l.checkReverted(t)
}

// emptyTargetTemplate has one target that selects every candidate and
// one, PERCENT(10), that selects none of fewer than ten; OPTIONS is
// replaced by the template's experimentOptions.
const emptyTargetTemplate = `{
  "description": "one target selects nothing",
  "roleArn": "arn:aws:iam::123456789012:role/fis-demo",
  "targets": {
    "fleet": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "ALL"},
    "few":   {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "PERCENT(10)"}
  },
  "actions": {
    "cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S"}, "targets": {"Tasks": "fleet"}},
    "io":  {"actionId": "aws:ecs:task-io-stress",  "parameters": {"duration": "PT1S"}, "targets": {"Tasks": "few"}}
  },
  "stopConditions": [{"source": "none"}]OPTIONS
}`

// TestRunPlanEmptyTargetMode: Run takes emptyTargetResolutionMode from
// the plan, that is from the template; nothing in Config sets it.
func TestRunPlanEmptyTargetMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, options string
		want          experiment.Status
		wantIO        experiment.ActionStatus
		wantCPU       experiment.ActionStatus
	}{
		{"skip", `, "experimentOptions": {"emptyTargetResolutionMode": "skip"}`,
			experiment.StatusCompleted, experiment.ActionSkipped, experiment.ActionCompleted},
		{"fail", `, "experimentOptions": {"emptyTargetResolutionMode": "fail"}`,
			experiment.StatusFailed, experiment.ActionCancelled, experiment.ActionCancelled},
		{"default", "", experiment.StatusFailed, experiment.ActionCancelled, experiment.ActionCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := template.Parse([]byte(strings.Replace(emptyTargetTemplate, "OPTIONS", tc.options, 1)))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := template.NewPlan(tpl, template.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l := newLedger()
			cfg := baseConfig(l) // one candidate: PERCENT(10) of it is none
			cfg.RegistryFor = testRegistryFor(l, fault.ActionTaskCPUStress, fault.ActionTaskIOStress)
			rep, err := experiment.Run(context.Background(), plan, cfg)
			if rep.State.Status != tc.want {
				t.Fatalf("state = %+v (err %v), want %s", rep.State, err, tc.want)
			}
			if tc.want == experiment.StatusCompleted && err != nil {
				t.Errorf("Run = %v", err)
			}
			if tc.want == experiment.StatusFailed && (!errors.Is(err, experiment.ErrFailed) || !strings.Contains(rep.State.Reason, `target "few"`)) {
				t.Errorf("Run = %v, reason %q; want ErrFailed naming target few", err, rep.State.Reason)
			}
			if got := mustAction(t, rep, "io").State.Status; got != tc.wantIO {
				t.Errorf("io (on the empty target) = %s, want %s", got, tc.wantIO)
			}
			if got := mustAction(t, rep, "cpu").State.Status; got != tc.wantCPU {
				t.Errorf("cpu = %s, want %s", got, tc.wantCPU)
			}
			if n := len(l.find("inject", fault.ActionTaskIOStress)); n != 0 {
				t.Errorf("io injected %d times on a target that selected nothing", n)
			}
			wantCPU := 0
			if tc.wantCPU == experiment.ActionCompleted {
				wantCPU = 1
			}
			if n := len(l.find("inject", fault.ActionTaskCPUStress)); n != wantCPU {
				t.Errorf("cpu injected %d times, want %d", n, wantCPU)
			}
			l.checkReverted(t)
		})
	}
}
