package procs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
)

// These tests start their own child processes under random names and
// signal them by name; they need no privileges.

var methods = []struct {
	name string
	opts []Option
	want string
}{
	{"pidfd", nil, MethodPidfd},
	{"kill2", []Option{func(c *config) { c.noPidfd = true }}, "kill(2): pidfds disabled"},
}

func TestKillByNameEachSignal(t *testing.T) {
	sleep := sleepBinary(t)
	for _, m := range methods {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT, syscall.SIGUSR1} {
			t.Run(m.name+"/"+unix.SignalName(sig), func(t *testing.T) {
				dir := exeDir(t)
				name := token(t) + "-sl" // 11 bytes
				target := exeCopy(t, dir, sleep, name)
				var targets []*proc
				for range 3 {
					targets = append(targets, start(t, nil, target, "300"))
				}
				// Bystanders: a longer name, a prefix, and a process whose
				// command line (not comm) contains the name.
				bystanders := []*proc{
					start(t, nil, exeCopy(t, dir, sleep, name+"x"), "300"),
					start(t, nil, exeCopy(t, dir, sleep, name[:len(name)-1]), "300"),
					start(t, func(c *exec.Cmd) { c.Args[0] = name }, exeCopy(t, dir, sleep, "other-"+name[2:]), "300"),
				}
				res, err := Kill(t.Context(), name, sig, append(slices.Clone(m.opts), Wait(20*time.Second))...)
				if err != nil {
					t.Fatalf("Kill: %v", err)
				}
				if res.Method != m.want {
					t.Errorf("Method = %q, want %q", res.Method, m.want)
				}
				want := []int{targets[0].pid, targets[1].pid, targets[2].pid}
				got := res.PIDs()
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("signalled %v, want %v (failed %v, skipped %v)", got, want, res.Failed, res.Skipped)
				}
				for _, s := range res.Signalled {
					if !s.Exited || s.ExitAfter <= 0 || s.Name != name || s.StartTime == 0 {
						t.Errorf("signalled entry %+v: want exited with a positive exit time", s)
					}
				}
				for _, p := range targets {
					if got := p.killedBy(t); got != sig {
						t.Errorf("pid %d killed by %v, want %v", p.pid, got, sig)
					}
				}
				for _, b := range bystanders {
					if !b.alive() {
						t.Errorf("bystander %v (pid %d) did not survive", b.cmd.Path, b.pid)
					}
				}
			})
		}
	}
}

func TestKillLongName(t *testing.T) {
	sleep := sleepBinary(t)
	dir := exeDir(t)
	tok := token(t)                       // 8 bytes
	long := tok + "-long-process-name"    // 26 bytes, comm is tok+"-long-p"
	twin := tok + "-long-pXXXXXXXXXXXXXX" // same comm, other full name
	if long[:CommLen] != twin[:CommLen] {
		t.Fatal("test names do not share their comm")
	}
	target := start(t, nil, exeCopy(t, dir, sleep, long), "300")
	twinP := start(t, nil, exeCopy(t, dir, sleep, twin), "300")

	// The 15-byte comm alone names neither process: killall compares the
	// full name once the name is 15 bytes long.
	_, err := Kill(t.Context(), long[:CommLen], syscall.SIGTERM)
	if !errors.As(err, new(*NotFoundError)) {
		t.Errorf("Kill(comm) = %v, want NotFoundError", err)
	}
	found, err := Find(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != target.pid || found[0].LongName != long || found[0].Name != long[:CommLen] {
		t.Fatalf("Find(%s) = %+v, want pid %d with LongName", long, found, target.pid)
	}
	res, err := Kill(t.Context(), long, syscall.SIGKILL, Wait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.PIDs(); len(got) != 1 || got[0] != target.pid {
		t.Errorf("signalled %v, want [%d]", got, target.pid)
	}
	if sig := target.killedBy(t); sig != syscall.SIGKILL {
		t.Errorf("target killed by %v", sig)
	}
	if !twinP.alive() {
		t.Error("process with the same comm but another full name was killed")
	}
}

// A process whose argv[0] does not carry its name: killall (and MatchName)
// falls back to the 15-byte comm, killall -e (MatchExactName) skips it.
func TestFindChangedArgv0(t *testing.T) {
	sleep := sleepBinary(t)
	dir := exeDir(t)
	long := token(t) + "-renamed-argv0-x"
	p := start(t, func(c *exec.Cmd) { c.Args[0] = "foo" }, exeCopy(t, dir, sleep, long), "300")
	got, err := Find(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PID != p.pid || got[0].LongName != "" {
		t.Errorf("Find = %+v, want pid %d without a long name", got, p.pid)
	}
	got, err = Find(long, WithMatch(MatchExactName))
	if err != nil || len(got) != 0 {
		t.Errorf("Find exact = %+v, %v; want none", got, err)
	}
}

func TestFindMatchers(t *testing.T) {
	sleep := sleepBinary(t)
	dir := exeDir(t)
	name := token(t) + "-find"
	exe := exeCopy(t, dir, sleep, name)
	link := filepath.Join(dir, "link-to-"+name)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	// sleep adds up its arguments: the second one tags the command line.
	a := start(t, nil, exe, "300", "1")
	b := start(t, nil, exe, "300", "2")
	other := start(t, nil, exeCopy(t, dir, sleep, name+"2"), "300", "1")

	byName, err := Find(name)
	if err != nil {
		t.Fatal(err)
	}
	if pids := processPIDs(byName); !slices.Equal(pids, sortedPIDs(a.pid, b.pid)) {
		t.Errorf("Find by name = %v, want %v", pids, sortedPIDs(a.pid, b.pid))
	}
	for _, p := range byName {
		if p.Exe != exe || p.Name != name || len(p.Cmdline) != 3 || p.Cmdline[0] != exe || p.PPID != os.Getpid() || p.State == "" {
			t.Errorf("process %+v: want Exe %s, Cmdline, PPID %d", p, exe, os.Getpid())
		}
	}
	for _, path := range []string{exe, link} {
		byExe, err := Find(path, WithMatch(MatchExe))
		if err != nil {
			t.Fatal(err)
		}
		if pids := processPIDs(byExe); !slices.Equal(pids, sortedPIDs(a.pid, b.pid)) {
			t.Errorf("Find by exe %s = %v, want %v", path, pids, sortedPIDs(a.pid, b.pid))
		}
	}
	byCmd, err := Find(`/`+name+`\d? 300 1$`, WithMatch(MatchCmdline))
	if err != nil {
		t.Fatal(err)
	}
	if pids := processPIDs(byCmd); !slices.Equal(pids, sortedPIDs(a.pid, other.pid)) {
		t.Errorf("Find by cmdline = %v, want %v", pids, sortedPIDs(a.pid, other.pid))
	}
	if _, err := Find(filepath.Join(dir, "missing"), WithMatch(MatchExe)); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("Find(missing exe) = %v, want ErrNotFound", err)
	}
	if none, err := Find(token(t)); err != nil || len(none) != 0 {
		t.Errorf("Find(unknown) = %v, %v; want empty, nil", none, err)
	}
}

func processPIDs(ps []Process) []int {
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = p.PID
	}
	return pids
}

func sortedPIDs(pids ...int) []int {
	slices.Sort(pids)
	return pids
}

func TestKillNoMatch(t *testing.T) {
	name := token(t) + "-none"
	res, err := Kill(t.Context(), name, syscall.SIGTERM)
	if !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Kill = %v, want ErrNotFound", err)
	}
	if err.Error() != "No process matching "+name+" found" {
		t.Errorf("message %q", err.Error())
	}
	if res == nil || len(res.Signalled)+len(res.Failed)+len(res.Skipped) != 0 {
		t.Errorf("result %+v, want empty", res)
	}
}

// The calling process is never signalled: a helper copy of the test binary
// runs Kill with its own name; its sibling of the same name is killed, the
// helper is skipped as "self".
func TestKillSkipsSelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := exeDir(t)
	name := token(t) + "-self"
	helper := exeCopy(t, dir, exe, name)
	sibling := start(t, func(c *exec.Cmd) { c.Env = append(os.Environ(), helperEnv+"=sleep") }, helper)
	cmd := exec.Command(helper)
	cmd.Env = append(os.Environ(), helperEnv+"=kill", "FAULTKIT_PROCS_NAME="+name)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	var rep helperReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	if rep.Err != "" || rep.Result == nil {
		t.Fatalf("helper Kill: %s", rep.Err)
	}
	if got := rep.Result.PIDs(); len(got) != 1 || got[0] != sibling.pid {
		t.Errorf("signalled %v, want only the sibling %d", got, sibling.pid)
	}
	if len(rep.Result.Skipped) != 1 || rep.Result.Skipped[0].PID != rep.Self || rep.Result.Skipped[0].Reason != SkipSelf {
		t.Errorf("skipped %+v, want the helper %d as self", rep.Result.Skipped, rep.Self)
	}
	if sig := sibling.killedBy(t); sig != syscall.SIGTERM {
		t.Errorf("sibling killed by %v", sig)
	}
}

// newSender returns the sender Kill would use with opts.
func newSender(fs *procFS, sig syscall.Signal, opts []Option) *sender {
	s := &sender{fs: fs, sig: sig}
	if newConfig(opts).noPidfd {
		s.fallback = "pidfds disabled"
	} else {
		s.probe()
	}
	return s
}

// openCandidate reads a process the way a scan does.
func openCandidate(t *testing.T, fs *procFS, pid int) *candidate {
	t.Helper()
	dfd, err := fs.openPID(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFD(dfd) })
	st, err := fs.stat(dfd)
	if err != nil {
		t.Fatal(err)
	}
	return &candidate{pid: pid, dfd: dfd, st: st}
}

// A process read through its /proc directory and reaped before the signal
// is reported as gone, with either method. (The same with the PID reused
// by a new process is TestNoSignalAfterPIDReuse, which needs root.)
func TestSignalAfterExit(t *testing.T) {
	sleep := sleepBinary(t)
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			p := start(t, nil, exeCopy(t, exeDir(t), sleep, token(t)+"-gone"), "300")
			fs := newProcFS("/proc")
			c := openCandidate(t, fs, p.pid)
			s := newSender(fs, syscall.SIGTERM, m.opts)
			if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.reap()
			skip, err := s.signal(fs, c)
			if !errors.Is(err, syscall.ESRCH) || !errors.Is(err, os.ErrProcessDone) || skip != "" {
				t.Errorf("signal after exit: skip %q, err %v; want already gone", skip, err)
			}
		})
	}
}

// With kill(2), the process is checked again before the signal: one that
// exec'd another program is skipped, one whose start time differs is gone.
func TestKillFallbackRechecks(t *testing.T) {
	sleep := sleepBinary(t)
	p := start(t, nil, exeCopy(t, exeDir(t), sleep, token(t)+"-id"), "300")
	fs := newProcFS("/proc")
	s := newSender(fs, syscall.SIGKILL, methods[1].opts)
	c := openCandidate(t, fs, p.pid)

	changed := *c
	changed.st.comm = "something-else"
	if skip, err := s.signal(fs, &changed); err != nil || skip != SkipChanged {
		t.Errorf("exec'd process: skip %q, err %v; want %q", skip, err, SkipChanged)
	}
	other := *c
	other.st.start--
	if skip, err := s.signal(fs, &other); !errors.Is(err, syscall.ESRCH) || skip != "" {
		t.Errorf("other start time: skip %q, err %v; want already gone", skip, err)
	}
	if !p.alive() {
		t.Fatal("process was signalled despite the mismatch")
	}
	if skip, err := s.signal(fs, c); err != nil || skip != "" {
		t.Fatalf("signal: skip %q, err %v", skip, err)
	}
	if sig := p.killedBy(t); sig != syscall.SIGKILL {
		t.Errorf("killed by %v", sig)
	}
}

// A process that ignores the signal outlives the wait: Kill reports it and
// returns an error wrapping context.DeadlineExceeded.
func TestKillWaitTimeout(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	name := token(t) + "-stub"
	// The shell blocks in its read builtin on a pipe nobody writes to: no
	// child process shares its name.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	p := start(t, func(c *exec.Cmd) { c.Stdin = r }, exeCopy(t, exeDir(t), sh, name), "-c", `trap "" TERM; read x`)
	waitIgnored(t, p.pid, syscall.SIGTERM)
	res, err := Kill(t.Context(), name, syscall.SIGTERM, Wait(200*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Kill = %v, want still running / deadline exceeded", err)
	}
	if len(res.Signalled) != 1 || res.Signalled[0].Exited {
		t.Errorf("signalled %+v, want one process not exited", res.Signalled)
	}
	if !p.alive() {
		t.Error("process that ignores SIGTERM is gone")
	}
}

// waitIgnored waits until the process ignores sig (SigIgn in
// /proc/PID/status), so the test does not race the shell's trap.
func waitIgnored(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				if err == nil && mask&(1<<(sig-1)) != 0 {
					return
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("pid %d does not ignore %v", pid, sig)
}

func TestKillHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Kill(ctx, "sleep", syscall.SIGTERM); !errors.Is(err, context.Canceled) {
		t.Errorf("Kill with a cancelled context = %v", err)
	}
}

func TestKillRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		opts []Option
	}{
		{"", syscall.SIGTERM, nil},
		{"x", 0, nil},
		{"x", 65, nil},
		{"(", syscall.SIGTERM, []Option{WithMatch(MatchCmdline)}},
		{"x", syscall.SIGTERM, []Option{Wait(-time.Second)}},
	} {
		res, err := Kill(t.Context(), c.name, c.sig, c.opts...)
		if res != nil || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("Kill(%q, %d) = %v, %v; want invalid parameter", c.name, c.sig, res, err)
		}
	}
}

func TestKillFaultInject(t *testing.T) {
	sleep := sleepBinary(t)
	dir := exeDir(t)
	name := token(t) + "-flt"
	exe := exeCopy(t, dir, sleep, name)
	a, b := start(t, nil, exe, "300"), start(t, nil, exe, "300")
	f := KillFault{ProcessName: name, Signal: syscall.SIGKILL, Wait: 20 * time.Second}
	h, err := f.Inject(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	default:
		t.Error("Done not closed after Inject")
	}
	st := h.Status()
	if st.State != fault.StateEnded {
		t.Errorf("state %s, want ended", st.State)
	}
	metrics := map[string]float64{}
	for _, m := range st.Metrics {
		metrics[m.Name] = m.Value
	}
	if metrics["signalled"] != 2 || metrics["failed"] != 0 {
		t.Errorf("metrics %v", metrics)
	}
	for _, p := range []*proc{a, b} {
		if _, ok := metrics["pid"+strconv.Itoa(p.pid)+".exit_time"]; !ok {
			t.Errorf("no exit time for pid %d in %v", p.pid, metrics)
		}
		if sig := p.killedBy(t); sig != syscall.SIGKILL {
			t.Errorf("pid %d killed by %v", p.pid, sig)
		}
	}
	if kh, ok := h.(*KillHandle); !ok || len(kh.Result.Signalled) != 2 {
		t.Errorf("handle %T does not carry the result", h)
	}
	if err := h.Revert(t.Context()); err != nil {
		t.Errorf("Revert: %v", err)
	}
	if h.Status().State != fault.StateReverted {
		t.Errorf("state after Revert %s", h.Status().State)
	}

	// Nothing left to kill: Inject fails with nothing applied.
	if h, err := f.Inject(t.Context(), nil); h != nil || !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("second Inject = %v, %v; want ErrNotFound", h, err)
	}
}

func TestKillFaultWithRun(t *testing.T) {
	sleep := sleepBinary(t)
	name := token(t) + "-run"
	p := start(t, nil, exeCopy(t, exeDir(t), sleep, name), "300")
	rep, err := fault.Run(t.Context(), KillFault{ProcessName: name}, 0, fault.WithoutJournal())
	if err != nil {
		t.Fatal(err)
	}
	if rep.EndedBy != "fault" || rep.Fault != "kill-process" {
		t.Errorf("report %+v", rep)
	}
	if sig := p.killedBy(t); sig != syscall.SIGTERM {
		t.Errorf("killed by %v", sig)
	}
}

// A zombie (exited, not yet reaped) is reported as skipped, not as
// signalled; with nothing else matching, Kill says no process was found.
func TestKillSkipsZombies(t *testing.T) {
	sleep := sleepBinary(t)
	name := token(t) + "-zmb"
	p := start(t, nil, exeCopy(t, exeDir(t), sleep, name), "300")
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for p.alive() {
		time.Sleep(time.Millisecond)
	}
	res, err := Kill(t.Context(), name, syscall.SIGTERM)
	if !errors.Is(err, fault.ErrNotFound) || !strings.Contains(err.Error(), "zombie") {
		t.Errorf("Kill = %v, want not found mentioning the zombie", err)
	}
	if res == nil || len(res.Skipped) != 1 || res.Skipped[0].PID != p.pid || res.Skipped[0].Reason != SkipZombie {
		t.Errorf("result %+v, want pid %d skipped as zombie", res, p.pid)
	}
	if found, err := Find(name); err != nil || len(found) != 1 || found[0].State != "Z" {
		t.Errorf("Find = %+v, %v; want the zombie listed", found, err)
	}
}

// With small shards the scan runs on several goroutines even for a few
// processes; the result must be the same set, in PID order.
func TestKillParallelScan(t *testing.T) {
	sleep := sleepBinary(t)
	dir := exeDir(t)
	name := token(t) + "-par"
	exe := exeCopy(t, dir, sleep, name)
	other := exeCopy(t, dir, sleep, name+"o")
	var want []int
	var bystanders []*proc
	for i := range 40 {
		want = append(want, start(t, nil, exe, "300").pid)
		if i%4 == 0 {
			bystanders = append(bystanders, start(t, nil, other, "300"))
		}
	}
	slices.Sort(want)
	shard := func(c *config) { c.shard = 8 }
	found, err := Find(name, shard)
	if err != nil {
		t.Fatal(err)
	}
	if got := processPIDs(found); !slices.Equal(got, want) {
		t.Errorf("Find = %v, want %v", got, want)
	}
	res, err := Kill(t.Context(), name, syscall.SIGKILL, shard, Wait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.PIDs(); !slices.Equal(got, want) {
		t.Errorf("Kill signalled %v, want %v in PID order", got, want)
	}
	for _, s := range res.Signalled {
		if !s.Exited {
			t.Errorf("pid %d not reported exited", s.PID)
		}
	}
	for _, b := range bystanders {
		if !b.alive() {
			t.Errorf("bystander %d killed", b.pid)
		}
	}
}
