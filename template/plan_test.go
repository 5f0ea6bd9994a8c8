package template

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func planFile(t *testing.T, path string) *Plan {
	t.Helper()
	tpl, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(tpl, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanGraph(t *testing.T) {
	p := planFile(t, "testdata/valid/ecs-cpu-then-latency.json")
	// cpu (5m) and kill (instant) start together; pause (2m) after cpu;
	// latency (10m) after pause: 5+2+10 = 17 minutes.
	wantLevels := [][]string{{"cpu", "kill"}, {"pause"}, {"latency"}}
	if !slices.EqualFunc(p.Levels, wantLevels, slices.Equal[[]string]) {
		t.Errorf("levels = %v, want %v", p.Levels, wantLevels)
	}
	if p.LongestPath != 17*time.Minute {
		t.Errorf("longest path = %v, want 17m", p.LongestPath)
	}
	if !slices.Equal(p.CriticalPath, []string{"cpu", "pause", "latency"}) {
		t.Errorf("critical path = %v", p.CriticalPath)
	}
	if !slices.Equal(p.Order(), []string{"cpu", "kill", "pause", "latency"}) {
		t.Errorf("order = %v", p.Order())
	}
	lat, ok := p.Action("latency")
	if !ok {
		t.Fatal("no latency action")
	}
	if lat.Start != 7*time.Minute || lat.End != 17*time.Minute || lat.Duration != 10*time.Minute || lat.Level != 2 {
		t.Errorf("latency timing = %+v", lat)
	}
	// Effective parameters: given values plus fault's defaults.
	m := lat.Params.Map()
	if m["delayMilliseconds"] != "250" || m["jitterMilliseconds"] != "10" || m["flowsPercent"] != "100" || m["sources"] != "DYNAMODB" {
		t.Errorf("latency params = %v", m)
	}
	if lat.Params.Int("delayMilliseconds") != 250 || lat.Params.Spec().ID != "aws:ecs:task-network-latency" {
		t.Error("Params are not fault.Params from fault's spec")
	}
	if !p.Local() {
		t.Error("all four actions are local")
	}
	kill, _ := p.Action("kill")
	if kill.Duration != 0 || kill.DurationParam != "" || kill.Params.String("signal") != "SIGTERM" {
		t.Errorf("kill = %+v", kill)
	}
}

func TestPlanRefusesInvalid(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/ecs-cpu-then-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), `"percent": "80"`, `"percent": "180"`, 1)
	tpl, _ := Parse([]byte(doc))
	p, err := NewPlan(tpl, PlanOptions{})
	if p != nil || err == nil || !strings.Contains(err.Error(), "actions.cpu.parameters.percent") {
		t.Fatalf("NewPlan of an invalid template = %v, %v", p, err)
	}
}

func TestPlanLocalOption(t *testing.T) {
	tpl, err := ParseFile("testdata/valid/ecs-cpu-then-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(tpl, PlanOptions{Local: func(id string) bool { return id == ActionWait }})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions {
		if a.Local != (a.ActionID == ActionWait) {
			t.Errorf("%s: Local = %v", a.Name, a.Local)
		}
	}
}

func TestPlanRendering(t *testing.T) {
	p := planFile(t, "testdata/valid/ecs-cpu-then-latency.json")
	text := p.String()
	for _, want := range []string{
		"Longest path: 17m (cpu -> pause -> latency)",
		"Actions: 4, 4 run locally by faultkit, 0 need AWS",
		"latency  aws:ecs:task-network-latency  [local]",
		"T+7m -> T+17m (duration 10m)",
		"params:  delayMilliseconds=250 duration=PT10M flowsPercent=100",
		"Options: emptyTargetResolutionMode fail, accountTargeting single-account\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		LongestPath        string            `json:"longestPath"`
		LongestPathSeconds float64           `json:"longestPathSeconds"`
		ExperimentOptions  map[string]string `json:"experimentOptions"`
		Actions            []struct {
			Name         string            `json:"name"`
			Parameters   map[string]string `json:"parameters"`
			StartSeconds float64           `json:"startSeconds"`
			Local        bool              `json:"local"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.LongestPath != "PT17M" || got.LongestPathSeconds != 1020 || len(got.Actions) != 4 {
		t.Errorf("JSON plan = %s", b)
	}
	if a := got.Actions[3]; a.Name != "latency" || a.StartSeconds != 420 || !a.Local || a.Parameters["sources"] != "DYNAMODB" {
		t.Errorf("JSON latency = %+v", a)
	}
	wantOpts := map[string]string{"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail"}
	if !maps.Equal(got.ExperimentOptions, wantOpts) {
		t.Errorf("JSON experimentOptions = %v, want the defaults %v", got.ExperimentOptions, wantOpts)
	}
}

// TestPlanExperimentOptions: the plan carries the template's experiment
// options, FIS's defaults filled in for what the template leaves out.
func TestPlanExperimentOptions(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/ecs-cpu-then-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		options string // JSON of experimentOptions; "" for none
		want    ExperimentOptions
	}{
		{"", ExperimentOptions{AccountTargeting: "single-account", EmptyTargetResolutionMode: "fail"}},
		{`{}`, ExperimentOptions{AccountTargeting: "single-account", EmptyTargetResolutionMode: "fail"}},
		{`{"emptyTargetResolutionMode": "skip"}`, ExperimentOptions{AccountTargeting: "single-account", EmptyTargetResolutionMode: "skip"}},
		{`{"accountTargeting": "multi-account"}`, ExperimentOptions{AccountTargeting: "multi-account", EmptyTargetResolutionMode: "fail"}},
		{`{"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail"}`,
			ExperimentOptions{AccountTargeting: "single-account", EmptyTargetResolutionMode: "fail"}},
	} {
		doc := string(data)
		if tc.options != "" {
			doc = strings.Replace(doc, `"tags": {"team": "payments"}`, `"tags": {"team": "payments"}, "experimentOptions": `+tc.options, 1)
			if doc == string(data) {
				t.Fatal("the test template changed: no tags line to put experimentOptions after")
			}
		}
		tpl, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.options, err)
		}
		p, err := NewPlan(tpl, PlanOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.options, err)
		}
		if p.ExperimentOptions != tc.want {
			t.Errorf("%s: ExperimentOptions = %+v, want %+v", tc.options, p.ExperimentOptions, tc.want)
		}
		line := "Options: emptyTargetResolutionMode " + tc.want.EmptyTargetResolutionMode + ", accountTargeting " + tc.want.AccountTargeting + "\n"
		if !strings.Contains(p.String(), line) {
			t.Errorf("%s: text plan lacks %q:\n%s", tc.options, line, p)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ExperimentOptions ExperimentOptions `json:"experimentOptions"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.ExperimentOptions != tc.want {
			t.Errorf("%s: JSON experimentOptions = %+v, want %+v", tc.options, got.ExperimentOptions, tc.want)
		}
	}
	// A Plan built by hand leaves the options empty; they render as the
	// defaults.
	p := &Plan{Description: "by hand"}
	if !strings.Contains(p.String(), "Options: emptyTargetResolutionMode fail, accountTargeting single-account\n") {
		t.Errorf("hand-built plan:\n%s", p)
	}
}

// TestPlanCorpus plans every corpus template that is valid once its
// placeholders are filled, and checks the plans against the templates.
func TestPlanCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	planned := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tpl, ps := Check(fillAngles(data))
		if ps.HasErrors() {
			continue
		}
		p, err := NewPlan(tpl, PlanOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		planned++
		if len(p.Actions) != len(tpl.Actions) {
			t.Errorf("%s: %d planned actions, %d in the template", f, len(p.Actions), len(tpl.Actions))
		}
		for _, a := range p.Actions {
			for _, dep := range a.StartAfter {
				d, _ := p.Action(dep)
				if d.Level >= a.Level || d.End > a.Start {
					t.Errorf("%s: %s starts at %v (level %d) before %s ends at %v (level %d)", f, a.Name, a.Start, a.Level,
						dep, d.End, d.Level)
				}
			}
			if a.End > p.LongestPath {
				t.Errorf("%s: %s ends after the longest path", f, a.Name)
			}
		}
	}
	if planned < 30 {
		t.Errorf("planned only %d corpus templates", planned)
	}
	// The SQS template is a chain: 4 automations of at most PT1H and waits
	// of 3+3+2 minutes.
	data, _ := os.ReadFile("testdata/corpus/" + corpusPrefix + "sqs-queue-impairment__sqs-queue-impairment-tag-based-template-with-details.json")
	tpl, _ := Parse(data)
	p, err := NewPlan(tpl, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.LongestPath != 4*time.Hour+8*time.Minute || len(p.Levels) != 7 {
		t.Errorf("SQS plan: longest %v, %d levels", p.LongestPath, len(p.Levels))
	}
}
