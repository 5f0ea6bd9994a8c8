package template

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

func TestCatalog(t *testing.T) {
	specs := Catalog()
	if len(specs) != 50 {
		t.Fatalf("catalogue has %d actions, the FIS action reference lists 50", len(specs))
	}
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
	}
	if !slices.IsSorted(ids) {
		t.Error("Catalog() not sorted by ID")
	}
	for _, s := range specs {
		if !strings.HasPrefix(s.ID, "aws:") || strings.Count(s.ID, ":") != 2 {
			t.Errorf("action ID %q is not aws:<service>:<action>", s.ID)
		}
		// Every action's target key is its resource type's key.
		if s.ResourceType == "" {
			if s.TargetKey != "" {
				t.Errorf("%s: target key %q without a resource type", s.ID, s.TargetKey)
			}
			continue
		}
		rt, ok := LookupResourceType(s.ResourceType)
		if !ok {
			t.Errorf("%s: resource type %q not in the catalogue", s.ID, s.ResourceType)
			continue
		}
		if rt.TargetKey != s.TargetKey {
			t.Errorf("%s: target key %q, resource type %s says %q", s.ID, s.TargetKey, rt.ID, rt.TargetKey)
		}
		if _, ok := arnRuleFor(s.ResourceType); !ok && s.ResourceType != "aws:eks:pod" &&
			s.ResourceType != "aws:arc:zonal-shift-managed-resource" {
			t.Errorf("%s: no ARN shape for resource type %s", s.ID, s.ResourceType)
		}
		if s.DurationParam != "" {
			if p, ok := s.Param(s.DurationParam); !ok || p.Type != fault.TypeDuration {
				t.Errorf("%s: duration parameter %q is not a duration parameter", s.ID, s.DurationParam)
			}
		}
	}
}

// TestECSSpecsAgreeWithCatalogue checks fault's six specs (which template
// uses) against the facts of FIS's action reference in catalog.json: the
// same resource type, target key, duration parameter, parameter names and
// required flags.
func TestECSSpecsAgreeWithCatalogue(t *testing.T) {
	c := loadCatalog()
	for _, fs := range fault.ECSTaskActionSpecs() {
		ca, ok := c.action(fs.ID)
		if !ok {
			t.Errorf("%s missing from the catalogue", fs.ID)
			continue
		}
		if fs.ResourceType != ca.ResourceType || fs.TargetKey != ca.TargetKey || fs.DurationParam != ca.DurationParam {
			t.Errorf("%s: fault says %s/%s/%s, catalogue %s/%s/%s", fs.ID, fs.ResourceType, fs.TargetKey, fs.DurationParam,
				ca.ResourceType, ca.TargetKey, ca.DurationParam)
		}
		var fnames, cnames []string
		for _, p := range fs.Params {
			fnames = append(fnames, p.Name)
		}
		for _, p := range ca.Params {
			cnames = append(cnames, p.Name)
			fp, ok := fs.Param(p.Name)
			if ok && fp.Required != p.Required {
				t.Errorf("%s.%s: fault required=%v, catalogue %v", fs.ID, p.Name, fp.Required, p.Required)
			}
			if ok && p.Default != "" && !strings.EqualFold(fp.Default, p.Default) {
				t.Errorf("%s.%s: fault default %q, catalogue %q", fs.ID, p.Name, fp.Default, p.Default)
			}
		}
		slices.Sort(fnames)
		slices.Sort(cnames)
		if !slices.Equal(fnames, cnames) {
			t.Errorf("%s: fault params %v, catalogue %v", fs.ID, fnames, cnames)
		}
		// LookupAction hands out fault's spec, not the catalogue's.
		got, _ := LookupAction(fs.ID)
		if p, _ := got.Param("percent"); p != nil && fs.ID == fault.ActionTaskCPUStress && p.Max != 100 {
			t.Errorf("LookupAction(%s) is not fault's spec", fs.ID)
		}
	}
}

func TestCatalogSpecsResolve(t *testing.T) {
	spec, ok := LookupAction("aws:ebs:volume-io-latency")
	if !ok {
		t.Fatal("aws:ebs:volume-io-latency not found")
	}
	p, err := spec.Resolve(map[string]string{"duration": "PT10M", "readIOPercentage": "12.5"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Int("readIOLatencyMilliseconds") != 100 || p.String("readIOPercentage") != "12.5" {
		t.Errorf("defaults not applied: %v", p.Map())
	}
	if _, err := spec.Resolve(map[string]string{"duration": "PT10M", "writeIOPercentage": "0.01"}); err == nil {
		t.Error("writeIOPercentage 0.01 accepted; the range is 0.1-100")
	}
	// Every broken rule is reported, not only the first.
	_, err = spec.Resolve(map[string]string{"duration": "PT10M", "readIOPercentage": "0.01", "writeIOPercentage": "101"})
	if n := len(paramErrors(err)); n != 2 {
		t.Errorf("got %d parameter errors, want 2: %v", n, err)
	}
	if _, ok := LookupAction("aws:ecs:task-teleport"); ok {
		t.Error("unknown action found")
	}
	if to, ok := RenamedAction("aws:elasticache:interrupt-cluster-az-power"); !ok || to != "aws:elasticache:replicationgroup-interrupt-az-power" {
		t.Errorf("RenamedAction = %q, %v", to, ok)
	}
	// The embedded file is well-formed JSON with every action's params listed.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(catalogJSON, &raw); err != nil {
		t.Fatal(err)
	}
}

func TestIsLocal(t *testing.T) {
	var local []string
	for _, s := range Catalog() {
		if IsLocal(s.ID) {
			local = append(local, s.ID)
		}
	}
	want := []string{"aws:ecs:task-cpu-stress", "aws:ecs:task-io-stress", "aws:ecs:task-kill-process",
		"aws:ecs:task-network-blackhole-port", "aws:ecs:task-network-latency", "aws:ecs:task-network-packet-loss",
		"aws:fis:wait"}
	if !slices.Equal(local, want) {
		t.Errorf("local actions = %v, want %v", local, want)
	}
}
