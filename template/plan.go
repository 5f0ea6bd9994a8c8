package template

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// PlanOptions configures NewPlan.
type PlanOptions struct {
	// Local reports whether the executor can run an action ID without AWS.
	// Nil means IsLocal: the six aws:ecs:task fault actions and aws:fis:wait.
	Local func(actionID string) bool
}

// Plan is a validated template resolved into what will run: every action
// with its effective parameters (defaults filled in), targets, duration and
// earliest start, the parallel groups that startAfter gives, and the
// experiment's longest path. A runner walks Levels (or Order) and starts
// each action once all of its StartAfter actions have completed.
type Plan struct {
	Description string
	// Targets are the template's targets, by name.
	Targets map[string]Target
	// Actions are ordered by level, then earliest start, then name.
	Actions []PlannedAction
	// Levels groups action names by depth in the startAfter graph: level 0
	// starts with the experiment, level n after some action of level n-1.
	Levels [][]string
	// LongestPath is the earliest time by which every action can have
	// completed: the experiment's duration if nothing waits or fails.
	LongestPath time.Duration
	// CriticalPath is the chain of actions that sets LongestPath.
	CriticalPath   []string
	StopConditions []StopCondition
	// ExperimentOptions are the template's experiment options with FIS's
	// defaults filled in: AccountTargeting "single-account" and
	// EmptyTargetResolutionMode "fail" unless the template says otherwise.
	// A runner reads them from here; in a Plan built by hand, an empty
	// field means the default.
	ExperimentOptions ExperimentOptions
	// Warnings are the validation warnings of the template.
	Warnings Problems
}

// PlannedAction is one action of a Plan.
type PlannedAction struct {
	Name        string
	ActionID    string
	Description string
	// Params are the validated parameters, defaults applied; Params.Map()
	// gives the strings to hand to fault.Registry.New.
	Params fault.Params
	// Targets maps the action's target key ("Tasks") to a target name.
	Targets    map[string]string
	StartAfter []string
	// Duration is the value of the action's duration parameter; 0 for
	// instantaneous actions (kill-process, stop-task, reboot).
	Duration time.Duration
	// DurationParam names the parameter Duration comes from ("duration",
	// "maxDuration", ...); "" for instantaneous actions. For maxDuration
	// the action may end sooner.
	DurationParam string
	// Start and End are the earliest offsets from the experiment's start
	// at which the action starts and completes.
	Start, End time.Duration
	// Level is the action's depth in the startAfter graph.
	Level int
	// Local reports whether faultkit runs the action itself; the others
	// need AWS.
	Local bool
}

// NewPlan validates t and resolves it into a Plan. If the template has
// errors, it returns them as Problems (with the warnings) and no plan.
func NewPlan(t *Template, opts PlanOptions) (*Plan, error) {
	if t == nil {
		return nil, Problems{{Severity: SeverityError, Code: CodeRequired, Message: "no template"}}
	}
	v := newValidator(t)
	v.run()
	if v.probs.HasErrors() {
		return nil, v.probs
	}
	local := opts.Local
	if local == nil {
		local = IsLocal
	}
	s := v.sched
	p := &Plan{
		Description:    t.Description,
		Targets:        maps.Clone(t.Targets),
		Levels:         s.levels,
		LongestPath:    s.length,
		CriticalPath:   s.critical,
		StopConditions: slices.Clone(t.StopConditions),
		Warnings:       v.probs.Warnings(),
	}
	p.ExperimentOptions = t.ExperimentOptions.Effective()
	for name, a := range t.Actions {
		params := v.resolved[name]
		p.Actions = append(p.Actions, PlannedAction{
			Name: name, ActionID: a.ActionID, Description: a.Description,
			Params: params, Targets: maps.Clone(a.Targets), StartAfter: slices.Clone(a.StartAfter),
			Duration: durationOf(v.specs[name], params), DurationParam: durationParamOf(v.specs[name]),
			Start: s.start[name], End: s.end[name], Level: s.level[name],
			Local: local(a.ActionID),
		})
	}
	slices.SortFunc(p.Actions, func(a, b PlannedAction) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Name, b.Name))
	})
	return p, nil
}

// Order returns the action names in an order that respects startAfter.
func (p *Plan) Order() []string {
	names := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		names[i] = a.Name
	}
	return names
}

// Action returns the planned action with the given name.
func (p *Plan) Action(name string) (*PlannedAction, bool) {
	for i := range p.Actions {
		if p.Actions[i].Name == name {
			return &p.Actions[i], true
		}
	}
	return nil, false
}

// Local reports whether faultkit can run every action of the plan.
func (p *Plan) Local() bool {
	for _, a := range p.Actions {
		if !a.Local {
			return false
		}
	}
	return true
}

// WriteText writes the plan for people to read.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Experiment: %s\n", p.Description)
	nLocal := 0
	for _, a := range p.Actions {
		if a.Local {
			nLocal++
		}
	}
	fmt.Fprintf(&b, "Longest path: %s (%s)\n", humanDuration(p.LongestPath), strings.Join(p.CriticalPath, " -> "))
	fmt.Fprintf(&b, "Actions: %d, %d run locally by faultkit, %d need AWS\n", len(p.Actions), nLocal, len(p.Actions)-nLocal)
	eo := p.ExperimentOptions.Effective()
	fmt.Fprintf(&b, "Options: emptyTargetResolutionMode %s, accountTargeting %s\n", eo.EmptyTargetResolutionMode, eo.AccountTargeting)
	if len(p.Targets) > 0 {
		b.WriteString("\nTargets:\n")
		for _, name := range sortedKeys(p.Targets) {
			t := p.Targets[name]
			fmt.Fprintf(&b, "  %s: %s, %s\n", name, t.ResourceType, describeTarget(t))
		}
	}
	for level := range p.Levels {
		fmt.Fprintf(&b, "\nLevel %d", level)
		if level == 0 {
			b.WriteString(" (at experiment start)")
		} else {
			b.WriteString(" (after startAfter actions complete)")
		}
		b.WriteString(":\n")
		for _, a := range p.Actions {
			if a.Level != level {
				continue
			}
			where := "needs AWS"
			if a.Local {
				where = "local"
			}
			fmt.Fprintf(&b, "  %s  %s  [%s]\n", a.Name, a.ActionID, where)
			dur := "instantaneous"
			if a.DurationParam != "" {
				dur = a.DurationParam + " " + humanDuration(a.Duration)
			}
			fmt.Fprintf(&b, "      time:    T+%s -> T+%s (%s)\n", humanDuration(a.Start), humanDuration(a.End), dur)
			if len(a.StartAfter) > 0 {
				fmt.Fprintf(&b, "      after:   %s\n", strings.Join(a.StartAfter, ", "))
			}
			if len(a.Targets) > 0 {
				var ts []string
				for _, k := range sortedKeys(a.Targets) {
					ts = append(ts, k+"="+a.Targets[k])
				}
				fmt.Fprintf(&b, "      targets: %s\n", strings.Join(ts, ", "))
			}
			if m := a.Params.Map(); len(m) > 0 {
				var ps []string
				for _, k := range sortedKeys(m) {
					ps = append(ps, k+"="+m[k])
				}
				fmt.Fprintf(&b, "      params:  %s\n", strings.Join(ps, " "))
			}
		}
	}
	b.WriteString("\nStop conditions:")
	if len(p.StopConditions) == 0 {
		b.WriteString(" none given")
	}
	for _, sc := range p.StopConditions {
		if sc.Value != "" {
			fmt.Fprintf(&b, " %s %s;", sc.Source, sc.Value)
		} else {
			fmt.Fprintf(&b, " %s;", sc.Source)
		}
	}
	b.WriteString("\n")
	if len(p.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String returns the text rendering of the plan.
func (p *Plan) String() string {
	var b strings.Builder
	_ = p.WriteText(&b)
	return b.String()
}

func describeTarget(t Target) string {
	var parts []string
	parts = append(parts, "selection "+t.SelectionMode)
	if len(t.ResourceArns) > 0 {
		parts = append(parts, fmt.Sprintf("%d ARN(s)", len(t.ResourceArns)))
	}
	if len(t.ResourceTags) > 0 {
		var tags []string
		for _, k := range sortedKeys(t.ResourceTags) {
			tags = append(tags, k+"="+t.ResourceTags[k])
		}
		parts = append(parts, "tags "+strings.Join(tags, ","))
	}
	for _, f := range t.Filters {
		parts = append(parts, fmt.Sprintf("filter %s in [%s]", f.Path, strings.Join(f.Values, ",")))
	}
	if len(t.Parameters) > 0 {
		var ps []string
		for _, k := range sortedKeys(t.Parameters) {
			ps = append(ps, k+"="+t.Parameters[k])
		}
		parts = append(parts, "parameters "+strings.Join(ps, ","))
	}
	return strings.Join(parts, ", ")
}

// humanDuration renders 90*time.Minute as "1h30m" and 0 as "0s".
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// planJSON is the JSON form of a Plan: durations as ISO-8601 strings (as
// FIS writes them) and as seconds.
type planJSON struct {
	Description        string              `json:"description"`
	LongestPath        string              `json:"longestPath"`
	LongestPathSeconds float64             `json:"longestPathSeconds"`
	CriticalPath       []string            `json:"criticalPath"`
	Levels             [][]string          `json:"levels"`
	Targets            map[string]Target   `json:"targets"`
	Actions            []plannedActionJSON `json:"actions"`
	StopConditions     []StopCondition     `json:"stopConditions"`
	ExperimentOptions  ExperimentOptions   `json:"experimentOptions"`
	Local              bool                `json:"local"`
	Warnings           Problems            `json:"warnings"`
}

type plannedActionJSON struct {
	Name            string            `json:"name"`
	ActionID        string            `json:"actionId"`
	Description     string            `json:"description,omitempty"`
	Parameters      map[string]string `json:"parameters"`
	Targets         map[string]string `json:"targets,omitempty"`
	StartAfter      []string          `json:"startAfter,omitempty"`
	Duration        string            `json:"duration"`
	DurationSeconds float64           `json:"durationSeconds"`
	StartSeconds    float64           `json:"startSeconds"`
	EndSeconds      float64           `json:"endSeconds"`
	Level           int               `json:"level"`
	Local           bool              `json:"local"`
}

// MarshalJSON renders the plan for machines.
func (p *Plan) MarshalJSON() ([]byte, error) {
	out := planJSON{
		Description: p.Description, LongestPath: fault.FormatDuration(p.LongestPath),
		LongestPathSeconds: p.LongestPath.Seconds(), CriticalPath: p.CriticalPath, Levels: p.Levels,
		Targets: p.Targets, StopConditions: p.StopConditions, ExperimentOptions: p.ExperimentOptions.Effective(),
		Local: p.Local(), Warnings: p.Warnings,
	}
	if out.Warnings == nil {
		out.Warnings = Problems{}
	}
	for _, a := range p.Actions {
		out.Actions = append(out.Actions, plannedActionJSON{
			Name: a.Name, ActionID: a.ActionID, Description: a.Description, Parameters: a.Params.Map(),
			Targets: a.Targets, StartAfter: a.StartAfter,
			Duration: fault.FormatDuration(a.Duration), DurationSeconds: a.Duration.Seconds(),
			StartSeconds: a.Start.Seconds(), EndSeconds: a.End.Seconds(), Level: a.Level, Local: a.Local,
		})
	}
	return json.Marshal(out)
}

func durationParamOf(spec *fault.ActionSpec) string {
	if spec == nil {
		return ""
	}
	return spec.DurationParam
}
