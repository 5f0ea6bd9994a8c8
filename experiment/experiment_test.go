package experiment_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

func TestParallelThenAfter(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: 150 * time.Millisecond, target: "tasks"},
		act{name: "b", dur: 100 * time.Millisecond, target: "tasks"},
		act{name: "c", dur: 50 * time.Millisecond, target: "tasks", after: []string{"a", "b"}},
	)
	rep := runWant(t, context.Background(), plan, baseConfig(l), nil)
	if rep.State.Status != experiment.StatusCompleted {
		t.Fatalf("state = %+v, want completed", rep.State)
	}
	checkStates(t, "experiment", experimentStates(rep), "initiating", "running", "completed")
	for _, name := range []string{"a", "b", "c"} {
		checkStates(t, "action "+name, actionStates(rep, name), "initiating", "running", "completed")
		if a := mustAction(t, rep, name); a.StartTime.IsZero() || a.EndTime.Before(a.StartTime) {
			t.Errorf("action %s times: start %v end %v", name, a.StartTime, a.EndTime)
		}
	}
	// a and b ran in parallel: both were injected before either reverted.
	injA, injB := l.find("inject", "a")[0].at, l.find("inject", "b")[0].at
	revA, revB := l.find("revert", "a")[0].at, l.find("revert", "b")[0].at
	if !injA.Before(revB) || !injB.Before(revA) {
		t.Errorf("a and b did not overlap: a %v-%v, b %v-%v", injA, revA, injB, revB)
	}
	// c started only after both completed.
	injC := l.find("inject", "c")[0].at
	if injC.Before(revA) || injC.Before(revB) {
		t.Errorf("c injected at %v, before a (%v) or b (%v) reverted", injC, revA, revB)
	}
	a, c := mustAction(t, rep, "a"), mustAction(t, rep, "c")
	if c.StartTime.Before(a.EndTime) {
		t.Errorf("c started %v before a completed %v", c.StartTime, a.EndTime)
	}
	if v, ok := a.Metric("load_percent"); !ok || v != 50 {
		t.Errorf("a's load_percent = %v, %v; want 50 (the percent default)", v, ok)
	}
	l.checkReverted(t)
}

func TestStopConditionStopsRunningAndCancelsPending(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "long", dur: time.Minute, target: "tasks"},
		act{name: "next", dur: time.Second, target: "tasks", after: []string{"long"}},
	)
	cfg := baseConfig(l)
	var checks atomic.Int32
	cfg.StopConditions = []experiment.StopCondition{{
		Source: "test", Value: "third-check",
		Check: func(context.Context) (bool, string, error) {
			// The first check (before anything runs) passes; a later one
			// trips once the long action is injected.
			if checks.Add(1) >= 3 && len(l.find("inject", "long")) > 0 {
				return true, "error rate above 5%", nil
			}
			return false, "", nil
		},
	}}
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrStopped)
	if rep.State.Status != experiment.StatusStopped || !strings.Contains(rep.State.Reason, "error rate above 5%") {
		t.Errorf("state = %+v, want stopped naming the condition", rep.State)
	}
	checkStates(t, "experiment", experimentStates(rep), "initiating", "running", "stopping", "stopped")
	checkStates(t, "action long", actionStates(rep, "long"), "initiating", "running", "stopping", "stopped")
	checkStates(t, "action next", actionStates(rep, "next"), "cancelled")
	if len(l.find("inject", "next")) != 0 {
		t.Error("the pending action was injected")
	}
	if len(rep.StopConditions) != 1 || !rep.StopConditions[0].Tripped || rep.StopConditions[0].Checks < 3 {
		t.Errorf("stop condition report = %+v", rep.StopConditions)
	}
	l.checkReverted(t)
}

func TestStopConditionTrippedAtStartInjectsNothing(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: time.Minute, target: "tasks"})
	cfg := baseConfig(l)
	cfg.StopConditions = []experiment.StopCondition{experiment.CommandProbe("exit 3", 0)}
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrStopped)
	checkStates(t, "action a", actionStates(rep, "a"), "cancelled")
	if len(l.find("inject", "a")) != 0 {
		t.Error("injected despite a tripped stop condition")
	}
}

func TestStopConditionErrorsTripAfterLimit(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: time.Minute, target: "tasks"})
	cfg := baseConfig(l)
	cfg.MaxCheckErrors = 2
	var n atomic.Int32
	cfg.StopConditions = []experiment.StopCondition{{Source: "test", Value: "flaky",
		Check: func(context.Context) (bool, string, error) {
			if n.Add(1) == 1 {
				return false, "", nil
			}
			return false, "", errors.New("endpoint unreachable")
		}}}
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrStopped)
	s := rep.StopConditions[0]
	if !s.Tripped || s.Errors != 2 || !strings.Contains(s.Reason, "endpoint unreachable") {
		t.Errorf("stop condition = %+v, want tripped after 2 errors", s)
	}
	l.checkReverted(t)
}

func TestCancelContextStops(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: time.Minute, target: "tasks"},
		act{name: "b", dur: time.Minute, target: "tasks", after: []string{"a"}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := baseConfig(l)
	cfg.Observer = func(ev experiment.Event) {
		if ev.Type == experiment.EventAction && ev.Name == "a" && ev.Status == "running" {
			cancel()
		}
	}
	rep := runWant(t, ctx, plan, cfg, experiment.ErrStopped)
	checkStates(t, "action a", actionStates(rep, "a"), "initiating", "running", "stopping", "stopped")
	checkStates(t, "action b", actionStates(rep, "b"), "cancelled")
	l.checkReverted(t)
}

func TestStopMethod(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "a", dur: time.Minute})
	cfg := baseConfig(l)
	running := make(chan struct{}, 1)
	cfg.Observer = func(ev experiment.Event) {
		if ev.Type == experiment.EventAction && ev.Status == "running" {
			running <- struct{}{}
		}
	}
	e, err := experiment.Start(context.Background(), plan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-running
	e.Stop("operator pressed stop")
	rep, err := e.Wait()
	if !errors.Is(err, experiment.ErrStopped) || rep.State.Reason != "operator pressed stop" {
		t.Fatalf("Wait = %+v, %v", rep.State, err)
	}
	e.Stop("again") // no effect after the end
	if rep2 := e.Snapshot(); rep2.State.Status != experiment.StatusStopped {
		t.Errorf("state after second Stop = %v", rep2.State)
	}
}

func TestSelection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode    string
		skip    bool
		want    int
		wantSt  experiment.Status
		wantAct experiment.ActionStatus
	}{
		{mode: "ALL", want: 5, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionCompleted},
		{mode: "COUNT(3)", want: 3, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionCompleted},
		{mode: "COUNT(9)", want: 5, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionCompleted},
		{mode: "PERCENT(50)", want: 2, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionCompleted}, // rounds down
		{mode: "PERCENT(40)", want: 2, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionCompleted},
		{mode: "PERCENT(10)", want: 0, wantSt: experiment.StatusFailed, wantAct: experiment.ActionCancelled}, // 0.5 of a target
		{mode: "PERCENT(10)", skip: true, want: 0, wantSt: experiment.StatusCompleted, wantAct: experiment.ActionSkipped},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			plan := buildPlan(t, map[string]template.Target{"fleet": ecsTarget(tc.mode)},
				act{name: "stress", dur: 20 * time.Millisecond, target: "fleet"})
			cfg := baseConfig(l)
			cfg.Targets = hosts(5)
			cfg.Rand = rand.New(rand.NewPCG(1, uint64(len(tc.mode))))
			if tc.skip {
				plan.ExperimentOptions.EmptyTargetResolutionMode = template.EmptyTargetSkip
			}
			rep, _ := experiment.Run(context.Background(), plan, cfg)
			if rep.State.Status != tc.wantSt {
				t.Fatalf("state = %+v, want %s", rep.State, tc.wantSt)
			}
			if got := mustAction(t, rep, "stress").State.Status; got != tc.wantAct {
				t.Errorf("action state = %s, want %s", got, tc.wantAct)
			}
			injected := map[string]bool{}
			for _, e := range l.find("inject", "stress") {
				injected[e.target] = true
			}
			if len(injected) != tc.want || len(l.find("inject", "stress")) != tc.want {
				t.Errorf("injected on %d targets (%v), want %d", len(injected), injected, tc.want)
			}
			tr := rep.Targets["fleet"]
			if tr == nil || tr.Candidates != 5 || len(tr.Selected) != tc.want {
				t.Errorf("target report = %+v", tr)
			}
			if tc.wantSt == experiment.StatusFailed && !strings.Contains(rep.State.Reason, "resolved to no resources") {
				t.Errorf("reason = %q", rep.State.Reason)
			}
		})
	}
}

func TestSelectionIsRandom(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for seed := range uint64(20) {
		l := newLedger()
		plan := buildPlan(t, map[string]template.Target{"fleet": ecsTarget("COUNT(1)")},
			act{name: "s", dur: time.Millisecond, target: "fleet"})
		cfg := baseConfig(l)
		cfg.Targets = hosts(4)
		cfg.Rand = rand.New(rand.NewPCG(seed, seed))
		if _, err := experiment.Run(context.Background(), plan, cfg); err != nil {
			t.Fatal(err)
		}
		seen[l.find("inject", "s")[0].target] = true
	}
	if len(seen) < 2 {
		t.Errorf("COUNT(1) over 4 targets picked only %v in 20 runs", seen)
	}
}

func TestInjectFailureRevertsAndFails(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "good", dur: time.Minute, target: "tasks"},
		act{name: "bad", dur: time.Minute, target: "tasks", mode: "fail-inject"},
		act{name: "later", dur: time.Second, target: "tasks", after: []string{"good"}},
	)
	rep := runWant(t, context.Background(), plan, baseConfig(l), experiment.ErrFailed)
	if !strings.Contains(rep.State.Reason, "Action bad failed") || !strings.Contains(rep.State.Reason, "permission") {
		t.Errorf("reason = %q", rep.State.Reason)
	}
	if got := mustAction(t, rep, "bad").State.Status; got != experiment.ActionFailed {
		t.Errorf("bad = %s", got)
	}
	if got := mustAction(t, rep, "later").State.Status; got != experiment.ActionCancelled {
		t.Errorf("later = %s", got)
	}
	if got := mustAction(t, rep, "good").State.Status; got != experiment.ActionStopped && got != experiment.ActionCancelled {
		t.Errorf("good = %s, want stopped (or cancelled if it had not started)", got)
	}
	if len(rep.Errors) == 0 {
		t.Error("no errors in report")
	}
	l.checkReverted(t)
}

func TestInjectFailureOnSecondTargetRevertsFirst(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: time.Minute, target: "tasks"})
	cfg := baseConfig(l)
	cfg.Targets = hosts(2)
	inner := testRegistryFor(l)
	cfg.RegistryFor = func(tg experiment.Target) (*fault.Registry, error) {
		if tg.Name == "host-1" {
			return fault.NewRegistry([]fault.Action{{Spec: testSpec(), New: func(p fault.Params) (fault.Fault, error) {
				return testFault{label: "a", target: tg.Name, mode: "fail-inject", l: l}, nil
			}}})
		}
		return inner(tg)
	}
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrFailed)
	if n := len(l.find("inject", "a")); n != 1 {
		t.Errorf("injected %d times, want 1 (host-0)", n)
	}
	if left := l.stillApplied(); len(left) > 0 {
		t.Errorf("host-0 not reverted after host-1 failed: %v", left)
	}
	if f := mustAction(t, rep, "a").Faults; len(f) != 2 || f[1].Error == "" {
		t.Errorf("fault reports = %+v", f)
	}
}

func TestFaultFailingOnItsOwn(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "crashy", dur: time.Minute, mode: "fail-self"})
	rep := runWant(t, context.Background(), plan, baseConfig(l), experiment.ErrFailed)
	a := mustAction(t, rep, "crashy")
	if a.State.Status != experiment.ActionFailed || !strings.Contains(a.State.Reason, "worker crashed") {
		t.Errorf("action state = %+v", a.State)
	}
	l.checkReverted(t)
}

func TestRevertFailure(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "sticky", dur: 10 * time.Millisecond, mode: "fail-revert"})
	cfg := baseConfig(l)
	cfg.RevertTimeout = time.Second
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrFailed)
	if a := mustAction(t, rep, "sticky"); a.State.Status != experiment.ActionFailed || !strings.Contains(a.State.Reason, "revert refused") {
		t.Errorf("action = %+v", a.State)
	}
}

func TestUnsupportedActions(t *testing.T) {
	t.Parallel()
	acts := []act{
		{name: "local", dur: 10 * time.Millisecond},
		{name: "ec2", actionID: "aws:ec2:stop-instances", notLocal: true},
		{name: "after-ec2", dur: 10 * time.Millisecond, after: []string{"ec2"}},
	}
	l := newLedger()
	rep := runWant(t, context.Background(), buildPlan(t, nil, acts...), baseConfig(l), experiment.ErrFailed)
	if !strings.Contains(rep.State.Reason, "ec2 (aws:ec2:stop-instances)") || !strings.Contains(rep.State.Reason, "skip-unsupported") {
		t.Errorf("reason = %q", rep.State.Reason)
	}
	if len(l.find("inject", "local")) != 0 {
		t.Error("injected although the plan failed")
	}

	l = newLedger()
	cfg := baseConfig(l)
	cfg.SkipUnsupported = true
	rep = runWant(t, context.Background(), buildPlan(t, nil, acts...), cfg, nil) // SkipUnsupported
	if got := mustAction(t, rep, "ec2").State; got.Status != experiment.ActionSkipped || !strings.Contains(got.Reason, "aws:ec2:stop-instances") {
		t.Errorf("ec2 = %+v", got)
	}
	if got := mustAction(t, rep, "after-ec2").State.Status; got != experiment.ActionCompleted {
		t.Errorf("after-ec2 = %s, want completed (skipped counts as done)", got)
	}
}

func TestUnregisteredLocalAction(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "io", actionID: "aws:ecs:task-io-stress"})
	rep, err := experiment.Run(context.Background(), plan, baseConfig(l))
	if !errors.Is(err, experiment.ErrFailed) || !strings.Contains(rep.State.Reason, "unknown action") {
		t.Fatalf("Run = %+v, %v", rep.State, err)
	}
}

func TestDryRunInjectsNothing(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "a", dur: time.Minute, target: "tasks"},
		act{name: "b", dur: time.Minute, target: "tasks", after: []string{"a"}})
	cfg := baseConfig(l)
	cfg.DryRun = true
	rep := runWant(t, context.Background(), plan, cfg, nil)
	if !rep.DryRun || rep.State.Status != experiment.StatusCompleted {
		t.Errorf("report = %+v", rep.State)
	}
	for _, a := range rep.Actions {
		if a.State.Status != experiment.ActionSkipped || len(a.Faults) != 1 {
			t.Errorf("%s = %+v with %d faults", a.Name, a.State, len(a.Faults))
		}
	}
	if len(l.entries) != 0 {
		t.Errorf("dry run touched: %+v", l.entries)
	}
}

func TestBadParametersFailBeforeInjecting(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil,
		act{name: "ok", dur: time.Minute},
		act{name: "bad", dur: time.Minute, extraParam: map[string]string{"percent": "70"}})
	cfg := baseConfig(l)
	inner := testRegistryFor(l)
	cfg.RegistryFor = func(tg experiment.Target) (*fault.Registry, error) {
		return fault.NewRegistry([]fault.Action{{Spec: testSpec(), New: func(p fault.Params) (fault.Fault, error) {
			if p.Int("percent") == 70 {
				return nil, &fault.ParamError{Action: testActionID, Param: "percent", Value: "70", Reason: "test engine refuses 70"}
			}
			r, _ := inner(tg)
			f, _, err := r.New(testActionID, p.Map())
			return f, err
		}}})
	}
	rep, err := experiment.Run(context.Background(), plan, cfg)
	if !errors.Is(err, experiment.ErrFailed) || !strings.Contains(rep.State.Reason, `"percent"`) {
		t.Fatalf("Run = %+v, %v", rep.State, err)
	}
	if len(l.entries) != 0 {
		t.Errorf("injected before the failing parameter was found: %+v", l.entries)
	}
}

func TestObserverSeesOrderedEventsAndProgress(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "a", dur: 200 * time.Millisecond})
	cfg := baseConfig(l)
	cfg.ProgressInterval = 20 * time.Millisecond
	var events []experiment.Event
	progressWithMetrics := 0
	cfg.Observer = func(ev experiment.Event) {
		events = append(events, ev)
		if ev.Type == experiment.EventProgress && ev.Report != nil {
			if a, ok := ev.Report.Action("a"); ok {
				if _, ok := a.Metric("load_percent"); ok {
					progressWithMetrics++
				}
			}
		}
	}
	rep := runWant(t, context.Background(), plan, cfg, nil)
	var nonProgress int
	for i, ev := range events {
		if ev.Report == nil {
			t.Fatalf("event %d has no snapshot", i)
		}
		if ev.Type != experiment.EventProgress {
			if !ev.Time.Equal(rep.Timeline[nonProgress].Time) || ev.Status != rep.Timeline[nonProgress].Status {
				t.Errorf("observer event %d = %+v, timeline has %+v", i, ev, rep.Timeline[nonProgress])
			}
			nonProgress++
		}
	}
	if nonProgress != len(rep.Timeline) {
		t.Errorf("observer saw %d timeline events, report has %d", nonProgress, len(rep.Timeline))
	}
	if progressWithMetrics == 0 {
		t.Error("no progress event carried the running fault's metrics")
	}
}

func TestReportMatchesSchema(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, map[string]template.Target{"tasks": ecsTarget("COUNT(2)")},
		act{name: "a", dur: 20 * time.Millisecond, target: "tasks"},
		act{name: "b", dur: 20 * time.Millisecond, target: "tasks", after: []string{"a"}},
		act{name: "c", actionID: "aws:ec2:stop-instances", notLocal: true})
	cfg := baseConfig(l)
	cfg.Targets = hosts(3)
	cfg.SkipUnsupported = true
	cfg.Template = experiment.TemplateInfo{File: "x.json", Digest: experiment.Digest([]byte("{}"))}
	cfg.StopConditions = []experiment.StopCondition{experiment.CommandProbe("true", 0)}
	rep := runWant(t, context.Background(), plan, cfg, nil)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := experiment.ValidateReport(data); err != nil {
		t.Fatalf("report does not match its schema: %v\n%s", err, data)
	}
	// The checker is not a rubber stamp: each of these breaks the report.
	breakers := map[string]func(m map[string]any){
		"bad status":  func(m map[string]any) { m["state"].(map[string]any)["status"] = "done" },
		"missing id":  func(m map[string]any) { delete(m, "id") },
		"extra field": func(m map[string]any) { m["surprise"] = 1 },
		"bad time":    func(m map[string]any) { m["startTime"] = "yesterday" },
		"bad metric": func(m map[string]any) {
			m["actions"].([]any)[0].(map[string]any)["faults"].([]any)[0].(map[string]any)["metrics"] = []any{map[string]any{"name": "x"}}
		},
		"bad digest":    func(m map[string]any) { m["template"].(map[string]any)["digest"] = "md5:00" },
		"negative secs": func(m map[string]any) { m["actions"].([]any)[0].(map[string]any)["durationSeconds"] = -1 },
	}
	for name, br := range breakers {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		br(m)
		bad, _ := json.Marshal(m)
		if err := experiment.ValidateReport(bad); !errors.Is(err, experiment.ErrSchema) {
			t.Errorf("%s: ValidateReport = %v, want ErrSchema", name, err)
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := experiment.Start(context.Background(), nil, experiment.Config{}); err == nil {
		t.Error("nil plan accepted")
	}
	plan := buildPlan(t, nil, act{name: "a", dur: time.Millisecond})
	plan.ExperimentOptions.EmptyTargetResolutionMode = "ignore"
	_, err := experiment.Start(context.Background(), plan, experiment.Config{})
	if err == nil || !strings.Contains(err.Error(), `"ignore"`) {
		t.Errorf("Start = %v, want an error naming the mode", err)
	}
}

func TestWaitAction(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil,
		act{name: "first", dur: 10 * time.Millisecond},
		act{name: "pause", actionID: template.ActionWait, dur: 150 * time.Millisecond, after: []string{"first"}},
		act{name: "second", dur: 10 * time.Millisecond, after: []string{"pause"}},
	)
	rep := runWant(t, context.Background(), plan, baseConfig(l), nil)
	pause := mustAction(t, rep, "pause")
	checkStates(t, "action pause", actionStates(rep, "pause"), "initiating", "running", "completed")
	if held := pause.EndTime.Sub(pause.StartTime); held < 150*time.Millisecond {
		t.Errorf("the wait ended after %s, before its 150ms", held)
	}
	if len(pause.Faults) != 0 {
		t.Errorf("wait has faults: %+v", pause.Faults)
	}
	if inj := l.find("inject", "second")[0].at; inj.Before(pause.EndTime) {
		t.Errorf("second injected at %v, before the wait ended at %v", inj, pause.EndTime)
	}
}

func TestObserverMayStop(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "a", dur: time.Minute}, act{name: "b", dur: time.Minute, after: []string{"a"}})
	cfg := baseConfig(l)
	var e *experiment.Experiment
	started := make(chan struct{})
	cfg.Observer = func(ev experiment.Event) {
		<-started
		if ev.Type == experiment.EventFault && ev.Status == "injected" {
			e.Stop("stopped by the observer") // from inside the observer
		}
	}
	var err error
	e, err = experiment.Start(context.Background(), plan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	close(started)
	rep, err := e.Wait()
	if !errors.Is(err, experiment.ErrStopped) || rep.State.Reason != "stopped by the observer" {
		t.Fatalf("Wait = %+v, %v", rep.State, err)
	}
	l.checkReverted(t)
}
