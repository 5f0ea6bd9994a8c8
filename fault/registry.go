package fault

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Action pairs an action's spec (data) with the constructor that builds a
// Fault from validated parameters (code). Engine packages export their
// actions, e.g. stress.Actions(), and callers compose them explicitly with
// NewRegistry: there is no package-level registry.
type Action struct {
	Spec *ActionSpec
	// New builds the fault from parameters Resolve accepted.
	New func(Params) (Fault, error)
}

// Registry maps FIS action IDs to constructors.
type Registry struct {
	actions map[string]Action
}

// NewRegistry composes groups of actions. An action ID given twice, or an
// action without a spec or constructor, is an error.
func NewRegistry(groups ...[]Action) (*Registry, error) {
	r := &Registry{actions: make(map[string]Action)}
	for _, g := range groups {
		for _, a := range g {
			if a.Spec == nil || a.New == nil {
				return nil, fmt.Errorf("fault: registry: action without spec or constructor")
			}
			if _, dup := r.actions[a.Spec.ID]; dup {
				return nil, fmt.Errorf("fault: registry: action %q registered twice", a.Spec.ID)
			}
			r.actions[a.Spec.ID] = a
		}
	}
	return r, nil
}

// Lookup returns the action registered for id.
func (r *Registry) Lookup(id string) (Action, bool) {
	a, ok := r.actions[id]
	return a, ok
}

// IDs returns the registered action IDs, sorted.
func (r *Registry) IDs() []string {
	return slices.Sorted(maps.Keys(r.actions))
}

// New validates FIS string parameters for action id, applies FIS defaults
// and builds the fault. It also returns the action's duration (0 for
// instantaneous actions such as task-kill-process). Errors wrap
// ErrUnknownAction or ErrInvalidParameter; nothing is injected.
func (r *Registry) New(id string, params map[string]string) (Fault, time.Duration, error) {
	a, ok := r.actions[id]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownAction, id, r.IDs())
	}
	p, err := a.Spec.Resolve(params)
	if err != nil {
		return nil, 0, err
	}
	f, err := a.New(p)
	if err != nil {
		return nil, 0, err
	}
	var d time.Duration
	if a.Spec.DurationParam != "" {
		d = p.Duration(a.Spec.DurationParam)
	}
	return f, d, nil
}
