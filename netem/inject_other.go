//go:build !linux

package netem

import (
	"context"
	"errors"

	"github.com/faultkit/faultkit/fault"
)

// errNotLinux explains why Inject fails.
var errNotLinux = errors.New("network faults need Linux (netlink, tc, nftables)")

// Inject implements fault.Fault; network faults need Linux.
func (f *LatencyFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	return nil, fault.Unsupported("netem", errNotLinux)
}

// Inject implements fault.Fault; network faults need Linux.
func (f *LossFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	return nil, fault.Unsupported("netem", errNotLinux)
}

// Inject implements fault.Fault; network faults need Linux.
func (f *BlackholeFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	return nil, fault.Unsupported("netem", errNotLinux)
}

// Status reports active faults; network faults need Linux.
func Status(context.Context, ...Option) ([]Active, error) {
	return nil, fault.Unsupported("netem", errNotLinux)
}
