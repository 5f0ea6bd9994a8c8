package tc_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/netem/internal/tc"
)

// Validate reports every bad field as a *fault.ParamError.
func ExampleConfig_Validate() {
	err := tc.Config{Link: "eth0", LossPercent: 120, FlowsPercent: 30}.Validate()
	var pe *fault.ParamError
	fmt.Println(errors.As(err, &pe), pe.Param, errors.Is(err, fault.ErrInvalidParameter))
	// Output: true LossPercent true
}

// DefaultLimit sizes netem's queue for the delay, so the impairment does
// not add tail drops of its own.
func ExampleConfig_DefaultLimit() {
	c := tc.Config{Link: "eth0", Delay: 200 * time.Millisecond, Jitter: 10 * time.Millisecond,
		Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	fmt.Println(c.DefaultLimit())
	c.RateBytesPerSec = 1_000_000 // 8 Mbit/s
	fmt.Println(c.DefaultLimit())
	// Output:
	// 35000
	// 1000
}
