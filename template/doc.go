// Package template parses, validates and plans AWS FIS experiment
// templates offline, with FIS's rules and, where FIS has one, FIS's
// wording: a template that passes here is one CreateExperimentTemplate
// would accept, and every problem comes with its JSON path
// ("actions.cpu.parameters.percent") and line and column.
//
//	t, err := template.ParseFile("experiment.json", template.WithEnv())
//	if err != nil { /* JSON syntax, unknown fields, wrong types */ }
//	if err := t.Validate().Err(); err != nil { /* every problem, one per line */ }
//	plan, err := template.NewPlan(t, template.PlanOptions{})
//	fmt.Print(plan) // parallel groups, effective parameters, longest path
//
// Parameters of the six aws:ecs:task fault actions are checked by the
// specs of package fault, the same ones the fault registry applies; the
// other FIS actions are checked against an embedded catalogue of FIS's
// action reference (catalog.json). Validating never loads a fault engine.
package template
