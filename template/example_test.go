package template_test

import (
	"fmt"

	"github.com/faultkit/faultkit/template"
)

const exampleTemplate = `{
  "description": "CPU stress, then latency",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {
    "web": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "web"}, "selectionMode": "COUNT(2)"}
  },
  "actions": {
    "cpu": {
      "actionId": "aws:ecs:task-cpu-stress",
      "parameters": {"duration": "PT2M", "percent": "70"},
      "targets": {"Tasks": "web"}
    },
    "latency": {
      "actionId": "aws:ecs:task-network-latency",
      "parameters": {"duration": "PT5M", "delayMilliseconds": "300"},
      "targets": {"Tasks": "web"},
      "startAfter": ["cpu"]
    }
  },
  "stopConditions": [{"source": "none"}]
}`

// Validate reports every problem with its JSON path and position, in FIS's
// wording where FIS has one.
func ExampleTemplate_Validate() {
	broken := `{
  "description": "broken",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {
    "web": {"resourceType": "aws:ecs:task", "resourceArns": ["arn:aws:ecs:us-east-1:123456789012:task/prod/abc"],
            "resourceTags": {"app": "web"}, "selectionMode": "PERCENT(150)"}
  },
  "actions": {
    "cpu": {
      "actionId": "aws:ecs:task-cpu-stress",
      "parameters": {"duration": "PT2M", "percent": "170"},
      "targets": {"Instances": "web"}
    }
  },
  "stopConditions": [{"source": "none"}]
}`
	t, err := template.Parse([]byte(broken), template.WithFilename("broken.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range t.Validate() {
		fmt.Println(p)
	}
	// Output:
	// broken.json:5:5: error: targets.web: You cannot specify both resource ARNs and resource tags for target web.
	// broken.json:6:62: error: targets.web.selectionMode: invalid selection mode "PERCENT(150)": PERCENT must be from 1 to 100 (want ALL, COUNT(n) or PERCENT(n))
	// broken.json:11:53: error: actions.cpu.parameters.percent: parameter "percent" value "170": out of range 0-100
	// broken.json:12:19: error: actions.cpu.targets.Instances: Unexpected target "Instances" found in action "cpu".
}

// NewPlan resolves a valid template into parallel groups, effective
// parameters (defaults filled in) and the experiment's longest path.
func ExampleNewPlan() {
	t, err := template.Parse([]byte(exampleTemplate))
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := template.NewPlan(t, template.PlanOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("levels:", plan.Levels)
	fmt.Println("longest path:", plan.LongestPath)
	for _, a := range plan.Actions {
		fmt.Printf("%s: T+%v..T+%v local=%v jitter=%q\n", a.Name, a.Start, a.End, a.Local, a.Params.String("jitterMilliseconds"))
	}
	// Output:
	// levels: [[cpu] [latency]]
	// longest path: 7m0s
	// cpu: T+0s..T+2m0s local=true jitter=""
	// latency: T+2m0s..T+7m0s local=true jitter="10"
}

// Placeholders such as ${ROLE_ARN} are substituted before validation;
// those without a value are reported by name.
func ExampleWithVars() {
	doc := []byte(`{"description": "d", "roleArn": "${ROLE_ARN}", "stopConditions": [{"source": "none"}],
  "actions": {"pause": {"actionId": "aws:fis:wait", "parameters": {"duration": "${PAUSE}"}}}}`)
	_, problems := template.Check(doc, template.WithVars(map[string]string{"PAUSE": "PT3M"}))
	fmt.Println(problems)
	// Output:
	// 1:33: error: roleArn: unresolved placeholder ${ROLE_ARN}: no value given for ROLE_ARN
}

// ParseSelectionMode reads a target's selectionMode; Select applies it the
// way FIS does, rounding percentages down.
func ExampleParseSelectionMode() {
	m, err := template.ParseSelectionMode("PERCENT(50)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m, "of 5 tasks selects", m.Select(5))
	// Output:
	// PERCENT(50) of 5 tasks selects 2
}

// LookupAction returns the parameter spec of any FIS action; for the six
// aws:ecs:task fault actions it is the spec the fault registry uses.
func ExampleLookupAction() {
	spec, _ := template.LookupAction("aws:ecs:task-network-packet-loss")
	params, err := spec.Resolve(map[string]string{"duration": "PT1M"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.TargetKey, params.Int("lossPercent"), params.String("sources"))
	// Output:
	// Tasks 7 ALL
}
