package stress

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// CPUFault burns CPU: Workers threads, each holding Load percent of one
// CPU, as stress-ng --cpu N --cpu-load L does for FIS's
// aws:ecs:task-cpu-stress. Load 0 (the zero value) burns nothing, as in
// FIS; the registry's default for percent is 100.
//
// Each worker is a goroutine locked to its OS thread. It works in slices
// of SlicePeriod: it spins until its thread has used its share of CPU time
// in the slice (read with CLOCK_THREAD_CPUTIME_ID), then sleeps for the
// rest. The share comes from a closed loop over the last Window, so the
// duty cycle measured from the thread's own CPU time stays at Load even
// when the thread is preempted or wakes late. Load 100 spins without
// sleeping; Load 0 only sleeps.
//
// In-process workers share the caller's GOMAXPROCS: with fewer Ps than
// workers they take turns. The cgroup child (see Cgroup) raises its own
// GOMAXPROCS to Workers+1.
type CPUFault struct {
	// Load is the target load per worker, in percent of one CPU, 0-100.
	Load int
	// Workers is the number of worker threads; 0 means one per CPU
	// available (AvailableCPUs: the affinity mask capped by the cgroup's
	// CPU quota).
	Workers int
	// Cgroup, when set, charges the stress to that cgroup instead of the
	// caller's: the workers run in a child process (this binary
	// re-executed, see the package doc) placed in the cgroup before it
	// starts burning. It is the cgroup's path as /proc/PID/cgroup lists it,
	// e.g. "/ecs/3f7d.../app" (v1) or "/system.slice/x.service" (v2).
	// With Workers 0 the child counts the CPUs available in the cgroup.
	Cgroup string
	// CgroupVersion selects the hierarchy of Cgroup: 1, 2, or 0 to pick
	// the v1 cpu hierarchy when the cgroup exists there, else the v2 one.
	CgroupVersion int
}

// Name implements fault.Fault.
func (f CPUFault) Name() string { return "cpu-stress" }

// validate checks the fields; errors are *fault.ParamError naming them.
func (f CPUFault) validate() error {
	if f.Load < 0 || f.Load > 100 {
		return &fault.ParamError{Action: f.Name(), Param: "load", Value: strconv.Itoa(f.Load), Reason: "out of range 0-100"}
	}
	if f.Workers < 0 || f.Workers > MaxWorkers {
		return &fault.ParamError{Action: f.Name(), Param: "workers", Value: strconv.Itoa(f.Workers),
			Reason: fmt.Sprintf("out of range 0-%d", MaxWorkers)}
	}
	if f.CgroupVersion < 0 || f.CgroupVersion > 2 {
		return &fault.ParamError{Action: f.Name(), Param: "cgroupVersion", Value: strconv.Itoa(f.CgroupVersion),
			Reason: "must be 0 (auto), 1 or 2"}
	}
	if f.CgroupVersion != 0 && f.Cgroup == "" {
		return &fault.ParamError{Action: f.Name(), Param: "cgroupVersion", Value: strconv.Itoa(f.CgroupVersion),
			Reason: "set without a cgroup"}
	}
	return nil
}

// MaxWorkers bounds the workers of every stress fault, as the FIS specs do.
const MaxWorkers = 1024

// CPU burns load percent of one CPU on each of workers threads (0 = one per
// available CPU) until ctx ends, then stops and returns the report, whose
// metrics give the load achieved (see CPUFault). opts are passed to
// fault.Run.
func CPU(ctx context.Context, load, workers int, opts ...fault.RunOption) (fault.Report, error) {
	return fault.Run(ctx, CPUFault{Load: load, Workers: workers}, 0, opts...)
}

// workerSample is one worker's CPU accounting: thread CPU time and wall
// time since the worker started, and over the last Window. It travels as
// JSON from a cgroup child process to its parent.
type workerSample struct {
	CPU     time.Duration `json:"cpu"`
	Wall    time.Duration `json:"wall"`
	WinCPU  time.Duration `json:"wcpu"`
	WinWall time.Duration `json:"wwall"`
}

func pct(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * float64(cpu) / float64(wall)
}

// cpuMetrics turns worker samples into the fault's metrics:
//
//	load_percent, load_percent_1s     mean load per worker, whole run / last second
//	worker<N>.load_percent[_1s]       the same for each worker
//	target_load_percent, workers, cpu_seconds
func cpuMetrics(target int, ws []workerSample) []fault.Metric {
	var cpu, wall, wcpu, wwall time.Duration
	per := make([]fault.Metric, 0, 2*len(ws))
	for i, w := range ws {
		cpu += w.CPU
		wall += w.Wall
		wcpu += w.WinCPU
		wwall += w.WinWall
		name := "worker" + strconv.Itoa(i) + "."
		per = append(per,
			fault.Metric{Name: name + "load_percent", Value: round2(pct(w.CPU, w.Wall)), Unit: "%"},
			fault.Metric{Name: name + "load_percent_1s", Value: round2(pct(w.WinCPU, w.WinWall)), Unit: "%"})
	}
	m := []fault.Metric{
		{Name: "load_percent", Value: round2(pct(cpu, wall)), Unit: "%"},
		{Name: "load_percent_1s", Value: round2(pct(wcpu, wwall)), Unit: "%"},
		{Name: "target_load_percent", Value: float64(target), Unit: "%"},
		{Name: "workers", Value: float64(len(ws)), Unit: "threads"},
		{Name: "cpu_seconds", Value: round2(cpu.Seconds()), Unit: "s"},
	}
	return append(m, per...)
}

func round2(v float64) float64 {
	return math.Round(v*100) / 100
}
