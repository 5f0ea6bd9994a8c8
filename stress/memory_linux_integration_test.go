//go:build linux

package stress_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/stress"
)

// vmRSS reads this process's resident set size from /proc/self/status.
func vmRSS(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func memAvailable(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no MemAvailable")
	return 0
}

// TestMemoryIsResident occupies 1 % of the available memory and checks,
// from the kernel's own VmRSS, that it is really resident, then released.
func TestMemoryIsResident(t *testing.T) {
	avail := memAvailable(t)
	rss0 := vmRSS(t)
	h, err := stress.MemoryFault{Percent: 1, Workers: 2}.Inject(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Revert(context.Background())
	var st fault.Status
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		st = h.Status()
		if metric(t, st.Metrics, "resident_bytes") >= metric(t, st.Metrics, "target_bytes") {
			break
		}
	}
	target := metric(t, st.Metrics, "target_bytes")
	resident := metric(t, st.Metrics, "resident_bytes")
	rss := vmRSS(t)
	t.Logf("available %d, target %v, resident (mincore) %v, VmRSS grew %d", avail, target, resident, rss-rss0)
	want := float64(avail) / 100
	if target < want*0.9 || target > want*1.1 {
		t.Errorf("target %v, want about 1%% of %d", target, avail)
	}
	if resident < target {
		t.Errorf("resident %v below target %v", resident, target)
	}
	if float64(rss-rss0) < target*0.95 {
		t.Errorf("VmRSS grew by %d, want at least the target %v", rss-rss0, target)
	}
	if err := h.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rss2 := vmRSS(t); float64(rss2) > float64(rss0)+target*0.2 {
		t.Errorf("VmRSS %d after revert, was %d before: memory not released", rss2, rss0)
	}
}

func TestMemoryFrontDoor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rep, err := stress.Memory(ctx, 1, 1, fault.WithoutJournal())
	if err != nil {
		t.Fatal(err)
	}
	if rep.EndedBy != "context" || metric(t, rep.Metrics, "resident_bytes") <= 0 {
		t.Errorf("report %+v", rep)
	}
}

// TestMemoryLimitChild is the body of TestMemoryRespectsCgroupLimit's
// child; it does nothing in a normal run.
func TestMemoryLimitChild(t *testing.T) {
	if os.Getenv("FAULTKIT_TEST_MEMORY_CHILD") == "" {
		t.Skip("helper process for TestMemoryRespectsCgroupLimit")
	}
	var line string
	fmt.Scanln(&line) // wait until the parent has moved us into the cgroup
	h, err := stress.MemoryFault{Percent: 100, Workers: 2}.Inject(context.Background(), nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var st fault.Status
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		st = h.Status()
		if metric(t, st.Metrics, "resident_bytes") >= metric(t, st.Metrics, "target_bytes") {
			break
		}
	}
	time.Sleep(2500 * time.Millisecond) // a re-touch pass too
	st = h.Status()
	fmt.Printf("RESULT %.0f %.0f\n", metric(t, st.Metrics, "target_bytes"), metric(t, st.Metrics, "resident_bytes"))
	if err := h.Revert(context.Background()); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestMemoryRespectsCgroupLimit runs a 100 % memory stress in a child
// process confined to a 256 MiB memory cgroup: the stress must fill the
// room below the limit (less its margin), really resident, without being
// OOM-killed.
func TestMemoryRespectsCgroupLimit(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.Cgroup1)
	const limit = 256 << 20
	dir := v1Dir(t, "memory", "faultkit-test-mem-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer removeCgroup(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.Itoa(limit)), 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryLimitChild$")
	cmd.Env = append(os.Environ(), "FAULTKIT_TEST_MEMORY_CHILD=1")
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	fmt.Fprintln(in, "go")
	err := cmd.Wait()
	maxUsage, _ := os.ReadFile(filepath.Join(dir, "memory.max_usage_in_bytes"))
	t.Logf("child output %q; cgroup max usage %s", out.String(), strings.TrimSpace(string(maxUsage)))
	if err != nil {
		t.Fatalf("child failed (OOM-killed?): %v", err)
	}
	var target, resident float64
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "RESULT ") {
			fmt.Sscanf(l, "RESULT %f %f", &target, &resident)
		}
	}
	if target <= 0 {
		t.Fatal("child reported no result")
	}
	if target > limit-16<<20 {
		t.Errorf("target %v leaves less than the 16 MiB margin below the %d limit", target, limit)
	}
	if target < limit/2 {
		t.Errorf("target %v: 100%% should fill most of the room below %d", target, limit)
	}
	if resident < target*0.95 {
		t.Errorf("resident %v, target %v: pages not resident", resident, target)
	}
}
