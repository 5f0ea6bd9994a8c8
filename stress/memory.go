package stress

import (
	"context"
	"fmt"
	"strconv"

	"github.com/faultkit/faultkit/fault"
)

// MemoryActionID is the action ID of the memory stress. FIS has no ECS
// task action for it (only the SSM document AWSFIS-Run-Memory-Stress, which
// runs stress-ng --vm N --vm-bytes P%); faultkit offers it under its own
// prefix so that templates cannot mistake it for a FIS action.
const MemoryActionID = "faultkit:memory-stress"

// MemoryActionSpec returns a fresh copy of the spec of the memory stress:
// duration (required, PT1S-PT12H), percent (required, 1-100, of the memory
// available), workers (default 1) and installDependencies (ignored), the
// parameters of AWSFIS-Run-Memory-Stress.
func MemoryActionSpec() *fault.ActionSpec {
	cpu, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	duration, _ := cpu.Param("duration")
	install, _ := cpu.Param("installDependencies")
	return &fault.ActionSpec{
		ID:            MemoryActionID,
		Description:   "Allocate and keep resident a percentage of the memory available to the target tasks.",
		ResourceType:  fault.ResourceTypeECSTask,
		TargetKey:     fault.TargetKeyTasks,
		DurationParam: "duration",
		Params: []fault.ParamSpec{
			*duration,
			{Name: "percent", Type: fault.TypeInt, Required: true, Min: 1, Max: 100,
				Doc: "percent of the available memory (MemAvailable, capped by the cgroup limit) to occupy"},
			{Name: "workers", Type: fault.TypeInt, Default: "1", Min: 1, Max: MaxWorkers,
				Doc: "number of workers sharing the allocation"},
			*install,
		},
	}
}

// MemoryAction pairs MemoryActionSpec with its constructor, for
// fault.NewRegistry(stress.Actions(), []fault.Action{stress.MemoryAction()}).
func MemoryAction() fault.Action {
	return fault.Action{Spec: MemoryActionSpec(), New: func(p fault.Params) (fault.Fault, error) {
		f := MemoryFault{Percent: int(p.Int("percent")), Workers: int(p.Int("workers"))}
		return f, f.validate()
	}}
}

// MemoryFault occupies memory as stress-ng --vm N --vm-bytes P% does for
// AWSFIS-Run-Memory-Stress: Workers anonymous mappings that together hold
// Percent of the memory available, every page written so that it is really
// resident, and rewritten every few seconds so that it stays so.
//
// "Available" is MemAvailable from /proc/meminfo, and, when the calling
// process's cgroup has a memory limit, at most the room left below that
// limit, less a safety margin (5 % of the limit, between 16 MiB and
// 512 MiB): the target is stressed, not OOM-killed by the stress itself.
type MemoryFault struct {
	// Percent is the share of the available memory to occupy, 1-100.
	Percent int
	// Workers is the number of workers (mappings), 1-MaxWorkers; 0 means 1.
	Workers int
}

// Name implements fault.Fault.
func (f MemoryFault) Name() string { return "memory-stress" }

func (f MemoryFault) validate() error {
	if f.Percent < 1 || f.Percent > 100 {
		return &fault.ParamError{Action: f.Name(), Param: "percent", Value: strconv.Itoa(f.Percent), Reason: "out of range 1-100"}
	}
	if f.Workers < 0 || f.Workers > MaxWorkers {
		return &fault.ParamError{Action: f.Name(), Param: "workers", Value: strconv.Itoa(f.Workers),
			Reason: fmt.Sprintf("out of range 1-%d", MaxWorkers)}
	}
	return nil
}

// Memory occupies percent of the available memory with workers workers
// (see MemoryFault) until ctx ends, then frees it and returns the report
// (resident_bytes, target_bytes among its metrics). opts are passed to
// fault.Run.
func Memory(ctx context.Context, percent, workers int, opts ...fault.RunOption) (fault.Report, error) {
	return fault.Run(ctx, MemoryFault{Percent: percent, Workers: workers}, 0, opts...)
}

// memMargin is the room left below a cgroup memory limit.
func memMargin(limit uint64) uint64 {
	return min(max(limit/20, 16<<20), 512<<20)
}

// planMemory returns the bytes each worker maps: percent of the memory
// available (MemAvailable, and the room below the cgroup limit when
// limited), never closer to the limit than the margin, in whole pages.
func planMemory(memAvailable, limit, usage uint64, limited bool, percent, workers int) (uint64, error) {
	workers = max(workers, 1)
	avail := memAvailable
	room := avail
	if limited {
		left := limit - min(usage, limit)
		avail = min(avail, left)
		room = 0
		if m := memMargin(limit); left > m {
			room = left - m
		}
	}
	total := min(mulPercent(avail, percent), room)
	per := total / uint64(workers) / pageSize * pageSize
	if per == 0 {
		return 0, fmt.Errorf("not enough memory: %d bytes available (cgroup limit %d, usage %d, limited %t) for %d workers",
			memAvailable, limit, usage, limited, workers)
	}
	return per, nil
}
