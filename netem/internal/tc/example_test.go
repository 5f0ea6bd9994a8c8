package tc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
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

// Apply installs an impairment on one link, Status reads it back from the
// kernel (also from another process), Revert removes it. Needs root and
// sch_netem, so this example is compiled but not run.
func ExampleApply() {
	ctx := context.Background()
	j, err := fault.OpenJournal(fault.JournalConfig{}) // crash-safe: a guardian reverts if we die
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	a, err := tc.Apply(ctx, j, tc.Config{
		Link:    "eth0",
		Delay:   200 * time.Millisecond,
		Jitter:  10 * time.Millisecond,
		Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Allow:   []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")},
	})
	if errors.Is(err, fault.ErrConflict) {
		log.Fatal("eth0 already carries an impairment")
	}
	if err != nil {
		log.Fatal(err)
	}
	defer a.Revert(ctx)
	act, _ := tc.Status(fault.NetNS{}, "eth0")
	fmt.Println(act) // [{eth0 egress latency 4195352576}]
}
