package stress

import "time"

// Control parameters of the CPU workers.
const (
	// SlicePeriod is the length of one control slice: in each slice a
	// worker burns CPU for its share, then sleeps for the rest. It matches
	// the default CFS bandwidth period (cpu.cfs_period_us = 100000), so a
	// worker's burst fits a quota period instead of straddling two.
	SlicePeriod = 100 * time.Millisecond
	// Window is the span of the *_1s metrics: the load a worker achieved
	// over its most recent Window of slices. The controller keeps every
	// such window close to the target (see dutyCycle).
	Window = time.Second
)

// window is a ring of the most recent control slices: how much wall time
// each lasted and how much CPU time the thread used in it.
type window struct {
	wall, cpu       []time.Duration
	next, n         int
	sumWall, sumCPU time.Duration
}

func newWindow(slices int) *window {
	if slices < 1 {
		slices = 1
	}
	return &window{wall: make([]time.Duration, slices), cpu: make([]time.Duration, slices)}
}

// add records a finished slice, dropping the oldest once the ring is full.
func (w *window) add(wall, cpu time.Duration) {
	if w.n == len(w.wall) {
		w.sumWall -= w.wall[w.next]
		w.sumCPU -= w.cpu[w.next]
	} else {
		w.n++
	}
	w.wall[w.next], w.cpu[w.next] = wall, cpu
	w.sumWall += wall
	w.sumCPU += cpu
	w.next = (w.next + 1) % len(w.wall)
}

// load returns the CPU fraction over the slices held (0 when empty).
func (w *window) load() float64 {
	if w.sumWall <= 0 {
		return 0
	}
	return float64(w.sumCPU) / float64(w.sumWall)
}

// dutyCycle is the closed-loop controller of one CPU worker. Before each
// slice it is asked how much CPU time to burn; after the slice it is told
// how much wall and thread CPU time the slice really took.
//
// It keeps a debt: the CPU time the worker owes (or, negative, has burnt
// too much) against load × wall time, accumulated over the slices, and
// asks each slice for its share plus the whole debt. That is a deadbeat
// integral controller: a shortfall (the thread was preempted, a timer
// fired late so the slice was longer) is made up in the very next slice,
// and a systematic excess (the spin loop's check granularity, the CPU that
// waking up costs) is learnt within a slice and asked less from then on,
// so a constant disturbance leaves no steady-state error. The debt is
// bounded to one slice either way: after a long starved stretch the worker
// catches up by at most one slice at full load instead of a burst as long
// as the starvation, so every 1 s window stays as close to load as the
// CPU it got allows.
//
// (A controller that targets the sum of the last second directly, asking
// for load × window minus the CPU of the previous slices, is exact on
// average but has a neutral mode: any pattern of period one window with the
// right sum, such as five full slices then five empty ones, repeats forever
// after a disturbance. The integral form has no such mode.)
type dutyCycle struct {
	load   float64       // target fraction of one CPU, 0..1
	period time.Duration // slice length
	debt   time.Duration // CPU time owed, within [-period, period]
}

// newDutyCycle returns a controller for load (a fraction of one CPU, 0..1)
// with slices of period.
func newDutyCycle(load float64, period time.Duration) *dutyCycle {
	return &dutyCycle{load: min(max(load, 0), 1), period: period}
}

// busy returns the thread CPU time to burn in the next slice, within
// [0, period].
func (d *dutyCycle) busy() time.Duration {
	if d.load >= 1 {
		return d.period
	}
	want := time.Duration(d.load*float64(d.period)) + d.debt
	return min(max(want, 0), d.period)
}

// observe records what the slice that just ended really took: its wall
// time and the thread CPU time used.
func (d *dutyCycle) observe(wall, cpu time.Duration) {
	d.debt += time.Duration(d.load*float64(wall)) - cpu
	d.debt = min(max(d.debt, -d.period), d.period)
}
