//go:build !linux

package stress

import (
	"context"
	"runtime"

	"github.com/faultkit/faultkit/fault"
)

func unsupported() error { return fault.Unsupported("stress on "+runtime.GOOS, nil) }

// Inject implements fault.Fault; it is unsupported outside Linux.
func (f CPUFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return nil, unsupported()
}

// Inject implements fault.Fault; it is unsupported outside Linux.
func (f IOFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return nil, unsupported()
}

// Inject implements fault.Fault; it is unsupported outside Linux.
func (f MemoryFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return nil, unsupported()
}

// AvailableCPUs returns runtime.NumCPU() outside Linux.
func AvailableCPUs() (int, error) { return runtime.NumCPU(), nil }

// CPUQuota reports no quota outside Linux.
func CPUQuota() (cpus float64, ok bool, err error) { return 0, false, nil }
