package stress

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/faultkit/faultkit/fault"
	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used.
//
// It is a raw system call: clock_gettime on a CPU clock never blocks, and
// going through the runtime's syscall entry would wake the runtime's
// monitor thread (sysmon) out of its deep sleep every time a worker starts
// a burst; sysmon then polls every 20 µs for a while, which costs the
// process up to 1 % of a CPU on top of the stress it was asked for.
func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	_, _, errno := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_THREAD_CPUTIME_ID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, fmt.Errorf("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %w", errno)
	}
	return time.Duration(ts.Nano()), nil
}

// cpuWorker holds one worker's latest accounting for the metrics.
type cpuWorker struct {
	mu sync.Mutex
	s  workerSample
}

func (w *cpuWorker) sample() workerSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.s
}

// burn runs one worker until ctx ends. It locks its goroutine to an OS
// thread so that the thread's CPU clock measures this worker alone. (An
// unlocked variant that follows the goroutine from thread to thread, as
// burnFull does, measured no better in the benchmark and overshot a little,
// since the stretches lost on a migration are burnt again.)
func (w *cpuWorker) burn(ctx context.Context, load int) error {
	if load >= 100 {
		return w.burnFull(ctx)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, err := threadCPU()
	if err != nil {
		return err
	}
	dc := newDutyCycle(float64(load)/100, SlicePeriod)
	win := newWindow(int(Window / SlicePeriod))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	start := time.Now()
	sliceStart, sliceCPU := start, cpu0
	var sink uint64 = 0x9E3779B97F4A7C15
	for ctx.Err() == nil {
		deadline := sliceStart.Add(SlicePeriod)
		if b := dc.busy(); b > 0 {
			sink = spin(sink, sliceCPU+b, deadline, load >= 100)
		}
		if d := time.Until(deadline); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		now := time.Now()
		cpuNow, err := threadCPU()
		if err != nil {
			return err
		}
		wall, used := now.Sub(sliceStart), cpuNow-sliceCPU
		dc.observe(wall, used)
		win.add(wall, used)
		w.mu.Lock()
		w.s = workerSample{CPU: cpuNow - cpu0, Wall: now.Sub(start), WinCPU: win.sumCPU, WinWall: win.sumWall}
		w.mu.Unlock()
		sliceStart, sliceCPU = now, cpuNow
	}
	runtime.KeepAlive(sink)
	return nil
}

// burnFull runs a worker at load 100: it spins without sleeping and needs
// no controller. It is deliberately not locked to its thread: the runtime
// preempts a goroutine that runs for 10 ms, and for a locked goroutine
// every preemption is a hand-off between two OS threads (two wake-ups),
// about a hundred times a second, in which the worker is off the CPU; on a
// busy machine that cost it 5 % of its CPU in our benchmark. An unlocked
// goroutine is simply resumed by the thread that preempted it. Its CPU
// time, for the metrics, is read from whatever thread it runs on, counting
// only the intervals in which it stayed on one thread.
func (w *cpuWorker) burnFull(ctx context.Context) error {
	var m threadMeter
	if _, err := m.read(); err != nil {
		return err
	}
	win := newWindow(int(Window / SlicePeriod))
	start := time.Now()
	sliceStart := start
	var total time.Duration
	x := uint64(0x9E3779B97F4A7C15)
	for ctx.Err() == nil {
		deadline := sliceStart.Add(SlicePeriod)
		var used time.Duration
		for time.Now().Before(deadline) {
			for range 64 {
				for range 1024 {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
				}
				if !time.Now().Before(deadline) {
					break
				}
			}
			d, _ := m.read()
			used += d
		}
		d, _ := m.read()
		used += d
		now := time.Now()
		total += used
		win.add(now.Sub(sliceStart), used)
		w.mu.Lock()
		w.s = workerSample{CPU: total, Wall: now.Sub(start), WinCPU: win.sumCPU, WinWall: win.sumWall}
		w.mu.Unlock()
		sliceStart = now
	}
	runtime.KeepAlive(x)
	return nil
}

// threadMeter accumulates the CPU time of a goroutine that is not locked
// to a thread, from the CPU clock of the thread it happens to run on.
type threadMeter struct {
	tid  int
	last time.Duration
	at   time.Time
}

// read returns the CPU time used since the previous read, or 0 when the
// goroutine moved to another thread in between (that interval is lost).
func (m *threadMeter) read() (time.Duration, error) {
	now := time.Now()
	tid := unix.Gettid()
	c, err := threadCPU()
	if err != nil {
		return 0, err
	}
	var d time.Duration
	// Same thread before and after, and a delta no thread could exceed
	// (a little slack: the two clocks are not read at the same instant).
	if tid == unix.Gettid() && tid == m.tid && c >= m.last && c-m.last <= now.Sub(m.at)+time.Millisecond {
		d = c - m.last
	}
	m.tid, m.last, m.at = tid, c, now
	return d, nil
}

// spin burns CPU until the thread's CPU clock reaches cpuUntil or the wall
// clock reaches wallUntil. With full it watches only the wall clock.
func spin(x uint64, cpuUntil time.Duration, wallUntil time.Time, full bool) uint64 {
	for {
		// A few microseconds of integer work between clock reads: the
		// thread CPU clock is a system call, the wall clock is not.
		for range 1024 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		if !full {
			if c, err := threadCPU(); err != nil || c >= cpuUntil {
				return x
			}
		}
		if !time.Now().Before(wallUntil) {
			return x
		}
	}
}

// cpuRun is a set of workers running in this process.
type cpuRun struct {
	load    int
	workers []*cpuWorker
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // set before done is closed
}

// startCPU starts n workers at load until ctx ends or stop is called.
func startCPU(ctx context.Context, load, n int) *cpuRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &cpuRun{load: load, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		w := &cpuWorker{}
		r.workers = append(r.workers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.burn(ctx, load); err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
				cancel() // one failed worker ends the fault
			}
		}()
	}
	go func() {
		wg.Wait()
		r.err = errors.Join(errs...)
		close(r.done)
	}()
	return r
}

func (r *cpuRun) samples() []workerSample {
	out := make([]workerSample, len(r.workers))
	for i, w := range r.workers {
		out[i] = w.sample()
	}
	return out
}

// stop ends the workers and waits for them, at most until ctx ends.
func (r *cpuRun) stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stress: cpu workers did not stop: %w", ctx.Err())
	}
}

// Inject implements fault.Fault. Without Cgroup, the workers run in this
// process and nothing needs a journal entry; with Cgroup they run in a
// child process whose kill is recorded in j.
func (f CPUFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if f.Cgroup != "" {
		return f.injectChild(ctx, j)
	}
	n := f.Workers
	if n == 0 {
		var err error
		if n, err = AvailableCPUs(); err != nil {
			return nil, &fault.OpError{Op: "inject", Fault: f.Name(), Object: "available CPUs", Err: err}
		}
	}
	// The workers outlive Inject's ctx: they run until Revert.
	r := startCPU(context.WithoutCancel(ctx), f.Load, n)
	c := fault.NewControl(r.stop, func() []fault.Metric { return cpuMetrics(f.Load, r.samples()) })
	go func() {
		<-r.done
		c.End(r.err)
	}()
	return c, nil
}
