package template

import (
	"errors"
	"testing"
)

func TestParseSelectionMode(t *testing.T) {
	good := map[string]SelectionMode{
		"ALL":          {Kind: SelectAll},
		"COUNT(1)":     {Kind: SelectCount, N: 1},
		"COUNT(250)":   {Kind: SelectCount, N: 250},
		"PERCENT(1)":   {Kind: SelectPercent, N: 1},
		"PERCENT(100)": {Kind: SelectPercent, N: 100},
		"PERCENT(025)": {Kind: SelectPercent, N: 25},
	}
	for s, want := range good {
		got, err := ParseSelectionMode(s)
		if err != nil || got != want {
			t.Errorf("ParseSelectionMode(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	bad := []string{"", "all", "All", "NONE", "COUNT()", "COUNT(0)", "COUNT(-1)", "COUNT(1.5)", "COUNT( 1)",
		"COUNT(1", "PERCENT(0)", "PERCENT(101)", "percent(5)", "COUNT(99999999999999999999)", "ALL ", "COUNT(1)x"}
	for _, s := range bad {
		if m, err := ParseSelectionMode(s); err == nil || !errors.Is(err, ErrSelectionMode) {
			t.Errorf("ParseSelectionMode(%q) = %+v, %v; want ErrSelectionMode", s, m, err)
		}
	}
}

func TestSelectionModeSelect(t *testing.T) {
	tests := []struct {
		mode  string
		total int
		want  int
	}{
		{"ALL", 7, 7},
		{"COUNT(3)", 7, 3},
		{"COUNT(9)", 7, 7},
		{"PERCENT(50)", 5, 2}, // FIS rounds down: 50% of 5 is 2
		{"PERCENT(10)", 5, 0}, // less than one resource selects none
		{"PERCENT(100)", 5, 5},
		{"ALL", 0, 0},
	}
	for _, tc := range tests {
		m, err := ParseSelectionMode(tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Select(tc.total); got != tc.want {
			t.Errorf("%s of %d = %d, want %d", tc.mode, tc.total, got, tc.want)
		}
		if m.String() != tc.mode {
			t.Errorf("String() = %q, want %q", m.String(), tc.mode)
		}
	}
}

func TestCheckARN(t *testing.T) {
	tests := []struct {
		s    string
		rule arnRule
		code string
	}{
		{"arn:aws:iam::123456789012:role/fis", ruleRole(), ""},
		{"arn:aws:iam::123456789012:role/path/to/fis", ruleRole(), ""},
		{"arn:aws-cn:iam::123456789012:role/fis", ruleRole(), ""},
		{"arn:aws:iam::12345678901:role/fis", ruleRole(), CodeARN},
		{"arn:aws:iam::123456789012:role/", ruleRole(), CodeARN},
		{"arn:aws:sts::123456789012:assumed-role/fis/x", ruleRole(), CodeARN},
		{"arn:azure:iam::123456789012:role/fis", ruleRole(), CodeARN},
		{"role/fis", ruleRole(), CodeARN},
		{"arn:aws:iam::${ACCOUNT}:role/fis", ruleRole(), CodePlaceholder},
		{"arn:aws:ssm:us-east-1::document/AWS-RunShellScript", ruleDocument(), ""},
		{"arn:aws:ssm:us-east-1:123456789012:document/mine", ruleDocument(), ""},
		{"arn:aws:ssm:US-EAST-1:123456789012:document/mine", ruleDocument(), CodeARN},
		{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:high cpu", ruleAlarm(), CodeARN},
		{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:high-cpu", ruleAlarm(), ""},
		{"arn:aws:logs:us-east-1:123456789012:log-group:/aws/fis:*", ruleLogGroup(), ""},
		{"arn:aws:s3:::my-bucket", mustRule(t, "aws:s3:bucket"), ""},
		{"arn:aws:s3:us-east-1::my-bucket", mustRule(t, "aws:s3:bucket"), CodeARN},
		{"arn:aws:ecs:us-east-1:123456789012:task/prod/abc", mustRule(t, "aws:ecs:task"), ""},
		{"arn:aws:ecs:us-east-1:123456789012:cluster/prod", mustRule(t, "aws:ecs:task"), CodeARN},
		{"arn:aws:rds:us-east-1:123456789012:cluster:orders", mustRule(t, "aws:rds:cluster"), ""},
	}
	for _, tc := range tests {
		code, msg := checkARN("arn", tc.s, tc.rule)
		if code != tc.code {
			t.Errorf("checkARN(%q) = %q (%s), want %q", tc.s, code, msg, tc.code)
		}
	}
}

func mustRule(t *testing.T, resourceType string) arnRule {
	t.Helper()
	r, ok := arnRuleFor(resourceType)
	if !ok {
		t.Fatalf("no ARN rule for %s", resourceType)
	}
	return r
}
