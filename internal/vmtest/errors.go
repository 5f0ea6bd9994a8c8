package vmtest

import (
	"errors"
)

// Exit statuses of cmd/vmtest besides the guest program's own. A test
// failure inside the guest is the test binary's status (1 for a failed Go
// test); these two mean that there is no test result at all.
const (
	// ExitTimeout: the VM did not finish within the timeout and was killed.
	ExitTimeout = 124
	// ExitLabFailure: the lab could not produce a result (missing host
	// tools, download or image build failed, QEMU failed, the kernel did
	// not boot, the guest's /init failed, no exit marker on the console).
	ExitLabFailure = 125
)

var (
	// ErrLab reports a failure of the lab itself, never of the program
	// under test.
	ErrLab = errors.New("vmtest: lab failure")
	// ErrTimeout reports that the VM ran past its timeout and was killed.
	ErrTimeout = errors.New("vmtest: timeout")
)

// ExitStatus maps the outcome of Run to a process exit status: the guest
// program's status when it ran to completion, ExitTimeout or
// ExitLabFailure otherwise.
func ExitStatus(res Result, err error) int {
	switch {
	case err == nil:
		return res.ExitCode
	case errors.Is(err, ErrTimeout):
		return ExitTimeout
	default:
		return ExitLabFailure
	}
}
