package fault

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Sentinel errors. Every error faultkit returns wraps at most one of these,
// so callers can branch with errors.Is; HTTPStatus maps them to status codes
// for tools that expose faults over HTTP.
var (
	// ErrInvalidParameter reports a parameter that is missing, unknown or out
	// of range. The wrapping *ParamError names the parameter and the value.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrConflict reports a fault that cannot coexist with one already
	// active, such as a second latency fault on the same interface.
	ErrConflict = errors.New("conflicting fault already active")
	// ErrUnsupported reports a kernel or system feature the fault needs and
	// this machine lacks. The wrapping *UnsupportedError names the feature.
	ErrUnsupported = errors.New("unsupported")
	// ErrPermission reports missing privileges (root, CAP_NET_ADMIN, ...).
	ErrPermission = errors.New("permission denied")
	// ErrUnknownAction reports an action ID that no registry entry serves.
	ErrUnknownAction = errors.New("unknown action")
	// ErrNotFound reports that the object a fault acts on does not exist,
	// for example no process matching a name.
	ErrNotFound = errors.New("not found")
)

// HTTPStatus maps an error to the HTTP status a fault-injection endpoint
// should answer with, following the ECS agent's fault endpoints: 400 for bad
// parameters, 404 for missing objects, 409 for conflicts, 403 for missing
// privileges, 501 for unsupported features and 500 for anything else.
// A nil error maps to 200.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrInvalidParameter), errors.Is(err, ErrUnknownAction):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, ErrUnsupported):
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// Permission makes a permission failure from the system (EPERM, EACCES,
// os.ErrPermission) match ErrPermission with errors.Is, keeping the
// original error in the chain. Other errors, nil, and errors that already
// match ErrPermission are returned unchanged.
func Permission(err error) error {
	if err == nil || !errors.Is(err, os.ErrPermission) || errors.Is(err, ErrPermission) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrPermission, err)
}

// ParamError describes one invalid parameter. It wraps ErrInvalidParameter.
type ParamError struct {
	Action string // FIS action ID or fault name, may be empty
	Param  string // parameter name as FIS spells it, e.g. "percent"
	Value  string // the offending value as given ("" when missing)
	Reason string // what is wrong, e.g. "out of range 0-100"
}

func (e *ParamError) Error() string {
	var b strings.Builder
	if e.Action != "" {
		b.WriteString(e.Action)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "parameter %q", e.Param)
	if e.Value != "" {
		fmt.Fprintf(&b, " value %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalidParameter.
func (e *ParamError) Unwrap() error { return ErrInvalidParameter }

// UnsupportedError names a missing kernel or system feature, such as
// "sch_netem". It wraps ErrUnsupported, and Err (the probe's error) when set.
type UnsupportedError struct {
	Feature string // e.g. "sch_netem", "pidfd_open", "cgroup v2"
	Err     error  // what the probe saw, may be nil
}

// Unsupported returns an *UnsupportedError for feature.
func Unsupported(feature string, err error) error {
	return &UnsupportedError{Feature: feature, Err: err}
}

func (e *UnsupportedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("unsupported: %s not available: %v", e.Feature, e.Err)
	}
	return fmt.Sprintf("unsupported: %s not available", e.Feature)
}

// Unwrap returns ErrUnsupported and the probe's error.
func (e *UnsupportedError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrUnsupported, e.Err}
	}
	return []error{ErrUnsupported}
}

// OpError is the error engines return when an operation on a kernel or
// system object fails. It unwraps to the underlying error, so errors.Is
// works with syscall errnos as well as with the sentinels above.
type OpError struct {
	Op     string // "inject", "revert", "probe", ...
	Fault  string // fault name, e.g. "network-latency"
	Object string // the object acted on, e.g. `qdisc 1: dev eth0`
	Err    error
}

func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Fault != "" {
		b.WriteString(" ")
		b.WriteString(e.Fault)
	}
	if e.Object != "" {
		b.WriteString(" (")
		b.WriteString(e.Object)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }
