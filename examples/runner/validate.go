package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/faultkit/faultkit/template"
)

// fileResult is the JSON verdict of one file.
type fileResult struct {
	File     string            `json:"file"`
	Valid    bool              `json:"valid"`
	Error    string            `json:"error,omitempty"` // the file could not be read
	Problems template.Problems `json:"problems"`
}

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, tf := newTemplateFlags("validate", "validate [--json] [--env] [--var NAME=VALUE]... FILE...", stderr)
	files, code, ok := parseFiles(fs, args, false)
	if !ok {
		return code
	}
	results := make([]fileResult, 0, len(files))
	for _, file := range files {
		r, _, _ := checkFile(file, tf.options())
		if !r.Valid {
			code = exitInvalid
		}
		results = append(results, r)
	}
	if tf.json {
		if err := writeJSON(stdout, results); err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
		return code
	}
	for _, r := range results {
		writeResult(stdout, r)
	}
	return code
}

// checkFile reads and checks a template file. The template, and the bytes
// it was parsed from, are nil unless the verdict is valid.
func checkFile(file string, opts []template.Option) (fileResult, *template.Template, []byte) {
	r := fileResult{File: file, Problems: template.Problems{}}
	data, err := os.ReadFile(file)
	if err != nil {
		r.Error = err.Error()
		return r, nil, nil
	}
	t, ps := template.Check(data, append([]template.Option{template.WithFilename(file)}, opts...)...)
	if ps != nil {
		r.Problems = ps
	}
	r.Valid = !ps.HasErrors()
	if !r.Valid {
		return r, nil, nil
	}
	return r, t, data
}

// writeJSON writes v as indented JSON, the runner's --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeResult(w io.Writer, r fileResult) {
	if r.Error != "" {
		fmt.Fprintf(w, "%s: error: %s\n", r.File, r.Error)
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, p)
	}
	errs, warns := len(r.Problems.Errors()), len(r.Problems.Warnings())
	if r.Valid {
		fmt.Fprintf(w, "%s: valid (%d %s)\n", r.File, warns, plural(warns, "warning"))
	} else {
		fmt.Fprintf(w, "%s: invalid: %d %s, %d %s\n", r.File, errs, plural(errs, "error"), warns, plural(warns, "warning"))
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
