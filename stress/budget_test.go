package stress

import (
	"strings"
	"testing"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

func TestPlanBudget(t *testing.T) {
	for _, tc := range []struct {
		name              string
		free, size        uint64
		percent           int
		maxBytes          int64
		workers           int
		wantTotal, margin uint64 // wantTotal before the metadata reserve and rounding
	}{
		{"80% of 10 GiB, 1 worker", 10 * gib, 100 * gib, 80, 0, 1, 8 * gib, gib},
		{"80% split over 3 workers, whole blocks", 10 * gib, 100 * gib, 80, 0, 3, 8 * gib, gib},
		{"100% keeps the margin", 10 * gib, 20 * gib, 100, 0, 1, 10*gib - 20*gib/100, 20 * gib / 100},
		{"maxBytes caps", 10 * gib, 100 * gib, 50, 64 * mib, 2, 64 * mib, gib},
		{"small fs margin floor", 64 * mib, 64 * mib, 50, 0, 1, 32 * mib, MinMargin},
		{"huge fs margin ceiling", 900 * gib, 1000 * gib, 10, 0, 4, 90 * gib, MaxMargin},
		{"no overflow near 2^64", 1<<64 - 1, 1<<64 - 1, 100, 0, 1, 1<<64 - 1 - MaxMargin, MaxMargin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.wantTotal -= uint64(metaDirReserve + tc.workers*metaFileReserve)
			tc.wantTotal = tc.wantTotal / uint64(tc.workers) / ioBlock * ioBlock * uint64(tc.workers)
			b, err := planBudget(tc.free, tc.size, tc.percent, tc.maxBytes, tc.workers)
			if err != nil {
				t.Fatal(err)
			}
			if b.total != tc.wantTotal || b.margin != tc.margin {
				t.Errorf("total %d margin %d, want %d and %d", b.total, b.margin, tc.wantTotal, tc.margin)
			}
			// The invariants, whatever the numbers.
			if b.cap < b.total || b.cap > mulPercent(tc.free, tc.percent) {
				t.Errorf("cap %d: want total %d <= cap <= %d%% of %d", b.cap, b.total, tc.percent, tc.free)
			}
			if b.total > mulPercent(tc.free, tc.percent) {
				t.Errorf("total %d exceeds %d%% of %d free", b.total, tc.percent, tc.free)
			}
			if b.total+uint64(metaDirReserve+tc.workers*metaFileReserve) > mulPercent(tc.free, tc.percent) && tc.maxBytes == 0 {
				t.Errorf("total %d plus the metadata reserve exceeds %d%% of %d", b.total, tc.percent, tc.free)
			}
			if b.total+b.margin > tc.free {
				t.Errorf("total %d leaves less than the margin %d of %d free", b.total, b.margin, tc.free)
			}
			if b.perWorker(b.total)*uint64(tc.workers) > b.total || b.perWorker(b.total)%ioBlock != 0 {
				t.Errorf("per-worker %d x %d does not fit %d in whole blocks", b.perWorker(b.total), tc.workers, b.total)
			}
		})
	}
}

func TestPlanBudgetRefusesTooLittle(t *testing.T) {
	for _, tc := range []struct {
		free, size uint64
		percent    int
		workers    int
	}{
		{MinMargin, 10 * mib, 100, 1},       // nothing above the margin
		{2 * mib, 10 * mib, 1, 1},           // 1% of 2 MiB < 64 KiB
		{100 * mib, 100 * mib, 1, 1024},     // 1 MiB over 1024 workers
		{0, 0, 80, 1},                       // a full or empty fs
		{500 * mib, 500 * gib, 100, 1 << 8}, // the margin eats most of it
	} {
		if b, err := planBudget(tc.free, tc.size, tc.percent, 0, tc.workers); err == nil {
			t.Errorf("planBudget(%d, %d, %d%%, %d workers) = %+v, want an error", tc.free, tc.size, tc.percent, tc.workers, b)
		} else if !strings.Contains(err.Error(), "not enough free space") {
			t.Errorf("error %q", err)
		}
	}
}

func TestBudgetAllowed(t *testing.T) {
	b, err := planBudget(10*gib, 100*gib, 50, 0, 2) // about 5 GiB, margin 1 GiB
	if err != nil {
		t.Fatal(err)
	}
	plan := b.total
	if plan > 5*gib || plan < 5*gib-mib {
		t.Fatalf("plan %d, want just under 5 GiB", plan)
	}
	for _, tc := range []struct {
		name       string
		free, held uint64
		want       uint64
	}{
		{"start", 10 * gib, 0, plan},
		{"full budget held, plenty free", 5 * gib, plan, plan},
		{"someone else took space, still above margin", 2 * gib, plan, plan},
		{"free fell below margin: give back the difference", gib / 2, plan, plan - gib/2},
		{"disk full: give back the whole margin", 0, plan, plan - gib},
		{"nothing left to give", 0, gib / 2, 0},
		{"space came back: grow to the plan, no further", 50 * gib, gib, plan},
	} {
		got := b.allowed(tc.free, tc.held)
		if got != tc.want {
			t.Errorf("%s: allowed(free %d, held %d) = %d, want %d", tc.name, tc.free, tc.held, got, tc.want)
		}
		if got > b.total {
			t.Errorf("%s: allowed %d above the plan %d", tc.name, got, b.total)
		}
		// After shrinking to the allowance, the margin is restored
		// whenever that is possible at all.
		if tc.held+tc.free >= b.margin && got < tc.held && tc.free+tc.held-got < b.margin {
			t.Errorf("%s: shrinking to %d leaves %d free, below margin %d", tc.name, got, tc.free+tc.held-got, b.margin)
		}
	}
}

func TestPlanMemory(t *testing.T) {
	for _, tc := range []struct {
		name                string
		avail, limit, usage uint64
		limited             bool
		percent, workers    int
		want                uint64
	}{
		{"no limit: percent of MemAvailable", 10 * gib, 0, 0, false, 50, 1, 5 * gib},
		{"split over workers", 10 * gib, 0, 0, false, 30, 3, gib},
		{"cgroup room smaller than MemAvailable", 10 * gib, 2 * gib, gib, true, 50, 1, gib / 2},
		{"100% stops a margin below the limit", 10 * gib, 2 * gib, gib, true, 100, 1, gib - 2*gib/20},
		{"small cgroup, margin floor 16 MiB", 10 * gib, 100 * mib, 20 * mib, true, 100, 1, 64 * mib},
	} {
		got, err := planMemory(tc.avail, tc.limit, tc.usage, tc.limited, tc.percent, tc.workers)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want/pageSize*pageSize {
			t.Errorf("%s: per worker %d, want %d", tc.name, got, tc.want)
		}
		if tc.limited && got*uint64(tc.workers)+tc.usage > tc.limit-memMargin(tc.limit) {
			t.Errorf("%s: %d x %d crosses the limit's margin", tc.name, got, tc.workers)
		}
	}
	if _, err := planMemory(10*gib, 100*mib, 95*mib, true, 100, 1); err == nil {
		t.Error("no room below the limit: want an error")
	}
}
