package main

import (
	"strings"
	"testing"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
)

func TestTruncateVisible(t *testing.T) {
	s := "\x1b[32mcompleted\x1b[0m and more text"
	got := truncateVisible(s, 6)
	visible := strings.NewReplacer("\x1b[32m", "", "\x1b[0m", "").Replace(got)
	if visible != "compl" {
		t.Errorf("visible part = %q (from %q)", visible, got)
	}
	if truncateVisible(s, 0) != s || truncateVisible("short", 80) != "short" {
		t.Error("changed a line that fits")
	}
}

func TestFigures(t *testing.T) {
	a := &experiment.ActionReport{Faults: []*experiment.FaultReport{{
		Target: experiment.Host(),
		Metrics: []fault.Metric{
			{Name: "load_percent", Value: 49.876, Unit: "%"},
			{Name: "worker0.load_percent", Value: 50, Unit: "%"},
			{Name: "target_load_percent", Value: 50, Unit: "%"},
			{Name: "packets_dropped", Value: 12, Unit: "packets"},
			{Name: "disk_bytes", Value: 3 << 20, Unit: "bytes"},
		},
	}}}
	if got, want := figures(a), "load_percent=49.9% packets_dropped=12 disk_bytes=3.0MiB"; got != want {
		t.Errorf("figures = %q, want %q", got, want)
	}
}
