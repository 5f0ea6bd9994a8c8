package experiment_test

import (
	"context"
	"testing"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// A real FIS template, through Parse, Validate and NewPlan: two parallel
// ECS actions and a third after both, on a COUNT(2) target with the
// engines replaced by test faults.
const parallelTemplate = `{
  "description": "two in parallel, then a third",
  "roleArn": "arn:aws:iam::123456789012:role/fis-demo",
  "targets": {
    "tasks": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "demo"}, "selectionMode": "COUNT(2)"}
  },
  "actions": {
    "cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S", "percent": "30"}, "targets": {"Tasks": "tasks"}},
    "io":  {"actionId": "aws:ecs:task-io-stress",  "parameters": {"duration": "PT1S"}, "targets": {"Tasks": "tasks"}},
    "kill": {"actionId": "aws:ecs:task-kill-process", "parameters": {"processName": "demo-app"},
             "targets": {"Tasks": "tasks"}, "startAfter": ["cpu", "io"]}
  },
  "stopConditions": [{"source": "none"}],
  "experimentOptions": {"emptyTargetResolutionMode": "skip"}
}`

func TestRunTemplate(t *testing.T) {
	t.Parallel()
	tpl, err := template.Parse([]byte(parallelTemplate))
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	cfg := baseConfig(l)
	cfg.Targets = hosts(3)
	cfg.RegistryFor = testRegistryFor(l, fault.ActionTaskCPUStress, fault.ActionTaskIOStress, fault.ActionTaskKillProcess)
	rep, err := experiment.RunTemplate(context.Background(), tpl, cfg)
	if err != nil {
		t.Fatalf("RunTemplate: %v", err)
	}
	if rep.State.Status != experiment.StatusCompleted || rep.Template.Description != "two in parallel, then a third" {
		t.Fatalf("report = %+v %+v", rep.State, rep.Template)
	}
	for _, id := range []string{fault.ActionTaskCPUStress, fault.ActionTaskIOStress, fault.ActionTaskKillProcess} {
		if n := len(l.find("inject", id)); n != 2 {
			t.Errorf("%s injected on %d targets, want 2 (COUNT(2))", id, n)
		}
	}
	cpu, io, kill := mustAction(t, rep, "cpu"), mustAction(t, rep, "io"), mustAction(t, rep, "kill")
	if !cpu.StartTime.Before(io.EndTime) || !io.StartTime.Before(cpu.EndTime) {
		t.Errorf("cpu %v-%v and io %v-%v did not overlap", cpu.StartTime, cpu.EndTime, io.StartTime, io.EndTime)
	}
	if kill.StartTime.Before(cpu.EndTime) || kill.StartTime.Before(io.EndTime) {
		t.Errorf("kill started %v before cpu (%v) and io (%v) completed", kill.StartTime, cpu.EndTime, io.EndTime)
	}
	if v, _ := cpu.Metric("load_percent"); v != 30 {
		t.Errorf("cpu load_percent = %v, want the template's 30", v)
	}
	if kill.Duration != "PT0S" || kill.DurationSeconds != 0 {
		t.Errorf("kill duration = %q", kill.Duration)
	}
	if left := l.stillApplied(); len(left) > 0 {
		t.Errorf("left applied: %v", left)
	}
}
