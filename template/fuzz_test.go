package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/faultkit/faultkit/fault"
)

// FuzzParseValidate feeds arbitrary bytes to Check, seeded with the corpus.
// It must never panic, must report syntax errors alone, and a template it
// calls valid must plan, and stay valid when marshalled and checked again.
func FuzzParseValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	files = append(files, "testdata/valid/ecs-cpu-then-latency.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(fillAngles(data))
	}
	f.Add([]byte(positioned))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, ps := Check(data)
		for _, p := range ps {
			if p.Code == "" || p.Message == "" {
				t.Fatalf("problem without code or message: %+v", p)
			}
		}
		if tpl == nil {
			if len(ps) != 1 || ps[0].Code != CodeSyntax || ps[0].Line < 1 {
				t.Fatalf("nil template with problems %v", ps)
			}
			return
		}
		if ps.HasErrors() {
			if p, err := NewPlan(tpl, PlanOptions{}); p != nil || err == nil {
				t.Fatal("NewPlan accepted an invalid template")
			}
			return
		}
		plan, err := NewPlan(tpl, PlanOptions{})
		if err != nil {
			t.Fatalf("valid template does not plan: %v", err)
		}
		for _, a := range plan.Actions {
			if a.End > plan.LongestPath || a.Start < 0 || a.Duration < 0 {
				t.Fatalf("action %s timing %v-%v outside the plan's %v", a.Name, a.Start, a.End, plan.LongestPath)
			}
		}
		_ = plan.String()
		if _, err := json.Marshal(plan); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(tpl)
		if err != nil {
			t.Fatal(err)
		}
		if _, ps2 := Check(out); ps2.HasErrors() {
			t.Fatalf("valid template invalid after a round trip:\n%s\n%v", out, ps2)
		}
	})
}

// FuzzSelectionMode checks ParseSelectionMode: no panic, and accepted modes
// render back to the same text and select within bounds.
func FuzzSelectionMode(f *testing.F) {
	for _, s := range []string{"ALL", "COUNT(1)", "PERCENT(50)", "PERCENT(100)", "COUNT(0)", "all", "COUNT(", "PERCENT(1e2)"} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, s string, total int) {
		m, err := ParseSelectionMode(s)
		if err != nil {
			return
		}
		again, err := ParseSelectionMode(m.String())
		if err != nil || again != m {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, m, m.String(), again, err)
		}
		if n := m.Select(total); n < 0 || (total > 0 && n > total) || (total <= 0 && n != 0) {
			t.Fatalf("%v.Select(%d) = %d", m, total, n)
		}
	})
}

// FuzzDurationParameter puts arbitrary text in a duration parameter. The
// template is valid exactly when fault.ParseDuration accepts the text and
// the duration is within the action's range, and the plan then holds the
// parsed duration.
func FuzzDurationParameter(f *testing.F) {
	for _, s := range []string{"PT1M", "PT0.5S", "P1D", "PT12H", "PT12H0.001S", "P1DT2H", "PT", "P1Y", "pt5m", "PT1H30M",
		"PT1,5M", "PT1.5M30S", "PT9999999999999999999H", "-PT1M", " PT1M", "PT1S", "PT0.999S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		tpl := &Template{
			Description: "fuzz",
			RoleArn:     "arn:aws:iam::123456789012:role/fis",
			Targets: map[string]Target{"t": {ResourceType: fault.ResourceTypeECSTask, SelectionMode: "ALL",
				ResourceTags: map[string]string{"a": "b"}}},
			Actions: map[string]Action{"cpu": {ActionID: fault.ActionTaskCPUStress,
				Parameters: map[string]string{"duration": s}, Targets: map[string]string{"Tasks": "t"}}},
			StopConditions: []StopCondition{{Source: StopSourceNone}},
		}
		ps := tpl.Validate()
		d, err := fault.ParseDuration(s)
		want := err == nil && d >= 1e9 && d <= fault.MaxActionDuration && strings.TrimSpace(s) != "" &&
			utf8.RuneCountInString(s) <= MaxParamValueLen
		if got := !ps.HasErrors(); got != want {
			t.Fatalf("duration %q (ParseDuration %v, %v): valid=%v, want %v\n%v", s, d, err, got, want, ps)
		}
		if !want {
			return
		}
		plan, err := NewPlan(tpl, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Actions[0].Duration != d || plan.LongestPath != d {
			t.Fatalf("duration %q: planned %v, parsed %v", s, plan.Actions[0].Duration, d)
		}
		if back, err := fault.ParseDuration(fault.FormatDuration(d)); err != nil || back != d {
			t.Fatalf("FormatDuration(%v) = %q does not parse back: %v, %v", d, fault.FormatDuration(d), back, err)
		}
	})
}
