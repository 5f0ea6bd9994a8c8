package netem

import (
	"errors"
	"fmt"

	"github.com/faultkit/faultkit/fault"
)

func paramErr(param, value, reason string) *fault.ParamError {
	return &fault.ParamError{Param: param, Value: value, Reason: reason}
}

// joinParamErrors names the fault in every *fault.ParamError and joins them.
func joinParamErrors(name string, errs []error) error {
	for _, e := range errs {
		var pe *fault.ParamError
		if errors.As(e, &pe) && pe.Action == "" {
			pe.Action = name
		}
	}
	return errors.Join(errs...)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", fault.ErrConflict, fmt.Sprintf(format, args...))
}
