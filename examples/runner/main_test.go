package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/template"
)

const validDoc = "../../template/testdata/valid/ecs-cpu-then-latency.json"

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDispatch(t *testing.T) {
	if code, _, stderr := run(t); code != exitUsage || !strings.Contains(stderr, "validate") || !strings.Contains(stderr, "plan") {
		t.Errorf("no args: %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "explode"); code != exitUsage || !strings.Contains(stderr, `unknown command "explode"`) {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
	if code, _, _ := run(t, "help"); code != exitOK {
		t.Errorf("help: %d", code)
	}
	if code, _, _ := run(t, "validate"); code != exitUsage {
		t.Errorf("validate without files: %d", code)
	}
	if code, _, _ := run(t, "validate", "--bogus", validDoc); code != exitUsage {
		t.Errorf("unknown flag: %d", code)
	}
}

func TestValidateCommand(t *testing.T) {
	code, out, _ := run(t, "validate", validDoc)
	if code != exitOK || !strings.Contains(out, "ecs-cpu-then-latency.json: valid (0 warnings)") {
		t.Errorf("valid file: %d %q", code, out)
	}
	bad := writeFile(t, "bad.json", `{
  "description": "bad",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "stopConditions": [{"source": "none"}],
  "actions": {"pause": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT13H"}}}
}`)
	code, out, _ = run(t, "validate", validDoc, bad)
	if code != exitInvalid {
		t.Errorf("one invalid file: exit %d, want 1", code)
	}
	if !strings.Contains(out, bad+`:5:80: error: actions.pause.parameters.duration: parameter "duration" value "PT13H": longer than the maximum PT12H`) ||
		!strings.Contains(out, bad+": invalid: 1 error, 0 warnings") {
		t.Errorf("output lacks file:line:col problem or verdict:\n%s", out)
	}
	// Flags may follow the files.
	code, out, _ = run(t, "validate", bad, "--json")
	var results []fileResult
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if code != exitInvalid || len(results) != 1 || results[0].Valid || len(results[0].Problems) != 1 ||
		results[0].Problems[0].Path != "actions.pause.parameters.duration" || results[0].Problems[0].Line != 5 {
		t.Errorf("--json: exit %d, %+v", code, results)
	}
	code, out, _ = run(t, "validate", filepath.Join(t.TempDir(), "missing.json"))
	if code != exitInvalid || !strings.Contains(out, "no such file") {
		t.Errorf("missing file: %d %q", code, out)
	}
}

func TestValidateVars(t *testing.T) {
	doc := writeFile(t, "vars.json", `{
  "description": "vars", "roleArn": "${ROLE}", "stopConditions": [{"source": "none"}],
  "actions": {"pause": {"actionId": "aws:fis:wait", "parameters": {"duration": "${PAUSE}"}}}
}`)
	code, out, _ := run(t, "validate", "--var", "ROLE=arn:aws:iam::123456789012:role/fis", doc)
	if code != exitInvalid || !strings.Contains(out, "unresolved placeholder ${PAUSE}") {
		t.Errorf("missing PAUSE: %d\n%s", code, out)
	}
	t.Setenv("PAUSE", "PT1M")
	code, out, _ = run(t, "validate", "--var", "ROLE=arn:aws:iam::123456789012:role/fis", "--env", doc)
	if code != exitOK {
		t.Errorf("with --env: %d\n%s", code, out)
	}
	if code, _, _ := run(t, "validate", "--var", "NOEQUALS", doc); code != exitUsage {
		t.Errorf("--var without =: %d", code)
	}
}

func TestPlanCommand(t *testing.T) {
	code, out, _ := run(t, "plan", validDoc)
	if code != exitOK || !strings.Contains(out, "Longest path: 17m (cpu -> pause -> latency)") ||
		!strings.Contains(out, "Options: emptyTargetResolutionMode fail, accountTargeting single-account\n") {
		t.Errorf("plan: %d\n%s", code, out)
	}
	code, out, _ = run(t, "plan", "--json", validDoc)
	var plan struct {
		LongestPathSeconds float64                    `json:"longestPathSeconds"`
		Levels             [][]string                 `json:"levels"`
		Local              bool                       `json:"local"`
		ExperimentOptions  template.ExperimentOptions `json:"experimentOptions"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	wantOpts := template.ExperimentOptions{AccountTargeting: "single-account", EmptyTargetResolutionMode: "fail"}
	if code != exitOK || plan.LongestPathSeconds != 1020 || len(plan.Levels) != 3 || !plan.Local || plan.ExperimentOptions != wantOpts {
		t.Errorf("plan --json: %d %+v", code, plan)
	}
	corpus := "../../template/testdata/corpus/aws-samples__fis-template-library__StopExperiment.json"
	code, _, stderr := run(t, "plan", corpus)
	if code != exitInvalid || !strings.Contains(stderr, "StopExperiment.json:37:13: error: invalid JSON") {
		t.Errorf("plan of invalid JSON: %d %q", code, stderr)
	}
	if code, _, _ := run(t, "plan", validDoc, validDoc); code != exitUsage {
		t.Errorf("plan of two files: %d", code)
	}
}
