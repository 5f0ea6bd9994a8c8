package template

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a Problem makes the template invalid.
type Severity int

// Severities.
const (
	// SeverityError is a problem FIS (or the AWS CLI) would reject.
	SeverityError Severity = iota
	// SeverityWarning is accepted by FIS but probably not what the author
	// meant: an unused target, a placeholder left in a value.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText renders the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("template: unknown severity %q", b)
	}
	return nil
}

// Problem codes. They are stable and meant for machines; Message is for
// people and may change.
const (
	CodeSyntax          = "syntax"           // not JSON
	CodeUnknownField    = "unknown-field"    // a field CreateExperimentTemplate does not have
	CodeType            = "type"             // a JSON value of the wrong type
	CodeDuplicateKey    = "duplicate-key"    // the same key twice in one object (warning)
	CodeRequired        = "required"         // a required field is missing
	CodeLength          = "length"           // a string too short or too long
	CodeCount           = "count"            // too many or too few items
	CodeValue           = "value"            // a value outside its allowed set or shape
	CodeARN             = "arn"              // not an ARN of the right service and shape
	CodePlaceholder     = "placeholder"      // an unfilled <PLACEHOLDER>, ${VAR} or {{ var }}
	CodeUnresolved      = "unresolved"       // a ${VAR} with no value given for substitution
	CodeConflict        = "conflict"         // fields that exclude each other
	CodeUnknownAction   = "unknown-action"   // actionId not in the catalogue
	CodeUnknownResource = "unknown-resource" // resourceType not in the catalogue
	CodeTargetKey       = "target-key"       // wrong action target key
	CodeTargetRef       = "target-ref"       // action names a missing or mismatched target
	CodeParameter       = "parameter"        // an action or target parameter is invalid
	CodeStartAfter      = "start-after"      // startAfter names a missing action, or a cycle
	CodeUnusedTarget    = "unused-target"    // a target no action uses (warning)
	CodeQuota           = "quota"            // a FIS service quota is exceeded
	CodeSelectionMode   = "selection-mode"   // selectionMode grammar or range
)

// Problem is one thing wrong with a template, located by a JSON path such
// as "actions.cpu.parameters.percent" (the AWS CLI's notation) and, when
// the template was parsed from text, by line and column.
type Problem struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	// Path is the JSON path of the offending value; "" for the document.
	Path string `json:"path,omitempty"`
	// File, Line and Col locate the value in the source, when known.
	// Line and Col start at 1; Col counts bytes.
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// Location renders "file:line:col", "line:col" or the JSON path.
func (p Problem) Location() string {
	var loc string
	switch {
	case p.Line > 0 && p.File != "":
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		loc = fmt.Sprintf("%d:%d", p.Line, p.Col)
	case p.File != "":
		loc = p.File
	}
	return loc
}

// String renders the problem as "file:line:col: error: path: message".
func (p Problem) String() string {
	var b strings.Builder
	if loc := p.Location(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of problems. It implements error; use Err to get nil
// when the list holds warnings only.
type Problems []Problem

// Error renders one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps if it holds at least one error, and nil otherwise.
func (ps Problems) Err() error {
	if ps.HasErrors() {
		return ps
	}
	return nil
}

// HasErrors reports whether any problem has SeverityError.
func (ps Problems) HasErrors() bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Severity == SeverityError })
}

// Errors returns the problems with SeverityError.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns the problems with SeverityWarning.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// sort orders problems by position in the source, then by path.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Col, b.Col); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
}
