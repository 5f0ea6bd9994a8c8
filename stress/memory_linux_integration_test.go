//go:build linux

package stress_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
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
