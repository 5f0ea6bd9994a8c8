package procs

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// Process describes one process as read from /proc.
type Process struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	Name string `json:"name"` // comm, at most 15 bytes
	// LongName is the full name killall uses when Name fills 15 bytes (see
	// LongName); "" when Name is shorter or the full name is unknown.
	LongName string `json:"longName,omitempty"`
	// State is the one-letter state of /proc/PID/stat: R, S, D, Z, T, ...
	State string `json:"state"`
	// StartTime is when the process started, in clock ticks since boot
	// (field 22 of /proc/PID/stat). With PID it identifies the process:
	// a reused PID has a different StartTime.
	StartTime uint64 `json:"startTime"`
	// Exe is the path of the executable, "" when it cannot be read
	// (another user's process without CAP_SYS_PTRACE, kernel threads).
	// Find fills it; Kill leaves it empty.
	Exe string `json:"exe,omitempty"`
	// Cmdline holds the arguments, empty for zombies and kernel threads.
	// Find fills it; Kill fills it only where matching needed it.
	Cmdline []string `json:"cmdline,omitempty"`
}

// Reasons a matching process was not signalled, in Skip.Reason.
const (
	SkipSelf    = "self"                   // the calling process
	SkipPID1    = "pid 1 of the namespace" // init; see AllowPID1
	SkipChanged = "no longer matches"      // it exec'd another program between matching and signalling
	SkipZombie  = "zombie"                 // it has exited; only its parent's wait is missing
)

// Signalled is a process that was sent the signal.
type Signalled struct {
	Process
	// At is when the signal was sent.
	At time.Time `json:"at"`
	// Exited reports, when Kill waited (see Wait), whether the process
	// exited within the wait.
	Exited bool `json:"exited"`
	// ExitAfter is how long the process took to exit after the signal,
	// when Exited.
	ExitAfter time.Duration `json:"exitAfter,omitempty"`
}

// Failure is a matching process that could not be signalled.
type Failure struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// Err says why: it wraps fault.ErrPermission (and syscall.EPERM) when
	// the caller may not signal the process, and os.ErrProcessDone (and
	// syscall.ESRCH) when the process exited, or its PID was reused,
	// before the signal.
	Err error `json:"-"`
}

// Skip is a matching process that was deliberately not signalled.
type Skip struct {
	PID    int    `json:"pid"`
	Name   string `json:"name"`
	Reason string `json:"reason"` // SkipSelf, SkipPID1, SkipZombie or SkipChanged
}

// Result reports what Kill did.
type Result struct {
	Name   string         `json:"name"`
	Match  Match          `json:"match"`
	Signal syscall.Signal `json:"signal"`
	// Method is how signals were delivered: "pidfd_send_signal" (on
	// /proc/PID directory descriptors), or "kill(2): " and the reason
	// pidfds could not be used.
	Method    string      `json:"method"`
	Signalled []Signalled `json:"signalled,omitempty"`
	Failed    []Failure   `json:"failed,omitempty"`
	Skipped   []Skip      `json:"skipped,omitempty"`
}

// PIDs returns the PIDs of the signalled processes.
func (r *Result) PIDs() []int {
	pids := make([]int, len(r.Signalled))
	for i, s := range r.Signalled {
		pids[i] = s.PID
	}
	return pids
}

// Metrics returns the result as fault metrics: the counts "signalled",
// "failed" and "skipped" and, for processes that exited within a wait,
// "pid<N>.exit_time" in seconds.
func (r *Result) Metrics() []fault.Metric {
	m := []fault.Metric{
		{Name: "signalled", Value: float64(len(r.Signalled)), Unit: "processes"},
		{Name: "failed", Value: float64(len(r.Failed)), Unit: "processes"},
		{Name: "skipped", Value: float64(len(r.Skipped)), Unit: "processes"},
	}
	for _, s := range r.Signalled {
		if s.Exited {
			m = append(m, fault.Metric{Name: fmt.Sprintf("pid%d.exit_time", s.PID),
				Value: s.ExitAfter.Seconds(), Unit: "s"})
		}
	}
	return m
}

// NotFoundError is the error Kill returns when no process was signalled
// because none matched (or every match exited first, or was skipped). Its
// message begins as FIS's kill-process document words it: "No process
// matching <name> found". It wraps fault.ErrNotFound.
type NotFoundError struct {
	Name    string
	Gone    int    // matches that exited before they could be signalled
	Skipped []Skip // matches deliberately left alone
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "No process matching %s found", e.Name)
	var notes []string
	if e.Gone > 0 {
		notes = append(notes, fmt.Sprintf("%d exited before they could be signalled", e.Gone))
	}
	for _, s := range e.Skipped {
		n := fmt.Sprintf("skipped pid %d: %s", s.PID, s.Reason)
		if s.Reason == SkipPID1 {
			n += " (use AllowPID1 to signal it)"
		}
		notes = append(notes, n)
	}
	if len(notes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(notes, "; "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns fault.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return fault.ErrNotFound }

// Option configures Find and Kill.
type Option func(*config)

type config struct {
	match     Match
	allowPID1 bool
	wait      time.Duration
	procRoot  string
	noPidfd   bool // tests: take the kill(2) path
	shard     int  // tests: processes per scan worker (0: scanShard)
}

func newConfig(opts []Option) config {
	c := config{procRoot: "/proc"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithMatch sets how names are matched; the default is MatchName.
func WithMatch(m Match) Option { return func(c *config) { c.match = m } }

// AllowPID1 lets Kill signal PID 1 of the pid namespace (a container's
// main process, or the host's init). Without it a matching PID 1 is
// skipped and reported in Result.Skipped.
func AllowPID1() Option { return func(c *config) { c.allowPID1 = true } }

// Wait makes Kill wait up to timeout for the signalled processes to exit,
// and report in Result.Signalled which did and how long each took. A
// process counts as exited when it has terminated (it may remain a zombie
// until its parent reaps it).
func Wait(timeout time.Duration) Option { return func(c *config) { c.wait = timeout } }

// WithProcFS reads processes from a proc file system mounted at dir
// instead of /proc. It must show the caller's own pid namespace: Kill
// refuses a proc mount in which the caller has another PID, because PIDs
// read there would name other processes in the caller's namespace.
func WithProcFS(dir string) Option { return func(c *config) { c.procRoot = dir } }

func (c *config) validate(name string) error {
	if name == "" {
		return paramError("name", name, "must not be empty")
	}
	switch c.match {
	case MatchName, MatchExactName, MatchExe, MatchCmdline:
	default:
		return paramError("match", c.match.String(), "unknown match mode")
	}
	if c.match != MatchExe && c.match != MatchCmdline && strings.ContainsRune(name, '/') {
		return paramError("name", name, "a process name cannot contain '/'; use WithMatch(MatchExe) for a path")
	}
	if c.wait < 0 {
		return paramError("wait", c.wait.String(), "must not be negative")
	}
	return nil
}

// MaxSignal is the highest signal number Linux accepts (SIGRTMAX).
const MaxSignal = 64

// validSignal checks a signal given through the Go API: any signal from 1
// to 64.
func validSignal(sig syscall.Signal) error {
	if sig < 1 || sig > MaxSignal {
		return paramError("signal", fmt.Sprintf("%d", int(sig)), fmt.Sprintf("not a signal (1-%d)", MaxSignal))
	}
	return nil
}

// ParseSignal reads a signal as FIS's signal parameter spells it: SIGTERM
// or SIGKILL, case-sensitive.
func ParseSignal(s string) (syscall.Signal, error) {
	switch s {
	case "SIGTERM":
		return syscall.SIGTERM, nil
	case "SIGKILL":
		return syscall.SIGKILL, nil
	}
	return 0, &fault.ParamError{Action: fault.ActionTaskKillProcess, Param: "signal", Value: s,
		Reason: "must be one of SIGTERM, SIGKILL"}
}

func paramError(param, value, reason string) error {
	return &fault.ParamError{Action: "kill-process", Param: param, Value: value, Reason: reason}
}

// goneError reports a process that exited, or whose PID was reused,
// before it could be signalled.
type goneError struct{ reused bool }

func (e goneError) Error() string {
	if e.reused {
		return "already gone (its pid now belongs to another process)"
	}
	return "already gone"
}

func (e goneError) Unwrap() []error { return []error{os.ErrProcessDone, syscall.ESRCH} }

// permissionError reports a process the caller may not signal.
func permissionError(err error) error {
	return fmt.Errorf("%w: %w", fault.ErrPermission, err)
}
