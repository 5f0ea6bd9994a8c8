package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/template"
)

// Exit statuses of run, besides exitOK (completed), exitInvalid (failed,
// or the template is invalid) and exitUsage.
const (
	exitStopped = 3   // stopped by a stop condition or a signal
	exitForced  = 130 // a second signal: reverted through the journal and exited at once
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type runFlags struct {
	report          string
	dryRun          bool
	skipUnsupported bool
	targets         listFlag
	netns           listFlag
	demoNetNS       bool
	stopHTTP        listFlag
	stopCmd         listFlag
	probeInterval   time.Duration
	alarmInterval   time.Duration
	cwEndpoint      string
	seed            uint64
	plain           bool
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, tf := newTemplateFlags("run", "run [flags] FILE", stderr)
	var rf runFlags
	fs.StringVar(&rf.report, "report", "", "write the JSON report (schema: experiment/report.schema.json) to `FILE`")
	fs.BoolVar(&rf.dryRun, "dry-run", false, "print the plan and the resolved targets; inject nothing")
	fs.BoolVar(&rf.skipUnsupported, "skip-unsupported", false, "skip actions faultkit cannot run locally instead of failing")
	fs.Var(&rf.targets, "target", "local target of aws:ecs:task targets: host, netns:NAME|PATH, pid:N, cgroup:PATH (repeatable; default: this ECS task, else the host)")
	fs.Var(&rf.netns, "netns", "shorthand for --target netns:`NAME|PATH` (repeatable)")
	fs.BoolVar(&rf.demoNetNS, "demo-netns", false, "create a demo namespace pair (removed at exit), target its first namespace, and probe across it")
	fs.Var(&rf.stopHTTP, "stop-on-http", "faultkit extension: stop when `URL` does not answer 2xx (repeatable)")
	fs.Var(&rf.stopCmd, "stop-on-cmd", "faultkit extension: stop when `COMMAND` (sh -c) exits non-zero (repeatable)")
	fs.DurationVar(&rf.probeInterval, "probe-interval", time.Second, "interval of --stop-on-http and --stop-on-cmd checks")
	fs.DurationVar(&rf.alarmInterval, "alarm-interval", 5*time.Second, "interval of CloudWatch alarm checks")
	fs.StringVar(&rf.cwEndpoint, "cloudwatch-endpoint", "", "CloudWatch endpoint `URL` (default: the SDK's, for the alarm's Region)")
	fs.Uint64Var(&rf.seed, "seed", 0, "seed for COUNT/PERCENT target selection (0: random)")
	fs.BoolVar(&rf.plain, "plain", false, "plain log lines even on a terminal")
	files, code, ok := parseFiles(fs, args, true)
	if !ok {
		return code
	}
	file := files[0]

	// Template.
	r, tpl, data := checkFile(file, tf.options())
	if !r.Valid {
		writeResult(stderr, r)
		return exitInvalid
	}
	plan, err := template.NewPlan(tpl, template.PlanOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitInvalid
	}

	// Targets.
	var targets []experiment.Target
	for _, s := range rf.netns {
		rf.targets = append(rf.targets, "netns:"+s)
	}
	for _, s := range rf.targets {
		t, err := experiment.ParseTarget(s)
		if err != nil {
			fmt.Fprintf(stderr, "runner: --target: %v\n", err)
			return exitUsage
		}
		targets = append(targets, t)
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := experiment.Config{
		RegistryFor:     registryFor,
		Targets:         targets,
		DryRun:          rf.dryRun,
		SkipUnsupported: rf.skipUnsupported,
		AlarmInterval:   rf.alarmInterval,
		PollInterval:    rf.probeInterval,
		Template:        experiment.TemplateInfo{File: file, Digest: experiment.Digest(data), Description: tpl.Description},
	}
	if rf.seed != 0 {
		cfg.Rand = rand.New(rand.NewPCG(rf.seed, rf.seed))
	}
	for _, u := range rf.stopHTTP {
		cfg.StopConditions = append(cfg.StopConditions, experiment.HTTPProbe(u, 0, nil))
	}
	for _, c := range rf.stopCmd {
		cfg.StopConditions = append(cfg.StopConditions, experiment.CommandProbe(c, 0))
	}
	if !rf.dryRun {
		cw, err := cloudWatchFor(ctx, plan, rf.cwEndpoint)
		if err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
		cfg.CloudWatch = cw
	}

	if rf.dryRun {
		if err := plan.WriteText(stdout); err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
		if rf.demoNetNS {
			fmt.Fprintln(stdout, "\nDry run: --demo-netns would create a namespace pair and target its first namespace; resolving against the host instead.")
			cfg.Targets = []experiment.Target{experiment.Host()}
		}
	}

	// Journal: the runner owns it so that a second signal can revert
	// everything through it at once.
	if !rf.dryRun {
		j, err := fault.OpenJournal(fault.JournalConfig{Logger: logger})
		if err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
		defer j.Close()
		cfg.Journal = j
	}

	// Demo network.
	var demo *demoNet
	if rf.demoNetNS && !rf.dryRun {
		demo, err = newDemoNet(cfg.Journal)
		if err != nil {
			fmt.Fprintf(stderr, "runner: --demo-netns: %v\n", err)
			return exitInvalid
		}
		defer func() {
			if err := demo.Close(); err != nil {
				fmt.Fprintf(stderr, "runner: demo namespaces: %v\n", err)
			}
		}()
		cfg.Targets = append(cfg.Targets, demo.Target())
		fmt.Fprintf(stdout, "Demo network: %s (%s) <-> %s (%s); the experiment targets %s; probing UDP %s every %s\n",
			demo.nameA, demo.addrA, demo.nameB, demo.addrB, demo.nameA, demo.echo, demoProbeEvery)
	}

	// View.
	view := newView(stdout, stderr, logger, rf.plain, demo)
	cfg.Observer = view.observe
	if !view.live {
		cfg.Logger = logger
	}

	// Signals: the first stops the experiment, the second reverts through
	// the journal and exits.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	if demo != nil {
		demo.startProbe()
		time.Sleep(demoBaseline) // a baseline before the first fault
	}
	e, err := experiment.Start(context.WithoutCancel(ctx), plan, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "runner: %v\n", err)
		return exitInvalid
	}
	var forced bool
	ctxDone := ctx.Done()
wait:
	for signalled := 0; ; {
		// A pending signal wins over the experiment's end, so that a
		// second signal sent while the first stop finishes still forces.
		var s os.Signal
		select {
		case s = <-sigs:
		default:
		}
		if s == nil {
			select {
			case s = <-sigs:
			case <-e.Done():
				break wait
			case <-ctxDone:
				// main's signal.NotifyContext ends ctx on the same signal
				// that reaches sigs: give that one a moment to arrive so
				// the reason names it. A ctx ending alone (a caller's
				// cancel) stops the experiment but does not count as a
				// signal.
				ctxDone = nil
				select {
				case s = <-sigs:
				case <-time.After(50 * time.Millisecond):
					e.Stop("Experiment stopped: " + context.Cause(ctx).Error() + ".")
					continue
				}
			}
		}
		signalled++
		if signalled == 1 {
			view.note(fmt.Sprintf("received %s: stopping (send it again to revert at once and exit)", s))
			e.Stop(fmt.Sprintf("Experiment stopped: received %s.", s))
			continue
		}
		view.note(fmt.Sprintf("received %s again: reverting through the journal and exiting", s))
		if cfg.Journal != nil {
			if err := cfg.Journal.Close(); err != nil {
				fmt.Fprintf(stderr, "runner: journal: %v\n", err)
			}
		}
		forced = true
		break wait
	}
	rep := e.Snapshot()
	var err2 error
	if !forced {
		rep, err2 = e.Wait()
	} else {
		rep.Errors = append(rep.Errors, "forced exit by a second signal: faults reverted through the journal; the experiment did not reach a final state")
	}
	if demo != nil && !forced {
		time.Sleep(demoBaseline + 700*time.Millisecond) // and one after the last (echoes in flight for 500 ms)
		demo.stopProbe()
	}
	view.finish(rep)
	if rf.report != "" {
		if err := writeReport(rf.report, rep); err != nil {
			fmt.Fprintf(stderr, "runner: %v\n", err)
			return exitInvalid
		}
	}
	if demo != nil {
		demo.summary(stdout, rep)
	}
	switch {
	case forced:
		return exitForced
	case err2 == nil:
		return exitOK
	case errors.Is(err2, experiment.ErrStopped):
		return exitStopped
	}
	return exitInvalid
}

func writeReport(path string, rep *experiment.Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// cloudWatchFor returns a CloudWatch client when the plan has alarm stop
// conditions: the SDK's default configuration, in the Region of the first
// alarm's ARN, at endpoint when given.
func cloudWatchFor(ctx context.Context, plan *template.Plan, endpoint string) (experiment.CloudWatchAPI, error) {
	var region string
	for _, sc := range plan.StopConditions {
		if sc.Source == template.StopSourceAlarm {
			a, err := experiment.ParseAlarmARN(sc.Value)
			if err != nil {
				return nil, err
			}
			region = a.Region
			break
		}
	}
	if region == "" {
		return nil, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for the CloudWatch alarm stop conditions: %w", err)
	}
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
