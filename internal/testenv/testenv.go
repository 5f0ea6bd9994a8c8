package testenv

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

// EnvRequire is the environment variable that lists required features.
const EnvRequire = "FAULTKIT_REQUIRE"

// Feature names understood by FAULTKIT_REQUIRE. The generic ones (Root,
// NetNS, NFTables, Cgroup, Cgroup1, Cgroup2, QEMU) have a probe in this
// package; the qdisc and classifier features are probed by the netem
// package and passed to Require as errors.
const (
	All      = "all"      // every feature
	Root     = "root"     // effective uid 0
	NetNS    = "netns"    // unshare(CLONE_NEWNET) and back
	NFTables = "nftables" // nf_tables over nfnetlink, inside a throwaway netns
	Cgroup   = "cgroup"   // any cgroup hierarchy (v1 or v2) mounted and writable
	Cgroup1  = "cgroup1"  // a cgroup v1 hierarchy mounted and writable
	Cgroup2  = "cgroup2"  // the cgroup v2 hierarchy mounted and writable
	QEMU     = "qemu"     // qemu-system-x86_64 on PATH
	Netem    = "netem"    // sch_netem qdisc
	Prio     = "prio"     // sch_prio qdisc
	U32      = "u32"      // cls_u32 classifier
	IFB      = "ifb"      // ifb device (ingress redirect)
	Flow     = "flow"     // cls_flow / flower classifier as used by netem
)

// Canonical returns the name FAULTKIT_REQUIRE uses for feature: lower case,
// trimmed, with the kernel module prefixes "sch_", "cls_" and "act_"
// dropped, "nf_tables" spelled "nftables", and "cgroup v2", "cgroupv2" or
// "cgroup-v2" spelled "cgroup2" (likewise for v1).
func Canonical(feature string) string {
	f := strings.ToLower(strings.TrimSpace(feature))
	for _, p := range []string{"sch_", "cls_", "act_"} {
		f = strings.TrimPrefix(f, p)
	}
	switch f {
	case "nf_tables":
		return NFTables
	case "cgroup v2", "cgroupv2", "cgroup-v2", "cgroup_v2":
		return Cgroup2
	case "cgroup v1", "cgroupv1", "cgroup-v1", "cgroup_v1":
		return Cgroup1
	}
	return f
}

// Required reports whether FAULTKIT_REQUIRE names feature (after
// Canonical) or "all".
func Required(feature string) bool {
	want := Canonical(feature)
	for _, f := range strings.Split(os.Getenv(EnvRequire), ",") {
		f = Canonical(f)
		if f == All || (f != "" && f == want) {
			return true
		}
	}
	return false
}

// Require returns when err is nil. Otherwise it fails tb when feature is
// required (see Required) and skips it with "feature X unavailable: err"
// when it is not.
func Require(tb testing.TB, feature string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	name := Canonical(feature)
	if Required(name) {
		tb.Fatalf("feature %s unavailable but required by %s=%q: %v", name, EnvRequire, os.Getenv(EnvRequire), err)
	}
	tb.Skipf("feature %s unavailable: %v", name, err)
}

// RequireRoot skips tb with "needs root (uid N)" unless the effective uid is
// 0, and fails it instead when "root" is required.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if uid := os.Geteuid(); uid != 0 {
		Require(tb, Root, fmt.Errorf("needs root (uid %d)", uid))
	}
}

// RequireFeature probes one of the generic features (Root, NetNS, NFTables,
// Cgroup, Cgroup1, Cgroup2, QEMU) with Probe and passes the result to
// Require. A name without a probe here fails tb: probe it yourself and call
// Require.
func RequireFeature(tb testing.TB, feature string) {
	tb.Helper()
	err := Probe(feature)
	if errors.Is(err, errNoProbe) {
		tb.Fatal(err)
	}
	Require(tb, feature, err)
}

// RequireUnsupported handles an error returned by faultkit code. It
// returns when err is nil. When err wraps fault.ErrUnsupported, the feature
// named by the *fault.UnsupportedError decides, as in Require; when it wraps
// fault.ErrPermission it is treated as the feature "root". Any other error
// fails tb.
func RequireUnsupported(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	var ue *fault.UnsupportedError
	switch {
	case errors.As(err, &ue):
		Require(tb, ue.Feature, err)
		return
	case errors.Is(err, fault.ErrUnsupported):
		Require(tb, "unknown", err) // unnamed: only "all" makes it fatal
		return
	case errors.Is(err, fault.ErrPermission) && os.Geteuid() != 0:
		Require(tb, Root, err)
		return
	}
	tb.Fatal(err)
}
