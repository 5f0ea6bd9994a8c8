package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
)

// view shows the experiment: a live table redrawn in place when stdout is
// a terminal, log lines on stderr otherwise.
type view struct {
	out  io.Writer
	log  *slog.Logger
	live bool
	demo *demoNet

	mu        sync.Mutex
	drawn     int // lines of the last frame
	lastDraw  time.Time
	lastLog   time.Time
	notes     []string
	lastFrame *experiment.Report
}

// plainProgressEvery is how often the plain view logs the figures of
// running actions.
const plainProgressEvery = 2 * time.Second

func newView(stdout, _ io.Writer, log *slog.Logger, plain bool, demo *demoNet) *view {
	return &view{out: stdout, log: log, live: !plain && isTerminal(stdout), demo: demo}
}

// observe is the experiment's Observer.
func (v *view) observe(ev experiment.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.Report == nil {
		return
	}
	v.lastFrame = ev.Report
	if v.live {
		if ev.Type == experiment.EventProgress && time.Since(v.lastDraw) < 200*time.Millisecond {
			return
		}
		v.redraw(ev.Report)
		return
	}
	if ev.Type != experiment.EventProgress || time.Since(v.lastLog) < plainProgressEvery {
		return
	}
	v.lastLog = time.Now()
	for _, a := range ev.Report.Actions {
		if a.State.Status != experiment.ActionRunning {
			continue
		}
		elapsed, remaining := times(a, time.Now())
		v.log.Info("progress", "action", a.Name, "elapsed", elapsed.Round(100*time.Millisecond),
			"remaining", remaining.Round(100*time.Millisecond), "figures", figures(a))
	}
	if v.demo != nil {
		v.log.Info("demo probe", "last_second", v.demo.recent())
	}
}

// note shows a message from the runner itself (signals).
func (v *view) note(s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.live {
		v.log.Warn(s)
		return
	}
	v.notes = append(v.notes, s)
	if v.lastFrame != nil {
		v.redraw(v.lastFrame)
	}
}

// finish draws the last frame and prints the summary.
func (v *view) finish(rep *experiment.Report) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.live {
		v.redraw(rep)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nExperiment %s %s: %s\n", rep.ID, rep.State.Status, rep.State.Reason)
	for _, a := range rep.Actions {
		fmt.Fprintf(&b, "  %-14s %-10s", a.Name, a.State.Status)
		if !a.StartTime.IsZero() && !a.EndTime.IsZero() {
			fmt.Fprintf(&b, " %6.1fs", a.EndTime.Sub(a.StartTime).Seconds())
		}
		if f := figures(a); f != "" {
			fmt.Fprintf(&b, "  %s", f)
		}
		if a.State.Reason != "" && a.State.Status != experiment.ActionCompleted {
			fmt.Fprintf(&b, "  (%s)", a.State.Reason)
		}
		b.WriteString("\n")
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	fmt.Fprint(v.out, b.String())
}

func (v *view) redraw(rep *experiment.Report) {
	now := time.Now()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.drawn) // back to the frame's first line, clear below
	}
	var lines []string
	elapsed := time.Duration(0)
	if !rep.StartTime.IsZero() {
		end := now
		if !rep.EndTime.IsZero() {
			end = rep.EndTime
		}
		elapsed = end.Sub(rep.StartTime)
	}
	lines = append(lines, fmt.Sprintf("\x1b[1m%s\x1b[0m  %s  %s  %s", rep.Template.Description, rep.ID,
		colour(string(rep.State.Status)), elapsed.Round(100*time.Millisecond)))
	for _, a := range rep.Actions {
		el, rem := times(a, now)
		timing := ""
		switch {
		case a.State.Status == experiment.ActionRunning && a.DurationSeconds > 0:
			timing = fmt.Sprintf("%5.1fs / %s, %4.1fs left", el.Seconds(), a.Duration, rem.Seconds())
		case !a.StartTime.IsZero():
			timing = fmt.Sprintf("%5.1fs", el.Seconds())
		}
		// The action ID goes last: on a narrow terminal the figures matter more.
		lines = append(lines, fmt.Sprintf("  %-14s %s %-26s %s  [%s]", a.Name,
			colour(string(a.State.Status)), timing, figures(a), a.ActionID))
	}
	if v.demo != nil {
		lines = append(lines, "  demo probe (last second): "+v.demo.recent())
	}
	for _, n := range v.notes {
		lines = append(lines, "  ! "+n)
	}
	width := terminalWidth(v.out)
	for _, l := range lines {
		// A wrapped line would throw off the cursor-up count of the next frame.
		b.WriteString(truncateVisible(l, width) + "\n")
	}
	v.drawn = len(lines)
	v.lastDraw = now
	fmt.Fprint(v.out, b.String())
}

// times returns how long an action has run and how long it has left.
func times(a *experiment.ActionReport, now time.Time) (elapsed, remaining time.Duration) {
	if a.StartTime.IsZero() {
		return 0, 0
	}
	end := now
	if !a.EndTime.IsZero() {
		end = a.EndTime
	}
	elapsed = end.Sub(a.StartTime)
	total := time.Duration(a.DurationSeconds * float64(time.Second))
	if a.EndTime.IsZero() && total > elapsed {
		remaining = total - elapsed
	}
	return elapsed, remaining
}

// figures summarises an action's measured effect: the top-level metrics
// of its faults (per-worker figures left out), summed over targets where
// that makes sense.
func figures(a *experiment.ActionReport) string {
	var parts []string
	for _, f := range a.Faults {
		var ms []string
		for _, m := range f.Metrics {
			if strings.Contains(m.Name, ".") || !interesting(m) {
				continue
			}
			ms = append(ms, fmt.Sprintf("%s=%s", m.Name, formatMetric(m)))
		}
		if len(ms) == 0 {
			continue
		}
		p := strings.Join(ms, " ")
		if len(a.Faults) > 1 {
			p = f.Target.Name + ": " + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func interesting(m fault.Metric) bool {
	switch m.Name {
	case "load_percent_1s", "target_load_percent", "workers", "cap_bytes", "budget_bytes", "free_bytes",
		"disk_bytes_max", "shrinks", "syncs", "bytes_read", "bytes_written":
		return false
	}
	return true
}

func formatMetric(m fault.Metric) string {
	switch m.Unit {
	case "%":
		return fmt.Sprintf("%.1f%%", m.Value)
	case "bytes", "bytes/s":
		return humanBytes(m.Value) + strings.TrimPrefix(m.Unit, "bytes")
	case "s":
		return fmt.Sprintf("%.2fs", m.Value)
	}
	if m.Value == float64(int64(m.Value)) {
		return fmt.Sprintf("%d", int64(m.Value))
	}
	return fmt.Sprintf("%.2f", m.Value)
}

func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

func colour(s string) string {
	code := "0"
	switch s {
	case "running", "initiating":
		code = "36"
	case "completed":
		code = "32"
	case "stopping", "stopped", "cancelled", "skipped":
		code = "33"
	case "failed":
		code = "31"
	}
	return fmt.Sprintf("\x1b[%sm%-10s\x1b[0m", code, s)
}

// truncateVisible cuts s to width visible columns (one per rune), not
// counting ANSI escape sequences; width 0 means no limit.
func truncateVisible(s string, width int) string {
	if width <= 0 {
		return s
	}
	var b strings.Builder
	visible := 0
	inEsc := false
	for _, r := range s {
		switch {
		case inEsc:
			b.WriteRune(r)
			if r >= '@' && r <= '~' && r != '[' {
				inEsc = false
			}
			continue
		case r == '\x1b':
			inEsc = true
			b.WriteRune(r)
			continue
		}
		if visible == width-1 {
			b.WriteString("\x1b[0m")
			return b.String()
		}
		b.WriteRune(r)
		visible++
	}
	return b.String()
}
