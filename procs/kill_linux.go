package procs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MethodPidfd is Result.Method when signals went through pidfds.
const MethodPidfd = "pidfd_send_signal"

// Find lists the processes of the caller's pid namespace (as /proc shows
// it) that match name, sorted by PID. It includes the caller and PID 1 if
// they match: Kill is what skips them. No match is not an error: Find
// returns an empty list.
func Find(name string, opts ...Option) ([]Process, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(name); err != nil {
		return nil, err
	}
	fs := newProcFS(cfg.procRoot)
	m, err := newMatcher(name, cfg.match)
	if err != nil {
		return nil, err
	}
	parts, err := scan(context.Background(), fs, m, cfg.shard, func(out *[]Process, fs *procFS, c *candidate) bool {
		*out = append(*out, fs.process(c, true))
		return false
	})
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, p := range parts {
		out = append(out, p...)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// Kill sends sig to every process of the caller's pid namespace that
// matches name (by default as killall matches: see MatchName), never to the
// caller itself and not to PID 1 unless AllowPID1 is given. It is the Go
// form of aws:ecs:task-kill-process, whose FIS document runs
// "killall -<signal> <name>". Unlike killall, Kill does not count zombies
// (processes that have exited but were not yet reaped by their parent) as
// signalled: they are listed in Result.Skipped.
//
// Kill takes ctx first, as every faultkit front door does; there is no
// variant without a context. ctx bounds the scan and the optional Wait.
//
// Race freedom: each process is read (stat, command line) and signalled
// through one file descriptor of its /proc/PID directory, opened when the
// scan reaches it. That descriptor is a pidfd bound to the process, not to
// the number: if the process exits, even if its PID is reused at once,
// reads and pidfd_send_signal through it fail with ESRCH ("already gone")
// and the new process is never signalled. psmisc killall 23.6 does the
// same. With Wait, a pollable pidfd is obtained with pidfd_open and
// checked against the directory descriptor. Where pidfd_send_signal is
// missing (Linux < 5.1) or blocked by a seccomp filter, Kill falls back to
// kill(2) after re-reading the process's stat through its descriptor
// (alive, same start time and comm), which leaves a window of
// microseconds in which a PID could be reused, and Result.Method says so.
//
// The result lists the processes signalled, those that failed
// (permission, already gone) and those skipped. Like killall, Kill
// succeeds when at least one process was signalled. When none was, the
// error is a *NotFoundError ("No process matching <name> found", wrapping
// fault.ErrNotFound) or, if permission was refused, wraps
// fault.ErrPermission. The Result is returned whenever the parameters were
// valid, also together with an error.
func Kill(ctx context.Context, name string, sig syscall.Signal, opts ...Option) (*Result, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(name); err != nil {
		return nil, err
	}
	if err := validSignal(sig); err != nil {
		return nil, err
	}
	fs := newProcFS(cfg.procRoot)
	m, err := newMatcher(name, cfg.match)
	if err != nil {
		return nil, err
	}
	self, err := fs.self()
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, Match: cfg.match, Signal: sig}
	s := sender{fs: fs, sig: sig, keep: cfg.wait > 0}
	if cfg.noPidfd {
		s.fallback = "pidfds disabled"
	} else {
		s.probe()
	}
	parts, err := scan(ctx, fs, m, cfg.shard, func(p *killPart, fs *procFS, c *candidate) bool {
		switch {
		case c.pid == self:
			p.skipped = append(p.skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipSelf})
			return false
		case c.pid == 1 && !cfg.allowPID1:
			p.skipped = append(p.skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipPID1})
			return false
		case exitedState(c.st.state):
			p.skipped = append(p.skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipZombie})
			return false
		}
		skip, err := s.signal(fs, c)
		switch {
		case err != nil:
			p.failed = append(p.failed, Failure{PID: c.pid, Name: c.st.comm, Err: err})
		case skip != "":
			p.skipped = append(p.skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: skip})
		default:
			p.signalled = append(p.signalled, Signalled{Process: fs.process(c, false), At: time.Now()})
			if s.keep {
				w := s.waitHandle(c)
				p.waits = append(p.waits, w)
				return w.dfd == c.dfd // keep the directory when it is what we wait on
			}
		}
		return false
	})
	var waits []waitFD // with Wait: one per res.Signalled entry
	for _, p := range parts {
		res.Signalled = append(res.Signalled, p.signalled...)
		res.Failed = append(res.Failed, p.failed...)
		res.Skipped = append(res.Skipped, p.skipped...)
		waits = append(waits, p.waits...)
	}
	res.Method = s.method()
	if err != nil {
		closeWaits(waits)
		return res, err
	}
	if len(res.Signalled) == 0 {
		return res, noneSignalled(res)
	}
	if cfg.wait > 0 {
		return res, s.wait(ctx, res, waits, cfg.wait)
	}
	return res, nil
}

// killPart is one scan worker's share of a Kill.
type killPart struct {
	signalled []Signalled
	failed    []Failure
	skipped   []Skip
	waits     []waitFD
}

// noneSignalled builds the error for a Kill that signalled nothing.
func noneSignalled(res *Result) error {
	var perm []int
	gone := 0
	var other []error
	for _, f := range res.Failed {
		switch {
		case errors.Is(f.Err, syscall.EPERM):
			perm = append(perm, f.PID)
		case errors.Is(f.Err, syscall.ESRCH):
			gone++
		default:
			other = append(other, fmt.Errorf("pid %d: %w", f.PID, f.Err))
		}
	}
	if len(perm) > 0 {
		return fmt.Errorf("procs: may not send %v to the processes matching %s (pids %v): %w",
			unix.SignalName(res.Signal), res.Name, perm, permissionError(syscall.EPERM))
	}
	if len(other) > 0 {
		return fmt.Errorf("procs: signal processes matching %s: %w", res.Name, errors.Join(other...))
	}
	return &NotFoundError{Name: res.Name, Gone: gone, Skipped: res.Skipped}
}

// sender delivers signals: with pidfd_send_signal on the process's /proc
// directory while the kernel offers it, else with kill(2).
type sender struct {
	fs       *procFS
	sig      syscall.Signal
	keep     bool   // prepare to wait for exits
	fallback string // why kill(2) is used; "" while pidfds work
}

func (s *sender) method() string {
	if s.fallback != "" {
		return "kill(2): " + s.fallback
	}
	return MethodPidfd
}

// probe checks once that pidfd_send_signal works, by sending the null
// signal to the caller's own /proc directory.
func (s *sender) probe() {
	fd, err := unix.Open(s.fs.root+"/self", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		s.fallback = "cannot open " + s.fs.root + "/self: " + err.Error()
		return
	}
	defer unix.Close(fd)
	switch err := unix.PidfdSendSignal(fd, 0, nil, 0); {
	case err == nil:
	case errors.Is(err, unix.ENOSYS):
		s.fallback = "pidfd_send_signal unsupported by this kernel (ENOSYS)"
	case errors.Is(err, unix.EPERM):
		s.fallback = "pidfd_send_signal refused (EPERM, likely a seccomp filter)"
	default:
		s.fallback = "pidfd_send_signal failed: " + err.Error()
	}
}

// signal sends the signal to one candidate and returns a skip reason or
// the failure.
//
// With pidfds the signal goes through c.dfd, the directory the process was
// read from, so it reaches exactly that process or fails with ESRCH. With
// kill(2) the process is checked again through c.dfd first (alive, same
// start time, same comm), which leaves a window of microseconds between
// the check and the kill in which its PID could be reused.
func (s *sender) signal(fs *procFS, c *candidate) (skip string, err error) {
	if s.fallback == "" {
		err = unix.PidfdSendSignal(c.dfd, s.sig, nil, 0)
	} else {
		st, serr := fs.stat(c.dfd)
		switch {
		case serr != nil || exitedState(st.state):
			return "", goneError{}
		case st.start != c.st.start:
			return "", goneError{reused: true}
		case st.comm != c.st.comm:
			return SkipChanged, nil
		}
		err = unix.Kill(c.pid, s.sig)
	}
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, unix.ESRCH):
		return "", goneError{}
	case errors.Is(err, unix.EPERM):
		return "", permissionError(err)
	}
	return "", err
}

// waitFD is what Kill waits on for one signalled process: a pollable
// pidfd, or else its /proc directory, polled by reading its stat.
type waitFD struct {
	pidfd  int // -1 when none
	dfd    int // -1 when pidfd is set
	start  uint64
	exited bool // already gone when the handle was made
}

// waitHandle prepares waiting for a process just signalled through c.dfd.
// pidfd_open takes a PID, so the new pidfd is checked against c.dfd: if
// the process behind c.dfd is still alive after pidfd_open, the PID
// still named it and the pidfd is its own.
func (s *sender) waitHandle(c *candidate) waitFD {
	w := waitFD{pidfd: -1, dfd: -1, start: c.st.start}
	if s.fallback == "" {
		fd, err := unix.PidfdOpen(c.pid, 0)
		if err == nil {
			if unix.PidfdSendSignal(c.dfd, 0, nil, 0) == nil {
				w.pidfd = fd
				return w
			}
			unix.Close(fd)
			w.exited = true
			return w
		}
		if errors.Is(err, unix.ESRCH) {
			w.exited = true
			return w
		}
	}
	w.dfd = c.dfd // kept open by scan, closed by wait
	return w
}

func (w *waitFD) close() {
	closeFD(w.pidfd)
	closeFD(w.dfd)
	w.pidfd, w.dfd = -1, -1
}

func closeWaits(ws []waitFD) {
	for i := range ws {
		ws[i].close()
	}
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// pollInterval bounds one poll(2) so that ctx is honoured, and is the
// interval of the /proc polling used without pidfds.
const pollInterval = 10 * time.Millisecond

// wait waits up to timeout for the signalled processes to exit: a pidfd
// becomes readable when its process exits; processes without one are
// polled through their /proc directory (gone, or a zombie). It closes
// every descriptor in ws.
func (s *sender) wait(ctx context.Context, res *Result, ws []waitFD, timeout time.Duration) error {
	defer closeWaits(ws)
	deadline := time.Now().Add(timeout)
	pending := make([]int, 0, len(res.Signalled)) // indexes into res.Signalled and ws
	for i := range res.Signalled {
		pending = append(pending, i)
	}
	pfds := make([]unix.PollFd, 0, len(pending))
	for first := true; len(pending) > 0; first = false {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("procs: wait for %d processes matching %s: %w", len(pending), res.Name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			pids := make([]int, len(pending))
			for i, k := range pending {
				pids[i] = res.Signalled[k].PID
			}
			return fmt.Errorf("procs: %d of %d processes matching %s still running %v after %v: pids %v: %w",
				len(pending), len(res.Signalled), res.Name, timeout, unix.SignalName(res.Signal), pids, context.DeadlineExceeded)
		}
		step := min(left, pollInterval)
		pfds = pfds[:0]
		for _, k := range pending {
			if ws[k].pidfd >= 0 {
				pfds = append(pfds, unix.PollFd{Fd: int32(ws[k].pidfd), Events: unix.POLLIN})
			}
		}
		switch {
		case len(pfds) > 0:
			if _, err := unix.Poll(pfds, int(step.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("procs: poll pidfds: %w", err)
			}
		case !first:
			time.Sleep(step)
		}
		now := time.Now()
		next := pending[:0]
		pi := 0
		for _, k := range pending {
			w := &ws[k]
			var exited bool
			switch {
			case w.pidfd >= 0:
				exited = pfds[pi].Revents != 0
				pi++
			case w.dfd >= 0:
				st, err := s.fs.stat(w.dfd)
				exited = err != nil || exitedState(st.state)
			default:
				exited = w.exited
			}
			if exited {
				sg := &res.Signalled[k]
				sg.Exited, sg.ExitAfter = true, now.Sub(sg.At)
				w.close()
			} else {
				next = append(next, k)
			}
		}
		pending = next
	}
	return nil
}

// exitedState reports a /proc state of a process that has exited: zombie
// (Z) or dead (X).
func exitedState(s byte) bool { return s == 'Z' || s == 'X' }
