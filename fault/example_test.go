package fault_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// sleepFault stands in for an engine's fault in these examples.
type sleepFault struct{}

func (sleepFault) Name() string { return "example" }
func (sleepFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	return fault.NewControl(func(context.Context) error { fmt.Println("reverted"); return nil },
		func() []fault.Metric { return []fault.Metric{{Name: "load_percent", Value: 80, Unit: "%"}} }), nil
}

// Run injects a fault, holds it and always reverts it.
func ExampleRun() {
	rep, err := fault.Run(context.Background(), sleepFault{}, 10*time.Millisecond, fault.WithoutJournal())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.EndedBy, rep.Metrics[0].Name, rep.Metrics[0].Value)
	// Output:
	// reverted
	// duration load_percent 80
}

// During runs test code while a fault is in effect.
func ExampleDuring() {
	_, err := fault.During(context.Background(), sleepFault{}, func(ctx context.Context) error {
		fmt.Println("calling the service under test")
		return nil
	}, fault.WithoutJournal())
	fmt.Println(err)
	// Output:
	// calling the service under test
	// reverted
	// <nil>
}

// Specs validate FIS parameters without building a fault; errors name the
// parameter and the value.
func ExampleActionSpec_Resolve() {
	spec, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	p, err := spec.Resolve(map[string]string{"duration": "PT5M"})
	fmt.Println(p.Int("percent"), p.Int("workers"), p.Duration("duration"), err)
	_, err = spec.Resolve(map[string]string{"duration": "PT5M", "percent": "101"})
	fmt.Println(err, errors.Is(err, fault.ErrInvalidParameter))
	// Output:
	// 100 0 5m0s <nil>
	// aws:ecs:task-cpu-stress: parameter "percent" value "101": out of range 0-100 true
}

// ParseDuration reads FIS's ISO-8601 durations.
func ExampleParseDuration() {
	d, _ := fault.ParseDuration("PT1H30M")
	fmt.Println(d, fault.FormatDuration(d))
	_, err := fault.ParseDuration("5m")
	fmt.Println(err)
	// Output:
	// 1h30m0s PT1H30M
	// invalid ISO-8601 duration "5m": must start with P and give at least one value (want e.g. PT30S, PT5M, PT1H30M)
}

// A Journal records how to undo what a fault creates, before it creates
// it; its guardian reverts it if the process dies.
func ExampleJournal() {
	j, err := fault.OpenJournal(fault.JournalConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close() // applies anything still recorded
	dir, entry, err := j.CreateDir("/tmp", "faultkit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	// ... use dir; on revert remove it and release the entry:
	_ = fault.UndoRemoveDir(dir).Apply(context.Background())
	_ = entry.Release()
}
