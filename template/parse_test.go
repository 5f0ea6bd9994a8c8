package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const positioned = `{
  "description": "positions",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "stopConditions": [{"source": "none"}],
  "targets": {
    "tasks": {"resourceType": "aws:ecs:task", "resourceTags": {"a": "b"}, "selectionMode": "ALL"}
  },
  "actions": {
    "cpu": {
      "actionId": "aws:ecs:task-cpu-stress",
      "parameters": {
        "duration": "PT1M",
        "percent": "150"
      },
      "targets": {"Tasks": "tasks"},
      "startAfterDelay": "PT1M"
    }
  }
}`

func TestProblemPositions(t *testing.T) {
	_, ps := Check([]byte(positioned), WithFilename("exp.json"))
	want := []string{
		// The value "150" starts on line 13, column 20.
		`exp.json:13:20: error: actions.cpu.parameters.percent: parameter "percent" value "150": out of range 0-100`,
		// Unknown fields point at their key.
		`exp.json:16:7: error: actions.cpu.startAfterDelay: Unknown parameter in actions.cpu: "startAfterDelay", must be one of: actionId, description, parameters, targets, startAfter`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i := range want {
		if got := ps[i].String(); got != want[i] {
			t.Errorf("problem %d:\n got  %s\n want %s", i, got, want[i])
		}
	}
}

func TestMissingFieldPointsAtParent(t *testing.T) {
	doc := strings.Replace(positioned, `"actionId": "aws:ecs:task-cpu-stress",`, "", 1)
	_, ps := Check([]byte(doc))
	// Without an action ID the parameters cannot be checked; the unknown
	// field remains.
	if len(ps) != 2 || ps[0].Path != "actions.cpu.actionId" || ps[1].Code != CodeUnknownField {
		t.Fatalf("got %v", ps)
	}
	// The parent object's key "cpu" is on line 9, column 5.
	if ps[0].Line != 9 || ps[0].Col != 5 {
		t.Errorf("missing actionId located at %d:%d, want 9:5 (the key of its action)", ps[0].Line, ps[0].Col)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, code, path string
		line, col             int
	}{
		{"trailing comma", "{\n  \"description\": \"x\",\n}", CodeSyntax, "", 3, 1},
		{"truncated", `{"description": "x"`, CodeSyntax, "", 1, 20},
		{"not an object", `["x"]`, CodeType, "", 1, 1},
		{"garbage after", `{} {}`, CodeSyntax, "", 1, 4},
		{"null field", `{"description": null}`, CodeType, "description", 1, 17},
		{"tags not strings", `{"tags": {"a": 1}}`, CodeType, "tags.a", 1, 16},
		{"startAfter not a list", `{"actions": {"a": {"startAfter": "b"}}}`, CodeType, "actions.a.startAfter", 1, 34},
		{"logSchemaVersion not an integer", `{"logConfiguration": {"logSchemaVersion": 1.5}}`, CodeType, "logConfiguration.logSchemaVersion", 1, 43},
		{"stopConditions not a list", `{"stopConditions": {"source": "none"}}`, CodeType, "stopConditions", 1, 2},
		{"stop condition not an object", `{"stopConditions": ["none"]}`, CodeType, "stopConditions[0]", 1, 21},
		{"filters not a list", `{"targets": {"t": {"filters": "x"}}}`, CodeType, "targets.t.filters", 1, 31},
		{"filter values not a list", `{"targets": {"t": {"filters": [{"path": "a", "values": "b"}]}}}`, CodeType, "targets.t.filters[0].values", 1, 56},
		{"log bucket not a string", `{"logConfiguration": {"s3Configuration": {"bucketName": 1}}}`, CodeType, "logConfiguration.s3Configuration.bucketName", 1, 57},
		{"report prefix not a string", `{"experimentReportConfiguration": {"outputs": {"s3Configuration": {"prefix": []}}}}`, CodeType,
			"experimentReportConfiguration.outputs.s3Configuration.prefix", 1, 78},
		{"dashboards not a list", `{"experimentReportConfiguration": {"dataSources": {"cloudWatchDashboards": {}}}}`, CodeType,
			"experimentReportConfiguration.dataSources.cloudWatchDashboards", 1, 52},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("Parse error = %v, want Problems", err)
			}
			p := ps[0]
			if p.Code != tc.code || p.Path != tc.path || p.Line != tc.line || p.Col != tc.col {
				t.Errorf("got %s %q at %d:%d (%s), want %s %q at %d:%d", p.Code, p.Path, p.Line, p.Col, p.Message,
					tc.code, tc.path, tc.line, tc.col)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	doc := `{"description": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	tpl, err := Parse([]byte(doc))
	if tpl != nil || err == nil {
		t.Fatalf("deeply nested document accepted")
	}
}

func TestDuplicateKeyWarns(t *testing.T) {
	doc := strings.Replace(positioned, `"percent": "150"`, `"percent": "150", "percent": "50"`, 1)
	tpl, ps := Check([]byte(doc))
	if got := tpl.Actions["cpu"].Parameters["percent"]; got != "50" {
		t.Errorf("percent = %q, want the last value 50 (as the AWS CLI reads JSON)", got)
	}
	var warned bool
	for _, p := range ps {
		if p.Code == CodeDuplicateKey && p.Severity == SeverityWarning && p.Path == "actions.cpu.parameters.percent" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no duplicate-key warning: %v", ps)
	}
}

func TestSubstitution(t *testing.T) {
	doc := []byte(`{
  "description": "cost $${NOT_A_VAR} in ${REGION}",
  "roleArn": "${ROLE}",
  "stopConditions": [{"source": "none"}],
  "targets": {"${TARGET}": {"resourceType": "aws:ecs:task", "resourceTags": {"a": "b"}, "selectionMode": "ALL"}},
  "actions": {"w": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "${DURATION}"},
    "targets": {"Tasks": "${TARGET}"}}}
}`)
	t.Setenv("FAULTKIT_TEST_DURATION", "PT2M")
	vars := map[string]string{"REGION": "us-east-1", "ROLE": `arn:aws:iam::123456789012:role/with"quote`, "TARGET": "tasks"}
	env := func(name string) (string, bool) { return os.LookupEnv("FAULTKIT_TEST_" + name) }
	tpl, ps := Check(doc, WithVars(vars), WithLookup(env))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if tpl.Description != "cost ${NOT_A_VAR} in us-east-1" {
		t.Errorf("description = %q", tpl.Description)
	}
	if tpl.RoleArn != vars["ROLE"] {
		t.Errorf("roleArn = %q: values need no JSON escaping", tpl.RoleArn)
	}
	if _, ok := tpl.Targets["tasks"]; !ok {
		t.Errorf("target key not substituted: %v", tpl.Targets)
	}
	if d := tpl.Actions["w"].Parameters["duration"]; d != "PT2M" {
		t.Errorf("duration = %q, want PT2M from the lookup", d)
	}

	// Without a value, the placeholder is reported by name.
	_, ps = Check(doc, WithVars(map[string]string{"REGION": "x", "TARGET": "tasks", "DURATION": "PT1M"}))
	var names []string
	for _, p := range ps.Errors() {
		if p.Code == CodeUnresolved {
			names = append(names, p.Path+": "+p.Message)
		}
	}
	if len(names) != 1 || !strings.Contains(names[0], "roleArn: unresolved placeholder ${ROLE}") {
		t.Errorf("unresolved = %q", names)
	}
	// Without substitution, ${...} is text; in an ARN it is a placeholder error.
	_, ps = Check(doc)
	if !strings.Contains(ps.Error(), `roleArn "${ROLE}" contains the unfilled placeholder ${ROLE}`) {
		t.Errorf("no placeholder error without substitution:\n%v", ps)
	}
}

func TestWithEnv(t *testing.T) {
	t.Setenv("FAULTKIT_TEST_ROLE", "arn:aws:iam::123456789012:role/fis")
	doc := strings.Replace(positioned, `"arn:aws:iam::123456789012:role/fis"`, `"${FAULTKIT_TEST_ROLE}"`, 1)
	tpl, _ := Parse([]byte(doc), WithEnv())
	if tpl.RoleArn != "arn:aws:iam::123456789012:role/fis" {
		t.Errorf("roleArn = %q", tpl.RoleArn)
	}
}

// TestRoundTrip checks that marshalling a parsed template gives equivalent
// JSON: the same document, once empty collections are dropped.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	files = append(files, "testdata/valid/ecs-cpu-then-latency.json")
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Parse(data)
		if err != nil {
			continue // syntax errors and unknown fields do not round-trip by design
		}
		n++
		out, err := json.Marshal(tpl)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dropEmpty(a), dropEmpty(b)) {
			t.Errorf("%s: round trip differs:\n in  %v\n out %v", filepath.Base(f), dropEmpty(a), dropEmpty(b))
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: re-parse: %v", f, err)
		}
		out2, err := json.Marshal(again)
		if err != nil || string(out2) != string(out) {
			t.Errorf("%s: Marshal(Parse(Marshal(t))) != Marshal(t): %v", filepath.Base(f), err)
		}
	}
	if n < 35 {
		t.Errorf("only %d templates round-tripped", n)
	}
}

// dropEmpty removes empty strings, maps and lists, which the Go types omit.
func dropEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e = dropEmpty(e)
			if e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, dropEmpty(e))
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

// TestParseNestedObjects decodes every list of objects and both S3
// places (log and report) field for field.
func TestParseNestedObjects(t *testing.T) {
	doc := `{
  "description": "nested",
  "stopConditions": [{"source": "none"}, {"source": "aws:cloudwatch:alarm", "value": "arn:a"}],
  "targets": {"t": {"resourceType": "aws:ecs:task", "filters": [{"path": "p1", "values": ["a", "b"]}, {"path": "p2", "values": []}]}},
  "logConfiguration": {"s3Configuration": {"bucketName": "logs", "prefix": "fis/"}, "logSchemaVersion": 2},
  "experimentReportConfiguration": {
    "outputs": {"s3Configuration": {"bucketName": "reports", "prefix": "r/"}},
    "dataSources": {"cloudWatchDashboards": [{"dashboardIdentifier": "d1"}, {"dashboardIdentifier": "d2"}]}
  }
}`
	tpl, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	wantStops := []StopCondition{{Source: "none"}, {Source: "aws:cloudwatch:alarm", Value: "arn:a"}}
	if !reflect.DeepEqual(tpl.StopConditions, wantStops) {
		t.Errorf("stopConditions = %+v", tpl.StopConditions)
	}
	wantFilters := []Filter{{Path: "p1", Values: []string{"a", "b"}}, {Path: "p2", Values: []string{}}}
	if !reflect.DeepEqual(tpl.Targets["t"].Filters, wantFilters) {
		t.Errorf("filters = %+v", tpl.Targets["t"].Filters)
	}
	if lc := tpl.LogConfiguration; lc == nil || !reflect.DeepEqual(lc.S3Configuration, &S3LogConfiguration{BucketName: "logs", Prefix: "fis/"}) ||
		lc.LogSchemaVersion == nil || *lc.LogSchemaVersion != 2 {
		t.Errorf("logConfiguration = %+v", lc)
	}
	rc := tpl.ExperimentReportConfiguration
	if rc == nil || rc.Outputs == nil || rc.DataSources == nil {
		t.Fatalf("experimentReportConfiguration = %+v", rc)
	}
	if !reflect.DeepEqual(rc.Outputs.S3Configuration, &ReportS3Configuration{BucketName: "reports", Prefix: "r/"}) {
		t.Errorf("report s3Configuration = %+v", rc.Outputs.S3Configuration)
	}
	if !reflect.DeepEqual(rc.DataSources.CloudWatchDashboards, []ReportDashboard{{DashboardIdentifier: "d1"}, {DashboardIdentifier: "d2"}}) {
		t.Errorf("dashboards = %+v", rc.DataSources.CloudWatchDashboards)
	}
}
