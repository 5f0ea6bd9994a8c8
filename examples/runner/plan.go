package main

import (
	"context"
	"fmt"
	"io"

	"github.com/faultkit/faultkit/template"
)

func runPlan(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, tf := newTemplateFlags("plan", "plan [--json] [--env] [--var NAME=VALUE]... FILE", stderr)
	files, code, ok := parseFiles(fs, args, true)
	if !ok {
		return code
	}
	r, t, _ := checkFile(files[0], tf.options())
	if !r.Valid {
		if tf.json {
			_ = writeJSON(stdout, r)
		} else {
			writeResult(stderr, r)
		}
		return exitInvalid
	}
	plan, err := template.NewPlan(t, template.PlanOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitInvalid
	}
	if tf.json {
		err = writeJSON(stdout, plan)
	} else {
		err = plan.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "runner: %v\n", err)
		return exitInvalid
	}
	return exitOK
}
