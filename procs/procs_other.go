//go:build !linux

package procs

import (
	"context"
	"syscall"

	"github.com/faultkit/faultkit/fault"
)

// MethodPidfd is Result.Method when signals went through pidfds.
const MethodPidfd = "pidfd_send_signal"

// Find lists the processes that match name. It needs Linux's /proc; on
// other systems it returns an error wrapping fault.ErrUnsupported.
func Find(name string, opts ...Option) ([]Process, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(name); err != nil {
		return nil, err
	}
	return nil, fault.Unsupported("/proc (Linux)", nil)
}

// Kill signals the processes that match name. It needs Linux's /proc and
// pidfds; on other systems it returns an error wrapping
// fault.ErrUnsupported.
func Kill(ctx context.Context, name string, sig syscall.Signal, opts ...Option) (*Result, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(name); err != nil {
		return nil, err
	}
	if err := validSignal(sig); err != nil {
		return nil, err
	}
	return nil, fault.Unsupported("/proc (Linux)", nil)
}
