package fault_test

import (
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"PT5M", 5 * time.Minute},
		{"PT1H30M", 90 * time.Minute},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT1,5S", 1500 * time.Millisecond},
		{"PT30S", 30 * time.Second},
		{"PT12H", 12 * time.Hour},
		{"P1D", 24 * time.Hour},
		{"P1DT2H", 26 * time.Hour},
		{"PT1H2M3S", time.Hour + 2*time.Minute + 3*time.Second},
		{"pt2m", 2 * time.Minute},
		{"PT0S", 0},
	}
	for _, c := range good {
		got, err := fault.ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []string{"", "5m", "P", "PT", "P1Y", "P1M", "P1W", "PT1H1H", "PT1M1H", "PT-1S",
		"PT1.5M30S", "P1H", "PT1", "PTS", "P1DT", "PT1..5S", "XPT1M", "PT1M ", "PT1e3S"}
	for _, in := range bad {
		if d, err := fault.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want error", in, d)
		}
	}
}

func TestFormatDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 90 * time.Minute, 500 * time.Millisecond,
		12 * time.Hour, 26*time.Hour + 3*time.Second, 1500 * time.Millisecond} {
		s := fault.FormatDuration(d)
		got, err := fault.ParseDuration(s)
		if err != nil || got != d {
			t.Errorf("round trip %v -> %q -> %v, %v", d, s, got, err)
		}
	}
	if s := fault.FormatDuration(0); s != "PT0S" {
		t.Errorf("FormatDuration(0) = %q", s)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT5M", "PT1H30M", "PT0.5S", "P1DT2H", "PT1,5S", "P", "5m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := fault.ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		// Whatever parses must survive a round trip through FormatDuration
		// to within a nanosecond of rounding.
		back, err := fault.ParseDuration(fault.FormatDuration(d))
		if err != nil {
			t.Fatalf("FormatDuration(%v) = %q does not parse: %v", d, fault.FormatDuration(d), err)
		}
		if diff := back - d; diff > time.Microsecond || diff < -time.Microsecond {
			t.Fatalf("round trip of %q: %v became %v", s, d, back)
		}
	})
}
