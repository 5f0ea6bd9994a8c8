// Command runner validates, plans and runs AWS FIS experiment
// templates with faultkit.
//
//	runner validate [--json] [--env] [--var NAME=VALUE]... FILE...
//	runner plan     [--json] [--env] [--var NAME=VALUE]... FILE
//	runner run      [flags] FILE
//
// validate prints every problem of each template as file:line:col and
// exits 1 if any template is invalid; plan prints the parallel groups,
// effective parameters and longest path of a valid template. --var and
// --env substitute ${NAME} placeholders before validation.
//
// run executes a template on this host, this ECS task or the targets named
// with --target, driving it as FIS does (states, startAfter, stop
// conditions) and reverting every fault at the end, on SIGINT/SIGTERM, and
// through the fault journal after a crash; `runner run -h` lists its flags.
// Exit status: 0 completed, 1 failed or invalid, 2 usage, 3 stopped,
// 130 forced by a second signal.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitInvalid = 1 // a template is invalid, or the command failed
	exitUsage   = 2 // bad command line
)

// command is one subcommand. run gets the arguments after the command
// name and returns the exit status.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands. To add one, write it in its own file
// (validate.go and plan.go show the shape) and add one line here.
func commands() map[string]command {
	return map[string]command{
		"validate": {summary: "check templates against FIS's rules", run: runValidate},
		"plan":     {summary: "show what a template will do: order, parameters, duration", run: runPlan},
		"run":      {summary: "run a template's faults locally, as FIS runs an experiment", run: runRun},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "runner: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: runner COMMAND [flags] [FILE...]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nrun 'runner COMMAND -h' for the flags of a command\n")
	fmt.Fprint(w, b.String())
}
