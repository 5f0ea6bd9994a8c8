//go:build !linux

package testenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

var errNoProbe = errors.New("testenv: no generic probe for this feature")

// Probe reports every feature as unavailable except root: faultkit's
// kernel features exist only on Linux.
func Probe(feature string) error {
	switch Canonical(feature) {
	case Root:
		return ProbeRoot()
	case NetNS, NFTables, Cgroup, Cgroup1, Cgroup2, QEMU:
		return fmt.Errorf("%s: not available on %s", feature, runtime.GOOS)
	}
	return fmt.Errorf("%w: %q", errNoProbe, feature)
}

// ProbeRoot returns nil when the effective uid is 0.
func ProbeRoot() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("needs root (uid %d)", uid)
	}
	return nil
}
