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
