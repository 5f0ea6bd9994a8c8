package nettest

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.99, 4 * time.Millisecond},
		{ms(hundred...), 0.5, 50 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
		{ms(hundred...), 0, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := ProbeStats{Sent: 5, RTTs: []time.Duration{4, 2, 8, 6}} // out of order on purpose
	s.summarize()
	if s.Received != 4 || s.Lost != 1 || s.LossRatio != 0.2 {
		t.Errorf("counts: %+v", s)
	}
	if s.Min != 2 || s.Max != 8 || s.P50 != 4 || s.P99 != 8 || s.Mean != 5 {
		t.Errorf("rtt stats: %+v", s)
	}
	if s.StdDev != 2 { // sqrt(((1+9+9+1)/4)=5) = 2.236 -> 2ns
		t.Errorf("stddev %v, want 2ns", s.StdDev)
	}
	if s.RTTs[0] != 4 {
		t.Error("summarize reordered RTTs")
	}
	if !strings.Contains(s.String(), "20.0% loss") {
		t.Errorf("String() = %q", s.String())
	}
	var none ProbeStats
	none.summarize()
	if none.LossRatio != 0 || none.Lost != 0 {
		t.Errorf("empty: %+v", none)
	}
}
