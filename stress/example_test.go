package stress_test

import (
	"context"
	"fmt"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/stress"
)

// Burn half a CPU on one worker until the context ends, then read the
// achieved load from the report.
func ExampleCPU() {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := stress.CPU(ctx, 50, 1, fault.WithoutJournal())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rep.Metrics {
		if m.Name == "target_load_percent" || m.Name == "workers" {
			fmt.Println(m.Name, m.Value)
		}
	}
	// Output:
	// target_load_percent 50
	// workers 1
}

// Stress the file system under a directory with two workers, on at most
// 10 % of its free space (and 16 MiB), while some code runs.
func ExampleIOFault() {
	f := stress.IOFault{Percent: 10, Workers: 2, Dir: "", MaxBytes: 16 << 20}
	rep, err := fault.During(context.Background(), f, func(ctx context.Context) error {
		time.Sleep(200 * time.Millisecond) // the code under test
		return nil
	}, fault.WithoutJournal())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Fault, rep.EndedBy)
	// Output: io-stress function
}

// Occupy 1 % of the available memory for a moment.
func ExampleMemory() {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rep, err := stress.Memory(ctx, 1, 1, fault.WithoutJournal())
	fmt.Println(rep.Fault, err)
	// Output: memory-stress <nil>
}

// The FIS actions, composed into a registry with the memory extension,
// built from FIS's string parameters.
func ExampleActions() {
	reg, err := fault.NewRegistry(stress.Actions(), []fault.Action{stress.MemoryAction()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.IDs())
	f, d, err := reg.New("aws:ecs:task-cpu-stress", map[string]string{"duration": "PT5M", "percent": "80"})
	fmt.Printf("%+v %v %v\n", f, d, err)
	_, _, err = reg.New("aws:ecs:task-cpu-stress", map[string]string{"duration": "5m", "percent": "101"})
	fmt.Println(err)
	// Output:
	// [aws:ecs:task-cpu-stress aws:ecs:task-io-stress faultkit:memory-stress]
	// {Load:80 Workers:0 Cgroup: CgroupVersion:0} 5m0s <nil>
	// aws:ecs:task-cpu-stress: parameter "duration" value "5m": invalid ISO-8601 duration "5m": must start with P and give at least one value (want e.g. PT30S, PT5M, PT1H30M)
	// aws:ecs:task-cpu-stress: parameter "percent" value "101": out of range 0-100
}
