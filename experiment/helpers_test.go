package experiment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// The test faults: fast, deterministic stand-ins for the engines. Each one
// records its inject and revert, with the target it was bound to, in a
// ledger that also counts what is still applied.

const testActionID = "test:hold"

type ledgerEntry struct {
	op     string // "inject" or "revert"
	label  string
	target string
	at     time.Time
}

type ledger struct {
	mu      sync.Mutex
	entries []ledgerEntry
	applied map[string]int // label/target -> still applied
}

func newLedger() *ledger { return &ledger{applied: map[string]int{}} }

func (l *ledger) add(op, label, target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, ledgerEntry{op, label, target, time.Now()})
	switch op {
	case "inject":
		l.applied[label+"@"+target]++
	case "revert":
		l.applied[label+"@"+target]--
	}
}

// stillApplied returns what was injected and not reverted.
func (l *ledger) stillApplied() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, n := range l.applied {
		if n != 0 {
			out = append(out, fmt.Sprintf("%s x%d", k, n))
		}
	}
	return out
}

func (l *ledger) find(op, label string) []ledgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ledgerEntry
	for _, e := range l.entries {
		if e.op == op && e.label == label {
			out = append(out, e)
		}
	}
	return out
}

type testFault struct {
	label  string
	target string
	mode   string // "", "fail-inject", "fail-revert", "fail-self"
	load   int64
	l      *ledger
}

func (f testFault) Name() string { return "test-" + f.label }

func (f testFault) Inject(ctx context.Context, _ *fault.Journal) (fault.Handle, error) {
	if f.mode == "fail-inject" {
		return nil, fmt.Errorf("inject %s: %w", f.label, fault.ErrPermission)
	}
	f.l.add("inject", f.label, f.target)
	var once sync.Once
	revertFails := f.mode == "fail-revert"
	c := fault.NewControl(func(context.Context) error {
		if revertFails {
			return errors.New("revert refused")
		}
		once.Do(func() { f.l.add("revert", f.label, f.target) })
		return nil
	}, func() []fault.Metric {
		return []fault.Metric{{Name: "load_percent", Value: float64(f.load), Unit: "%"}}
	})
	if f.mode == "fail-self" {
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.End(errors.New("worker crashed"))
		}()
	}
	return c, nil
}

func testSpec() *fault.ActionSpec {
	return &fault.ActionSpec{
		ID: testActionID, ResourceType: "aws:ecs:task", TargetKey: "Tasks", DurationParam: "duration",
		Params: []fault.ParamSpec{
			{Name: "duration", Type: fault.TypeDuration, Required: true},
			{Name: "label", Type: fault.TypeString, Required: true},
			{Name: "mode", Type: fault.TypeString},
			{Name: "percent", Type: fault.TypeInt, Default: "50", Min: 0, Max: 100},
		},
	}
}

// testRegistryFor binds test faults to targets, as the runner binds
// netem faults to a target's namespace.
func testRegistryFor(l *ledger, ids ...string) func(experiment.Target) (*fault.Registry, error) {
	return func(t experiment.Target) (*fault.Registry, error) {
		var actions []fault.Action
		mk := func(p fault.Params) (fault.Fault, error) {
			label := p.String("label")
			if label == "" {
				label = p.Spec().ID
			}
			return testFault{label: label, target: t.Name, mode: p.String("mode"), load: p.Int("percent"), l: l}, nil
		}
		actions = append(actions, fault.Action{Spec: testSpec(), New: mk})
		for _, id := range ids {
			spec, ok := fault.ECSTaskActionSpec(id)
			if !ok {
				return nil, fmt.Errorf("no spec %s", id)
			}
			actions = append(actions, fault.Action{Spec: spec, New: mk})
		}
		return fault.NewRegistry(actions)
	}
}

// act describes one action of a hand-built plan: test faults with
// sub-second durations, which FIS's minimums would not let a template
// have.
type act struct {
	name       string
	dur        time.Duration
	after      []string
	target     string // template target name; "" for none
	mode       string
	actionID   string // default testActionID
	notLocal   bool
	extraParam map[string]string
}

func buildPlan(t *testing.T, targets map[string]template.Target, acts ...act) *template.Plan {
	t.Helper()
	p := &template.Plan{Description: t.Name(), Targets: targets}
	for _, a := range acts {
		id := a.actionID
		if id == "" {
			id = testActionID
		}
		raw := map[string]string{"duration": fault.FormatDuration(a.dur), "label": a.name}
		if a.mode != "" {
			raw["mode"] = a.mode
		}
		for k, v := range a.extraParam {
			raw[k] = v
		}
		spec := testSpec()
		if id != testActionID {
			spec = &fault.ActionSpec{ID: id}
			raw = map[string]string{}
		}
		params, err := spec.Resolve(raw)
		if err != nil {
			t.Fatalf("params of %s: %v", a.name, err)
		}
		pa := template.PlannedAction{Name: a.name, ActionID: id, Params: params, StartAfter: a.after,
			Duration: a.dur, Local: !a.notLocal}
		if a.target != "" {
			pa.Targets = map[string]string{"Tasks": a.target}
		}
		p.Actions = append(p.Actions, pa)
	}
	return p
}

func ecsTarget(mode string) template.Target {
	return template.Target{ResourceType: "aws:ecs:task", SelectionMode: mode}
}

// hosts returns n distinct local stand-in targets.
func hosts(n int) []experiment.Target {
	var out []experiment.Target
	for i := range n {
		out = append(out, experiment.Target{Kind: experiment.KindHost, Name: fmt.Sprintf("host-%d", i)})
	}
	return out
}

func baseConfig(l *ledger) experiment.Config {
	return experiment.Config{
		RegistryFor:      testRegistryFor(l),
		Targets:          []experiment.Target{experiment.Host()},
		NoJournal:        true,
		PollInterval:     10 * time.Millisecond,
		ProgressInterval: -1,
	}
}

func actionStates(r *experiment.Report, name string) []string {
	var out []string
	for _, ev := range r.Timeline {
		if ev.Type == experiment.EventAction && ev.Name == name {
			out = append(out, ev.Status)
		}
	}
	return out
}

func experimentStates(r *experiment.Report) []string {
	var out []string
	for _, ev := range r.Timeline {
		if ev.Type == experiment.EventExperiment {
			out = append(out, ev.Status)
		}
	}
	return out
}

func mustAction(t *testing.T, r *experiment.Report, name string) *experiment.ActionReport {
	t.Helper()
	a, ok := r.Action(name)
	if !ok {
		t.Fatalf("no action %s in report", name)
	}
	return a
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// allTasks is the target map most tests use: "tasks", every candidate.
func allTasks() map[string]template.Target {
	return map[string]template.Target{"tasks": ecsTarget("ALL")}
}

// checkReverted fails the test if a test fault is still applied.
func (l *ledger) checkReverted(t *testing.T) {
	t.Helper()
	if left := l.stillApplied(); len(left) > 0 {
		t.Errorf("left applied: %v", left)
	}
}

// checkStates fails the test unless the state history got (actionStates,
// experimentStates) is exactly want.
func checkStates(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s states = %v, want %v", what, got, want)
	}
}

// runWant runs plan and stops the test unless Run's error is want
// (errors.Is; nil: Run must succeed).
func runWant(t *testing.T, ctx context.Context, plan *template.Plan, cfg experiment.Config, want error) *experiment.Report {
	t.Helper()
	rep, err := experiment.Run(ctx, plan, cfg)
	if !errors.Is(err, want) {
		t.Fatalf("Run error = %v, want %v", err, want)
	}
	return rep
}
