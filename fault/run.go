package fault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// RevertTimeout bounds how long Run and During wait for a revert once the
// fault's context is over.
const RevertTimeout = 30 * time.Second

// Report is the outcome of Run or During.
type Report struct {
	Fault    string        `json:"fault"`
	Injected time.Time     `json:"injected"`
	Reverted time.Time     `json:"reverted"`
	Held     time.Duration `json:"held"`
	// EndedBy says what ended the hold: "duration", "context", "signal",
	// "fault" (the fault ended on its own) or "function" (During's fn
	// returned).
	EndedBy string   `json:"endedBy"`
	Final   Status   `json:"final"`
	Metrics []Metric `json:"metrics,omitempty"`
}

// RunOption configures Run and During.
type RunOption func(*runConfig)

type runConfig struct {
	journal   *Journal
	noJournal bool
	signals   []os.Signal
	logger    *slog.Logger
}

// WithJournal makes Run record undo entries in j instead of opening a
// journal of its own.
func WithJournal(j *Journal) RunOption { return func(c *runConfig) { c.journal = j } }

// WithoutJournal runs without a journal: a crash of the process can leave
// the fault behind. Use it only where crash safety does not matter.
func WithoutJournal() RunOption { return func(c *runConfig) { c.noJournal = true } }

// WithSignals makes Run stop holding and revert when one of sigs arrives
// (SIGINT and SIGTERM when none are given).
func WithSignals(sigs ...os.Signal) RunOption {
	return func(c *runConfig) {
		if len(sigs) == 0 {
			sigs = []os.Signal{os.Interrupt, syscall.SIGTERM}
		}
		c.signals = sigs
	}
}

// WithLogger sets the logger for injection and revert events.
func WithLogger(l *slog.Logger) RunOption { return func(c *runConfig) { c.logger = l } }

// Run injects f, holds it for d (d <= 0: until ctx ends or the fault ends on
// its own), then reverts it. The revert always happens: when the hold ends,
// when ctx is cancelled, when an opted-in signal arrives, and when anything
// between inject and revert panics (the panic is re-raised after the
// revert). Unless WithJournal or WithoutJournal is given, Run opens a
// journal in the default state directory so a crash cannot leave the fault
// behind.
//
// The returned error joins the injection or revert error with the fault's
// own failure, if any.
func Run(ctx context.Context, f Fault, d time.Duration, opts ...RunOption) (Report, error) {
	return hold(ctx, f, opts, func(ctx context.Context, h Handle) (string, error) {
		var timer <-chan time.Time
		if d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-timer:
			return "duration", nil
		case <-h.Done():
			return "fault", nil
		case <-ctx.Done():
			return "context", nil
		}
	})
}

// During injects f, calls fn while the fault is in effect, and reverts when
// fn returns, when fn panics (the panic is re-raised after the revert), or
// when the fault ends on its own (fn's ctx is then cancelled). It is the
// natural form for a test: "run this code under 100 ms of latency".
func During(ctx context.Context, f Fault, fn func(ctx context.Context) error, opts ...RunOption) (Report, error) {
	return hold(ctx, f, opts, func(ctx context.Context, h Handle) (string, error) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-h.Done():
				cancel()
			case <-fctx.Done():
			}
		}()
		return "function", fn(fctx)
	})
}

func hold(ctx context.Context, f Fault, opts []RunOption, wait func(context.Context, Handle) (string, error)) (rep Report, err error) {
	cfg := runConfig{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	rep.Fault = f.Name()
	var stopSignals context.CancelFunc = func() {}
	sigCtx := ctx
	if len(cfg.signals) > 0 {
		sigCtx, stopSignals = signal.NotifyContext(ctx, cfg.signals...)
	}
	defer stopSignals()

	j := cfg.journal
	if j == nil && !cfg.noJournal {
		j, err = OpenJournal(JournalConfig{Logger: cfg.logger})
		if err != nil {
			return rep, fmt.Errorf("fault: %s: open journal: %w", f.Name(), err)
		}
		defer func() { err = errors.Join(err, j.Close()) }()
	}

	h, err := f.Inject(sigCtx, j)
	if err != nil {
		return rep, err
	}
	rep.Injected = time.Now()
	cfg.logger.Info("fault injected", "fault", f.Name())

	revert := func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
		defer cancel()
		rerr := h.Revert(rctx)
		rep.Reverted = time.Now()
		rep.Held = rep.Reverted.Sub(rep.Injected)
		rep.Final = h.Status()
		rep.Metrics = rep.Final.Metrics
		if rerr != nil {
			cfg.logger.Error("fault revert failed", "fault", f.Name(), "err", rerr)
		} else {
			cfg.logger.Info("fault reverted", "fault", f.Name(), "held", rep.Held)
		}
		return rerr
	}
	defer func() {
		if p := recover(); p != nil {
			_ = revert()
			panic(p)
		}
	}()

	endedBy, werr := wait(sigCtx, h)
	if endedBy == "context" && ctx.Err() == nil && sigCtx.Err() != nil {
		endedBy = "signal"
	}
	rep.EndedBy = endedBy
	final := h.Status()
	rerr := revert()
	var ferr error
	if final.State == StateFailed && final.Err != nil {
		ferr = fmt.Errorf("fault %s failed: %w", f.Name(), final.Err)
	}
	return rep, errors.Join(werr, ferr, rerr)
}
