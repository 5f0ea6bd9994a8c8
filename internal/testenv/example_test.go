package testenv_test

import (
	"fmt"
	"testing"

	"github.com/faultkit/faultkit/internal/testenv"
)

// A kernel test first states what it needs. Without root (or with a missing
// feature) it is skipped with the reason, unless FAULTKIT_REQUIRE names the
// feature: then it fails.
func ExampleRequire() {
	test := func(t *testing.T) {
		testenv.RequireRoot(t)
		testenv.RequireFeature(t, testenv.NFTables)
		var qdiscErr error // e.g. the netem package's own probe for sch_netem
		testenv.Require(t, testenv.Netem, qdiscErr)
		// ... the test proper ...
	}
	_ = test
	fmt.Println(testenv.Canonical("sch_netem"), testenv.Canonical("cgroup v2"))
	// Output: netem cgroup2
}
