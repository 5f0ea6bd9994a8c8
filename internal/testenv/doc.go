// Package testenv decides whether a test that needs a kernel or system
// feature runs, skips or fails.
//
// A test probes a feature and hands the result to Require. When the probe
// failed the test is skipped with the reason, unless the environment
// variable FAULTKIT_REQUIRE names the feature: then the test fails, so a CI
// machine that is supposed to have the feature cannot silently skip it.
//
//	func TestBlackhole(t *testing.T) {
//		testenv.RequireRoot(t)
//		testenv.RequireFeature(t, testenv.NFTables) // generic probe
//		testenv.Require(t, testenv.Netem, probeNetem(t)) // the engine's own probe
//		h, err := f.Inject(ctx, nil)
//		testenv.RequireUnsupported(t, err) // skip/fail on *fault.UnsupportedError, fail on others
//	}
//
// FAULTKIT_REQUIRE is a comma-separated list of feature names, for example
// "root,netns,nftables,cgroup" in CI or "root,netns,netem,prio,u32,ifb,nftables"
// in the kernel lab; "all" requires every feature. Names are compared after
// Canonical, so "sch_netem", "cls_u32" and "cgroup v2" match "netem", "u32"
// and "cgroup2". Each name stands for itself only: "cgroup" (any cgroup
// hierarchy, see ProbeCgroup) does not make "cgroup1" or "cgroup2"
// required, because a host normally has one of the two.
//
// The package reads FAULTKIT_REQUIRE at every call and keeps no other state.
package testenv
