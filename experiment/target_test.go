package experiment_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/template"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	good := map[string]experiment.Target{
		"host":                           experiment.Host(),
		"netns:demo":                     {Kind: experiment.KindNetNS, Name: "netns:/run/netns/demo", NetNS: "/run/netns/demo"},
		"netns:/proc/1/ns/net":           {Kind: experiment.KindNetNS, Name: "netns:/proc/1/ns/net", NetNS: "/proc/1/ns/net"},
		"/run/netns/x":                   {Kind: experiment.KindNetNS, Name: "netns:/run/netns/x", NetNS: "/run/netns/x"},
		"pid:42":                         {Kind: experiment.KindPID, Name: "pid:42", PID: 42, NetNS: "/proc/42/ns/net"},
		"42":                             {Kind: experiment.KindPID, Name: "pid:42", PID: 42, NetNS: "/proc/42/ns/net"},
		"cgroup:/system.slice/x.service": {Kind: experiment.KindCgroup, Name: "cgroup:/system.slice/x.service", Cgroup: "/system.slice/x.service"},
	}
	for in, want := range good {
		got, err := experiment.ParseTarget(in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", in, err)
			continue
		}
		if got.Kind != want.Kind || got.Name != want.Name || got.NetNS != want.NetNS || got.PID != want.PID || got.Cgroup != want.Cgroup {
			t.Errorf("ParseTarget(%q) = %+v, want %+v", in, got, want)
		}
	}
	for _, in := range []string{"", "hosts", "pid:0", "pid:-3", "pid:x", "netns:", "netns:a/b", "cgroup:rel", "vm:1"} {
		if _, err := experiment.ParseTarget(in); !errors.Is(err, experiment.ErrTarget) {
			t.Errorf("ParseTarget(%q) = %v, want ErrTarget", in, err)
		}
	}
}

func TestTargetCheck(t *testing.T) {
	t.Parallel()
	self, _ := experiment.ParseTarget("pid:" + strconv.Itoa(os.Getpid()))
	if err := self.Check(); err != nil {
		t.Errorf("own pid: %v", err)
	}
	gone, _ := experiment.ParseTarget("pid:2147483646")
	if err := gone.Check(); !errors.Is(err, experiment.ErrTarget) {
		t.Errorf("absent pid: %v", err)
	}
	ns, _ := experiment.ParseTarget("netns:/proc/self/ns/net")
	if err := ns.Check(); err != nil {
		t.Errorf("own netns: %v", err)
	}
	missing, _ := experiment.ParseTarget("netns:fk-does-not-exist")
	if err := missing.Check(); !errors.Is(err, experiment.ErrTarget) {
		t.Errorf("absent netns: %v", err)
	}
	cg, _ := experiment.ParseTarget("cgroup:/fk-no-such-cgroup")
	if err := cg.Check(); !errors.Is(err, experiment.ErrTarget) {
		t.Errorf("absent cgroup: %v", err)
	}
}

func TestStaticResolverMatchesTasks(t *testing.T) {
	t.Parallel()
	task := experiment.Target{Kind: experiment.KindTask, Name: "t1",
		TaskARN: "arn:aws:ecs:us-east-1:123456789012:task/prod/aaa", AvailabilityZone: "us-east-1a",
		Tags: map[string]string{"app": "web"}}
	r := experiment.StaticResolver([]experiment.Target{task, experiment.Host()})
	cases := []struct {
		name string
		tt   template.Target
		want int
	}{
		{"arn match", template.Target{ResourceType: "aws:ecs:task", ResourceArns: []string{task.TaskARN}}, 2},
		{"arn mismatch", template.Target{ResourceType: "aws:ecs:task", ResourceArns: []string{"arn:aws:ecs:us-east-1:123456789012:task/prod/bbb"}}, 1},
		{"tag match", template.Target{ResourceType: "aws:ecs:task", ResourceTags: map[string]string{"app": "web"}}, 2},
		{"tag mismatch", template.Target{ResourceType: "aws:ecs:task", ResourceTags: map[string]string{"app": "db"}}, 1},
		{"az filter", template.Target{ResourceType: "aws:ecs:task", Filters: []template.Filter{{Path: "AvailabilityZone", Values: []string{"us-east-1b"}}}}, 1},
	}
	for _, tc := range cases {
		got, err := r(context.Background(), tc.name, tc.tt)
		if err != nil || len(got) != tc.want {
			t.Errorf("%s: %d targets, %v; want %d", tc.name, len(got), err, tc.want)
		}
	}
	if _, err := r(context.Background(), "ec2", template.Target{ResourceType: "aws:ec2:instance"}); !errors.Is(err, experiment.ErrTarget) {
		t.Errorf("ec2 target: %v", err)
	}
}
