package experiment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/template"
)

const ec2TaskARN = "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"

func TestDetectTargets(t *testing.T) {
	t.Setenv(ecsmeta.EnvEndpointV4, "")
	got, err := experiment.DetectTargets(context.Background())
	if err != nil || len(got) != 1 || got[0].Kind != experiment.KindHost {
		t.Fatalf("off ECS: %+v, %v; want the host", got, err)
	}

	useECSMetadata(t)
	got, err = experiment.DetectTargets(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("on ECS: %+v, %v", got, err)
	}
	task := got[0]
	if task.Kind != experiment.KindTask || task.TaskARN != ec2TaskARN || task.AvailabilityZone != "us-west-2d" ||
		task.Tags["app"] != "curltest" || task.NetNS != "" {
		t.Errorf("task target = %+v", task)
	}
}

// Inside a task, the template's resourceArns, tags and zone filters decide
// whether "this task" is a target, as FIS decides for real tasks.
func TestRunAsThisTask(t *testing.T) {
	useECSMetadata(t)
	for _, tc := range []struct {
		name   string
		target template.Target
		want   experiment.Status
	}{
		{"by ARN", template.Target{ResourceType: "aws:ecs:task", ResourceArns: []string{ec2TaskARN}, SelectionMode: "ALL"}, experiment.StatusCompleted},
		{"by tag", template.Target{ResourceType: "aws:ecs:task", ResourceTags: map[string]string{"team": "platform"}, SelectionMode: "ALL"}, experiment.StatusCompleted},
		{"other task", template.Target{ResourceType: "aws:ecs:task",
			ResourceArns: []string{"arn:aws:ecs:us-west-2:111122223333:task/default/0000000000000000000000000000000a"}, SelectionMode: "ALL"}, experiment.StatusFailed},
		{"other zone", template.Target{ResourceType: "aws:ecs:task", ResourceTags: map[string]string{"app": "curltest"},
			Filters: []template.Filter{{Path: "AvailabilityZone", Values: []string{"us-west-2a"}}}, SelectionMode: "ALL"}, experiment.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger()
			plan := buildPlan(t, map[string]template.Target{"tasks": tc.target}, act{name: "a", dur: 10 * time.Millisecond, target: "tasks"})
			cfg := baseConfig(l)
			cfg.Targets = nil // DetectTargets
			rep, err := experiment.Run(context.Background(), plan, cfg)
			if rep.State.Status != tc.want {
				t.Fatalf("state = %+v (%v), want %s", rep.State, err, tc.want)
			}
			if tc.want == experiment.StatusCompleted {
				if inj := l.find("inject", "a"); len(inj) != 1 || inj[0].target != ec2TaskARN {
					t.Errorf("injections = %+v, want one on the task", inj)
				}
			} else if !errors.Is(err, experiment.ErrFailed) || !strings.Contains(rep.State.Reason, "target resolution failed") {
				t.Errorf("error = %v, reason %q", err, rep.State.Reason)
			}
		})
	}
}

// Under emptyTargetResolutionMode skip, a target by tags that matches
// nothing skips its actions, but one by ARN still fails, as in FIS.
func TestSkipModeAndARNTargets(t *testing.T) {
	useECSMetadata(t)
	for _, tc := range []struct {
		name   string
		target template.Target
		want   experiment.Status
		action experiment.ActionStatus
	}{
		{"tags", template.Target{ResourceType: "aws:ecs:task", ResourceTags: map[string]string{"app": "other"}, SelectionMode: "ALL"},
			experiment.StatusCompleted, experiment.ActionSkipped},
		{"arns", template.Target{ResourceType: "aws:ecs:task",
			ResourceArns: []string{"arn:aws:ecs:us-west-2:111122223333:task/default/0000000000000000000000000000000a"}, SelectionMode: "ALL"},
			experiment.StatusFailed, experiment.ActionCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger()
			plan := buildPlan(t, map[string]template.Target{"tasks": tc.target}, act{name: "a", dur: 10 * time.Millisecond, target: "tasks"})
			plan.ExperimentOptions.EmptyTargetResolutionMode = template.EmptyTargetSkip
			cfg := baseConfig(l)
			cfg.Targets = nil
			rep, _ := experiment.Run(context.Background(), plan, cfg)
			if rep.State.Status != tc.want || rep.Actions[0].State.Status != tc.action {
				t.Errorf("experiment %+v, action %+v; want %s, %s", rep.State, rep.Actions[0].State, tc.want, tc.action)
			}
		})
	}
}

// useECSMetadata puts the test inside an ECS task on EC2: a task metadata
// endpoint v4 (ecsmetatest's EC2 sample) for the rest of the test.
func useECSMetadata(t *testing.T) {
	t.Helper()
	srv := ecsmetatest.NewServer(ecsmetatest.EC2())
	t.Cleanup(srv.Close)
	t.Setenv(ecsmeta.EnvEndpointV4, srv.Endpoint())
}
