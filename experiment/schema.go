package experiment

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

//go:embed report.schema.json
var reportSchema []byte

// ReportSchema returns the JSON Schema (draft 2020-12) of the report's
// JSON form.
func ReportSchema() []byte { return bytes.Clone(reportSchema) }

// ErrSchema is wrapped by the errors of ValidateReport.
var ErrSchema = errors.New("report does not match its schema")

// ValidateReport checks a JSON report against ReportSchema and returns
// every mismatch, each with its JSON path. It implements the part of JSON
// Schema the report's schema uses: type, enum, required, properties,
// additionalProperties, items, pattern, minimum, format date-time and
// local $ref.
func ValidateReport(data []byte) error {
	var schema map[string]any
	if err := json.Unmarshal(reportSchema, &schema); err != nil {
		return fmt.Errorf("experiment: embedded schema: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	v := &schemaValidator{root: schema}
	v.check("$", doc, schema)
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrSchema, strings.Join(v.errs, "\n  "))
}

type schemaValidator struct {
	root map[string]any
	errs []string
}

func (v *schemaValidator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

func (v *schemaValidator) resolve(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	cur := any(v.root)
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	r, _ := cur.(map[string]any)
	if r == nil {
		return map[string]any{}
	}
	return r
}

func jsonType(x any) string {
	switch n := x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := n.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func (v *schemaValidator) check(path string, x any, s map[string]any) {
	s = v.resolve(s)
	if t, ok := s["type"].(string); ok {
		got := jsonType(x)
		if got != t && (t != "number" || got != "integer") {
			v.errorf(path, "want %s, got %s", t, got)
			return
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(x) {
				found = true
			}
		}
		if !found {
			v.errorf(path, "%v is not one of %v", x, enum)
		}
	}
	switch val := x.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil || !re.MatchString(val) {
				v.errorf(path, "%q does not match %s", val, p)
			}
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, val); err != nil {
				v.errorf(path, "%q is not an RFC 3339 date-time", val)
			}
		}
	case json.Number:
		if m, ok := s["minimum"].(float64); ok {
			if f, _ := val.Float64(); f < m {
				v.errorf(path, "%s is less than %v", val, m)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range val {
				v.check(fmt.Sprintf("%s[%d]", path, i), e, items)
			}
		}
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := val[r.(string)]; !ok {
					v.errorf(path, "missing required property %q", r)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				v.check(path+"."+k, val[k], ps)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					v.errorf(path, "unexpected property %q (allowed: %s)", k, strings.Join(slices.Sorted(mapKeysAny(props)), ", "))
				}
			case map[string]any:
				v.check(path+"."+k, val[k], ap)
			}
		}
	}
}

func mapKeysAny(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
