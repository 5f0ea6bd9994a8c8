package fault

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParamType is the type of a FIS action parameter. FIS carries every value
// as a string; the type says how the string is read.
type ParamType int

// Parameter types.
const (
	TypeString   ParamType = iota + 1 // any string, optionally matching Pattern
	TypeInt                           // a base-10 integer within [Min, Max]
	TypeBool                          // "true" or "false", any case
	TypeDuration                      // ISO-8601, within [MinDuration, MaxDuration]
	TypeEnum                          // one of Values, exactly
	TypeSources                       // FIS "sources" grammar, see ParseSources
)

func (t ParamType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "integer"
	case TypeBool:
		return "boolean"
	case TypeDuration:
		return "ISO-8601 duration"
	case TypeEnum:
		return "enum"
	case TypeSources:
		return "sources"
	}
	return fmt.Sprintf("ParamType(%d)", int(t))
}

// ParamSpec describes one action parameter: its name as FIS spells it, its
// type, default and allowed range. Specs are plain data, shared by the
// fault registry (which builds faults) and the template validator (which
// never builds them), so both apply the same rules.
type ParamSpec struct {
	Name     string
	Type     ParamType
	Required bool
	// Default is applied when the parameter is absent; "" means no default.
	Default string
	// Min and Max bound TypeInt values, inclusive.
	Min, Max int64
	// MinDuration and MaxDuration bound TypeDuration values, inclusive.
	MinDuration, MaxDuration time.Duration
	// Values lists the allowed TypeEnum values.
	Values []string
	// Pattern, when set, must match TypeString values.
	Pattern *regexp.Regexp
	// Ignored marks parameters accepted for FIS compatibility that have no
	// effect in faultkit (installDependencies: there is nothing to install).
	Ignored bool
	// Doc is a one-line description.
	Doc string
}

// check validates one raw value against the spec and returns the reason it
// is invalid, or "".
func (p *ParamSpec) check(v string) string {
	switch p.Type {
	case TypeInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "not an integer"
		}
		if n < p.Min || n > p.Max {
			return fmt.Sprintf("out of range %d-%d", p.Min, p.Max)
		}
	case TypeBool:
		if _, err := parseBool(v); err != nil {
			return `must be "true" or "false"`
		}
	case TypeDuration:
		d, err := ParseDuration(v)
		if err != nil {
			return err.Error()
		}
		if p.MinDuration > 0 && d < p.MinDuration {
			return fmt.Sprintf("shorter than the minimum %s", FormatDuration(p.MinDuration))
		}
		if p.MaxDuration > 0 && d > p.MaxDuration {
			return fmt.Sprintf("longer than the maximum %s", FormatDuration(p.MaxDuration))
		}
	case TypeEnum:
		if !slices.Contains(p.Values, v) {
			for _, a := range p.Values {
				if strings.EqualFold(a, v) {
					return fmt.Sprintf("must be one of %s (values are case-sensitive: %q)", strings.Join(p.Values, ", "), a)
				}
			}
			return "must be one of " + strings.Join(p.Values, ", ")
		}
	case TypeSources:
		if _, err := ParseSources(v); err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				return pe.Reason
			}
			return err.Error()
		}
	case TypeString:
		if p.Pattern != nil && !p.Pattern.MatchString(v) {
			return "must match " + p.Pattern.String()
		}
	}
	return ""
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", v)
}

// ActionSpec describes one FIS action: its ID, the resource type and target
// key it acts on, and its parameters.
type ActionSpec struct {
	ID           string // e.g. "aws:ecs:task-cpu-stress"
	Description  string
	ResourceType string // e.g. "aws:ecs:task"; "" for actions without targets
	TargetKey    string // e.g. "Tasks"
	// DurationParam names the parameter that bounds the action's run time,
	// or "" for instantaneous actions such as task-kill-process.
	DurationParam string
	Params        []ParamSpec
	// Check, when set, validates rules that span parameters (for example
	// "delay and jitter not both 0"). It runs only when every parameter is
	// valid on its own, and returns *ParamError values.
	Check func(Params) error
}

// Param returns the spec of the named parameter.
func (s *ActionSpec) Param(name string) (*ParamSpec, bool) {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i], true
		}
	}
	return nil, false
}

// Resolve validates raw parameters against the spec, applies defaults and
// returns the effective parameters. Every problem is reported, not just the
// first: the error joins one *ParamError per parameter (each wraps
// ErrInvalidParameter), sorted by parameter name.
func (s *ActionSpec) Resolve(raw map[string]string) (Params, error) {
	var errs []*ParamError
	vals := make(map[string]string, len(s.Params))
	set := make(map[string]bool, len(raw))
	for name, v := range raw {
		p, ok := s.Param(name)
		if !ok {
			errs = append(errs, &ParamError{Action: s.ID, Param: name, Value: v,
				Reason: "unknown parameter; known: " + strings.Join(s.paramNames(), ", ")})
			continue
		}
		if why := p.check(v); why != "" {
			errs = append(errs, &ParamError{Action: s.ID, Param: name, Value: v, Reason: why})
			continue
		}
		vals[name] = v
		set[name] = true
	}
	for i := range s.Params {
		p := &s.Params[i]
		if _, given := raw[p.Name]; given {
			continue
		}
		switch {
		case p.Required:
			errs = append(errs, &ParamError{Action: s.ID, Param: p.Name, Reason: "required parameter is missing"})
		case p.Default != "":
			vals[p.Name] = p.Default
		}
	}
	params := Params{spec: s, vals: vals, set: set}
	if len(errs) == 0 && s.Check != nil {
		if err := s.Check(params); err != nil {
			return Params{}, err
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Param < errs[j].Param })
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return Params{}, errors.Join(joined...)
	}
	return params, nil
}

func (s *ActionSpec) paramNames() []string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return names
}

// Params holds validated parameters with defaults applied. The accessors
// return the zero value for names the spec does not declare or that have
// neither a value nor a default; they cannot fail on values Resolve accepted.
type Params struct {
	spec *ActionSpec
	vals map[string]string
	set  map[string]bool
}

// Spec returns the action spec the parameters were resolved against.
func (p Params) Spec() *ActionSpec { return p.spec }

// Has reports whether the caller gave name explicitly (not by default).
func (p Params) Has(name string) bool { return p.set[name] }

// String returns the effective value of name.
func (p Params) String(name string) string { return p.vals[name] }

// Int returns the effective value of an integer parameter.
func (p Params) Int(name string) int64 {
	n, _ := strconv.ParseInt(p.vals[name], 10, 64)
	return n
}

// Bool returns the effective value of a boolean parameter.
func (p Params) Bool(name string) bool {
	b, _ := parseBool(p.vals[name])
	return b
}

// Duration returns the effective value of a duration parameter.
func (p Params) Duration(name string) time.Duration {
	d, _ := ParseDuration(p.vals[name])
	return d
}

// Sources returns the parsed items of a sources parameter.
func (p Params) Sources(name string) []Source {
	s, _ := ParseSources(p.vals[name])
	return s
}

// Map returns a copy of the effective parameters, defaults included.
func (p Params) Map() map[string]string {
	m := make(map[string]string, len(p.vals))
	for k, v := range p.vals {
		m[k] = v
	}
	return m
}
