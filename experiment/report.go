package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// ReportSchemaVersion is the version of the report's JSON form; the
// schema is report.schema.json in this package.
const ReportSchemaVersion = 1

// Report is the record of one experiment: its final state, what each
// action did to which target with which measured effect, every state
// change in order, and the errors. Its JSON form is documented by
// report.schema.json. Run returns it; Observer events carry snapshots of
// it while the experiment runs.
type Report struct {
	SchemaVersion int             `json:"schemaVersion"`
	ID            string          `json:"id"`
	Template      TemplateInfo    `json:"template"`
	State         ExperimentState `json:"state"`
	// StartTime is when the experiment left pending; EndTime when it
	// reached a final state (zero while running).
	StartTime      time.Time                `json:"startTime"`
	EndTime        time.Time                `json:"endTime,omitzero"`
	DryRun         bool                     `json:"dryRun,omitempty"`
	Targets        map[string]*TargetReport `json:"targets"`
	Actions        []*ActionReport          `json:"actions"`
	StopConditions []*StopConditionReport   `json:"stopConditions"`
	Timeline       []Event                  `json:"timeline"`
	Errors         []string                 `json:"errors"`
}

// TemplateInfo identifies the template the experiment ran.
type TemplateInfo struct {
	// File is the template's path, if it came from a file.
	File string `json:"file,omitempty"`
	// Digest is "sha256:" and the hex SHA-256 of the template's bytes.
	Digest      string `json:"digest,omitempty"`
	Description string `json:"description"`
}

// Digest returns "sha256:<hex>" of a template's bytes, for TemplateInfo.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TargetReport is how one template target resolved.
type TargetReport struct {
	ResourceType  string `json:"resourceType"`
	SelectionMode string `json:"selectionMode"`
	// Candidates is how many local targets matched before selection.
	Candidates int      `json:"candidates"`
	Selected   []Target `json:"selected"`
}

// ActionReport is one action of the experiment.
type ActionReport struct {
	Name       string      `json:"name"`
	ActionID   string      `json:"actionId"`
	State      ActionState `json:"state"`
	StartAfter []string    `json:"startAfter,omitempty"`
	// Parameters are the effective parameters, defaults applied.
	Parameters map[string]string `json:"parameters"`
	// TargetName is the template target the action acts on ("" for
	// aws:fis:wait).
	TargetName string `json:"targetName,omitempty"`
	// Duration is the planned hold, ISO-8601 as in the template;
	// DurationSeconds the same in seconds.
	Duration        string  `json:"duration"`
	DurationSeconds float64 `json:"durationSeconds"`
	// StartTime is when the action left pending; EndTime when it reached
	// a final state.
	StartTime time.Time `json:"startTime,omitzero"`
	EndTime   time.Time `json:"endTime,omitzero"`
	// Faults are the injected faults, one per selected target.
	Faults []*FaultReport `json:"faults"`
}

// FaultReport is one fault of an action on one target, with the figures
// the engine measured (achieved CPU load, packets dropped, processes
// signalled).
type FaultReport struct {
	Fault    string         `json:"fault"`
	Target   Target         `json:"target"`
	State    fault.State    `json:"state,omitempty"`
	Injected time.Time      `json:"injected,omitzero"`
	Reverted time.Time      `json:"reverted,omitzero"`
	Metrics  []fault.Metric `json:"metrics"`
	Error    string         `json:"error,omitempty"`
}

// StopConditionReport is one stop condition and what its checks saw.
type StopConditionReport struct {
	Source string `json:"source"`
	Value  string `json:"value,omitempty"`
	Checks int    `json:"checks"`
	Errors int    `json:"errors"`
	// Tripped is set when the condition stopped the experiment.
	Tripped   bool   `json:"tripped"`
	Reason    string `json:"reason,omitempty"`
	LastError string `json:"lastError,omitempty"`
	errStreak int    // failed checks in a row
}

// EventType says what an Event is about.
type EventType string

// Event types.
const (
	EventExperiment    EventType = "experiment"     // the experiment's state changed
	EventAction        EventType = "action"         // an action's state changed
	EventFault         EventType = "fault"          // a fault was injected or reverted on a target
	EventStopCondition EventType = "stop-condition" // a stop condition tripped or could not be checked
	EventProgress      EventType = "progress"       // periodic, for live views; not in the timeline
)

// Event is one entry of the timeline, also passed to Config.Observer.
type Event struct {
	Time time.Time `json:"time"`
	Type EventType `json:"type"`
	// Name is the action name (action and fault events), the stop
	// condition's value, or "" for the experiment.
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Target names the target of a fault event.
	Target string `json:"target,omitempty"`
	// Report is a snapshot of the whole experiment at the event, for
	// Observer; nil in the report's own timeline.
	Report *Report `json:"-"`
}

// Action returns the report of the named action.
func (r *Report) Action(name string) (*ActionReport, bool) {
	for _, a := range r.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// Metric returns the value of the named metric of the action's first
// fault that has it.
func (a *ActionReport) Metric(name string) (float64, bool) {
	for _, f := range a.Faults {
		for _, m := range f.Metrics {
			if m.Name == name {
				return m.Value, true
			}
		}
	}
	return 0, false
}

// clone returns a deep copy, for snapshots handed to observers.
func (r *Report) clone() *Report {
	data, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	var c Report
	if err := json.Unmarshal(data, &c); err != nil {
		return nil
	}
	return &c
}
