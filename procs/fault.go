package procs

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// KillFault is the aws:ecs:task-kill-process fault: it signals every
// process of the pid namespace that matches ProcessName, as Kill does.
//
// The field is ProcessName, after FIS's processName parameter, because a
// Go struct cannot have both a Name field and the Name method that
// fault.Fault requires.
//
// A kill is instantaneous and cannot be undone: Inject sends the signals
// (and waits, if Wait is set) and returns a Handle that has already ended
// (Done is closed, State is "ended", or "failed" when processes survived a
// Wait). Its Revert does nothing and returns nil; the processes stay
// killed. Use it with fault.Run and a duration of 0, or call Inject.
type KillFault struct {
	// ProcessName is the name to match (required). With the default
	// Match it follows killall's rules; see MatchName.
	ProcessName string
	// Signal is the signal to send; 0 means SIGTERM. Any signal from 1 to
	// 64 is accepted here; the FIS action allows SIGTERM and SIGKILL.
	Signal syscall.Signal
	// Match selects how ProcessName is compared (default MatchName).
	Match Match
	// AllowPID1 lets the fault signal PID 1 of the namespace.
	AllowPID1 bool
	// Wait, when positive, makes Inject wait up to this long for the
	// processes to exit and report per-process exit times.
	Wait time.Duration
}

// Name implements fault.Fault.
func (f KillFault) Name() string { return "kill-process" }

func (f KillFault) signal() syscall.Signal {
	if f.Signal == 0 {
		return syscall.SIGTERM
	}
	return f.Signal
}

func (f KillFault) options() []Option {
	opts := []Option{WithMatch(f.Match)}
	if f.AllowPID1 {
		opts = append(opts, AllowPID1())
	}
	if f.Wait > 0 {
		opts = append(opts, Wait(f.Wait))
	}
	return opts
}

// Validate checks the fault's fields without touching any process.
func (f KillFault) Validate() error {
	cfg := newConfig(f.options())
	if f.Wait < 0 {
		return paramError("wait", f.Wait.String(), "must not be negative")
	}
	if err := cfg.validate(f.ProcessName); err != nil {
		return err
	}
	if f.Match == MatchCmdline {
		if _, err := cmdlineRegexp(f.ProcessName); err != nil {
			return err
		}
	}
	return validSignal(f.signal())
}

// Inject implements fault.Fault: it sends the signals now and returns a
// Handle that has already ended, carrying the metrics "signalled",
// "failed", "skipped" and, with Wait, "pid<N>.exit_time". The journal is
// not used: a kill leaves nothing to revert. When no process was
// signalled, Inject returns Kill's error and no Handle. When processes
// were signalled but some outlived Wait, the Handle's state is "failed"
// with that error.
func (f KillFault) Inject(ctx context.Context, _ *fault.Journal) (fault.Handle, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	res, err := Kill(ctx, f.ProcessName, f.signal(), f.options()...)
	if res == nil || len(res.Signalled) == 0 {
		if err == nil {
			err = &NotFoundError{Name: f.ProcessName}
		}
		return nil, err
	}
	c := fault.NewControl(nil, res.Metrics)
	c.End(err)
	return &KillHandle{Control: c, Result: res}, nil
}

// KillHandle is the Handle KillFault.Inject returns: an ended
// fault.Control whose Revert is a no-op, plus Kill's Result.
type KillHandle struct {
	*fault.Control
	// Result is what Kill did. It is not modified after Inject returns.
	Result *Result
}

// Actions returns the procs actions for fault.NewRegistry:
// aws:ecs:task-kill-process, with FIS's parameters processName (required,
// ^[0-9a-zA-Z.\-=_]{1,128}$), signal (SIGTERM or SIGKILL, default
// SIGTERM) and installDependencies (accepted and ignored). The action has
// no duration.
func Actions() []fault.Action {
	spec, ok := fault.ECSTaskActionSpec(fault.ActionTaskKillProcess)
	if !ok {
		return nil
	}
	return []fault.Action{{Spec: spec, New: newKillFault}}
}

// newKillFault builds a KillFault from parameters the spec accepted.
func newKillFault(p fault.Params) (fault.Fault, error) {
	sig, err := ParseSignal(p.String("signal"))
	if err != nil {
		return nil, err
	}
	f := KillFault{ProcessName: p.String("processName"), Signal: sig}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", fault.ActionTaskKillProcess, err)
	}
	return f, nil
}
