package template

import (
	"fmt"
	"testing"
	"time"
)

func TestMaxParallel(t *testing.T) {
	// a: 0-10, b: 0-5, c: 5-15 (after b), d: instant at 5 (after b),
	// e: instant at 10 (after a). At 5: a, c, d run (b has ended).
	actions := map[string]Action{
		"a": {}, "b": {}, "c": {StartAfter: []string{"b"}}, "d": {StartAfter: []string{"b"}}, "e": {StartAfter: []string{"a"}},
	}
	d := map[string]time.Duration{"a": 10, "b": 5, "c": 10}
	s, cycle := newSchedule(actions, d)
	if cycle != nil {
		t.Fatal(cycle)
	}
	if n, at := s.maxParallel(); n != 3 || at != 5 {
		t.Errorf("maxParallel = %d at %v, want 3 at 5", n, at)
	}
	if s.length != 15 || fmt.Sprint(s.critical) != "[b c]" {
		t.Errorf("length %v critical %v", s.length, s.critical)
	}
	if !s.overlap("a", "c") || s.overlap("b", "c") || !s.overlap("a", "b") {
		t.Error("overlap wrong")
	}
}

// TestLargeGraph guards against quadratic work: a chain and a fan of
// 20000 actions each schedule quickly.
func TestLargeGraph(t *testing.T) {
	chain, fan := map[string]Action{}, map[string]Action{}
	d := map[string]time.Duration{}
	for i := range 20000 {
		name := fmt.Sprint("a", i)
		chain[name] = Action{}
		if i > 0 {
			chain[name] = Action{StartAfter: []string{fmt.Sprint("a", i-1)}}
		}
		fan[name] = Action{}
		d[name] = time.Second
	}
	s, _ := newSchedule(chain, d)
	if s.length != 20000*time.Second || len(s.levels) != 20000 {
		t.Errorf("chain: length %v, %d levels", s.length, len(s.levels))
	}
	if n, _ := s.maxParallel(); n != 1 {
		t.Errorf("chain runs %d at once", n)
	}
	s, _ = newSchedule(fan, d)
	if n, _ := s.maxParallel(); n != 20000 {
		t.Errorf("fan runs %d at once", n)
	}
}

// TestLargeTemplate validates a template far beyond FIS's quotas: it must
// be reported, not choke the validator.
func TestLargeTemplate(t *testing.T) {
	d := baseDoc()
	acts := sub(d, "actions")
	for i := range 5000 {
		a := map[string]any{"actionId": "aws:ecs:task-network-latency", "parameters": map[string]any{"duration": "PT1M"},
			"targets": map[string]any{"Tasks": "tasks"}}
		if i > 0 && i%2 == 0 {
			a["startAfter"] = []any{fmt.Sprint("a", i-1)}
		}
		acts[fmt.Sprint("a", i)] = a
	}
	ps := checkDoc(t, d)
	var quota bool
	for _, p := range ps {
		if p.Code == CodeQuota && p.Path == "actions" && p.Severity == SeverityError {
			quota = true
		}
	}
	if !quota {
		t.Error("5001 actions not reported as over the quota")
	}
}
