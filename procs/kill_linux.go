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
	cands, err := fs.scan(context.Background(), m)
	if err != nil {
		return nil, err
	}
	out := make([]Process, 0, len(cands))
	for i := range cands {
		out = append(out, fs.process(&cands[i], true))
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// Kill sends sig to every process of the caller's pid namespace that
// matches name (by default as killall matches: see MatchName), never to the
// caller itself and not to PID 1 unless AllowPID1 is given. Unlike killall,
// it does not count zombies (processes that have exited but were not yet
// reaped by their parent) as signalled: they are listed in Result.Skipped. It is the Go
// form of aws:ecs:task-kill-process, whose FIS document runs
// "killall -<signal> <name>".
//
// Kill takes ctx first, as every faultkit front door does; there is no
// variant without a context. ctx bounds the scan and the optional Wait.
//
// Each process is signalled through a pidfd opened after it was matched
// and before its identity (comm and start time) was checked again, so a
// process that exits, or whose PID is reused, in between never gets a
// signal meant for another. Where the kernel lacks pidfd_open (before
// Linux 5.3) or a seccomp filter blocks it, Kill falls back to kill(2)
// after the same check, which leaves a window of a few microseconds, and
// says so in Result.Method.
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
	cands, err := fs.scan(ctx, m)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, Match: cfg.match, Signal: sig}
	s := sender{fs: fs, sig: sig, keep: cfg.wait > 0, noPidfd: cfg.noPidfd}
	var fds []int // with Wait: the pidfd of each res.Signalled entry, or -1
	for i := range cands {
		c := &cands[i]
		switch {
		case c.pid == self:
			res.Skipped = append(res.Skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipSelf})
			continue
		case c.pid == 1 && !cfg.allowPID1:
			res.Skipped = append(res.Skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipPID1})
			continue
		case exitedState(c.st.state):
			res.Skipped = append(res.Skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: SkipZombie})
			continue
		}
		fd, skip, err := s.signal(c)
		switch {
		case err != nil:
			res.Failed = append(res.Failed, Failure{PID: c.pid, Name: c.st.comm, Err: err})
		case skip != "":
			res.Skipped = append(res.Skipped, Skip{PID: c.pid, Name: c.st.comm, Reason: skip})
		default:
			res.Signalled = append(res.Signalled, Signalled{Process: fs.process(c, false), At: time.Now()})
			if s.keep {
				fds = append(fds, fd)
			}
		}
	}
	res.Method = s.method()
	if len(res.Signalled) == 0 {
		return res, noneSignalled(res)
	}
	if cfg.wait > 0 {
		return res, s.wait(ctx, res, fds, cfg.wait)
	}
	return res, nil
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
		return permissionError(fmt.Errorf("procs: may not send %v to the processes matching %s: pids %v: %w",
			unix.SignalName(res.Signal), res.Name, perm, syscall.EPERM))
	}
	if len(other) > 0 {
		return fmt.Errorf("procs: signal processes matching %s: %w", res.Name, errors.Join(other...))
	}
	return &NotFoundError{Name: res.Name, Gone: gone, Skipped: res.Skipped}
}

// sender delivers signals, through pidfds while the kernel offers them.
type sender struct {
	fs       *procFS
	sig      syscall.Signal
	keep     bool   // keep pidfds open for waiting
	noPidfd  bool   // use kill(2)
	fallback string // why pidfds are not used, once known
}

func (s *sender) method() string {
	if s.noPidfd {
		if s.fallback == "" {
			return "kill(2): pidfds disabled"
		}
		return "kill(2): " + s.fallback
	}
	return MethodPidfd
}

// signal sends the signal to one candidate. It returns the pidfd when
// keeping them (else -1), or a skip reason, or the failure.
func (s *sender) signal(c *candidate) (fd int, skip string, err error) {
	fd = -1
	if !s.noPidfd {
		fd, err = unix.PidfdOpen(c.pid, 0)
		switch {
		case err == nil:
		case errors.Is(err, unix.ESRCH):
			return -1, "", goneError{}
		case errors.Is(err, unix.ENOSYS):
			s.noPidfd, s.fallback = true, "pidfd_open unsupported by this kernel (ENOSYS)"
		case errors.Is(err, unix.EPERM):
			s.noPidfd, s.fallback = true, "pidfd_open refused (EPERM, likely a seccomp filter)"
		default:
			return -1, "", fmt.Errorf("pidfd_open: %w", err)
		}
	}
	// Check that the PID still names the process that matched: same
	// start time (not reused) and same comm (it did not exec another
	// program). With a pidfd already open this makes the signal exact.
	st, err := s.fs.stat(c.pid)
	switch {
	case err != nil:
		closeFD(fd)
		return -1, "", goneError{}
	case st.start != c.st.start:
		closeFD(fd)
		return -1, "", goneError{reused: true}
	case exitedState(st.state):
		closeFD(fd)
		return -1, "", goneError{}
	case st.comm != c.st.comm:
		closeFD(fd)
		return -1, SkipChanged, nil
	}
	if fd >= 0 {
		err = unix.PidfdSendSignal(fd, s.sig, nil, 0)
		if err != nil || !s.keep {
			closeFD(fd)
			fd = -1
		}
	} else {
		err = unix.Kill(c.pid, s.sig)
	}
	switch {
	case err == nil:
		return fd, "", nil
	case errors.Is(err, unix.ESRCH):
		return -1, "", goneError{}
	case errors.Is(err, unix.EPERM):
		return -1, "", permissionError(err)
	}
	return -1, "", err
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
// becomes readable when its process exits; processes without a pidfd are
// polled in /proc (gone, zombie, or PID reused). It closes the pidfds.
func (s *sender) wait(ctx context.Context, res *Result, fds []int, timeout time.Duration) error {
	defer func() {
		for _, fd := range fds {
			closeFD(fd)
		}
	}()
	deadline := time.Now().Add(timeout)
	pending := make([]int, 0, len(res.Signalled)) // indexes into res.Signalled
	for i := range res.Signalled {
		pending = append(pending, i)
	}
	pfds := make([]unix.PollFd, 0, len(pending))
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("procs: wait for %d processes matching %s: %w", len(pending), res.Name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			pids := make([]int, len(pending))
			for i, k := range pending {
				pids[i] = res.Signalled[k].PID
			}
			return fmt.Errorf("procs: %d of %d processes matching %s still running %s after %v: pids %v: %w",
				len(pending), len(res.Signalled), res.Name, timeout, unix.SignalName(res.Signal), pids, context.DeadlineExceeded)
		}
		step := min(left, pollInterval)
		pfds = pfds[:0]
		polled := false
		for _, k := range pending {
			if fd := fdAt(fds, k); fd >= 0 {
				pfds = append(pfds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
				polled = true
			}
		}
		if polled {
			if _, err := unix.Poll(pfds, int(step.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("procs: poll pidfds: %w", err)
			}
		} else {
			time.Sleep(step)
		}
		now := time.Now()
		next := pending[:0]
		pi := 0
		for _, k := range pending {
			sg := &res.Signalled[k]
			var exited bool
			if fd := fdAt(fds, k); fd >= 0 {
				exited = pfds[pi].Revents != 0
				pi++
			} else {
				exited = s.exited(sg)
			}
			if exited {
				sg.Exited, sg.ExitAfter = true, now.Sub(sg.At)
			} else {
				next = append(next, k)
			}
		}
		pending = next
	}
	return nil
}

func fdAt(fds []int, k int) int {
	if k < len(fds) {
		return fds[k]
	}
	return -1
}

// exited reports, from /proc, whether a signalled process has exited.
func (s *sender) exited(p *Signalled) bool {
	st, err := s.fs.stat(p.PID)
	return err != nil || st.start != p.StartTime || exitedState(st.state)
}

// exitedState reports a /proc state of a process that has exited: zombie
// (Z) or dead (X).
func exitedState(s byte) bool { return s == 'Z' || s == 'X' }
