package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/stress"
)

func TestRunUsage(t *testing.T) {
	if code, _, _ := run(t, "run"); code != exitUsage {
		t.Errorf("run without a file: %d", code)
	}
	if code, _, stderr := run(t, "run", "--target", "vm:1", "../templates/cpu-stress.json"); code != exitUsage ||
		!strings.Contains(stderr, `invalid target "vm:1"`) {
		t.Errorf("bad --target: %d %q", code, stderr)
	}
	if code, _, _ := run(t, "run", "-h"); code != exitOK {
		t.Errorf("-h: %d", code)
	}
}

func TestRunInvalidTemplate(t *testing.T) {
	bad := writeFile(t, "bad.json", `{"description": "x", "roleArn": "arn:aws:iam::123456789012:role/fis",
  "stopConditions": [{"source": "none"}],
  "actions": {"cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT5S", "percent": "150"}}}}`)
	code, _, stderr := run(t, "run", bad)
	if code != exitInvalid || !strings.Contains(stderr, "percent") {
		t.Errorf("invalid template: %d %q", code, stderr)
	}
}

func TestRunDryRun(t *testing.T) {
	report := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--dry-run", "--plain", "--report", report, "../templates/network-demo.json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Level 0", "Level 1", "blackhole", "packet-loss", "completed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	rep := readReportFile(t, report)
	if !rep.DryRun || len(rep.Actions) != 2 || rep.Actions[0].State.Status != experiment.ActionSkipped {
		t.Errorf("report: %+v", rep)
	}
}

// A caller's context ending stops the experiment, as a signal does, with
// exit status 3 and a report. CPU stress needs no root.
func TestRunContextCancelStops(t *testing.T) {
	t.Setenv("FAULTKIT_STATE_DIR", t.TempDir())
	tpl := writeFile(t, "long.json", `{"description": "long cpu", "roleArn": "arn:aws:iam::123456789012:role/fis",
  "stopConditions": [{"source": "none"}],
  "actions": {"cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1M", "percent": "10", "workers": "1"},
    "targets": {"Tasks": "me"}}},
  "targets": {"me": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "x"}, "selectionMode": "ALL"}}}`)
	report := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := dispatch(ctx, []string{"run", "--plain", "--report", report, tpl}, &stdout, &stderr)
	if code != exitStopped {
		t.Fatalf("exit %d, want %d\n%s", code, exitStopped, stderr.String())
	}
	rep := readReportFile(t, report)
	if rep.State.Status != experiment.StatusStopped || !strings.Contains(rep.State.Reason, "deadline exceeded") {
		t.Errorf("state = %+v", rep.State)
	}
	if got := rep.Actions[0].State.Status; got != experiment.ActionStopped {
		t.Errorf("cpu = %s", got)
	}
}

func readReportFile(t *testing.T, path string) *experiment.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := experiment.ValidateReport(data); err != nil {
		t.Errorf("report does not match its schema: %v", err)
	}
	var rep experiment.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

// TestRegistryForCgroup: a cgroup target binds CPU stress to its cgroup,
// with the parameters stress maps; I/O stress stays unbound (stress.IOFault
// has no cgroup); a host target binds nothing.
func TestRegistryForCgroup(t *testing.T) {
	cg, err := experiment.ParseTarget("cgroup:/fk-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target experiment.Target
		want   string
	}{{cg, "/fk-test"}, {experiment.Host(), ""}} {
		reg, err := registryFor(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := reg.New(fault.ActionTaskCPUStress, map[string]string{"duration": "PT1S", "percent": "30", "workers": "2"})
		if err != nil {
			t.Fatal(err)
		}
		cpu, ok := f.(stress.CPUFault)
		if !ok || cpu.Cgroup != tc.want || cpu.Load != 30 || cpu.Workers != 2 {
			t.Errorf("%s: cpu-stress = %#v, want Load 30, Workers 2, Cgroup %q", tc.target.Name, f, tc.want)
		}
		if _, _, err := reg.New(fault.ActionTaskCPUStress, map[string]string{"duration": "PT1S", "percent": "130"}); err == nil {
			t.Errorf("%s: percent 130 accepted", tc.target.Name)
		}
		f, _, err = reg.New(fault.ActionTaskIOStress, map[string]string{"duration": "PT1S"})
		if _, ok := f.(stress.IOFault); err != nil || !ok {
			t.Errorf("%s: io-stress = %#v, %v", tc.target.Name, f, err)
		}
	}
}
