package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/faultkit/faultkit/template"
)

func runPlan(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, tf := newTemplateFlags("plan", "plan [--json] [--env] [--var NAME=VALUE]... FILE", stderr)
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(files) != 1 {
		fs.Usage()
		return exitUsage
	}
	r := checkFile(files[0], tf.options())
	if !r.Valid {
		if tf.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(r)
		} else {
			writeResult(stderr, r)
		}
		return exitInvalid
	}
	t, err := template.ParseFile(files[0], tf.options()...)
	if err != nil { // Check said valid; a parse error here means the file changed
		fmt.Fprintf(stderr, "runner: %v\n", err)
		return exitInvalid
	}
	plan, err := template.NewPlan(t, template.PlanOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitInvalid
	}
	if tf.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
		return exitOK
	}
	if err := plan.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "runner: %v\n", err)
		return exitInvalid
	}
	return exitOK
}
