package stress

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/faultkit/faultkit/fault"
)

// childEnv carries a cgroup child's configuration (JSON childConfig) to
// the re-executed binary; its presence is what makes the init hook run the
// child instead of the program.
const childEnv = "FAULTKIT_STRESS_CHILD"

// childConfig is what a stress child runs.
type childConfig struct {
	Load    int `json:"load"`
	Workers int `json:"workers"`
}

// childReport is one line the child writes to its report pipe.
type childReport struct {
	Workers []workerSample `json:"workers"`
	Err     string         `json:"err,omitempty"`
	Final   bool           `json:"final,omitempty"`
}

func init() {
	// The cgroup child is this binary re-executed by CPUFault.Inject (see
	// the package doc). It must take over before main, and before a test
	// binary parses its flags, so it is package stress's one init-time
	// hook, keyed by an environment variable no caller sets.
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
}

// runChild is the child's main: fd 3 is the control pipe (one byte
// releases the workers once the parent has placed this process in the
// cgroup; EOF stops them), fd 4 the report pipe (JSON lines).
func runChild(cfgJSON string) int {
	ctl := os.NewFile(3, "stress-control")
	rep := os.NewFile(4, "stress-report")
	enc := json.NewEncoder(rep)
	fail := func(err error) int {
		_ = enc.Encode(childReport{Err: err.Error(), Final: true})
		return 1
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fail(fmt.Errorf("bad %s: %w", childEnv, err))
	}
	var b [1]byte
	if _, err := io.ReadFull(ctl, b[:]); err != nil {
		return 0 // the parent gave up before releasing us
	}
	n := cfg.Workers
	if n == 0 {
		var err error
		if n, err = AvailableCPUs(); err != nil { // now counted in the target cgroup
			return fail(err)
		}
	}
	// Every worker holds a thread; give each one a P of its own so that
	// workers are never serialised by the scheduler, only by the CPUs.
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), n+1))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, ctl) // EOF: the parent reverted or died
		cancel()
	}()
	r := startCPU(ctx, cfg.Load, n)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := enc.Encode(childReport{Workers: r.samples()}); err != nil {
				cancel() // nobody listens any more
			}
		case <-r.done:
			final := childReport{Workers: r.samples(), Final: true}
			if r.err != nil {
				final.Err = r.err.Error()
			}
			_ = enc.Encode(final)
			if r.err != nil {
				return 1
			}
			return 0
		}
	}
}

// cgroupPlacer resolves f.Cgroup and returns a function that moves a
// process into it, and a description for errors.
func (f CPUFault) cgroupPlacer() (func(pid int) error, string, error) {
	view, err := readCgroupView("self")
	if err != nil {
		return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: "cgroup mounts", Err: err}
	}
	path := filepath.Clean("/" + f.Cgroup)
	v1mp, hasV1 := view.v1Mount("cpu")
	v2mp, hasV2 := view.v2Mount()
	exists := func(dir string) bool { st, err := os.Stat(dir); return err == nil && st.IsDir() }
	version := f.CgroupVersion
	if version == 0 {
		switch {
		case hasV1 && exists(filepath.Join(v1mp, path)):
			version = 1
		case hasV2 && exists(filepath.Join(v2mp, path)):
			version = 2
		default:
			return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: "cgroup " + path,
				Err: fmt.Errorf("%w: no such cgroup in the v1 cpu or the v2 hierarchy", fault.ErrNotFound)}
		}
	}
	switch version {
	case 1:
		if !hasV1 {
			return nil, "", fault.Unsupported("cgroup v1 cpu controller", nil)
		}
		desc := "cgroup v1 " + path
		if !exists(filepath.Join(v1mp, path)) {
			return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: desc, Err: fault.ErrNotFound}
		}
		cg, err := cgroup1.Load(cgroup1.StaticPath(path))
		if err != nil {
			return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: desc, Err: err}
		}
		// Added to every v1 hierarchy in which the cgroup exists, as a
		// process of the task would be.
		return func(pid int) error { return cg.AddProc(uint64(pid)) }, desc, nil
	default:
		if !hasV2 {
			return nil, "", fault.Unsupported("cgroup2", nil)
		}
		desc := "cgroup v2 " + path
		if !exists(filepath.Join(v2mp, path)) {
			return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: desc, Err: fault.ErrNotFound}
		}
		m, err := cgroup2.Load(path, cgroup2.WithMountpoint(v2mp))
		if err != nil {
			return nil, "", &fault.OpError{Op: "inject", Fault: f.Name(), Object: desc, Err: err}
		}
		return func(pid int) error { return m.AddProc(uint64(pid)) }, desc, nil
	}
}

// cpuChild is a running cgroup child.
type cpuChild struct {
	ctlW   *os.File
	proc   *os.Process
	exited chan struct{}
	werr   error // cmd.Wait's result, set before exited is closed

	mu     sync.Mutex
	last   []workerSample
	errMsg string
	final  bool
}

// injectChild runs the workers in a child process placed in f.Cgroup.
func (f CPUFault) injectChild(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	place, desc, err := f.cgroupPlacer()
	if err != nil {
		return nil, err
	}
	opErr := func(err error) error {
		return &fault.OpError{Op: "inject", Fault: f.Name(), Object: desc, Err: fault.Permission(err)}
	}
	cfg, _ := json.Marshal(childConfig{Load: f.Load, Workers: f.Workers})
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, opErr(err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, opErr(err)
	}
	// /proc/self/exe works even if the binary was replaced since.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"faultkit-stress-cpu"}
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	cmd.ExtraFiles = []*os.File{ctlR, repW}
	cmd.Stderr = os.Stderr
	// Pdeathsig: the child dies with the thread that started it, so that
	// thread stays locked (alive) until the child has exited. Own process
	// group: a terminal's Ctrl-C goes to the caller, which reverts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}

	ch := &cpuChild{ctlW: ctlW, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		ch.werr = cmd.Wait()
		close(ch.exited)
		// Returning while locked ends this thread, which is what we want.
	}()
	err = <-started
	ctlR.Close()
	repW.Close()
	if err != nil {
		ctlW.Close()
		repR.Close()
		return nil, opErr(fmt.Errorf("start child: %w", err))
	}
	ch.proc = cmd.Process
	abort := func(cause error) (fault.Handle, error) {
		_ = ch.proc.Kill()
		ctlW.Close()
		<-ch.exited
		repR.Close()
		return nil, cause
	}
	u, err := fault.UndoKill(ch.proc.Pid)
	if err != nil {
		return abort(opErr(fmt.Errorf("child %d: %w", ch.proc.Pid, err)))
	}
	entry, err := j.Record(u)
	if err != nil {
		return abort(opErr(err))
	}
	if err := place(ch.proc.Pid); err != nil {
		_, e := abort(opErr(fmt.Errorf("add pid %d: %w", ch.proc.Pid, err)))
		_ = entry.Release()
		return nil, e
	}
	if err := ctx.Err(); err != nil {
		_, e := abort(err)
		_ = entry.Release()
		return nil, e
	}
	if _, err := ctlW.Write([]byte{'g'}); err != nil {
		_, e := abort(opErr(fmt.Errorf("release child: %w", err)))
		_ = entry.Release()
		return nil, e
	}

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer repR.Close()
		sc := bufio.NewScanner(repR)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			var r childReport
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue
			}
			ch.mu.Lock()
			if r.Workers != nil {
				ch.last = r.Workers
			}
			if r.Err != "" {
				ch.errMsg = r.Err
			}
			ch.final = ch.final || r.Final
			ch.mu.Unlock()
		}
	}()

	revert := func(ctx context.Context) error {
		ctlW.Close() // EOF: the child stops its workers, reports and exits
		select {
		case <-ch.exited:
		case <-ctx.Done():
			_ = ch.proc.Kill()
			<-ch.exited
		}
		<-readDone
		return entry.Release()
	}
	metrics := func() []fault.Metric {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return cpuMetrics(f.Load, ch.last)
	}
	c := fault.NewControl(revert, metrics)
	go func() {
		<-ch.exited
		<-readDone
		ch.mu.Lock()
		msg, final := ch.errMsg, ch.final
		ch.mu.Unlock()
		var err error
		switch {
		case msg != "":
			err = fmt.Errorf("stress child %d: %s", ch.proc.Pid, msg)
		case !final:
			err = fmt.Errorf("stress child %d ended unexpectedly: %v", ch.proc.Pid, ch.werr)
		}
		c.End(err)
	}()
	return c, nil
}
