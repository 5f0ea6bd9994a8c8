package testenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

// recorder is a testing.TB that records Skip and Fatal instead of acting on
// the real test; like the real ones, both end the calling goroutine.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	failed  string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// outcome runs fn with a recorder and reports "pass", "skip: ..." or "fail: ...".
func outcome(fn func(tb testing.TB)) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	switch {
	case r.failed != "":
		return "fail: " + r.failed
	case r.skipped != "":
		return "skip: " + r.skipped
	}
	return "pass"
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"netem": "netem", " SCH_NETEM ": "netem", "cls_u32": "u32", "act_gact": "gact",
		"nf_tables": "nftables", "cgroup v2": "cgroup2", "cgroupv1": "cgroup1", "Root": "root",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		env     string
		feature string
		want    bool
	}{
		{"", "root", false},
		{"root,netns,nftables", "netns", true},
		{"root, netns ,nftables", "netns", true},
		{"root,netns,nftables", "netem", false},
		{"root,sch_netem", "netem", true},
		{"netem", "sch_netem", true},
		{"all", "qemu", true},
		{"ALL", "anything", true},
		{"cgroup", "cgroup2", false},
		{",,", "", false},
	}
	for _, tt := range tests {
		t.Setenv(EnvRequire, tt.env)
		if got := Required(tt.feature); got != tt.want {
			t.Errorf("%s=%q: Required(%q) = %v, want %v", EnvRequire, tt.env, tt.feature, got, tt.want)
		}
	}
}

func TestRequire(t *testing.T) {
	missing := errors.New("sch_netem: no such file")
	tests := []struct {
		env  string
		err  error
		want string // prefix
	}{
		{"", nil, "pass"},
		{"netem", nil, "pass"},
		{"", missing, "skip: feature netem unavailable: sch_netem: no such file"},
		{"root,u32", missing, "skip: feature netem unavailable"},
		{"root,netem", missing, "fail: feature netem unavailable but required by FAULTKIT_REQUIRE=\"root,netem\""},
		{"all", missing, "fail: feature netem unavailable"},
	}
	for _, tt := range tests {
		t.Setenv(EnvRequire, tt.env)
		got := outcome(func(tb testing.TB) { Require(tb, "sch_netem", tt.err) })
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s=%q, err=%v: got %q, want prefix %q", EnvRequire, tt.env, tt.err, got, tt.want)
		}
	}
}

func TestRequireUnsupported(t *testing.T) {
	unsup := fmt.Errorf("inject: %w", fault.Unsupported("sch_netem", syscall.ENOENT))
	other := errors.New("boom")
	tests := []struct {
		env  string
		err  error
		want string
	}{
		{"", nil, "pass"},
		{"", unsup, "skip: feature netem unavailable: inject: unsupported: sch_netem not available"},
		{"netem", unsup, "fail: feature netem unavailable"},
		{"", other, "fail: boom"},
		{"all", other, "fail: boom"},
		{"", fault.ErrUnsupported, "skip: feature unknown unavailable"},
		{"all", fault.ErrUnsupported, "fail: feature unknown unavailable"},
	}
	for _, tt := range tests {
		t.Setenv(EnvRequire, tt.env)
		got := outcome(func(tb testing.TB) { RequireUnsupported(tb, tt.err) })
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s=%q, err=%v: got %q, want prefix %q", EnvRequire, tt.env, tt.err, got, tt.want)
		}
	}
}

func TestRequireRoot(t *testing.T) {
	t.Setenv(EnvRequire, "root")
	got := outcome(func(tb testing.TB) { RequireRoot(tb) })
	want := "pass"
	if uid := os.Geteuid(); uid != 0 {
		want = fmt.Sprintf("fail: feature root unavailable but required by %s=\"root\": needs root (uid %d)", EnvRequire, uid)
	}
	if got != want {
		t.Errorf("RequireRoot: got %q, want %q", got, want)
	}
}

func TestRequireFeatureUnknown(t *testing.T) {
	t.Setenv(EnvRequire, "")
	got := outcome(func(tb testing.TB) { RequireFeature(tb, "netem") })
	if !strings.HasPrefix(got, "fail: testenv: no generic probe") {
		t.Errorf("RequireFeature(netem) = %q, want a failure naming the missing probe", got)
	}
}
