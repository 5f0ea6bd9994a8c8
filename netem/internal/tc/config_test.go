package tc

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

func TestValidate(t *testing.T) {
	ok := Config{Link: "eth0", Delay: time.Millisecond}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		mod   func(*Config)
		param string
	}{
		{"no link", func(c *Config) { c.Link = "" }, "Link"},
		{"long link", func(c *Config) { c.Link = "abcdefghijklmnop" }, "Link"},
		{"slash in link", func(c *Config) { c.Link = "a/b" }, "Link"},
		{"direction", func(c *Config) { c.Direction = 7 }, "Direction"},
		{"negative delay", func(c *Config) { c.Delay = -time.Second }, "Delay"},
		{"huge jitter", func(c *Config) { c.Jitter = 2 * time.Hour }, "Jitter"},
		{"corr", func(c *Config) { c.DelayCorrelation = 101 }, "DelayCorrelation"},
		{"dist", func(c *Config) { c.Distribution = "gauss" }, "Distribution"},
		{"loss NaN", func(c *Config) { c.LossPercent = math.NaN() }, "LossPercent"},
		{"loss corr", func(c *Config) { c.LossCorrelation = -1 }, "LossCorrelation"},
		{"corrupt", func(c *Config) { c.CorruptPercent = 100.5 }, "CorruptPercent"},
		{"dup", func(c *Config) { c.DuplicatePercent = -0.1 }, "DuplicatePercent"},
		{"reorder", func(c *Config) { c.ReorderPercent = 200 }, "ReorderPercent"},
		{"reorder without delay", func(c *Config) { c.Delay, c.LossPercent, c.ReorderPercent = 0, 1, 10 }, "ReorderPercent"},
		{"flows", func(c *Config) { c.FlowsPercent = 101 }, "FlowsPercent"},
		{"flows negative", func(c *Config) { c.FlowsPercent = -1 }, "FlowsPercent"},
		{"bad source", func(c *Config) { c.Sources = []netip.Prefix{{}} }, "Sources[0]"},
		{"bad allow", func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}} }, "Allow[1]"},
		{"too many", func(c *Config) { c.Sources = make([]netip.Prefix, MaxPrefixes+1) }, "Sources"},
		{"nothing to do", func(c *Config) { c.Delay = 0 }, "Delay"},
	}
	for _, tc := range cases {
		c := ok
		tc.mod(&c)
		err := c.Validate()
		var pe *fault.ParamError
		if !errors.As(err, &pe) || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("%s: %v, want a *fault.ParamError", tc.name, err)
			continue
		}
		found := false
		for _, e := range flatten(err) {
			if errors.As(e, &pe) && pe.Param == tc.param {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.param)
		}
	}
	// several problems are all reported
	err := Config{LossPercent: 200, FlowsPercent: 500}.Validate()
	for _, p := range []string{`"Link"`, `"LossPercent"`, `"FlowsPercent"`} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("joined error %q lacks %s", err, p)
		}
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestDefaultLimit(t *testing.T) {
	cases := []struct {
		c    Config
		want uint32
	}{
		{Config{LossPercent: 5}, 1000},               // no delay: netem's default
		{Config{Delay: 10 * time.Millisecond}, 1667}, // 2×125MB/s×10ms/1500
		{Config{Delay: 200 * time.Millisecond, Jitter: 10 * time.Millisecond}, 35000},
		{Config{Delay: time.Hour}, 1_000_000},                                      // capped
		{Config{Delay: 100 * time.Millisecond, RateBytesPerSec: 12_500_000}, 1667}, // 100 Mbit/s
		{Config{Delay: 100 * time.Millisecond, Limit: 42}, 42},                     // explicit wins
	}
	for _, tc := range cases {
		if got := tc.c.limit(); got != tc.want {
			t.Errorf("%+v: limit %d, want %d", tc.c, got, tc.want)
		}
	}
}

func TestProbability(t *testing.T) {
	if probability(0) != 0 || probability(100) != math.MaxUint32 || probability(-1) != 0 {
		t.Fatal("bounds")
	}
	if got := probability(20); got != 0x33333333 {
		t.Fatalf("20%% = %#x, want 0x33333333 (iproute2's value)", got)
	}
}
