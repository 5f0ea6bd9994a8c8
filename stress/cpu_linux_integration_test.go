//go:build linux

package stress_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/stress"
	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time (user + system) of this process so far.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func metric(t *testing.T, ms []fault.Metric, name string) float64 {
	t.Helper()
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("metric %q missing from %v", name, ms)
	return 0
}

// schedTotals sums, over the threads of process pid ("self" or a
// number), the time they ran and the time they were runnable but waited
// for a CPU (/proc/PID/task/TID/schedstat), which is what the machine's
// other load took from them.
func schedTotals(t *testing.T, pid string) (run, wait time.Duration) {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + pid + "/task/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			t.Fatalf("schedstat %q", b)
		}
		r, _ := strconv.ParseInt(f[0], 10, 64)
		w, _ := strconv.ParseInt(f[1], 10, 64)
		run += time.Duration(r)
		wait += time.Duration(w)
	}
	return run, wait
}

// checkBurn asserts that ran, over a window of wall time, is what load on
// workers asks for: at most the target plus the tolerance, and at least
// the target less the tolerance and less the time the threads waited for
// a CPU (on a busy machine the scheduler decides, not the stress).
func checkBurn(t *testing.T, what string, load, workers int, wall, ran, waited time.Duration) {
	t.Helper()
	target := time.Duration(float64(wall) * float64(load*workers) / 100)
	tol := time.Duration(float64(wall) * 0.15 * float64(workers)) // 15 pp per worker: this machine is noisy
	t.Logf("%s: load %d%% x %d over %v: ran %v (%.1f%% per worker), waited for a CPU %v",
		what, load, workers, wall.Round(time.Millisecond), ran.Round(time.Millisecond),
		100*float64(ran)/float64(wall)/float64(workers), waited.Round(time.Millisecond))
	if ran > target+tol {
		t.Errorf("%s: ran %v, want at most %v + %v", what, ran, target, tol)
	}
	if ran < target-tol-waited {
		t.Errorf("%s: ran %v, want at least %v - %v - %v waited", what, ran, target, tol, waited)
	}
}

// TestCPUBurnsWithinTolerance measures, from the kernel's per-thread
// accounting of this process, the CPU a stress really burns over a window
// after the start.
func TestCPUBurnsWithinTolerance(t *testing.T) {
	for _, tc := range []struct{ load, workers int }{{50, 1}, {100, 1}, {25, 2}, {0, 1}} {
		t.Run(strconv.Itoa(tc.load)+"x"+strconv.Itoa(tc.workers), func(t *testing.T) {
			r0, _ := schedTotals(t, "self")
			h, err := stress.CPUFault{Load: tc.load, Workers: tc.workers}.Inject(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Revert(context.Background())
			time.Sleep(300 * time.Millisecond) // let the controller settle
			c0, w0, t0 := schedTotalsAt(t, "self")
			time.Sleep(2 * time.Second)
			c1, w1, t1 := schedTotalsAt(t, "self")
			if err := h.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			r1, _ := schedTotals(t, "self")
			checkBurn(t, "process", tc.load, tc.workers, t1.Sub(t0), c1-c0, w1-w0)
			st := h.Status()
			if st.State != fault.StateReverted {
				t.Errorf("state %s, want reverted", st.State)
			}
			if n := metric(t, st.Metrics, "workers"); int(n) != tc.workers {
				t.Errorf("reported %v workers, want %d", n, tc.workers)
			}
			// The report's thread-clock figure agrees with the kernel's
			// accounting of the whole process over the whole run.
			reported := time.Duration(metric(t, st.Metrics, "cpu_seconds") * float64(time.Second))
			if d := (r1 - r0) - reported; d < -50*time.Millisecond || d > 150*time.Millisecond {
				t.Errorf("report says %v of CPU, the kernel accounted %v to the process", reported, r1-r0)
			}
			metric(t, st.Metrics, "worker0.load_percent")
			metric(t, st.Metrics, "load_percent_1s")
		})
	}
}

func schedTotalsAt(t *testing.T, pid string) (run, wait time.Duration, at time.Time) {
	run, wait = schedTotals(t, pid)
	return run, wait, time.Now()
}

// TestCPUFrontDoorRunsUntilContextEnds checks stress.CPU holds the load
// until ctx ends and reports it.
func TestCPUFrontDoorRunsUntilContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	c0, w0, t0 := schedTotalsAt(t, "self")
	rep, err := stress.CPU(ctx, 60, 1, fault.WithoutJournal())
	if err != nil {
		t.Fatal(err)
	}
	c1, w1, t1 := schedTotalsAt(t, "self")
	if rep.EndedBy != "context" {
		t.Errorf("EndedBy %q, want context", rep.EndedBy)
	}
	if rep.Held < 1400*time.Millisecond {
		t.Errorf("held %v, want about 1.5s", rep.Held)
	}
	checkBurn(t, "front door", 60, 1, t1.Sub(t0), c1-c0, w1-w0)
	if metric(t, rep.Metrics, "target_load_percent") != 60 {
		t.Errorf("target_load_percent %v", rep.Metrics)
	}
}

func TestRejectsBadParameters(t *testing.T) {
	reg, err := fault.NewRegistry(stress.Actions(), []fault.Action{stress.MemoryAction()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id     string
		params map[string]string
		param  string
	}{
		{fault.ActionTaskCPUStress, map[string]string{"duration": "PT1M", "percent": "101"}, "percent"},
		{fault.ActionTaskCPUStress, map[string]string{"duration": "PT1M", "workers": "-1"}, "workers"},
		{fault.ActionTaskCPUStress, map[string]string{"duration": "5m"}, "duration"},
		{fault.ActionTaskIOStress, map[string]string{"duration": "PT1M", "percent": "101"}, "percent"},
		{fault.ActionTaskIOStress, map[string]string{"duration": "PT1M", "workers": "-1"}, "workers"},
		{fault.ActionTaskIOStress, map[string]string{"duration": "5m"}, "duration"},
		{stress.MemoryActionID, map[string]string{"duration": "PT1M", "percent": "101"}, "percent"},
		{stress.MemoryActionID, map[string]string{"duration": "PT1M"}, "percent"},
		{stress.MemoryActionID, map[string]string{"duration": "PT1M", "percent": "5", "workers": "-1"}, "workers"},
		{stress.MemoryActionID, map[string]string{"duration": "5m", "percent": "5"}, "duration"},
	} {
		_, _, err := reg.New(tc.id, tc.params)
		var pe *fault.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("%s %v: error %v, want a *fault.ParamError naming %q", tc.id, tc.params, err, tc.param)
			continue
		}
		if !strings.Contains(err.Error(), tc.param) {
			t.Errorf("%s: error %q does not name %q", tc.id, err, tc.param)
		}
	}
	// The typed API rejects the same values, naming the field.
	for _, f := range []fault.Fault{
		stress.CPUFault{Load: 101}, stress.CPUFault{Load: 50, Workers: -1},
		stress.IOFault{Percent: 101}, stress.IOFault{Percent: 10, Workers: -1},
		stress.MemoryFault{Percent: 101}, stress.MemoryFault{Percent: 10, Workers: -1},
	} {
		h, err := f.Inject(context.Background(), nil)
		if h != nil || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("%#v: Inject = %v, %v; want ErrInvalidParameter", f, h, err)
		}
	}
	// Defaults follow FIS.
	f, d, err := reg.New(fault.ActionTaskCPUStress, map[string]string{"duration": "PT2S", "installDependencies": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if cf, ok := f.(stress.CPUFault); !ok || cf.Load != 100 || cf.Workers != 0 || d != 2*time.Second {
		t.Errorf("cpu defaults: %#v, %v", f, d)
	}
	f, _, err = reg.New(fault.ActionTaskIOStress, map[string]string{"duration": "PT2S"})
	if err != nil {
		t.Fatal(err)
	}
	if iof, ok := f.(stress.IOFault); !ok || iof.Percent != 80 || iof.Workers != 1 {
		t.Errorf("io defaults: %#v", f)
	}
}

// TestCPUInCgroup creates a cgroup, charges a stress to it and reads the
// cgroup's own CPU accounting.
func TestCPUInCgroup(t *testing.T) {
	testenv.RequireRoot(t)
	for _, v := range []int{1, 2} {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			feature := testenv.Cgroup1
			if v == 2 {
				feature = testenv.Cgroup2
			}
			testenv.RequireFeature(t, feature)
			name := "/faultkit-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(v)
			usage, cleanup := makeTestCgroup(t, v, name)
			defer cleanup()

			j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			self0 := processCPU(t)
			h, err := stress.CPUFault{Load: 50, Workers: 1, Cgroup: name, CgroupVersion: v}.Inject(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Revert(context.Background())
			procs := cgroupProcs(t, v, name)
			if len(procs) != 1 {
				t.Fatalf("cgroup holds %v, want the one stress child", procs)
			}
			time.Sleep(300 * time.Millisecond)
			u0, t0 := usage(), time.Now()
			c0, w0 := schedTotals(t, procs[0])
			time.Sleep(2 * time.Second)
			u1 := usage()
			c1, w1 := schedTotals(t, procs[0])
			t1 := time.Now()
			if err := h.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			self := processCPU(t) - self0
			st := h.Status()
			t.Logf("cgroup %s: child %s ran %v, cgroup charged %v; test process itself ran %v; report %v",
				name, procs[0], c1-c0, u1-u0, self, st.Metrics[:5])
			checkBurn(t, "cgroup accounting", 50, 1, t1.Sub(t0), u1-u0, w1-w0)
			if d := (u1 - u0) - (c1 - c0); d < -20*time.Millisecond || d > 20*time.Millisecond {
				t.Errorf("the cgroup was charged %v, the child ran %v: not the same CPU", u1-u0, c1-c0)
			}
			if self > 300*time.Millisecond {
				t.Errorf("the calling process ran %v; the stress should run in the cgroup child", self)
			}
			if n := metric(t, st.Metrics, "cpu_seconds"); n <= 0 {
				t.Errorf("child reported cpu_seconds %v", n)
			}
			if j.Close() != nil {
				t.Error("journal close failed")
			}
			if procs := cgroupProcs(t, v, name); len(procs) != 0 {
				t.Errorf("processes left in the cgroup: %v", procs)
			}
		})
	}
}

func TestCPUCgroupMissing(t *testing.T) {
	h, err := stress.CPUFault{Load: 10, Workers: 1, Cgroup: "/faultkit-no-such-cgroup"}.Inject(context.Background(), nil)
	if h != nil || !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("Inject into a missing cgroup = %v, %v; want ErrNotFound", h, err)
	}
}

// makeTestCgroup creates cgroup name in the v1 cpu and cpuacct hierarchies
// or in the v2 hierarchy, and returns a reader of its CPU usage and a
// cleanup that removes it.
func makeTestCgroup(t *testing.T, version int, name string) (func() time.Duration, func()) {
	t.Helper()
	if version == 1 {
		cpu, cpuacct := v1Dir(t, "cpu", name), v1Dir(t, "cpuacct", name)
		dirs := []string{cpu}
		if cpuacct != cpu {
			dirs = append(dirs, cpuacct)
		}
		for _, d := range dirs {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		usage := func() time.Duration {
			b, err := os.ReadFile(filepath.Join(cpuacct, "cpuacct.usage"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return time.Duration(n)
		}
		return usage, func() {
			for _, d := range dirs {
				removeCgroup(t, d)
			}
		}
	}
	dir := filepath.Join(v2Mount(t), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	usage := func() time.Duration {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return time.Duration(n) * time.Microsecond
			}
		}
		t.Fatalf("no usage_usec in %s/cpu.stat", dir)
		return 0
	}
	return usage, func() { removeCgroup(t, dir) }
}

// removeCgroup removes a cgroup directory, waiting for exiting processes
// to leave it.
func removeCgroup(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("remove cgroup %s: %v", dir, err)
}

func cgroupProcs(t *testing.T, version int, name string) []string {
	dir := filepath.Join(v2Mount(t), name)
	if version == 1 {
		dir = v1Dir(t, "cpu", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// v1Dir returns the directory of cgroup name in the v1 hierarchy that
// holds controller ctrl.
func v1Dir(t *testing.T, ctrl, name string) string {
	t.Helper()
	for _, m := range cgroupMounts(t) {
		if m.fstype == "cgroup" && strings.Contains(","+m.opts+",", ","+ctrl+",") {
			return filepath.Join(m.point, name)
		}
	}
	testenv.Require(t, testenv.Cgroup1, fmt.Errorf("no cgroup v1 hierarchy with controller %s", ctrl))
	return ""
}

func v2Mount(t *testing.T) string {
	t.Helper()
	for _, m := range cgroupMounts(t) {
		if m.fstype == "cgroup2" {
			return m.point
		}
	}
	testenv.Require(t, testenv.Cgroup2, errors.New("no cgroup2 hierarchy mounted"))
	return ""
}

type mountEntry struct{ point, fstype, opts string }

func cgroupMounts(t *testing.T) []mountEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []mountEntry
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		for i, x := range f {
			if x == "-" && i+3 < len(f) && i > 4 {
				out = append(out, mountEntry{point: f[4], fstype: f[i+1], opts: f[i+3]})
				break
			}
		}
	}
	return out
}

// TestCPUCgroupCrashChild is the body of TestCPUCgroupChildDiesWithOwner's
// child process; it does nothing in a normal run.
func TestCPUCgroupCrashChild(t *testing.T) {
	spec := os.Getenv("FAULTKIT_TEST_CPU_CRASH_CHILD")
	if spec == "" {
		t.Skip("helper process for TestCPUCgroupChildDiesWithOwner")
	}
	cg, state, _ := strings.Cut(spec, ":")
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: state})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if _, err := (stress.CPUFault{Load: 20, Workers: 1, Cgroup: cg, CgroupVersion: 1}).Inject(context.Background(), j); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("STARTED")
	time.Sleep(time.Minute) // until SIGKILL
	os.Exit(2)
}

// TestCPUCgroupChildDiesWithOwner SIGKILLs a process running a cgroup CPU
// stress and expects the stress child to be gone within 2 s (Pdeathsig,
// and the journal's guardian as a second line).
func TestCPUCgroupChildDiesWithOwner(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.Cgroup1)
	name := "/faultkit-test-crash-" + strconv.Itoa(os.Getpid())
	_, cleanup := makeTestCgroup(t, 1, name)
	defer cleanup()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCPUCgroupCrashChild$")
	cmd.Env = append(os.Environ(), "FAULTKIT_TEST_CPU_CRASH_CHILD="+name+":"+t.TempDir())
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	started := false
	for sc.Scan() {
		if sc.Text() == "STARTED" {
			started = true
			break
		}
		if strings.HasPrefix(sc.Text(), "ERR") {
			t.Fatal(sc.Text())
		}
	}
	if !started {
		t.Fatal("child did not start the stress")
	}
	procs := cgroupProcs(t, 1, name)
	if len(procs) != 1 {
		t.Fatalf("cgroup holds %v, want the stress child", procs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for time.Since(killed) < 2*time.Second {
		if len(cgroupProcs(t, 1, name)) == 0 {
			t.Logf("stress child %s gone %v after its owner's SIGKILL", procs[0], time.Since(killed).Round(time.Millisecond))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("stress child %v still in the cgroup 2 s after its owner's SIGKILL", cgroupProcs(t, 1, name))
}

// TestCPUWorkersFollowCgroupQuota runs workers = 0 ("all") in cgroups
// with a CPU quota: the child counts the CPUs the cgroup may use, the
// quota rounded up and capped by the CPUs there are.
func TestCPUWorkersFollowCgroupQuota(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.Cgroup1)
	ncpu, err := stress.AvailableCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		quota int
		want  int
	}{{50000, 1}, {150000, min(2, ncpu)}, {-1, ncpu}} {
		t.Run(strconv.Itoa(tc.quota), func(t *testing.T) {
			name := "/faultkit-test-quota-" + strconv.Itoa(os.Getpid())
			_, cleanup := makeTestCgroup(t, 1, name)
			defer cleanup()
			if err := os.WriteFile(filepath.Join(v1Dir(t, "cpu", name), "cpu.cfs_quota_us"), []byte(strconv.Itoa(tc.quota)), 0); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			rep, err := fault.Run(ctx, stress.CPUFault{Load: 10, Cgroup: name}, 0, fault.WithoutJournal())
			if err != nil {
				t.Fatal(err)
			}
			if got := metric(t, rep.Metrics, "workers"); int(got) != tc.want {
				t.Errorf("quota %d/100000: %v workers, want %d", tc.quota, got, tc.want)
			}
		})
	}
}
