package experiment

// Status is the status of an experiment, with FIS's names
// (GetExperiment's state.status).
type Status string

// Experiment statuses, as FIS names them.
const (
	StatusPending    Status = "pending"    // not started
	StatusInitiating Status = "initiating" // resolving targets, building faults
	StatusRunning    Status = "running"    // actions are running
	StatusCompleted  Status = "completed"  // every action succeeded (or was skipped)
	StatusStopping   Status = "stopping"   // a stop condition fired or someone stopped it
	StatusStopped    Status = "stopped"    // running actions were reverted, pending ones cancelled
	StatusFailed     Status = "failed"     // an action or the set-up failed
	StatusCancelled  Status = "cancelled"  // FIS: stopped by a safety lever; faultkit has none and never reports it
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusStopped, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// ActionStatus is the status of one action, with FIS's names
// (GetExperiment's actions.*.state.status).
type ActionStatus string

// Action statuses, as FIS names them.
const (
	ActionPending    ActionStatus = "pending"    // waiting for the experiment or its startAfter actions
	ActionInitiating ActionStatus = "initiating" // injecting its faults
	ActionRunning    ActionStatus = "running"    // holding its faults for its duration
	ActionCompleted  ActionStatus = "completed"  // held for its duration and reverted
	ActionCancelled  ActionStatus = "cancelled"  // the experiment stopped before the action started
	ActionStopping   ActionStatus = "stopping"   // reverting because the experiment is stopping
	ActionStopped    ActionStatus = "stopped"    // reverted before its duration elapsed
	ActionFailed     ActionStatus = "failed"     // injecting, holding or reverting failed
	ActionSkipped    ActionStatus = "skipped"    // no targets (emptyTargetResolutionMode skip) or unsupported
)

// Terminal reports whether s is a final status.
func (s ActionStatus) Terminal() bool {
	switch s {
	case ActionCompleted, ActionCancelled, ActionStopped, ActionFailed, ActionSkipped:
		return true
	}
	return false
}

// ExperimentState is the experiment's status with the reason for it, as
// FIS reports {"status": ..., "reason": ...}.
type ExperimentState struct {
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// ActionState is an action's status with the reason for it.
type ActionState struct {
	Status ActionStatus `json:"status"`
	Reason string       `json:"reason,omitempty"`
}
