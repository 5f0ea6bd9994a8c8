package procs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// helperEnv selects a helper mode when the test binary is re-executed.
const helperEnv = "FAULTKIT_PROCS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// helperReport is what a helper prints as JSON on stdout.
type helperReport struct {
	Self      int       `json:"self"`
	Found     []Process `json:"found,omitempty"`
	Result    *Result   `json:"result,omitempty"`
	Err       string    `json:"err,omitempty"`
	NotFound  bool      `json:"notFound,omitempty"`
	Perm      bool      `json:"perm,omitempty"`
	Result2   *Result   `json:"result2,omitempty"`
	Err2      string    `json:"err2,omitempty"`
	Result3   *Result   `json:"result3,omitempty"`
	Err3      string    `json:"err3,omitempty"`
	Sleepers  []int     `json:"sleepers,omitempty"`
	Signals   []string  `json:"signals,omitempty"`
	GotUSR1   bool      `json:"gotUSR1,omitempty"`
	ProbeOut  string    `json:"probeOut,omitempty"`
	ProbeErr  string    `json:"probeErr,omitempty"`
	HelperErr string    `json:"helperErr,omitempty"`
	// nsreuse
	ReusedPID int      `json:"reusedPID,omitempty"`
	Stale     []string `json:"stale,omitempty"`
	StaleGone []bool   `json:"staleGone,omitempty"`
	BAlive    bool     `json:"bAlive,omitempty"`
}

func (r *helperReport) setErr(err error) {
	if err != nil {
		r.Err = err.Error()
		r.NotFound = errors.As(err, new(*NotFoundError))
		r.Perm = errors.Is(err, fault.ErrPermission) && errors.Is(err, syscall.EPERM)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runHelper runs one helper mode and returns the exit code.
func runHelper(mode string) int {
	ctx := context.Background()
	name := os.Getenv("FAULTKIT_PROCS_NAME")
	rep := helperReport{Self: os.Getpid()}
	switch mode {
	case "sleep": // a process that waits to be killed
		time.Sleep(5 * time.Minute)
		return 0
	case "kill": // Kill(name, SIGTERM) from this process
		res, err := Kill(ctx, name, syscall.SIGTERM, Wait(10*time.Second))
		rep.Result = res
		rep.setErr(err)
	case "nsinit":
		return nsInit(name, &rep)
	case "nsreuse":
		nsReuse(ctx, &rep)
	case "nsprobe":
		nsProbe(ctx, name, &rep)
	default:
		rep.HelperErr = "unknown mode " + mode
	}
	if err := json.NewEncoder(os.Stdout).Encode(&rep); err != nil {
		return 2
	}
	return 0
}

// nsProbe runs inside a child pid namespace (not as its PID 1): it looks
// for name, tries to signal PID 1 without and with AllowPID1, and kills
// the namespace's sleepers.
func nsProbe(ctx context.Context, name string, rep *helperReport) {
	var err error
	rep.Found, err = Find(name)
	if err != nil {
		rep.HelperErr = err.Error()
		return
	}
	initComm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		rep.HelperErr = err.Error()
		return
	}
	ic := strings.TrimSpace(string(initComm))
	res, err := Kill(ctx, ic, syscall.SIGUSR1)
	rep.Result = res
	rep.setErr(err)
	rep.Result2, err = Kill(ctx, ic, syscall.SIGUSR1, AllowPID1())
	rep.Err2 = errString(err)
	rep.Result3, err = Kill(ctx, name, syscall.SIGTERM, Wait(10*time.Second))
	rep.Err3 = errString(err)
}

// nsInit is PID 1 of a new pid and mount namespace: it mounts a proc file
// system of the namespace, starts two sleepers named after the file in
// FAULTKIT_PROCS_SLEEPER, runs nsProbe in a child and reports.
func nsInit(name string, rep *helperReport) int {
	out := func() int {
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			return 2
		}
		return 0
	}
	if os.Getpid() != 1 {
		rep.HelperErr = fmt.Sprintf("nsinit is pid %d, not 1", os.Getpid())
		return out()
	}
	if err := mountOwnProc(); err != nil {
		rep.HelperErr = err.Error()
		return out()
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	var sleepers []*exec.Cmd
	for range 2 {
		c := exec.Command(os.Getenv("FAULTKIT_PROCS_SLEEPER"), "300")
		if err := c.Start(); err != nil {
			rep.HelperErr = err.Error()
			return out()
		}
		sleepers = append(sleepers, c)
		rep.Sleepers = append(rep.Sleepers, c.Process.Pid)
	}
	exe, err := os.Executable()
	if err != nil {
		rep.HelperErr = err.Error()
		return out()
	}
	probe := exec.Command(exe)
	probe.Env = append(os.Environ(), helperEnv+"=nsprobe")
	var perr strings.Builder
	probe.Stderr = &perr
	pout, err := probe.Output()
	rep.ProbeOut, rep.ProbeErr = string(pout), perr.String()
	if err != nil {
		rep.HelperErr = "probe: " + err.Error()
	}
	select {
	case <-usr1:
		rep.GotUSR1 = true
	case <-time.After(10 * time.Second):
	}
	for _, c := range sleepers {
		_ = c.Process.Kill() // harmless when the probe killed it already: not reaped yet
		err := c.Wait()
		rep.Signals = append(rep.Signals, exitSignal(c, err))
	}
	return out()
}

// mountOwnProc, run as PID 1 of new pid and mount namespaces, mounts a
// proc file system of the pid namespace on /proc, without propagating
// anything to the parent mount namespace.
func mountOwnProc() error {
	if os.Getpid() != 1 {
		return fmt.Errorf("pid %d, not 1 of a new namespace", os.Getpid())
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	return nil
}

// nsReuse, as PID 1 of new pid and mount namespaces, reads a sleeper A as
// a scan does, kills and reaps it, makes a new sleeper B take A's PID
// (through ns_last_pid) and then signals the stale candidate A with both
// methods: B must not be signalled.
func nsReuse(ctx context.Context, rep *helperReport) {
	if err := mountOwnProc(); err != nil {
		rep.HelperErr = err.Error()
		return
	}
	exe := os.Getenv("FAULTKIT_PROCS_SLEEPER")
	startSleeper := func() (*exec.Cmd, error) {
		c := exec.Command(exe, "300")
		return c, c.Start()
	}
	a, err := startSleeper()
	if err != nil {
		rep.HelperErr = err.Error()
		return
	}
	time.Sleep(50 * time.Millisecond) // let it exec
	fs := newProcFS("/proc")
	dfd, err := fs.openPID(a.Process.Pid)
	if err != nil {
		rep.HelperErr = "open A: " + err.Error()
		return
	}
	defer closeFD(dfd)
	st, err := fs.stat(dfd)
	if err != nil {
		rep.HelperErr = "stat A: " + err.Error()
		return
	}
	stale := &candidate{pid: a.Process.Pid, dfd: dfd, st: st}
	_ = a.Process.Kill()
	_ = a.Wait()

	var b *exec.Cmd
	for range 20 { // Go runtime threads may take the PID first: retry
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(stale.pid-1)), 0); err != nil {
			rep.HelperErr = "ns_last_pid: " + err.Error()
			return
		}
		c, err := startSleeper()
		if err != nil {
			rep.HelperErr = err.Error()
			return
		}
		if c.Process.Pid == stale.pid {
			b = c
			break
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	if b == nil {
		rep.HelperErr = fmt.Sprintf("could not make a new process take pid %d", stale.pid)
		return
	}
	rep.ReusedPID = b.Process.Pid
	time.Sleep(50 * time.Millisecond) // let it exec: same name as A
	for _, m := range methods {
		s := newSender(fs, syscall.SIGKILL, m.opts)
		_, err := s.signal(fs, stale)
		rep.Stale = append(rep.Stale, m.name+": "+errString(err))
		rep.StaleGone = append(rep.StaleGone, errors.Is(err, syscall.ESRCH))
	}
	if bd, err := fs.openPID(b.Process.Pid); err == nil {
		st, err := fs.stat(bd)
		rep.BAlive = err == nil && !exitedState(st.state)
		closeFD(bd)
	}
	res, err := Kill(ctx, st.comm, syscall.SIGTERM, Wait(10*time.Second))
	rep.Result, rep.Err = res, errString(err)
	rep.Signals = append(rep.Signals, exitSignal(b, b.Wait()))
}

// exitSignal names the signal that ended a reaped command, or says how it
// ended otherwise.
func exitSignal(c *exec.Cmd, err error) string {
	if c.ProcessState == nil {
		return "not reaped: " + errString(err)
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String()
	}
	return c.ProcessState.String()
}

// token returns a random tag that makes test process names unique, so no
// test can match a process it did not start.
func token(t testing.TB) string {
	t.Helper()
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "fk" + string(b)
}

// exeCopy copies the executable src into dir under name and returns its
// path. The directory is world-readable so other users can run the copy.
func exeCopy(t testing.TB, dir, src, name string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(dir, name)
	out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// exeDir returns a fresh directory for executable copies, removed at the
// end of the test.
func exeDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "faultkit-procs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func sleepBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep binary: %v", err)
	}
	return p
}

// proc is a child process started by a test.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	err  error // from Wait, once reaped
	done bool
}

// start starts path with args in its own process group and kills the
// group at the end of the test if the process was not reaped by then.
func start(t testing.TB, setup func(*exec.Cmd), path string, args ...string) *proc {
	t.Helper()
	c := exec.Command(path, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if setup != nil {
		setup(c)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: c, pid: c.Process.Pid}
	t.Cleanup(func() {
		if !p.done {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL) // the group is ours while the leader is unreaped
			p.reap()
		}
	})
	waitStarted(t, p.pid, filepath.Base(path))
	return p
}

// waitStarted waits until the process has exec'd (its comm is no longer
// the Go parent's), so tests match the new program.
func waitStarted(t testing.TB, pid int, base string) {
	t.Helper()
	want := base
	if len(want) > CommLen {
		want = want[:CommLen]
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if err == nil && strings.TrimSpace(string(b)) == want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("pid %d did not become %q", pid, want)
}

// reap waits for the process and records how it ended.
func (p *proc) reap() {
	if !p.done {
		p.err = p.cmd.Wait()
		p.done = true
	}
}

// killedBy reaps the process and returns the signal that ended it, or ""
// if it ended otherwise.
func (p *proc) killedBy(t testing.TB) syscall.Signal {
	t.Helper()
	p.reap()
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		t.Errorf("pid %d ended with %v, not by a signal", p.pid, p.cmd.ProcessState)
		return 0
	}
	return ws.Signal()
}

// alive reports whether the process is still running (not a zombie).
func (p *proc) alive() bool {
	if p.done {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	if err != nil {
		return false
	}
	st, err := parseStat(b)
	return err == nil && st.state != 'Z' && st.state != 'X'
}
