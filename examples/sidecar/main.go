// Command sidecar registers its Amazon ECS task as an AWS Systems Manager
// managed instance so that AWS FIS can run its aws:ecs:task-* actions on the
// task, supervises the SSM agent, and deregisters on SIGTERM or SIGINT. It
// replaces the bash script of the FIS SSM-agent sidecar with one static
// binary that needs nothing installed.
//
// Usage, as the entry point of a container that also holds amazon-ssm-agent
// (see Dockerfile and taskdef.json here):
//
//	MANAGED_INSTANCE_ROLE_NAME=ecsFisManagedInstanceRole sidecar
//	sidecar -h   # flags, environment, exit codes
//	sidecar -permissive -agent-restarts 5 -log-level debug
//	AWS_ENDPOINT_URL_SSM=http://localhost:4566 sidecar   # any SDK setting applies
//
// It performs the script's steps in order: check MANAGED_INSTANCE_ROLE_NAME;
// refuse if an amazon-ssm-agent process already runs (ECS Exec); read
// ${ECS_CONTAINER_METADATA_URI_V4}/task; check the zone and task ARN with
// the script's patterns (or permissive ones with -permissive); create an SSM
// activation tagged ECS_TASK_ARN, ECS_TASK_AVAILABILITY_ZONE and
// FAULT_INJECTION_SIDECAR=true; run amazon-ssm-agent -register; run the
// agent. On SIGTERM or SIGINT it deletes the activation, deregisters the
// managed instance named in the registration file and stops the agent,
// within -stop-timeout, which must stay below the container's ECS
// stopTimeout (30 s by default).
//
// Logs are JSON lines (log/slog) on stderr. The agent's own output passes
// through to stdout and stderr.
//
// Exit codes:
//
//	0   stopped by SIGTERM/SIGINT and fully deregistered (also: -h)
//	1   other error
//	2   bad command line
//	3   MANAGED_INSTANCE_ROLE_NAME missing or not a role name
//	4   ECS_CONTAINER_METADATA_URI_V4 missing or malformed
//	5   an SSM agent is already running (for example ECS Exec is enabled)
//	6   task metadata could not be read
//	7   availability zone or task ARN rejected
//	8   AWS configuration or CreateActivation failed
//	9   amazon-ssm-agent -register failed, or the agent could not start
//	10  the agent exited on its own (after -agent-restarts restarts); cleanup was done
//	11  stopped by a signal, but part of the cleanup failed
//
// When the sidecar is PID 1 of a shared PID namespace (pidMode task), it
// does not reap orphaned processes; set linuxParameters.initProcessEnabled.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ssmreg"
)

// Exit codes; see the package documentation.
const (
	exitOK           = 0
	exitOther        = 1
	exitUsage        = 2
	exitRole         = 3
	exitNoMetadata   = 4
	exitAgentRunning = 5
	exitMetadata     = 6
	exitIdentity     = 7
	exitActivation   = 8
	exitAgent        = 9
	exitAgentExited  = 10
	exitCleanup      = 11
)

// Defaults of the flags that a task definition must agree with.
const (
	defaultStopTimeout     = 25 * time.Second
	defaultMetadataTimeout = time.Minute
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type config struct {
	role, metadataURI, agentPath, registrationFile, region, logLevel string
	permissive, overwrite                                            bool
	restarts                                                         int
	restartDelay, stopTimeout, agentStopTimeout, metadataTimeout     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*config, int, bool) {
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.role, "role", os.Getenv(ssmreg.EnvRoleName), "managed-instance IAM role `name` (default $"+ssmreg.EnvRoleName+")")
	fs.StringVar(&c.metadataURI, "metadata-uri", os.Getenv(ecsmeta.EnvEndpointV4), "task metadata endpoint v4 `URI` (default $"+ecsmeta.EnvEndpointV4+")")
	fs.StringVar(&c.agentPath, "agent", ssmreg.DefaultAgentPath, "amazon-ssm-agent `path`; its base name is also the process name checked for \"already running\"")
	fs.StringVar(&c.registrationFile, "registration-file", ssmreg.DefaultRegistrationFile, "`file` the agent writes its registration to")
	fs.StringVar(&c.region, "region", "", "AWS `Region` for SSM and the agent (default: derived from the task's availability zone)")
	fs.BoolVar(&c.permissive, "permissive", false, "accept any well-formed zone name (Local Zones, all Regions) and short task ARNs instead of the FIS script's patterns")
	fs.BoolVar(&c.overwrite, "overwrite", false, "pass -y to amazon-ssm-agent -register, replacing an existing registration")
	fs.IntVar(&c.restarts, "agent-restarts", 3, "restart the agent up to `n` times if it exits on its own")
	fs.DurationVar(&c.restartDelay, "agent-restart-delay", ssmreg.DefaultRestartDelay, "delay before the first agent restart, doubled each time")
	fs.DurationVar(&c.agentStopTimeout, "agent-stop-timeout", ssmreg.DefaultStopTimeout, "wait this long after SIGTERM to the agent before SIGKILL")
	fs.DurationVar(&c.stopTimeout, "stop-timeout", defaultStopTimeout, "budget for the whole cleanup after SIGTERM/SIGINT; keep it below the container's ECS stopTimeout")
	fs.DurationVar(&c.metadataTimeout, "metadata-timeout", defaultMetadataTimeout, "give up reading task metadata after this long (connection errors and 5xx are retried until then)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK, true
		}
		return nil, exitUsage, true
	}
	if c.restarts < 0 || c.restartDelay < 0 || c.agentStopTimeout < 0 || c.stopTimeout <= 0 || c.metadataTimeout <= 0 {
		fmt.Fprintln(stderr, "sidecar: -agent-restarts and -agent-restart-delay must not be negative; -stop-timeout and -metadata-timeout must be positive")
		return nil, exitUsage, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sidecar: unexpected argument %q\n", fs.Arg(0))
		return nil, exitUsage, true
	}
	return c, 0, false
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: sidecar [flags]

Registers this ECS task as an SSM managed instance for AWS FIS (tags ECS_TASK_ARN,
ECS_TASK_AVAILABILITY_ZONE, FAULT_INJECTION_SIDECAR=true), runs and supervises
amazon-ssm-agent, and on SIGTERM/SIGINT deletes the activation, deregisters the
managed instance and stops the agent.

Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  MANAGED_INSTANCE_ROLE_NAME     managed-instance IAM role name (required unless -role)
  ECS_CONTAINER_METADATA_URI_V4  set by ECS; task metadata endpoint (required unless -metadata-uri)
  AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (set by ECS), AWS_ENDPOINT_URL_SSM, AWS_MAX_ATTEMPTS,
  AWS_RETRY_MODE and every other aws-sdk-go-v2 setting: the standard configuration chain.
  The agent inherits the environment.

Exit codes:
  0   stopped by SIGTERM/SIGINT and fully deregistered (also: -h)
  1   other error
  2   bad command line
  3   MANAGED_INSTANCE_ROLE_NAME missing or not a role name
  4   ECS_CONTAINER_METADATA_URI_V4 missing or malformed
  5   an SSM agent is already running (for example ECS Exec is enabled)
  6   task metadata could not be read
  7   availability zone or task ARN rejected
  8   AWS configuration or CreateActivation failed
  9   amazon-ssm-agent -register failed, or the agent could not start
  10  the agent exited on its own (after -agent-restarts restarts); cleanup was done
  11  stopped by a signal, but part of the cleanup failed
`)
}

func run(args []string, stderr io.Writer) int {
	c, code, done := parseFlags(args, stderr)
	if done {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintf(stderr, "sidecar: -log-level %q: %v\n", c.logLevel, err)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	fail := func(code int, msg string, err error) int {
		log.Error(msg, "err", err, "exit_code", code)
		return code
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The script's order: role, running agent, metadata, identity.
	if c.role == "" {
		return fail(exitRole, "missing managed instance role", fmt.Errorf("%w: set %s", ssmreg.ErrNoRoleName, ssmreg.EnvRoleName))
	}
	if os.Getpid() == 1 {
		log.Warn("running as PID 1: orphaned processes are not reaped; set linuxParameters.initProcessEnabled in the task definition")
	}
	procName := filepath.Base(c.agentPath)
	if pid, err := ssmreg.FindProcess(ssmreg.DefaultProcDir, procName); err != nil {
		return fail(exitOther, "cannot scan processes", err)
	} else if pid != 0 {
		return fail(exitAgentRunning, "SSM agent is already running, exiting",
			fmt.Errorf("%w (process %q, pid %d); disable ECS Exec on this task", ssmreg.ErrAgentRunning, procName, pid))
	}
	if c.metadataURI == "" {
		return fail(exitNoMetadata, "missing task metadata endpoint", fmt.Errorf("%w: %s is not set", ecsmeta.ErrNoEndpoint, ecsmeta.EnvEndpointV4))
	}
	// Retry transient failures until -metadata-timeout: the endpoint may
	// not answer yet while the task starts.
	meta, err := ecsmeta.New(c.metadataURI, &ecsmeta.Options{MaxAttempts: math.MaxInt32})
	if err != nil {
		return fail(exitNoMetadata, "bad task metadata endpoint", err)
	}
	mctx, cancel := context.WithTimeout(ctx, c.metadataTimeout)
	task, err := meta.Task(mctx)
	cancel()
	if err != nil {
		return fail(exitMetadata, "cannot read task metadata", err)
	}
	log = log.With("task_arn", task.TaskARN, "availability_zone", task.AvailabilityZone)

	reg, err := ssmreg.Register(ctx, task, ssmreg.Options{
		RoleName:         c.role,
		Region:           c.region,
		Permissive:       c.permissive,
		AgentPath:        c.agentPath,
		RegistrationFile: c.registrationFile,
		Overwrite:        c.overwrite,
		Restarts:         c.restarts,
		RestartDelay:     c.restartDelay,
		StopTimeout:      c.agentStopTimeout,
		Logger:           log,
	})
	if err != nil {
		return fail(registerExitCode(err), "registration failed", err)
	}
	if id, err := reg.ManagedInstanceID(); err == nil {
		log.Info("ready for AWS FIS", "managed_instance_id", id, "activation_id", reg.ActivationID, "region", reg.Region)
	}

	exit := exitOK
	select {
	case <-ctx.Done():
		log.Info("stop signal received; deregistering", "budget", c.stopTimeout)
	case <-reg.Done():
		log.Error("SSM agent is gone; deregistering", "err", reg.Err())
		exit = exitAgentExited
	}
	stop() // a second signal now terminates at once
	cctx, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
	defer cancel()
	if err := reg.Deregister(cctx); err != nil {
		if exit == exitOK {
			exit = exitCleanup
		}
		log.Error("cleanup incomplete", "err", err, "exit_code", exit)
		return exit
	}
	log.Info("stopped", "exit_code", exit)
	return exit
}

// registerExitCode maps a Register error to an exit code.
func registerExitCode(err error) int {
	switch {
	case errors.Is(err, ssmreg.ErrNoRoleName), errors.Is(err, ssmreg.ErrInvalidRoleName):
		return exitRole
	case errors.Is(err, ssmreg.ErrAgentRunning):
		return exitAgentRunning
	case errors.Is(err, ecsmeta.ErrInvalidAvailabilityZone), errors.Is(err, ecsmeta.ErrInvalidTaskARN):
		return exitIdentity
	case errors.Is(err, ssmreg.ErrAgentRegister), errors.Is(err, ssmreg.ErrAgentStart):
		return exitAgent
	case errors.Is(err, ssmreg.ErrActivation), errors.Is(err, ssmreg.ErrAWSConfig):
		return exitActivation
	default:
		return exitOther
	}
}
