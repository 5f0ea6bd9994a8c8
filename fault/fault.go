package fault

import (
	"context"
	"sync"
	"time"
)

// Fault is a configured fault: a value that describes what to inject and
// does nothing until Inject is called. A Fault may be injected more than
// once; each Inject returns a new, independent Handle.
type Fault interface {
	// Name returns a short, stable name such as "cpu-stress" or
	// "network-latency", used in logs, errors and reports.
	Name() string
	// Inject applies the fault and returns its running handle. Before it
	// creates anything that could outlive the process (a qdisc, an nft
	// table, a directory of stress files) it records the matching Undo in
	// j, so the journal's guardian can revert it even after SIGKILL. j may
	// be nil, which gives up crash safety.
	//
	// If Inject returns an error, nothing it did remains applied.
	Inject(ctx context.Context, j *Journal) (Handle, error)
}

// Handle controls an injected fault.
type Handle interface {
	// Revert undoes the fault. It is idempotent, safe to call from any
	// goroutine, and converges from any partial state: after a failed
	// Revert, calling it again retries what is left.
	Revert(ctx context.Context) error
	// Done is closed when the fault has ended, on its own (a kill was
	// delivered, workers failed) or because it was reverted.
	Done() <-chan struct{}
	// Status reports the fault's state and achieved figures.
	Status() Status
}

// State is the lifecycle state of an injected fault.
type State string

// States a Handle reports.
const (
	StateRunning  State = "running"  // injected and in effect
	StateEnded    State = "ended"    // ended on its own; Revert still cleans up
	StateFailed   State = "failed"   // ended on its own with an error
	StateReverted State = "reverted" // reverted; nothing remains
)

// Metric is one achieved figure of a running or finished fault, such as
// the CPU load a worker reached or the packets a rule dropped.
type Metric struct {
	Name  string  `json:"name"`  // e.g. "load_percent", "worker0.load_percent"
	Value float64 `json:"value"` // the figure
	Unit  string  `json:"unit"`  // e.g. "%", "bytes", "packets"
}

// Status is a snapshot of a Handle.
type Status struct {
	State   State     `json:"state"`
	Since   time.Time `json:"since"`             // when State was entered
	Metrics []Metric  `json:"metrics,omitempty"` // achieved figures
	Err     error     `json:"-"`                 // why the fault failed, for StateFailed
}

// Control is a ready-made Handle for engines: it serialises Revert, makes it
// idempotent, closes Done exactly once and keeps the state. Engines supply
// the revert and metrics functions and call End when the fault stops on its
// own.
type Control struct {
	mu       sync.Mutex
	revertFn func(context.Context) error
	metrics  func() []Metric
	done     chan struct{}
	doneOnce sync.Once
	state    State
	since    time.Time
	err      error
	last     []Metric
}

// NewControl returns a running Control. revert undoes the fault and must
// itself tolerate objects already gone; it is called again after it fails,
// and never after it succeeded. metrics may be nil.
func NewControl(revert func(context.Context) error, metrics func() []Metric) *Control {
	return &Control{revertFn: revert, metrics: metrics, done: make(chan struct{}),
		state: StateRunning, since: time.Now()}
}

// Revert implements Handle.
func (c *Control) Revert(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateReverted {
		return nil
	}
	if c.metrics != nil {
		c.last = c.metrics() // keep the final figures after the fault is gone
	}
	if c.revertFn != nil {
		if err := c.revertFn(ctx); err != nil {
			return err
		}
	}
	c.state, c.since = StateReverted, time.Now()
	c.closeDone()
	return nil
}

// End marks the fault as ended on its own, with err (nil for a normal end).
// It closes Done. Revert must still be called to release what remains.
func (c *Control) End(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateRunning {
		c.state, c.since, c.err = StateEnded, time.Now(), err
		if err != nil {
			c.state = StateFailed
		}
	}
	c.closeDone()
}

func (c *Control) closeDone() { c.doneOnce.Do(func() { close(c.done) }) }

// Done implements Handle.
func (c *Control) Done() <-chan struct{} { return c.done }

// Status implements Handle.
func (c *Control) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{State: c.state, Since: c.since, Err: c.err}
	if c.state != StateReverted && c.metrics != nil {
		st.Metrics = c.metrics()
	} else {
		st.Metrics = c.last
	}
	return st
}
