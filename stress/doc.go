// Package stress implements the FIS resource-stress actions natively, with
// no stress-ng binary: CPU stress (aws:ecs:task-cpu-stress), I/O stress
// (aws:ecs:task-io-stress) and, beyond FIS's ECS actions, memory stress
// (the AWSFIS-Run-Memory-Stress document, as faultkit:memory-stress).
//
//	// 60 % of one CPU on each available CPU for 30 s, then a report.
//	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
//	defer cancel()
//	rep, err := stress.CPU(ctx, 60, 0)
//	fmt.Println(rep.Metrics) // load_percent, worker0.load_percent, ...
//
// CPUFault, IOFault and MemoryFault implement fault.Fault, for fault.Run,
// fault.During or Inject/Revert; the front doors CPU, IO and Memory run one
// until ctx ends. Actions (with MemoryAction) feeds fault.NewRegistry with
// FIS's parameter names and defaults.
//
// # CPU: a closed loop on the thread's own CPU clock
//
// stress-ng's --cpu-load busies a worker for a wall-clock share of each
// slice and sleeps the rest: an open loop, which overshoots when sleeps run
// long and undershoots when the worker is preempted. Here each worker is a
// goroutine locked to its OS thread and works in SlicePeriod (100 ms, the
// CFS bandwidth period) slices: it spins until its thread's CPU clock
// (CLOCK_THREAD_CPUTIME_ID) has advanced by the slice's share, sleeps for
// the rest, and carries what the slice missed or overshot into the next
// one (see the dutyCycle controller), so the CPU time the kernel accounts
// to the thread stays at Load over every 1 s window. Load 100 spins
// without sleeping (and without the thread lock, see burnFull). Workers 0 means one worker per CPU available:
// AvailableCPUs counts the affinity mask and caps it by the cgroup CPU
// quota (v1 cpu.cfs_quota_us or v2 cpu.max, the tightest of the cgroup and
// its ancestors), rounded up.
//
// Metrics: load_percent and load_percent_1s (mean per worker, over the run
// and over the last second), worker<N>.load_percent[_1s],
// target_load_percent, workers, cpu_seconds.
//
// # CPU: charging another cgroup
//
// CPUFault.Cgroup charges the stress to a chosen cgroup, as FIS's sidecar
// does with pidMode task. Moving the calling process would move the caller
// (a test binary, a sidecar's control loop) with it, and cgroup v2 only
// takes whole processes, so the workers run in a child process: this
// binary re-executed with the environment variable FAULTKIT_STRESS_CHILD
// set, which this package's init function recognises before main runs
// (the package's single init-time hook, like package fault's guardian; it
// does nothing when the variable is absent). The child starts blocked on
// a pipe; the parent records fault.UndoKill for it in the journal, adds it
// to the cgroup with containerd/cgroups (cgroup1.Load(...).AddProc for v1,
// every hierarchy in which the cgroup exists; cgroup2.Load(...).AddProc for
// v2), then releases it. The child counts AvailableCPUs inside the target
// cgroup, runs the workers and reports its figures over a second pipe; it
// dies with its parent (Pdeathsig SIGKILL) and the journal's guardian
// kills it if the parent is SIGKILLed. Per-thread placement (cgroup v1
// "tasks") was rejected: it does not exist in cgroup v2, where hybrid and
// unified hosts put the ECS task.
//
// # I/O
//
// IOFault's workers mix sequential writes, random reads and writes,
// memory-mapped reads and writes with msync, fdatasync/fsync and page
// cache drops (so reads reach the device) on one file each, in a directory
// created through the fault journal (Journal.CreateDir): it is removed on
// Revert, on a failed Inject, and by the journal's guardian when the
// process dies. The files never hold more than Percent of the free space
// measured at start, split between the workers, nor so much that less than
// a safety margin would stay free; a monitor shrinks them when something
// else eats the margin. Metrics: bytes_written, bytes_read,
// write_bytes_per_sec, read_bytes_per_sec, disk_bytes, disk_bytes_max,
// cap_bytes (Percent of the free space at start), budget_bytes (the cap
// less a reserve for the file system's metadata blocks), free_bytes,
// shrinks, syncs.
//
// # Memory
//
// MemoryFault maps anonymous memory and writes every page, then rewrites
// them every few seconds so they stay resident. Percent is of
// MemAvailable, capped below the process's cgroup memory limit with a
// margin so that the stress does not get the target OOM-killed. Metrics:
// resident_bytes (counted with mincore), target_bytes.
//
// The package runs on Linux; elsewhere Inject returns an error wrapping
// fault.ErrUnsupported.
package stress
