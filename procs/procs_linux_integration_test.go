//go:build linux

package procs

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/testenv"
)

// These tests need root: they create pid and mount namespaces and run
// processes as other users. They leave nothing behind: the namespaces die
// with their last process and every process is killed and reaped.

// nspidLevels returns how many pid namespaces a process is in (the
// entries of NSpid in /proc/PID/status), or 0 if unknown.
func nspidLevels(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return len(strings.Fields(v))
		}
	}
	return 0
}

// childrenOf returns the PIDs whose parent is ppid.
func childrenOf(t *testing.T, ppid int) []int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/task/" + strconv.Itoa(ppid) + "/children")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, n)
	}
	return pids
}

// startInPIDNS starts a command as PID 1 of a new pid namespace (and a new
// mount namespace when mountNS), skipping the test when the kernel or the
// sandbox refuses.
func startInPIDNS(t *testing.T, mountNS bool, setup func(*exec.Cmd), path string, args ...string) *proc {
	t.Helper()
	flags := uintptr(syscall.CLONE_NEWPID)
	if mountNS {
		flags |= syscall.CLONE_NEWNS
	}
	c := exec.Command(path, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: flags}
	if setup != nil {
		setup(c)
	}
	err := c.Start()
	testenv.Require(t, "pidns", err)
	p := &proc{cmd: c, pid: c.Process.Pid}
	t.Cleanup(func() {
		if !p.done {
			_ = syscall.Kill(p.pid, syscall.SIGKILL) // the namespace dies with its init
			p.reap()
		}
	})
	return p
}

// From the host, processes of a child pid namespace are visible under
// their host PIDs and are killed by name like any other.
func TestKillInChildPIDNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	sleep := sleepBinary(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := exeDir(t)
	name := token(t) + "-in-child-pidns" // 23 bytes: a long name as well
	exe := exeCopy(t, dir, sleep, name)
	bystander := start(t, nil, exeCopy(t, dir, sleep, token(t)+"-in-child-pidns"), "300")
	init := startInPIDNS(t, false, nil, sh, "-c", `"$0" 300 & wait`, exe)

	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		if kids := childrenOf(t, init.pid); len(kids) == 1 {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(kids[0]) + "/comm")
			if strings.TrimSpace(string(b)) == name[:CommLen] {
				child = kids[0]
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the sleeper in the child namespace did not start")
	}
	if n := nspidLevels(t, child); n != 2 {
		t.Fatalf("pid %d is in %d pid namespaces, want 2 (host and child)", child, n)
	}
	found, err := Find(name)
	if err != nil {
		t.Fatal(err)
	}
	if pids := processPIDs(found); !slices.Equal(pids, []int{child}) {
		t.Fatalf("Find = %v, want the host pid %d", pids, child)
	}
	res, err := Kill(t.Context(), name, syscall.SIGTERM, Wait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if pids := res.PIDs(); !slices.Equal(pids, []int{child}) || !res.Signalled[0].Exited {
		t.Errorf("signalled %+v, want pid %d exited", res.Signalled, child)
	}
	init.reap() // sh's wait returns once its child is gone, and sh exits 0
	if ws := init.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("namespace init ended with %v, want a normal exit after its child's", init.cmd.ProcessState)
	}
	if !bystander.alive() {
		t.Error("bystander killed")
	}
}

// Inside a child pid namespace with its own /proc, Find sees only the
// namespace's processes, and Kill refuses the namespace's PID 1 unless
// AllowPID1 is given. The test binary is re-executed as the namespace's
// init; it mounts /proc, starts two sleepers and runs a probe process.
func TestFindAndKillInsidePIDNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	sleep := sleepBinary(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := exeDir(t)
	name := token(t) + "-ns"
	sleeper := exeCopy(t, dir, sleep, name)
	host := start(t, nil, sleeper, "300") // same name, outside the namespace

	init := startInPIDNS(t, true, func(c *exec.Cmd) {
		c.Env = append(os.Environ(), helperEnv+"=nsinit", "FAULTKIT_PROCS_NAME="+name, "FAULTKIT_PROCS_SLEEPER="+sleeper)
		c.Stdout = new(strings.Builder)
		c.Stderr = new(strings.Builder)
	}, exe)
	init.reap()
	out := init.cmd.Stdout.(*strings.Builder).String()
	if init.err != nil {
		t.Fatalf("namespace init: %v\nstdout: %s\nstderr: %s", init.err, out, init.cmd.Stderr)
	}
	var rep helperReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	if rep.HelperErr != "" {
		t.Fatalf("namespace init: %s\nprobe stderr: %s", rep.HelperErr, rep.ProbeErr)
	}
	var probe helperReport
	if err := json.Unmarshal([]byte(rep.ProbeOut), &probe); err != nil {
		t.Fatalf("probe output %q: %v (stderr %s)", rep.ProbeOut, err, rep.ProbeErr)
	}
	if probe.HelperErr != "" {
		t.Fatalf("probe: %s", probe.HelperErr)
	}
	t.Logf("init: sleepers %v, signals %v, SIGUSR1 %v; probe (pid %d): found %d, kill(init name): %s",
		rep.Sleepers, rep.Signals, rep.GotUSR1, probe.Self, len(probe.Found), probe.Err)

	// Find sees the namespace's two sleepers, not the host's.
	slices.Sort(rep.Sleepers)
	if got := processPIDs(probe.Found); !slices.Equal(got, rep.Sleepers) {
		t.Errorf("Find in the namespace = %v, want its sleepers %v (and not the host's)", got, rep.Sleepers)
	}
	// PID 1 and the probe itself share the test binary's name: both are
	// skipped, so nothing is signalled.
	if !probe.NotFound || probe.Result == nil || len(probe.Result.Signalled) != 0 {
		t.Errorf("Kill(init's name) = %+v, %s; want NotFoundError, nothing signalled", probe.Result, probe.Err)
	} else {
		skipped := map[int]string{}
		for _, s := range probe.Result.Skipped {
			skipped[s.PID] = s.Reason
		}
		if skipped[1] != SkipPID1 || skipped[probe.Self] != SkipSelf || len(skipped) != 2 {
			t.Errorf("skipped %v, want pid 1 %q and pid %d %q", skipped, SkipPID1, probe.Self, SkipSelf)
		}
		if !strings.Contains(probe.Err, "AllowPID1") {
			t.Errorf("error %q does not point to AllowPID1", probe.Err)
		}
	}
	// With AllowPID1 the init is signalled, and received it.
	if probe.Err2 != "" || probe.Result2 == nil || !slices.Equal(probe.Result2.PIDs(), []int{1}) {
		t.Errorf("Kill(init's name, AllowPID1) = %+v, %s; want pid 1 signalled", probe.Result2, probe.Err2)
	}
	if !rep.GotUSR1 {
		t.Error("the namespace's init did not receive SIGUSR1")
	}
	// Killing by name inside the namespace ends both sleepers with SIGTERM.
	if probe.Err3 != "" || probe.Result3 == nil || len(probe.Result3.Signalled) != 2 {
		t.Errorf("Kill(sleepers) = %+v, %s", probe.Result3, probe.Err3)
	}
	if !slices.Equal(rep.Signals, []string{"terminated", "terminated"}) {
		t.Errorf("sleepers ended by %v, want SIGTERM twice", rep.Signals)
	}
	if !host.alive() {
		t.Error("the host's process of the same name was killed from inside the namespace")
	}
}

// A process of another user cannot be signalled by an unprivileged
// caller: Kill reports it in Failed and returns an error wrapping
// fault.ErrPermission. The victim survives.
func TestKillPermissionDenied(t *testing.T) {
	testenv.RequireRoot(t)
	sleep := sleepBinary(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := exeDir(t)
	name := token(t) + "-perm"
	victim := start(t, func(c *exec.Cmd) {
		c.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}, exeCopy(t, dir, sleep, name), "300")
	helper := exeCopy(t, dir, exe, token(t)+"-helper")
	cmd := exec.Command(helper)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=kill", "FAULTKIT_PROCS_NAME="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65533, Gid: 65533}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("helper: %v: %s %s", err, out, ee.Stderr)
		}
		t.Fatalf("helper: %v", err)
	}
	var rep helperReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	if !rep.Perm || !strings.Contains(rep.Err, strconv.Itoa(victim.pid)) {
		t.Errorf("Kill as another user = %q, want a permission error naming pid %d", rep.Err, victim.pid)
	}
	if rep.Result == nil || len(rep.Result.Failed) != 1 || rep.Result.Failed[0].PID != victim.pid || len(rep.Result.Signalled) != 0 {
		t.Errorf("result %+v, want pid %d failed", rep.Result, victim.pid)
	}
	if !victim.alive() {
		t.Error("victim was killed despite the permission error")
	}
}

// A process read by a scan exits and its PID is taken by a new process of
// the same name before the signal: the new process must not get it. The
// test binary, as PID 1 of new pid and mount namespaces, forces the reuse
// through /proc/sys/kernel/ns_last_pid and signals the stale candidate
// with both methods (pidfd_send_signal on the /proc directory; kill(2)
// after the re-check).
func TestNoSignalAfterPIDReuse(t *testing.T) {
	testenv.RequireRoot(t)
	sleep := sleepBinary(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exeCopy(t, exeDir(t), sleep, token(t)+"-reuse")
	init := startInPIDNS(t, true, func(c *exec.Cmd) {
		c.Env = append(os.Environ(), helperEnv+"=nsreuse", "FAULTKIT_PROCS_SLEEPER="+sleeper)
		c.Stdout = new(strings.Builder)
		c.Stderr = new(strings.Builder)
	}, exe)
	init.reap()
	out := init.cmd.Stdout.(*strings.Builder).String()
	if init.err != nil {
		t.Fatalf("namespace init: %v\nstdout: %s\nstderr: %s", init.err, out, init.cmd.Stderr)
	}
	var rep helperReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	if rep.HelperErr != "" {
		t.Fatalf("namespace init: %s", rep.HelperErr)
	}
	t.Logf("pid %d reused; stale signals: %v", rep.ReusedPID, rep.Stale)
	if len(rep.StaleGone) != len(methods) || slices.Contains(rep.StaleGone, false) {
		t.Errorf("stale candidate signalled: %v, want already gone with every method", rep.Stale)
	}
	if !rep.BAlive {
		t.Error("the process that reused the pid was signalled")
	}
	if rep.Err != "" || rep.Result == nil || !slices.Equal(rep.Result.PIDs(), []int{rep.ReusedPID}) {
		t.Errorf("Kill by name afterwards = %+v, %s; want the new process", rep.Result, rep.Err)
	}
	if !slices.Equal(rep.Signals, []string{"terminated"}) {
		t.Errorf("new process ended by %v, want SIGTERM from the final Kill", rep.Signals)
	}
}
