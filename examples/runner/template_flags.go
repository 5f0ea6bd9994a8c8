package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/faultkit/faultkit/template"
)

// varFlag collects repeated --var NAME=VALUE flags.
type varFlag map[string]string

// String renders the variables for flag's help output.
func (v varFlag) String() string { return fmt.Sprint(map[string]string(v)) }

// Set adds one NAME=VALUE.
func (v varFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	v[name] = value
	return nil
}

// templateFlags are the flags validate and plan share.
type templateFlags struct {
	json bool
	env  bool
	vars varFlag
}

func newTemplateFlags(name, usageLine string, stderr io.Writer) (*flag.FlagSet, *templateFlags) {
	tf := &templateFlags{vars: varFlag{}}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&tf.json, "json", false, "print JSON for machines")
	fs.BoolVar(&tf.env, "env", false, "substitute ${NAME} placeholders from the environment")
	fs.Var(tf.vars, "var", "substitute ${NAME} with VALUE (NAME=VALUE, repeatable; wins over --env)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: runner %s\n", usageLine)
		fs.PrintDefaults()
	}
	return fs, tf
}

// parseInterleaved parses flags that may come before or after the file
// names, as in "runner validate a.json --json".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return files, nil
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFiles parses a command's flags and file names: exactly one file if
// one is set, else at least one. When ok is false the command is over:
// code is exitOK after --help, exitUsage after a usage error (the usage
// is printed).
func parseFiles(fs *flag.FlagSet, args []string, one bool) (files []string, code int, ok bool) {
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, exitOK, false
	}
	if err != nil {
		return nil, exitUsage, false
	}
	if len(files) == 0 || one && len(files) != 1 {
		fs.Usage()
		return nil, exitUsage, false
	}
	return files, exitOK, true
}

func (tf *templateFlags) options() []template.Option {
	var opts []template.Option
	if len(tf.vars) > 0 {
		opts = append(opts, template.WithVars(tf.vars))
	}
	if tf.env {
		opts = append(opts, template.WithEnv())
	}
	return opts
}
