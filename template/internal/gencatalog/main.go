// Command gencatalog turns the facts of FIS's action reference (compiled
// from AWS's documentation as fis-actions.json, which is not part of this
// repository) into
// template/catalog.json: action IDs, resource types, target keys,
// parameter names, types, required flags, defaults, ranges and enums. It
// keeps facts only, no prose.
//
//	go run ./template/internal/gencatalog -in fis-actions.json -out template/catalog.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"slices"
	"strings"
)

type srcParam struct {
	Required *bool    `json:"required"`
	Type     string   `json:"type"`
	Default  any      `json:"default"`
	Min      any      `json:"min"`
	Max      any      `json:"max"`
	Enum     []string `json:"enum"`
}

type srcAction struct {
	ResourceType      *string             `json:"resourceType"`
	TargetKey         *string             `json:"targetKey"`
	DurationParameter *string             `json:"durationParameter"`
	Parameters        map[string]srcParam `json:"parameters"`
}

type srcResourceType struct {
	ActionTargetKey  string              `json:"actionTargetKey"`
	TargetParameters map[string]srcParam `json:"targetParameters"`
}

type srcLegacy struct {
	ReplacedBy string `json:"replacedBy"`
}

type source struct {
	ResourceTypes map[string]srcResourceType `json:"resourceTypes"`
	Actions       map[string]srcAction       `json:"actions"`
	LegacyActions map[string]srcLegacy       `json:"legacyActions"`
}

// Output format: see template/catalog.go.
type outParam struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Default  string   `json:"default,omitempty"`
	Min      string   `json:"min,omitempty"`
	Max      string   `json:"max,omitempty"`
	Values   []string `json:"values,omitempty"`
}

type outAction struct {
	ID            string     `json:"id"`
	ResourceType  string     `json:"resourceType,omitempty"`
	TargetKey     string     `json:"targetKey,omitempty"`
	DurationParam string     `json:"durationParam,omitempty"`
	Params        []outParam `json:"params"`
}

type outResourceType struct {
	ID         string     `json:"id"`
	TargetKey  string     `json:"targetKey"`
	Parameters []outParam `json:"parameters,omitempty"`
}

type output struct {
	ResourceTypes []outResourceType `json:"resourceTypes"`
	Actions       []outAction       `json:"actions"`
	Renamed       map[string]string `json:"renamed"`
}

func main() {
	in := flag.String("in", "fis-actions.json", "FIS action facts (JSON)")
	out := flag.String("out", "catalog.json", "catalogue to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var src source
	if err := json.Unmarshal(data, &src); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	var o output
	for _, id := range sortedKeys(src.ResourceTypes) {
		rt := src.ResourceTypes[id]
		ort := outResourceType{ID: id, TargetKey: rt.ActionTargetKey}
		for _, name := range sortedKeys(rt.TargetParameters) {
			p := rt.TargetParameters[name]
			op := outParam{Name: name, Type: "string", Values: p.Enum}
			if p.Required != nil && *p.Required {
				op.Required = true
			}
			if len(p.Enum) > 0 {
				op.Type = "enum"
			}
			ort.Parameters = append(ort.Parameters, op)
		}
		o.ResourceTypes = append(o.ResourceTypes, ort)
	}
	for _, id := range sortedKeys(src.Actions) {
		a := src.Actions[id]
		oa := outAction{ID: id, ResourceType: deref(a.ResourceType), TargetKey: deref(a.TargetKey),
			DurationParam: deref(a.DurationParameter)}
		for _, name := range sortedKeys(a.Parameters) {
			op, err := convertParam(name, a.Parameters[name])
			if err != nil {
				log.Fatalf("%s: %v", id, err)
			}
			oa.Params = append(oa.Params, op)
		}
		if oa.Params == nil {
			oa.Params = []outParam{}
		}
		o.Actions = append(o.Actions, oa)
	}
	o.Renamed = map[string]string{}
	for id, l := range src.LegacyActions {
		if l.ReplacedBy != "" {
			o.Renamed[id] = l.ReplacedBy
		}
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "gencatalog: %d actions, %d resource types\n", len(o.Actions), len(o.ResourceTypes))
}

// convertParam maps the reference's prose type names onto the catalogue's
// closed set of types.
func convertParam(name string, p srcParam) (outParam, error) {
	op := outParam{Name: name, Required: p.Required != nil && *p.Required}
	t := p.Type
	switch {
	case strings.HasPrefix(t, "duration"):
		op.Type = "duration"
	case strings.HasPrefix(t, "integer"):
		op.Type = "int"
	case strings.HasPrefix(t, "number"):
		op.Type = "number"
	case strings.HasPrefix(t, "boolean"):
		op.Type = "bool"
	case t == "string enum":
		op.Type = "enum"
	case t == "string (comma-separated list of enum values)":
		op.Type = "enum-list"
	case t == "string (comma-separated ARNs)":
		op.Type = "arn-list"
	case t == "ARN string":
		op.Type = "arn"
	case t == "JSON string":
		op.Type = "json"
	case t == "string (comma-separated list)":
		op.Type = "list"
	case t == "string":
		op.Type = "string"
	default:
		return op, fmt.Errorf("parameter %s: unknown type %q", name, t)
	}
	if op.Type == "enum" || op.Type == "enum-list" {
		op.Values = p.Enum
	}
	op.Min = scalar(p.Min)
	op.Max = scalar(p.Max)
	if d := scalar(p.Default); d != "" && !strings.ContainsAny(d, " \t") {
		// Prose defaults ("AWS FIS provided image for the Region") are
		// descriptions, not values; only literal values are kept.
		op.Default = d
		if op.Type == "bool" {
			op.Default = strings.ToLower(d)
		}
	}
	return op, nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", x), "0"), ".")
	case bool:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
