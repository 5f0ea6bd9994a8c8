//go:build !linux

package tc

import (
	"errors"

	"github.com/faultkit/faultkit/fault"
)

var errNotLinux = errors.New("traffic control needs Linux")

func dialNetlink(fault.NetNS) (conn, error) {
	return nil, fault.Unsupported("tc", errNotLinux)
}

// Probe reports fault.Unsupported everywhere but on Linux.
func Probe(fault.NetNS) error { return fault.Unsupported("tc", errNotLinux) }
