package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// Sentinel errors Run and Wait return when the experiment did not
// complete; the report says why.
var (
	ErrFailed  = errors.New("experiment failed")
	ErrStopped = errors.New("experiment stopped")
)

// Config configures an experiment. The zero value runs nothing useful:
// set Registry (or RegistryFor) to the fault engines to use.
type Config struct {
	// Registry builds the faults of the aws:ecs:task actions, e.g.
	// fault.NewRegistry(stress.Actions(), netem.Actions(), procs.Actions()).
	Registry *fault.Registry
	// RegistryFor, when set, builds a registry for each target, so the
	// faults act on it: e.g. netem.Actions(netem.WithNetNS(t.NetNS)). It
	// wins over Registry.
	RegistryFor func(Target) (*fault.Registry, error)
	// Targets are the local candidates of every aws:ecs:task target; nil
	// means DetectTargets (this ECS task, or the host).
	Targets []Target
	// Resolve, when set, replaces Targets.
	Resolve Resolver
	// Journal records every fault's undo so a crash leaves nothing
	// behind. Nil opens one in fault.DefaultStateDir for the run, unless
	// NoJournal is set.
	Journal   *fault.Journal
	NoJournal bool
	// CloudWatch reads the template's aws:cloudwatch:alarm stop
	// conditions. A template with alarms and no client fails.
	CloudWatch CloudWatchAPI
	// StopConditions are checked besides the template's, e.g. HTTPProbe
	// and CommandProbe (faultkit extensions).
	StopConditions []StopCondition
	// PollInterval is the default interval of local stop conditions
	// (default 1 s); AlarmInterval that of CloudWatch alarms (default 5 s).
	PollInterval  time.Duration
	AlarmInterval time.Duration
	// MaxCheckErrors is how many failed checks in a row trip a stop
	// condition (default 3).
	MaxCheckErrors int
	// ProgressInterval is how often Observer gets an EventProgress with
	// fresh metrics (default 1 s; negative disables).
	ProgressInterval time.Duration
	// Observer receives every event, in order, from one goroutine, with
	// a snapshot of the report, outside the experiment's locks: it may
	// call Stop. Events queue while it runs; Wait returns after the last
	// one was delivered.
	Observer func(Event)
	// Logger receives the timeline as it happens. Nil discards.
	Logger *slog.Logger
	// DryRun resolves targets and builds every fault, then skips every
	// action (FIS's actionsMode skip-all): nothing is injected.
	DryRun bool
	// SkipUnsupported marks actions faultkit cannot run locally (the
	// non-ECS catalogue) as skipped instead of failing the experiment.
	SkipUnsupported bool
	// Template identifies the template in the report.
	Template TemplateInfo
	// Rand picks COUNT and PERCENT targets; nil means a random seed.
	Rand *rand.Rand
	// RevertTimeout bounds each revert (default fault.RevertTimeout).
	RevertTimeout time.Duration
}

// RunTemplate plans t with template.NewPlan and runs the plan with Run.
func RunTemplate(ctx context.Context, t *template.Template, cfg Config) (*Report, error) {
	plan, err := template.NewPlan(t, template.PlanOptions{})
	if err != nil {
		return nil, err
	}
	return Run(ctx, plan, cfg)
}

// Run runs the plan to a final state and returns its report. Cancelling
// ctx stops the experiment the way FIS's StopExperiment does: running
// actions revert, pending ones are cancelled. The error is nil only when
// the experiment completed; otherwise it wraps ErrFailed or ErrStopped,
// and the report is still returned.
func Run(ctx context.Context, plan *template.Plan, cfg Config) (*Report, error) {
	e, err := Start(ctx, plan, cfg)
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			e.Stop("Experiment stopped: " + context.Cause(ctx).Error() + ".")
		case <-e.done:
		}
	}()
	return e.Wait()
}

// Experiment is a running experiment.
type Experiment struct {
	cfg  Config
	plan *template.Plan
	log  *slog.Logger

	mu  sync.Mutex // guards rep and the fields below
	rep *Report

	queue      []Event       // events not yet delivered; guarded by mu
	closing    bool          // no more events will come; guarded by mu
	wake       chan struct{} // wakes dispatch
	dispatched chan struct{} // closed when dispatch has delivered everything

	stopCh     chan struct{}
	stopOnce   sync.Once
	failReason string // first failure; guarded by mu
	stopReason string // guarded by mu
	stopped    bool   // a stop was requested (not a failure); guarded by mu

	actions map[string]*actionRun
	done    chan struct{}
	err     error
}

type actionRun struct {
	pa     *template.PlannedAction
	rep    *ActionReport
	faults []*boundFault
	skip   string // reason to skip, if any
	done   chan struct{}
}

type boundFault struct {
	f   fault.Fault
	t   Target
	rep *FaultReport
	h   fault.Handle // guarded by Experiment.mu
}

// Start begins the experiment in the background and returns at once; use
// Wait for the result and Stop to stop it. The experiment does not stop
// when ctx ends (use Run for that); ctx bounds target resolution and
// injection only.
func Start(ctx context.Context, plan *template.Plan, cfg Config) (*Experiment, error) {
	if plan == nil {
		return nil, errors.New("experiment: nil plan")
	}
	switch mode := plan.ExperimentOptions.EmptyTargetResolutionMode; mode {
	case "", template.EmptyTargetFail, template.EmptyTargetSkip:
	default:
		return nil, fmt.Errorf("experiment: plan's experimentOptions.emptyTargetResolutionMode %q: want %q or %q",
			mode, template.EmptyTargetFail, template.EmptyTargetSkip)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.AlarmInterval <= 0 {
		cfg.AlarmInterval = 5 * time.Second
	}
	if cfg.MaxCheckErrors <= 0 {
		cfg.MaxCheckErrors = 3
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = time.Second
	}
	if cfg.RevertTimeout <= 0 {
		cfg.RevertTimeout = fault.RevertTimeout
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info := cfg.Template
	if info.Description == "" {
		info.Description = plan.Description
	}
	e := &Experiment{
		cfg: cfg, plan: plan, log: log,
		rep: &Report{
			SchemaVersion: ReportSchemaVersion, ID: newID(cfg.Rand), Template: info,
			State: ExperimentState{Status: StatusPending}, DryRun: cfg.DryRun,
			Targets: map[string]*TargetReport{}, Timeline: []Event{}, Errors: []string{},
			StopConditions: []*StopConditionReport{},
		},
		stopCh:     make(chan struct{}),
		actions:    map[string]*actionRun{},
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		dispatched: make(chan struct{}),
	}
	for i := range plan.Actions {
		pa := &plan.Actions[i]
		ar := &ActionReport{
			Name: pa.Name, ActionID: pa.ActionID, State: ActionState{Status: ActionPending},
			StartAfter: pa.StartAfter, Parameters: pa.Params.Map(),
			Duration: fault.FormatDuration(pa.Duration), DurationSeconds: pa.Duration.Seconds(),
			Faults: []*FaultReport{},
		}
		if ar.Parameters == nil {
			ar.Parameters = map[string]string{}
		}
		for _, k := range slices.Sorted(mapsKeys(pa.Targets)) {
			ar.TargetName = pa.Targets[k]
			break
		}
		e.rep.Actions = append(e.rep.Actions, ar)
		e.actions[pa.Name] = &actionRun{pa: pa, rep: ar, done: make(chan struct{})}
	}
	go e.dispatch()
	go e.run(ctx)
	return e, nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func newID(r *rand.Rand) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("EXP")
	for range 17 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}

// Stop stops the experiment: running actions revert (stopping, then
// stopped), pending ones are cancelled, and the experiment ends stopped.
// Stopping an experiment that already ended does nothing.
func (e *Experiment) Stop(reason string) {
	if reason == "" {
		reason = "Experiment stopped by the user."
	}
	e.stopOnce.Do(func() {
		e.update(func() []Event {
			if e.rep.State.Status.Terminal() {
				return nil // already over: nothing to stop
			}
			e.stopped = true
			e.stopReason = reason
			if e.failReason != "" {
				return nil
			}
			return []Event{e.setState(StatusStopping, reason)}
		})
		close(e.stopCh)
	})
}

// fail records the first failure and stops everything else.
func (e *Experiment) fail(reason string) {
	e.update(func() []Event {
		if e.failReason == "" {
			e.failReason = reason
		}
		e.rep.Errors = append(e.rep.Errors, reason)
		return nil
	})
	e.stopOnce.Do(func() { close(e.stopCh) })
}

// Done is closed when the experiment has reached a final state.
func (e *Experiment) Done() <-chan struct{} { return e.done }

// Wait waits for the final state and returns the report; the error is
// nil only for completed.
func (e *Experiment) Wait() (*Report, error) {
	<-e.done
	return e.Snapshot(), e.err
}

// Snapshot returns a copy of the report as it is now.
func (e *Experiment) Snapshot() *Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rep.clone()
}

// update runs fn under the lock, appends the events it returns to the
// timeline, logs them and hands them to the observer, in order.
func (e *Experiment) update(fn func() []Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	evs := fn()
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		if ev.Type != EventProgress {
			e.rep.Timeline = append(e.rep.Timeline, ev)
		}
	}
	var snap *Report
	if e.cfg.Observer != nil {
		snap = e.rep.clone()
	}
	for _, ev := range evs {
		ev.Report = snap
		e.queue = append(e.queue, ev)
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// dispatch logs the queued events and hands them to the observer, in
// order, outside every lock, so an observer may call Stop or Snapshot.
func (e *Experiment) dispatch() {
	defer close(e.dispatched)
	for {
		e.mu.Lock()
		batch, closing := e.queue, e.closing
		e.queue = nil
		e.mu.Unlock()
		for _, ev := range batch {
			if ev.Type != EventProgress {
				attrs := []any{"type", string(ev.Type), "status", ev.Status}
				if ev.Name != "" {
					attrs = append(attrs, "name", ev.Name)
				}
				if ev.Target != "" {
					attrs = append(attrs, "target", ev.Target)
				}
				if ev.Reason != "" {
					attrs = append(attrs, "reason", ev.Reason)
				}
				e.log.Info("experiment event", attrs...)
			}
			if e.cfg.Observer != nil {
				e.cfg.Observer(ev)
			}
		}
		if len(batch) == 0 {
			if closing {
				return
			}
			<-e.wake
		}
	}
}

// closeEvents waits until every event has been delivered.
func (e *Experiment) closeEvents() {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.dispatched
}

// setState changes the experiment's state; call under mu (inside update).
func (e *Experiment) setState(s Status, reason string) Event {
	now := time.Now()
	e.rep.State = ExperimentState{Status: s, Reason: reason}
	if s == StatusInitiating && e.rep.StartTime.IsZero() {
		e.rep.StartTime = now
	}
	if s.Terminal() {
		e.rep.EndTime = now
	}
	return Event{Time: now, Type: EventExperiment, Status: string(s), Reason: reason}
}

// setAction changes an action's state; call under mu (inside update).
func (e *Experiment) setAction(a *actionRun, s ActionStatus, reason string) Event {
	now := time.Now()
	a.rep.State = ActionState{Status: s, Reason: reason}
	if a.rep.StartTime.IsZero() && s != ActionPending {
		a.rep.StartTime = now
	}
	if s.Terminal() {
		a.rep.EndTime = now
	}
	return Event{Time: now, Type: EventAction, Name: a.pa.Name, Status: string(s), Reason: reason}
}

func (e *Experiment) actionState(a *actionRun, s ActionStatus, reason string) {
	e.update(func() []Event { return []Event{e.setAction(a, s, reason)} })
}

func (e *Experiment) stopRequested() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}

// run is the experiment's main goroutine.
func (e *Experiment) run(ctx context.Context) {
	defer func() {
		e.closeEvents()
		close(e.done)
	}()
	e.update(func() []Event { return []Event{e.setState(StatusInitiating, "Experiment is initiating.")} })

	journal, closeJournal, conds, err := e.initiate(ctx)
	if err != nil {
		e.finishEarly(StatusFailed, err.Error())
		return
	}
	defer closeJournal()
	if e.stopRequested() {
		e.finishEarly(StatusStopped, e.reasonLocked())
		return
	}
	// Evaluate every stop condition once before anything is injected.
	if !e.cfg.DryRun {
		for i, c := range conds {
			if e.checkOnce(ctx, i, c) {
				e.finishEarly(StatusStopped, e.reasonLocked())
				return
			}
		}
	}

	e.update(func() []Event { return []Event{e.setState(StatusRunning, "Experiment is running.")} })
	monCtx, stopMon := context.WithCancel(context.WithoutCancel(ctx))
	var mon sync.WaitGroup
	if !e.cfg.DryRun {
		for i, c := range conds {
			mon.Add(1)
			go func() { defer mon.Done(); e.monitor(monCtx, i, c) }()
		}
	}
	if e.cfg.ProgressInterval > 0 && e.cfg.Observer != nil {
		mon.Add(1)
		go func() { defer mon.Done(); e.progress(monCtx) }()
	}

	var wg sync.WaitGroup
	for _, name := range e.plan.Order() {
		a := e.actions[name]
		wg.Add(1)
		go func() { defer wg.Done(); e.runAction(ctx, a, journal) }()
	}
	wg.Wait()
	stopMon()
	mon.Wait()

	e.update(func() []Event {
		switch {
		case e.failReason != "":
			e.err = fmt.Errorf("%w: %s", ErrFailed, e.failReason)
			return []Event{e.setState(StatusFailed, e.failReason)}
		case e.stopped:
			e.err = fmt.Errorf("%w: %s", ErrStopped, e.stopReason)
			return []Event{e.setState(StatusStopped, e.stopReason)}
		}
		reason := "Experiment completed."
		if e.cfg.DryRun {
			reason = "Dry run completed: targets resolved and faults built, nothing injected."
		}
		return []Event{e.setState(StatusCompleted, reason)}
	})
}

func (e *Experiment) reasonLocked() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failReason != "" {
		return e.failReason
	}
	return e.stopReason
}

// finishEarly ends an experiment that never ran: every action is
// cancelled.
func (e *Experiment) finishEarly(s Status, reason string) {
	e.update(func() []Event {
		if e.failReason != "" {
			s, reason = StatusFailed, e.failReason
		} else if s == StatusFailed {
			e.failReason = reason
			e.rep.Errors = append(e.rep.Errors, reason)
		}
		var evs []Event
		for _, name := range e.plan.Order() {
			a := e.actions[name]
			if !a.rep.State.Status.Terminal() {
				evs = append(evs, e.setAction(a, ActionCancelled, "The experiment ended before the action started."))
			}
		}
		switch s {
		case StatusFailed:
			e.err = fmt.Errorf("%w: %s", ErrFailed, reason)
		default:
			e.err = fmt.Errorf("%w: %s", ErrStopped, reason)
		}
		return append(evs, e.setState(s, reason))
	})
}

// initiate checks support, builds stop conditions, resolves targets and
// builds every fault, so that bad parameters fail the experiment before
// anything is injected.
func (e *Experiment) initiate(ctx context.Context) (*fault.Journal, func(), []StopCondition, error) {
	noop := func() {}
	// Unsupported actions.
	var unsupported []string
	for _, name := range e.plan.Order() {
		a := e.actions[name]
		if !a.pa.Local {
			if e.cfg.SkipUnsupported {
				a.skip = fmt.Sprintf("faultkit cannot run %s locally (--skip-unsupported).", a.pa.ActionID)
				continue
			}
			unsupported = append(unsupported, fmt.Sprintf("%s (%s)", name, a.pa.ActionID))
		}
	}
	if len(unsupported) > 0 {
		return nil, noop, nil, fmt.Errorf("faultkit cannot run these actions locally, they need AWS: %s; skip them with SkipUnsupported (--skip-unsupported)",
			strings.Join(unsupported, ", "))
	}

	// Stop conditions.
	var conds []StopCondition
	for _, sc := range e.plan.StopConditions {
		switch sc.Source {
		case template.StopSourceNone:
		case template.StopSourceAlarm:
			if e.cfg.CloudWatch == nil {
				return nil, noop, nil, fmt.Errorf("stop condition %s %s needs a CloudWatch client (Config.CloudWatch)", sc.Source, sc.Value)
			}
			c, err := AlarmCondition(e.cfg.CloudWatch, sc.Value)
			if err != nil {
				return nil, noop, nil, err
			}
			c.Interval = e.cfg.AlarmInterval
			conds = append(conds, c)
		default:
			return nil, noop, nil, fmt.Errorf("stop condition source %q is not supported", sc.Source)
		}
	}
	for _, c := range e.cfg.StopConditions {
		if c.Check == nil {
			return nil, noop, nil, fmt.Errorf("%w: %s %s has no Check", ErrStopCondition, c.Source, c.Value)
		}
		conds = append(conds, c)
	}
	e.update(func() []Event {
		for _, c := range conds {
			e.rep.StopConditions = append(e.rep.StopConditions, &StopConditionReport{Source: c.Source, Value: c.Value})
		}
		return nil
	})

	// Targets.
	resolve := e.cfg.Resolve
	if resolve == nil {
		cands := e.cfg.Targets
		if cands == nil {
			var err error
			if cands, err = DetectTargets(ctx); err != nil {
				return nil, noop, nil, err
			}
		}
		for _, c := range cands {
			if err := c.Check(); err != nil {
				return nil, noop, nil, fmt.Errorf("target resolution failed: %w", err)
			}
		}
		resolve = StaticResolver(cands)
	}
	needed := map[string]bool{}
	for _, a := range e.actions {
		if a.skip != "" {
			continue
		}
		for _, tn := range a.pa.Targets {
			needed[tn] = true
		}
	}
	selected := map[string][]Target{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range needed {
			if !yield(k) {
				return
			}
		}
	}) {
		tt, ok := e.plan.Targets[name]
		if !ok {
			return nil, noop, nil, fmt.Errorf("target %q is not defined", name)
		}
		mode, err := template.ParseSelectionMode(tt.SelectionMode)
		if err != nil {
			return nil, noop, nil, fmt.Errorf("target %s: %w", name, err)
		}
		cands, err := resolve(ctx, name, tt)
		if err != nil {
			return nil, noop, nil, fmt.Errorf("target resolution failed: %w", err)
		}
		sel := selectTargets(mode, cands, e.cfg.Rand)
		selected[name] = sel
		e.update(func() []Event {
			e.rep.Targets[name] = &TargetReport{ResourceType: tt.ResourceType, SelectionMode: mode.String(),
				Candidates: len(cands), Selected: append([]Target{}, sel...)}
			return nil
		})
		if len(cands) == 0 && len(tt.ResourceArns) > 0 {
			// FIS: targets defined by ARN that are not found always fail.
			return nil, noop, nil, fmt.Errorf("target resolution failed: target %q: none of its resourceArns is a local target", name)
		}
		if len(sel) == 0 && e.plan.ExperimentOptions.EmptyTargetResolutionMode != template.EmptyTargetSkip {
			return nil, noop, nil, fmt.Errorf("target resolution failed: target %q (%s of %d candidates) resolved to no resources; set experimentOptions.emptyTargetResolutionMode to \"skip\" to skip its actions",
				name, mode, len(cands))
		}
	}

	// Faults.
	registries := map[string]*fault.Registry{}
	registryFor := func(t Target) (*fault.Registry, error) {
		if e.cfg.RegistryFor == nil {
			if e.cfg.Registry == nil {
				return nil, errors.New("no fault registry (Config.Registry)")
			}
			return e.cfg.Registry, nil
		}
		key := string(t.Kind) + "\x00" + t.Name
		if r, ok := registries[key]; ok {
			return r, nil
		}
		r, err := e.cfg.RegistryFor(t)
		if err != nil {
			return nil, fmt.Errorf("registry for target %s: %w", t.Name, err)
		}
		registries[key] = r
		return r, nil
	}
	for _, name := range e.plan.Order() {
		a := e.actions[name]
		if a.skip != "" || a.pa.ActionID == template.ActionWait {
			continue
		}
		var targets []Target
		for _, k := range slices.Sorted(mapsKeys(a.pa.Targets)) {
			targets = append(targets, selected[a.pa.Targets[k]]...)
		}
		if len(a.pa.Targets) == 0 {
			targets = []Target{Host()}
		}
		if len(targets) == 0 {
			a.skip = fmt.Sprintf("Target %s resolved to no resources (emptyTargetResolutionMode skip).", a.rep.TargetName)
			continue
		}
		for _, t := range targets {
			reg, err := registryFor(t)
			if err != nil {
				return nil, noop, nil, fmt.Errorf("action %s: %w", name, err)
			}
			f, _, err := reg.New(a.pa.ActionID, a.pa.Params.Map())
			if err != nil {
				if errors.Is(err, fault.ErrUnknownAction) && e.cfg.SkipUnsupported {
					a.skip = fmt.Sprintf("No fault engine for %s is registered (--skip-unsupported).", a.pa.ActionID)
					a.faults = nil
					break
				}
				return nil, noop, nil, fmt.Errorf("action %s: %w", name, err)
			}
			a.faults = append(a.faults, &boundFault{f: f, t: t, rep: &FaultReport{Fault: f.Name(), Target: t, Metrics: []fault.Metric{}}})
		}
		e.update(func() []Event {
			for _, bf := range a.faults {
				a.rep.Faults = append(a.rep.Faults, bf.rep)
			}
			return nil
		})
	}
	if e.cfg.DryRun {
		for _, a := range e.actions {
			if a.skip == "" {
				a.skip = "Dry run: nothing injected."
			}
		}
	}

	// Journal.
	j := e.cfg.Journal
	closeJ := noop
	if j == nil && !e.cfg.NoJournal && !e.cfg.DryRun {
		var err error
		j, err = fault.OpenJournal(fault.JournalConfig{Logger: e.log})
		if err != nil {
			return nil, noop, nil, err
		}
		closeJ = func() {
			if err := j.Close(); err != nil {
				e.update(func() []Event {
					e.rep.Errors = append(e.rep.Errors, "journal: "+err.Error())
					return nil
				})
			}
		}
	}
	return j, closeJ, conds, nil
}

// runAction drives one action from pending to a final state.
func (e *Experiment) runAction(ctx context.Context, a *actionRun, j *fault.Journal) {
	defer close(a.done)
	// Wait for startAfter.
	for _, dep := range a.pa.StartAfter {
		d, ok := e.actions[dep]
		if !ok {
			continue
		}
		select {
		case <-d.done:
		case <-e.stopCh:
			e.actionState(a, ActionCancelled, "The experiment stopped before the action started.")
			return
		}
		e.mu.Lock()
		st := d.rep.State.Status
		e.mu.Unlock()
		if st != ActionCompleted && st != ActionSkipped {
			e.actionState(a, ActionCancelled, fmt.Sprintf("startAfter action %s ended %s.", dep, st))
			return
		}
	}
	if e.stopRequested() {
		e.actionState(a, ActionCancelled, "The experiment stopped before the action started.")
		return
	}
	if a.skip != "" {
		e.actionState(a, ActionSkipped, a.skip)
		return
	}

	// Inject.
	e.actionState(a, ActionInitiating, "")
	// Injection is interrupted by a stop, not by ctx: Run turns ctx's end
	// into a stop, so the action ends stopped rather than failed.
	injCtx, endInj := context.WithCancel(context.WithoutCancel(ctx))
	defer endInj()
	go func() {
		select {
		case <-e.stopCh:
			endInj()
		case <-injCtx.Done():
		}
	}()
	for _, bf := range a.faults {
		h, err := bf.f.Inject(injCtx, j)
		if err != nil && e.stopRequested() {
			rerr := e.revertAll(ctx, a)
			reason := e.reasonLocked()
			if rerr != nil {
				e.actionState(a, ActionFailed, fmt.Sprintf("Revert failed: %v", rerr))
				e.fail(fmt.Sprintf("Action %s failed: revert failed: %v", a.pa.Name, rerr))
				return
			}
			e.actionState(a, ActionStopped, reason)
			return
		}
		if err != nil {
			e.update(func() []Event {
				bf.rep.Error = err.Error()
				return []Event{{Time: time.Now(), Type: EventFault, Name: a.pa.Name, Target: bf.t.Name, Status: "failed", Reason: err.Error()}}
			})
			rerr := e.revertAll(ctx, a)
			reason := fmt.Sprintf("Injecting %s on %s failed: %v", bf.f.Name(), bf.t.Name, err)
			if rerr != nil {
				reason += fmt.Sprintf("; reverting the others failed: %v", rerr)
			}
			e.actionState(a, ActionFailed, reason)
			e.fail(fmt.Sprintf("Action %s failed: %s", a.pa.Name, reason))
			return
		}
		e.update(func() []Event {
			bf.h = h
			bf.rep.Injected = time.Now()
			bf.rep.State = fault.StateRunning
			return []Event{{Time: bf.rep.Injected, Type: EventFault, Name: a.pa.Name, Target: bf.t.Name, Status: "injected"}}
		})
	}

	// Hold.
	e.actionState(a, ActionRunning, "")
	failed := make(chan *boundFault, len(a.faults))
	holdCtx, endHold := context.WithCancel(context.Background())
	for _, bf := range a.faults {
		go func() {
			select {
			case <-bf.h.Done():
				if bf.h.Status().State == fault.StateFailed {
					failed <- bf
				}
			case <-holdCtx.Done():
			}
		}()
	}
	var timer <-chan time.Time
	if a.pa.Duration > 0 {
		t := time.NewTimer(a.pa.Duration)
		defer t.Stop()
		timer = t.C
	}
	outcome := ActionCompleted
	reason := ""
	if a.pa.Duration <= 0 {
		// Instantaneous (kill-process): done once delivered; a failed
		// delivery is reported by the handle's state below.
		for _, bf := range a.faults {
			if st := bf.h.Status(); st.State == fault.StateFailed {
				outcome, reason = ActionFailed, fmt.Sprintf("%s on %s failed: %v", bf.f.Name(), bf.t.Name, st.Err)
			}
		}
	} else {
		select {
		case <-timer:
		case <-e.stopCh:
			outcome = ActionStopped
			e.actionState(a, ActionStopping, "")
		case bf := <-failed:
			st := bf.h.Status()
			outcome, reason = ActionFailed, fmt.Sprintf("%s on %s failed: %v", bf.f.Name(), bf.t.Name, st.Err)
		}
	}
	endHold()

	// Revert.
	if err := e.revertAll(ctx, a); err != nil {
		outcome, reason = ActionFailed, fmt.Sprintf("Revert failed: %v", err)
	}
	switch outcome {
	case ActionStopped:
		e.mu.Lock()
		reason = e.stopReason
		if e.failReason != "" {
			reason = e.failReason
		}
		e.mu.Unlock()
	case ActionFailed:
		e.fail(fmt.Sprintf("Action %s failed: %s", a.pa.Name, reason))
	}
	e.actionState(a, outcome, reason)
}

// revertAll reverts every injected fault of a, records final figures, and
// returns the joined errors.
func (e *Experiment) revertAll(ctx context.Context, a *actionRun) error {
	var errs []error
	for _, bf := range a.faults {
		e.mu.Lock()
		h := bf.h
		e.mu.Unlock()
		if h == nil {
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RevertTimeout)
		err := h.Revert(rctx)
		cancel()
		st := h.Status()
		e.update(func() []Event {
			bf.rep.Reverted = time.Now()
			bf.rep.State = st.State
			bf.rep.Metrics = nonNil(st.Metrics)
			status := "reverted"
			reason := ""
			if err != nil {
				status, reason = "revert-failed", err.Error()
				bf.rep.Error = err.Error()
			} else if st.State == fault.StateFailed && st.Err != nil {
				bf.rep.Error = st.Err.Error()
			}
			return []Event{{Time: bf.rep.Reverted, Type: EventFault, Name: a.pa.Name, Target: bf.t.Name, Status: status, Reason: reason}}
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", bf.f.Name(), bf.t.Name, err))
		}
	}
	return errors.Join(errs...)
}

func nonNil(m []fault.Metric) []fault.Metric {
	if m == nil {
		return []fault.Metric{}
	}
	return slices.Clone(m)
}

// checkOnce evaluates condition i and stops the experiment if it
// tripped; it reports whether it did.
func (e *Experiment) checkOnce(ctx context.Context, i int, c StopCondition) bool {
	tripped, why, err := c.Check(ctx)
	if ctx.Err() != nil {
		return false
	}
	var stop bool
	e.update(func() []Event {
		r := e.rep.StopConditions[i]
		r.Checks++
		switch {
		case err != nil:
			r.Errors++
			r.LastError = err.Error()
			r.errStreak++
			consecutive := r.errStreak
			ev := Event{Time: time.Now(), Type: EventStopCondition, Name: c.Value, Status: "error", Reason: err.Error()}
			if consecutive >= e.cfg.MaxCheckErrors {
				stop = true
				r.Tripped = true
				r.Reason = fmt.Sprintf("could not be checked %d times in a row: %v", consecutive, err)
				ev.Status, ev.Reason = "tripped", r.Reason
			}
			return []Event{ev}
		case tripped:
			stop = true
			r.Tripped = true
			r.Reason = why
			return []Event{{Time: time.Now(), Type: EventStopCondition, Name: c.Value, Status: "tripped", Reason: why}}
		}
		r.errStreak = 0
		return nil
	})
	if stop {
		e.Stop(fmt.Sprintf("Stop condition %s %s triggered: %s.", c.Source, c.Value, e.stopReasonOf(i)))
	}
	return stop
}

func (e *Experiment) stopReasonOf(i int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rep.StopConditions[i].Reason
}

// monitor polls condition i until ctx ends or the experiment stops.
func (e *Experiment) monitor(ctx context.Context, i int, c StopCondition) {
	every := c.Interval
	if every <= 0 {
		every = e.cfg.PollInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.stopCh:
			return
		case <-t.C:
			if e.checkOnce(ctx, i, c) {
				return
			}
		}
	}
}

// progress hands the observer fresh metrics every ProgressInterval.
func (e *Experiment) progress(ctx context.Context) {
	t := time.NewTicker(e.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		type live struct {
			bf *boundFault
			h  fault.Handle
		}
		var hs []live
		e.mu.Lock()
		for _, a := range e.actions {
			for _, bf := range a.faults {
				if bf.h != nil && bf.rep.Reverted.IsZero() {
					hs = append(hs, live{bf, bf.h})
				}
			}
		}
		e.mu.Unlock()
		stats := make([]fault.Status, len(hs))
		for i, l := range hs {
			stats[i] = l.h.Status()
		}
		e.update(func() []Event {
			for i, l := range hs {
				if l.bf.rep.Reverted.IsZero() {
					l.bf.rep.Metrics = nonNil(stats[i].Metrics)
					l.bf.rep.State = stats[i].State
				}
			}
			return []Event{{Time: time.Now(), Type: EventProgress}}
		})
	}
}
