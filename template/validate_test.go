package template

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

// baseDoc is a valid template as a generic JSON value, for mutation.
func baseDoc() map[string]any {
	return map[string]any{
		"description": "base",
		"roleArn":     "arn:aws:iam::123456789012:role/fis",
		"targets": map[string]any{
			"tasks": map[string]any{
				"resourceType":  "aws:ecs:task",
				"resourceTags":  map[string]any{"app": "web"},
				"selectionMode": "ALL",
			},
		},
		"actions": map[string]any{
			"cpu": map[string]any{
				"actionId":   "aws:ecs:task-cpu-stress",
				"parameters": map[string]any{"duration": "PT1M"},
				"targets":    map[string]any{"Tasks": "tasks"},
			},
		},
		"stopConditions": []any{map[string]any{"source": "none"}},
	}
}

func sub(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func checkDoc(t *testing.T, doc map[string]any, opts ...Option) Problems {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tpl, ps := Check(data, opts...)
	if tpl == nil {
		t.Fatalf("syntax error in test document: %v", ps)
	}
	return ps
}

func TestBaseIsValid(t *testing.T) {
	if ps := checkDoc(t, baseDoc()); len(ps) != 0 {
		t.Fatalf("base template has problems:\n%v", ps)
	}
}

// TestValidateRules mutates the valid base template one rule at a time and
// checks that exactly the expected problem appears, at the expected path,
// with the expected wording.
func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d map[string]any)
		sev    Severity
		code   string
		path   string
		msg    string // substring of the message
	}{
		{"arns and tags", func(d map[string]any) {
			sub(d, "targets", "tasks")["resourceArns"] = []any{"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"}
		}, SeverityError, CodeConflict, "targets.tasks", "You cannot specify both resource ARNs and resource tags for target tasks."},
		{"arns and filters", func(d map[string]any) {
			tg := sub(d, "targets", "tasks")
			delete(tg, "resourceTags")
			tg["resourceArns"] = []any{"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"}
			tg["filters"] = []any{map[string]any{"path": "AvailabilityZone", "values": []any{"us-east-1a"}}}
		}, SeverityError, CodeConflict, "targets.tasks", "both resource ARNs and filters"},
		{"no selection at all", func(d map[string]any) {
			delete(sub(d, "targets", "tasks"), "resourceTags")
		}, SeverityError, CodeRequired, "targets.tasks", "selects no resources"},
		{"missing selectionMode", func(d map[string]any) {
			delete(sub(d, "targets", "tasks"), "selectionMode")
		}, SeverityError, CodeRequired, "targets.tasks.selectionMode", `Missing required parameter in targets.tasks: "selectionMode"`},
		{"COUNT(0)", func(d map[string]any) { sub(d, "targets", "tasks")["selectionMode"] = "COUNT(0)" },
			SeverityError, CodeSelectionMode, "targets.tasks.selectionMode", "COUNT needs at least 1"},
		{"PERCENT(101)", func(d map[string]any) { sub(d, "targets", "tasks")["selectionMode"] = "PERCENT(101)" },
			SeverityError, CodeSelectionMode, "targets.tasks.selectionMode", "PERCENT must be from 1 to 100"},
		{"lower-case all", func(d map[string]any) { sub(d, "targets", "tasks")["selectionMode"] = "all" },
			SeverityError, CodeSelectionMode, "targets.tasks.selectionMode", "upper case"},
		{"unknown resource type", func(d map[string]any) { sub(d, "targets", "tasks")["resourceType"] = "aws:ecs:container" },
			SeverityError, CodeUnknownResource, "targets.tasks.resourceType", `"aws:ecs:container" is not a FIS resource type`},
		{"unknown target parameter", func(d map[string]any) {
			sub(d, "targets", "tasks")["parameters"] = map[string]any{"namespace": "default"}
		}, SeverityError, CodeParameter, "targets.tasks.parameters.namespace", "known: cluster, service"},
		{"target parameter with a comma", func(d map[string]any) {
			sub(d, "targets", "tasks")["parameters"] = map[string]any{"cluster": "a,b"}
		}, SeverityError, CodeParameter, "targets.tasks.parameters.cluster", "characters FIS does not allow"},
		{"task ARN of the wrong service", func(d map[string]any) {
			tg := sub(d, "targets", "tasks")
			delete(tg, "resourceTags")
			tg["resourceArns"] = []any{"arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"}
		}, SeverityError, CodeARN, "targets.tasks.resourceArns[0]", `service is "ec2", want "ecs"`},
		{"six resource ARNs", func(d map[string]any) {
			tg := sub(d, "targets", "tasks")
			delete(tg, "resourceTags")
			var arns []any
			for i := range 6 {
				arns = append(arns, fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task/prod/%032d", i))
			}
			tg["resourceArns"] = arns
		}, SeverityError, CodeCount, "targets.tasks.resourceArns", "at most 5"},
		{"unused target", func(d map[string]any) {
			sub(d, "targets")["spare"] = map[string]any{"resourceType": "aws:ecs:task", "resourceTags": map[string]any{"a": "b"}, "selectionMode": "ALL"}
		}, SeverityWarning, CodeUnusedTarget, "targets.spare", `target "spare" is not used by any action`},
		{"wrong target key", func(d map[string]any) {
			sub(d, "actions", "cpu")["targets"] = map[string]any{"Instances": "tasks"}
		}, SeverityError, CodeTargetKey, "actions.cpu.targets.Instances", `Unexpected target "Instances" found in action "cpu".`},
		{"target key on a wait", func(d map[string]any) {
			sub(d, "actions")["pause"] = map[string]any{"actionId": "aws:fis:wait", "parameters": map[string]any{"duration": "PT1M"},
				"targets": map[string]any{"Tasks": "tasks"}}
		}, SeverityError, CodeTargetKey, "actions.pause.targets.Tasks", `Unexpected target "Tasks" found in action "pause".`},
		{"missing target", func(d map[string]any) { delete(sub(d, "actions", "cpu"), "targets") },
			SeverityError, CodeTargetKey, "actions.cpu.targets", `needs a target under key "Tasks"`},
		{"undefined target", func(d map[string]any) {
			sub(d, "actions", "cpu")["targets"] = map[string]any{"Tasks": "nope"}
		}, SeverityError, CodeTargetRef, "actions.cpu.targets.Tasks", `refers to target "nope", which is not defined`},
		{"target of another resource type", func(d map[string]any) {
			sub(d, "targets", "tasks")["resourceType"] = "aws:ec2:instance"
		}, SeverityError, CodeTargetRef, "actions.cpu.targets.Tasks", "has resource type aws:ec2:instance, but aws:ecs:task-cpu-stress"},
		{"unknown action", func(d map[string]any) { sub(d, "actions", "cpu")["actionId"] = "aws:ecs:task-memory-stress" },
			SeverityError, CodeUnknownAction, "actions.cpu.actionId", `"aws:ecs:task-memory-stress" is not a FIS action ID`},
		{"renamed action", func(d map[string]any) {
			sub(d, "actions", "cpu")["actionId"] = "aws:elasticache:interrupt-cluster-az-power"
		}, SeverityError, CodeUnknownAction, "actions.cpu.actionId", `use "aws:elasticache:replicationgroup-interrupt-az-power"`},
		{"missing actionId", func(d map[string]any) { delete(sub(d, "actions", "cpu"), "actionId") },
			SeverityError, CodeRequired, "actions.cpu.actionId", `Missing required parameter in actions.cpu: "actionId"`},
		{"percent out of range", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["percent"] = "200" },
			SeverityError, CodeParameter, "actions.cpu.parameters.percent", `parameter "percent" value "200": out of range 0-100`},
		{"unknown parameter", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["load"] = "5" },
			SeverityError, CodeParameter, "actions.cpu.parameters.load", "unknown parameter; known: duration, percent, workers, installDependencies"},
		{"missing duration", func(d map[string]any) { delete(sub(d, "actions", "cpu", "parameters"), "duration") },
			SeverityError, CodeParameter, "actions.cpu.parameters.duration", "required parameter is missing"},
		{"duration beyond 12h", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["duration"] = "PT13H" },
			SeverityError, CodeParameter, "actions.cpu.parameters.duration", "longer than the maximum PT12H"},
		{"duration not ISO", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["duration"] = "5m" },
			SeverityError, CodeParameter, "actions.cpu.parameters.duration", "invalid ISO-8601 duration"},
		{"empty parameter value", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["percent"] = " " },
			SeverityError, CodeParameter, "actions.cpu.parameters.percent", "empty value"},
		{"wait shorter than its minimum", func(d map[string]any) {
			sub(d, "actions")["pause"] = map[string]any{"actionId": "aws:fis:wait", "parameters": map[string]any{"duration": "PT30S"}}
		}, SeverityError, CodeParameter, "actions.pause.parameters.duration", "shorter than the minimum PT1M"},
		{"kill-process name pattern", func(d map[string]any) {
			sub(d, "actions")["kill"] = map[string]any{"actionId": fault.ActionTaskKillProcess,
				"parameters": map[string]any{"processName": "my app"}, "targets": map[string]any{"Tasks": "tasks"}}
		}, SeverityError, CodeParameter, "actions.kill.parameters.processName", "must match"},
		{"empty parameter value", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["workers"] = "" },
			SeverityError, CodeParameter, "actions.cpu.parameters.workers", "has an empty value"},
		{"latency without delay or jitter", func(d map[string]any) {
			sub(d, "actions")["lat"] = map[string]any{"actionId": fault.ActionTaskNetworkLatency,
				"parameters": map[string]any{"duration": "PT1M", "delayMilliseconds": "0", "jitterMilliseconds": "0"},
				"targets":    map[string]any{"Tasks": "tasks"}, "startAfter": []any{"cpu"}}
		}, SeverityError, CodeParameter, "actions.lat.parameters.delayMilliseconds", "must not both be 0"},
		{"bad sources", func(d map[string]any) {
			sub(d, "actions")["loss"] = map[string]any{"actionId": fault.ActionTaskNetworkPacketLoss,
				"parameters": map[string]any{"duration": "PT1M", "sources": "10.0.0.300"},
				"targets":    map[string]any{"Tasks": "tasks"}}
		}, SeverityError, CodeParameter, "actions.loss.parameters.sources", "Invalid sources (malformed service name, DNS or IP address): 10.0.0.300"},
		{"catalogue enum", func(d map[string]any) {
			sub(d, "actions")["az"] = map[string]any{"actionId": "aws:network:disrupt-connectivity",
				"parameters": map[string]any{"duration": "PT5M", "scope": "everything"}, "targets": map[string]any{"Subnets": "subnets"}}
			sub(d, "targets")["subnets"] = map[string]any{"resourceType": "aws:ec2:subnet", "resourceTags": map[string]any{"a": "b"}, "selectionMode": "ALL"}
		}, SeverityError, CodeParameter, "actions.az.parameters.scope", "must be one of all, availability-zone"},
		{"catalogue conditional parameter", func(d map[string]any) {
			sub(d, "actions")["az"] = map[string]any{"actionId": "aws:network:disrupt-connectivity",
				"parameters": map[string]any{"duration": "PT5M", "scope": "prefix-list"}, "targets": map[string]any{"Subnets": "subnets"}}
			sub(d, "targets")["subnets"] = map[string]any{"resourceType": "aws:ec2:subnet", "resourceTags": map[string]any{"a": "b"}, "selectionMode": "ALL"}
		}, SeverityError, CodeParameter, "actions.az.parameters.prefixListIdentifier", `scope is "prefix-list"`},
		{"catalogue JSON parameter", func(d map[string]any) {
			sub(d, "actions")["auto"] = map[string]any{"actionId": "aws:ssm:start-automation-execution",
				"parameters": map[string]any{"maxDuration": "PT5M", "documentArn": "arn:aws:ssm:us-east-1:123456789012:document/x",
					"documentParameters": "{not json"}}
		}, SeverityError, CodeParameter, "actions.auto.parameters.documentParameters", "not valid JSON"},
		{"document ARN of the wrong service", func(d map[string]any) {
			sub(d, "actions")["auto"] = map[string]any{"actionId": "aws:ssm:start-automation-execution",
				"parameters": map[string]any{"maxDuration": "PT5M", "documentArn": "arn:aws:s3:::bucket/doc"}}
		}, SeverityError, CodeARN, "actions.auto.parameters.documentArn", `service is "s3", want "ssm"`},
		{"startAfter unknown", func(d map[string]any) { sub(d, "actions", "cpu")["startAfter"] = []any{"warmup"} },
			SeverityError, CodeStartAfter, "actions.cpu.startAfter[0]", `names "warmup", which is not an action`},
		{"startAfter itself", func(d map[string]any) { sub(d, "actions", "cpu")["startAfter"] = []any{"cpu"} },
			SeverityError, CodeStartAfter, "actions.cpu.startAfter[0]", "cannot start after itself"},
		{"startAfter cycle", func(d map[string]any) {
			sub(d, "actions", "cpu")["startAfter"] = []any{"pause"}
			sub(d, "actions")["pause"] = map[string]any{"actionId": "aws:fis:wait", "parameters": map[string]any{"duration": "PT1M"},
				"startAfter": []any{"cpu"}}
		}, SeverityError, CodeStartAfter, "actions.cpu", "startAfter forms a cycle: cpu -> pause -> cpu"},
		{"ECS network actions in parallel", func(d map[string]any) {
			for _, n := range []string{"lat", "loss"} {
				id := map[string]string{"lat": fault.ActionTaskNetworkLatency, "loss": fault.ActionTaskNetworkPacketLoss}[n]
				sub(d, "actions")[n] = map[string]any{"actionId": id, "parameters": map[string]any{"duration": "PT1M"},
					"targets": map[string]any{"Tasks": "tasks"}}
			}
		}, SeverityWarning, CodeConflict, "actions.loss", "FIS does not run ECS task network actions in parallel"},
		{"stop condition source", func(d map[string]any) {
			d["stopConditions"] = []any{map[string]any{"source": "aws:cloudwatch:metric"}}
		}, SeverityError, CodeValue, "stopConditions[0].source", `is not "none" or "aws:cloudwatch:alarm"`},
		{"alarm without value", func(d map[string]any) {
			d["stopConditions"] = []any{map[string]any{"source": "aws:cloudwatch:alarm"}}
		}, SeverityError, CodeRequired, "stopConditions[0].value", `Missing required parameter in stopConditions[0]: "value"`},
		{"alarm ARN of a metric", func(d map[string]any) {
			d["stopConditions"] = []any{map[string]any{"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:123456789012:dashboard/x"}}
		}, SeverityError, CodeARN, "stopConditions[0].value", `does not start with alarm:`},
		{"six stop conditions", func(d map[string]any) {
			var scs []any
			for range 6 {
				scs = append(scs, map[string]any{"source": "none"})
			}
			d["stopConditions"] = scs
		}, SeverityError, CodeQuota, "stopConditions", "at most 5"},
		{"missing stopConditions", func(d map[string]any) { delete(d, "stopConditions") },
			SeverityError, CodeRequired, "stopConditions", `Missing required parameter in input: "stopConditions"`},
		{"role ARN of a user", func(d map[string]any) { d["roleArn"] = "arn:aws:iam::123456789012:user/alice" },
			SeverityError, CodeARN, "roleArn", `resource "user/alice" does not start with role/`},
		{"role ARN with a region", func(d map[string]any) { d["roleArn"] = "arn:aws:iam:us-east-1:123456789012:role/fis" },
			SeverityError, CodeARN, "roleArn", "region must be empty"},
		{"role ARN placeholder", func(d map[string]any) { d["roleArn"] = "arn:aws:iam::<YOUR AWS ACCOUNT>:role/fis" },
			SeverityError, CodePlaceholder, "roleArn", "unfilled placeholder <YOUR AWS ACCOUNT>"},
		{"description too long", func(d map[string]any) { d["description"] = strings.Repeat("x", 513) },
			SeverityError, CodeLength, "description", "value: 513, valid range: 0-512"},
		{"action name too long", func(d map[string]any) {
			a := sub(d, "actions")
			a[strings.Repeat("a", 65)] = a["cpu"]
			delete(a, "cpu")
		}, SeverityError, CodeLength, "actions." + strings.Repeat("a", 65), "the maximum is 64"},
		{"21 actions", func(d map[string]any) {
			for i := range 20 {
				sub(d, "actions")[fmt.Sprintf("w%02d", i)] = map[string]any{"actionId": "aws:fis:wait", "parameters": map[string]any{"duration": "PT1M"}}
			}
		}, SeverityError, CodeQuota, "actions", "FIS allows at most 20"},
		{"no actions", func(d map[string]any) { d["actions"] = map[string]any{}; delete(d, "targets") },
			SeverityError, CodeCount, "actions", "at least one action"},
		{"51 tags", func(d map[string]any) {
			tags := map[string]any{}
			for i := range 51 {
				tags[fmt.Sprint("k", i)] = "v"
			}
			d["tags"] = tags
		}, SeverityError, CodeCount, "tags", "51 tags given; the maximum is 50"},
		{"tag key too long", func(d map[string]any) { d["tags"] = map[string]any{strings.Repeat("k", 129): "v"} },
			SeverityError, CodeLength, "tags." + strings.Repeat("k", 129), "allowed 1-128"},
		{"experiment option", func(d map[string]any) {
			d["experimentOptions"] = map[string]any{"emptyTargetResolutionMode": "ignore"}
		}, SeverityError, CodeValue, "experimentOptions.emptyTargetResolutionMode", "must be one of fail, skip"},
		{"log schema version missing", func(d map[string]any) {
			d["logConfiguration"] = map[string]any{"s3Configuration": map[string]any{"bucketName": "logs"}}
		}, SeverityError, CodeRequired, "logConfiguration.logSchemaVersion", `Missing required parameter in logConfiguration: "logSchemaVersion"`},
		{"report duration", func(d map[string]any) {
			d["experimentReportConfiguration"] = map[string]any{"preExperimentDuration": "20 minutes"}
		}, SeverityError, CodeValue, "experimentReportConfiguration.preExperimentDuration", "invalid ISO-8601 duration"},
		{"unknown top-level field", func(d map[string]any) { d["name"] = "x" },
			SeverityError, CodeUnknownField, "name", `Unknown parameter in input: "name", must be one of: clientToken, description, stopConditions, targets, actions, roleArn, tags, logConfiguration, experimentOptions, experimentReportConfiguration`},
		{"startAfterDelay", func(d map[string]any) { sub(d, "actions", "cpu")["startAfterDelay"] = "PT5M" },
			SeverityError, CodeUnknownField, "actions.cpu.startAfterDelay", `Unknown parameter in actions.cpu: "startAfterDelay", must be one of: actionId, description, parameters, targets, startAfter`},
		{"number instead of string", func(d map[string]any) { sub(d, "actions", "cpu", "parameters")["percent"] = 50 },
			SeverityError, CodeType, "actions.cpu.parameters.percent", "Invalid type for parameter actions.cpu.parameters.percent, value: 50, type: number, valid types: string"},
		{"placeholder in a filter value", func(d map[string]any) {
			sub(d, "targets", "tasks")["filters"] = []any{map[string]any{"path": "AvailabilityZone", "values": []any{"<YOUR AZ>"}}}
		}, SeverityWarning, CodePlaceholder, "targets.tasks.filters[0].values[0]", "unfilled placeholder <YOUR AZ>"},
	}
	// Rules that imply a second problem: the target left without an action
	// is unused; 21 waits also run in parallel.
	implied := map[string]int{"missing target": 2, "undefined target": 2, "21 actions": 2}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := baseDoc()
			tc.mutate(d)
			ps := checkDoc(t, d)
			var found bool
			for _, p := range ps {
				if p.Severity == tc.sev && p.Code == tc.code && p.Path == tc.path && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s %s at %q containing %q; got:\n%v", tc.sev, tc.code, tc.path, tc.msg, ps)
			}
			// Nothing else, unless the rule itself implies more: the
			// mutation is meant to break exactly one rule.
			if want := max(implied[tc.name], 1); len(ps) != want {
				t.Errorf("want %d problem(s), got %d:\n%v", want, len(ps), ps)
			}
		})
	}
}

// TestECSParamsMatchFault checks that template reports, for the six ECS
// task actions, exactly the parameter errors fault's own spec reports, at
// actions.<name>.parameters.<param>: one source of truth.
func TestECSParamsMatchFault(t *testing.T) {
	inputs := []map[string]string{
		{"duration": "PT1M", "percent": "101", "workers": "-1"},
		{"percent": "x", "bogus": "1"},
		{"duration": "P1Y", "port": "70000", "trafficType": "sideways", "protocol": "TCP"},
		{"duration": "PT1M", "lossPercent": "0", "flowsPercent": "101", "sources": "a,,b"},
		{"processName": "my app", "signal": "SIGHUP"},
		{"duration": "PT1M", "delayMilliseconds": "0", "jitterMilliseconds": "0"},
		{"duration": "PT1M", "installDependencies": "yes", "useEcsFaultInjectionEndpoints": "maybe"},
	}
	for _, spec := range fault.ECSTaskActionSpecs() {
		for i, raw := range inputs {
			t.Run(fmt.Sprintf("%s/%d", spec.ID, i), func(t *testing.T) {
				_, ferr := spec.Resolve(raw)
				want := map[string]string{}
				for _, pe := range paramErrors(ferr) {
					want["actions.a.parameters."+pe.Param] = (&fault.ParamError{Param: pe.Param, Value: pe.Value, Reason: pe.Reason}).Error()
				}
				if len(want) == 0 {
					t.Fatalf("test input %v is valid for %s; want an invalid one", raw, spec.ID)
				}
				d := baseDoc()
				params := map[string]any{}
				for k, v := range raw {
					params[k] = v
				}
				delete(sub(d, "actions"), "cpu")
				sub(d, "actions")["a"] = map[string]any{"actionId": spec.ID, "parameters": params,
					"targets": map[string]any{"Tasks": "tasks"}}
				got := map[string]string{}
				for _, p := range checkDoc(t, d) {
					if p.Code != CodeParameter || p.Severity != SeverityError {
						t.Errorf("unexpected problem %v", p)
						continue
					}
					got[p.Path] = p.Message
				}
				if !maps.Equal(got, want) {
					t.Errorf("template and fault disagree:\n got  %v\n want %v", got, want)
				}
			})
		}
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	tpl := &Template{
		Description: "built in code",
		RoleArn:     "arn:aws:iam::123456789012:role/fis",
		Targets: map[string]Target{"t": {ResourceType: "aws:ecs:task", SelectionMode: "COUNT(1)",
			Parameters: map[string]string{"cluster": "prod", "service": "web"}}},
		Actions: map[string]Action{"io": {ActionID: fault.ActionTaskIOStress,
			Parameters: map[string]string{"duration": "PT2M"}, Targets: map[string]string{"Tasks": "t"}}},
		StopConditions: []StopCondition{{Source: StopSourceNone}},
	}
	if ps := tpl.Validate(); len(ps) != 0 {
		t.Fatalf("valid template built in code: %v", ps)
	}
	tpl.Actions["io"] = Action{ActionID: fault.ActionTaskIOStress, Targets: map[string]string{"Tasks": "t"}}
	ps := tpl.Validate()
	if len(ps) != 1 || ps[0].Path != "actions.io.parameters.duration" || ps[0].Line != 0 {
		t.Fatalf("want one problem at actions.io.parameters.duration without a position, got %v", ps)
	}
	if err := ps.Err(); err == nil || !strings.Contains(err.Error(), "required parameter is missing") {
		t.Errorf("Err() = %v", err)
	}
}
