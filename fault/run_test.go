package fault_test

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// countingFault records injections and reverts; its handle ends on its own
// after endAfter when that is positive.
type countingFault struct {
	injected, reverted atomic.Int32
	failRevert         atomic.Int32 // revert fails this many times first
	endAfter           time.Duration
	endErr             error
}

func (f *countingFault) Name() string { return "counting" }

func (f *countingFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	f.injected.Add(1)
	c := fault.NewControl(func(context.Context) error {
		if f.failRevert.Load() > 0 {
			f.failRevert.Add(-1)
			return errors.New("revert failed")
		}
		f.reverted.Add(1)
		return nil
	}, func() []fault.Metric { return []fault.Metric{{Name: "injections", Value: float64(f.injected.Load())}} })
	if f.endAfter > 0 {
		time.AfterFunc(f.endAfter, func() { c.End(f.endErr) })
	}
	return c, nil
}

func TestRunHoldsForDuration(t *testing.T) {
	f := &countingFault{}
	rep, err := fault.Run(context.Background(), f, 50*time.Millisecond, fault.WithoutJournal())
	if err != nil {
		t.Fatal(err)
	}
	if f.injected.Load() != 1 || f.reverted.Load() != 1 {
		t.Fatalf("injected %d reverted %d", f.injected.Load(), f.reverted.Load())
	}
	if rep.EndedBy != "duration" || rep.Held < 50*time.Millisecond || rep.Final.State != fault.StateReverted {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Metrics) != 1 || rep.Metrics[0].Value != 1 {
		t.Errorf("final metrics kept after revert: %+v", rep.Metrics)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	f := &countingFault{}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	rep, err := fault.Run(ctx, f, time.Hour, fault.WithoutJournal())
	if err != nil || rep.EndedBy != "context" || f.reverted.Load() != 1 {
		t.Fatalf("err %v report %+v reverted %d", err, rep, f.reverted.Load())
	}
}

func TestRunEndsWithFault(t *testing.T) {
	f := &countingFault{endAfter: 10 * time.Millisecond, endErr: errors.New("workers died")}
	rep, err := fault.Run(context.Background(), f, 0, fault.WithoutJournal())
	if err == nil || rep.EndedBy != "fault" || f.reverted.Load() != 1 {
		t.Fatalf("err %v report %+v", err, rep)
	}
}

func TestRunStopsOnSignal(t *testing.T) {
	f := &countingFault{}
	time.AfterFunc(30*time.Millisecond, func() { _ = syscall.Kill(syscall.Getpid(), syscall.SIGUSR1) })
	rep, err := fault.Run(context.Background(), f, time.Hour, fault.WithoutJournal(), fault.WithSignals(syscall.SIGUSR1))
	if err != nil || rep.EndedBy != "signal" || f.reverted.Load() != 1 {
		t.Fatalf("err %v report %+v", err, rep)
	}
}

func TestDuringRevertsOnPanic(t *testing.T) {
	f := &countingFault{}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("panic not re-raised: %v", r)
			}
		}()
		_, _ = fault.During(context.Background(), f, func(context.Context) error { panic("boom") }, fault.WithoutJournal())
	}()
	if f.reverted.Load() != 1 {
		t.Fatal("not reverted after panic")
	}
}

func TestDuringCancelsFnWhenFaultEnds(t *testing.T) {
	f := &countingFault{endAfter: 10 * time.Millisecond}
	_, err := fault.During(context.Background(), f, func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("fn not cancelled")
		}
	}, fault.WithoutJournal())
	if err != nil || f.reverted.Load() != 1 {
		t.Fatal(err, f.reverted.Load())
	}
}

func TestControlRevertRetriesAndIsIdempotent(t *testing.T) {
	f := &countingFault{}
	f.failRevert.Store(1)
	h, _ := f.Inject(context.Background(), nil)
	if err := h.Revert(context.Background()); err == nil {
		t.Fatal("first revert should fail")
	}
	if h.Status().State != fault.StateRunning {
		t.Fatal("a failed revert must leave the fault running, to be retried")
	}
	select {
	case <-h.Done():
		t.Fatal("Done closed after failed revert")
	default:
	}
	for i := 0; i < 3; i++ {
		if err := h.Revert(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.reverted.Load() != 1 {
		t.Fatalf("revert ran %d times after success", f.reverted.Load())
	}
	<-h.Done()
}

func TestRunUsesJournalDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FAULTKIT_STATE_DIR", dir)
	f := &countingFault{}
	if _, err := fault.Run(context.Background(), f, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if f.reverted.Load() != 1 {
		t.Fatal("not reverted")
	}
}
