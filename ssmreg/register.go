package ssmreg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/faultkit/faultkit/ecsmeta"
)

// Names FIS relies on.
const (
	// EnvRoleName is the sidecar's environment variable holding the
	// managed-instance IAM role name.
	EnvRoleName = "MANAGED_INSTANCE_ROLE_NAME"
	// TagTaskARN is the activation tag, copied to the managed instance, by
	// which FIS finds the instance for a target task.
	TagTaskARN = "ECS_TASK_ARN"
	// TagAvailabilityZone is the activation tag holding the task's zone.
	TagAvailabilityZone = "ECS_TASK_AVAILABILITY_ZONE"
	// TagFaultInjectionSidecar is the activation tag marking the instance
	// as a FIS sidecar; its value is "true".
	TagFaultInjectionSidecar = "FAULT_INJECTION_SIDECAR"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultAgentPath    = "/usr/bin/amazon-ssm-agent"
	DefaultProcDir      = "/proc"
	DefaultStopTimeout  = 5 * time.Second // SIGTERM to SIGKILL
	DefaultRestartDelay = time.Second     // before the first restart, doubled each time
	cleanupTimeout      = 15 * time.Second
	maxOutput           = 4096
)

// SSMAPI is the part of *ssm.Client that Register uses.
type SSMAPI interface {
	CreateActivation(ctx context.Context, in *ssm.CreateActivationInput, optFns ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error)
	DeleteActivation(ctx context.Context, in *ssm.DeleteActivationInput, optFns ...func(*ssm.Options)) (*ssm.DeleteActivationOutput, error)
	DeregisterManagedInstance(ctx context.Context, in *ssm.DeregisterManagedInstanceInput, optFns ...func(*ssm.Options)) (*ssm.DeregisterManagedInstanceOutput, error)
}

// Options configures Register. Only RoleName is required.
type Options struct {
	// RoleName is the IAM role (name, not ARN) the managed instance
	// assumes. It must trust ssm.amazonaws.com. The sidecar reads it from
	// MANAGED_INSTANCE_ROLE_NAME.
	RoleName string
	// Region overrides the Region derived from the task's availability
	// zone for the SSM calls and the agent.
	Region string
	// Permissive replaces the FIS sidecar script's zone and task ARN
	// patterns with ecsmeta.CheckAvailabilityZoneName and
	// ecsmeta.ParseTaskARN, accepting Local Zones, Regions outside the
	// script's list and short task ARNs. Off by default: the script's rules.
	Permissive bool

	// Client makes the SSM calls. Nil means ssm.NewFromConfig(AWSConfig,
	// SSMOptions...) with the Region set.
	Client SSMAPI
	// AWSConfig is the SDK configuration. Nil means
	// config.LoadDefaultConfig: the standard chain (environment, shared
	// files, ECS container credentials, IMDS) and standard retryer.
	AWSConfig *aws.Config
	// SSMOptions adjust the SSM client, e.g. its BaseEndpoint.
	SSMOptions []func(*ssm.Options)

	// AgentPath is the amazon-ssm-agent binary; default DefaultAgentPath.
	AgentPath string
	// AgentEnv is appended to the environment of the agent commands.
	AgentEnv []string
	// AgentStdout and AgentStderr receive the running agent's output;
	// nil means the caller's os.Stdout and os.Stderr.
	AgentStdout, AgentStderr io.Writer
	// AgentProcessName is the process name that counts as "an agent is
	// already running"; default the base name of AgentPath.
	AgentProcessName string
	// ProcDir is the proc file system to scan; default "/proc".
	ProcDir string
	// RegistrationFile is where the agent writes its registration; default
	// DefaultRegistrationFile.
	RegistrationFile string
	// Overwrite passes -y to -register, replacing an existing registration
	// instead of failing.
	Overwrite bool

	// Restarts is how many times the agent is restarted after exiting on
	// its own; 0 means never (the script's behaviour).
	Restarts int
	// RestartDelay is the delay before the first restart, doubled for each
	// further one (capped at one minute); default DefaultRestartDelay.
	RestartDelay time.Duration
	// StopTimeout is how long Deregister waits after SIGTERM before it
	// kills the agent; default DefaultStopTimeout.
	StopTimeout time.Duration

	// Logger receives progress and failures; nil discards them. The
	// activation code is never logged.
	Logger *slog.Logger
}

// Registration is a task registered as an SSM managed instance with a
// supervised agent. Its methods are safe for concurrent use.
type Registration struct {
	ActivationID     string // the hybrid activation's ID
	Region           string // Region of the activation and the agent
	TaskARN          string // value of the ECS_TASK_ARN tag
	AvailabilityZone string // value of the ECS_TASK_AVAILABILITY_ZONE tag

	client   SSMAPI
	opts     Options
	log      *slog.Logger
	done     chan struct{}
	stopCh   chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	restarts int
	agentErr error

	deregMu   sync.Mutex
	deregDone bool
	deregErr  error
}

// Register makes the task an SSM managed instance the way the FIS ECS
// sidecar does:
//
//  1. checks RoleName, the task's zone and ARN (the script's patterns unless
//     Permissive) and that no agent process already runs;
//  2. calls CreateActivation with IamRole RoleName and the tags
//     ECS_TASK_AVAILABILITY_ZONE, ECS_TASK_ARN and FAULT_INJECTION_SIDECAR=true,
//     in the Region of the task's zone;
//  3. runs `amazon-ssm-agent -register -code … -id … -region …`;
//  4. starts the agent and supervises it.
//
// ctx bounds steps 1-3; the agent runs until Deregister. If a step after
// CreateActivation fails, Register deletes the activation (and deregisters
// the instance if one was registered) before returning, unlike the script,
// which leaves them behind. The activation code is passed to the agent on
// its command line (the agent offers no other way) and appears in no log or
// error; output of the agent that contains it is redacted.
func Register(ctx context.Context, task *ecsmeta.Task, opts Options) (*Registration, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if task == nil {
		return nil, fmt.Errorf("%w: task metadata is nil", ErrInvalidOptions)
	}
	region, err := checkTask(task, o)
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("task_arn", task.TaskARN, "region", region)

	if pid, err := FindProcess(o.ProcDir, o.AgentProcessName); err != nil {
		return nil, err
	} else if pid != 0 {
		return nil, fmt.Errorf("%w (process %q, pid %d); disable ECS Exec on this task", ErrAgentRunning, o.AgentProcessName, pid)
	}

	client := o.Client
	if client == nil {
		if client, err = newClient(ctx, o, region); err != nil {
			return nil, err
		}
	}

	out, err := client.CreateActivation(ctx, &ssm.CreateActivationInput{
		IamRole: aws.String(o.RoleName),
		Tags: []types.Tag{
			{Key: aws.String(TagAvailabilityZone), Value: aws.String(task.AvailabilityZone)},
			{Key: aws.String(TagTaskARN), Value: aws.String(task.TaskARN)},
			{Key: aws.String(TagFaultInjectionSidecar), Value: aws.String("true")},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w (role %q, region %s): %w", ErrActivation, o.RoleName, region, err)
	}
	code, id := aws.ToString(out.ActivationCode), aws.ToString(out.ActivationId)
	if code == "" || id == "" {
		return nil, fmt.Errorf("%w: response lacks ActivationCode or ActivationId", ErrActivation)
	}
	log = log.With("activation_id", id)
	log.Info("created SSM activation", "role", o.RoleName)

	r := &Registration{
		ActivationID: id, Region: region, TaskARN: task.TaskARN, AvailabilityZone: task.AvailabilityZone,
		client: client, opts: o, log: log,
		done: make(chan struct{}), stopCh: make(chan struct{}),
	}
	if err := r.registerAgent(ctx, code); err != nil {
		return nil, errors.Join(err, r.cleanup(ctx, false))
	}
	cmd := r.newAgentCmd()
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("%w: %s: %w", ErrAgentStart, o.AgentPath, err), r.cleanup(ctx, true))
	}
	r.cmd = cmd
	log.Info("started SSM agent", "pid", cmd.Process.Pid)
	go r.supervise(cmd)
	return r, nil
}

func (o Options) withDefaults() (Options, error) {
	if strings.TrimSpace(o.RoleName) == "" {
		return o, fmt.Errorf("%w (set %s)", ErrNoRoleName, EnvRoleName)
	}
	if len(o.RoleName) > 64 || strings.ContainsAny(o.RoleName, " \t\n/:") {
		return o, fmt.Errorf("%w: %q: want an IAM role name of at most 64 characters, not a path or ARN", ErrInvalidRoleName, o.RoleName)
	}
	if o.Restarts < 0 || o.RestartDelay < 0 || o.StopTimeout < 0 {
		return o, fmt.Errorf("%w: negative Restarts (%d), RestartDelay (%s) or StopTimeout (%s)", ErrInvalidOptions, o.Restarts, o.RestartDelay, o.StopTimeout)
	}
	if o.AgentPath == "" {
		o.AgentPath = DefaultAgentPath
	}
	if o.AgentProcessName == "" {
		o.AgentProcessName = filepath.Base(o.AgentPath)
	}
	if o.ProcDir == "" {
		o.ProcDir = DefaultProcDir
	}
	if o.RegistrationFile == "" {
		o.RegistrationFile = DefaultRegistrationFile
	}
	if o.RestartDelay == 0 {
		o.RestartDelay = DefaultRestartDelay
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.AgentStdout == nil {
		o.AgentStdout = os.Stdout
	}
	if o.AgentStderr == nil {
		o.AgentStderr = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// checkTask validates the zone and ARN and returns the Region to use.
func checkTask(task *ecsmeta.Task, o Options) (string, error) {
	if o.Permissive {
		if err := ecsmeta.CheckAvailabilityZoneName(task.AvailabilityZone); err != nil {
			return "", err
		}
		if _, err := ecsmeta.ParseTaskARN(task.TaskARN); err != nil {
			return "", err
		}
	} else {
		if err := ecsmeta.CheckSidecarAvailabilityZone(task.AvailabilityZone); err != nil {
			return "", err
		}
		if err := ecsmeta.CheckSidecarTaskARN(task.TaskARN); err != nil {
			return "", err
		}
	}
	if o.Region != "" {
		return o.Region, nil
	}
	return ecsmeta.RegionFromAvailabilityZone(task.AvailabilityZone)
}

func newClient(ctx context.Context, o Options, region string) (SSMAPI, error) {
	var cfg aws.Config
	if o.AWSConfig != nil {
		cfg = o.AWSConfig.Copy()
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAWSConfig, err)
		}
	}
	fns := append([]func(*ssm.Options){func(so *ssm.Options) { so.Region = region }}, o.SSMOptions...)
	return ssm.NewFromConfig(cfg, fns...), nil
}

// registerAgent runs amazon-ssm-agent -register.
func (r *Registration) registerAgent(ctx context.Context, code string) error {
	args := []string{"-register", "-code", code, "-id", r.ActivationID, "-region", r.Region}
	if r.opts.Overwrite {
		args = append(args, "-y")
	}
	cmd := exec.CommandContext(ctx, r.opts.AgentPath, args...)
	cmd.Env = append(os.Environ(), r.opts.AgentEnv...)
	var buf limitedBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	output := redact(strings.TrimSpace(buf.String()), code)
	if err != nil {
		// exec errors name the binary, never the arguments.
		if output != "" {
			return fmt.Errorf("%w: %s -register: %w: %s", ErrAgentRegister, r.opts.AgentPath, err, output)
		}
		return fmt.Errorf("%w: %s -register: %w", ErrAgentRegister, r.opts.AgentPath, err)
	}
	info, err := ReadRegistrationFile(r.opts.RegistrationFile)
	if err != nil {
		return fmt.Errorf("%w: agent reported success but: %w", ErrAgentRegister, err)
	}
	r.log.Info("registered SSM agent", "managed_instance_id", info.ManagedInstanceID, "agent_output", output)
	return nil
}

// redact removes every occurrence of secret from s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[REDACTED]")
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (r *Registration) newAgentCmd() *exec.Cmd {
	cmd := exec.Command(r.opts.AgentPath)
	cmd.Env = append(os.Environ(), r.opts.AgentEnv...)
	cmd.Stdout, cmd.Stderr = r.opts.AgentStdout, r.opts.AgentStderr
	cmd.SysProcAttr = agentSysProcAttr()
	// The agent's workers may inherit its output pipes and outlive it; do
	// not let them hold Wait (and so Deregister) hostage.
	cmd.WaitDelay = time.Second
	return cmd
}

// supervise waits for the agent and restarts it up to Options.Restarts
// times, until Deregister stops it.
func (r *Registration) supervise(cmd *exec.Cmd) {
	defer close(r.done)
	delay := r.opts.RestartDelay
	for {
		err := cmd.Wait()
		r.mu.Lock()
		if r.stopping {
			r.mu.Unlock()
			return
		}
		if err == nil {
			err = errors.New("exit status 0")
		}
		if r.restarts >= r.opts.Restarts {
			r.agentErr = fmt.Errorf("%w (pid %d, after %d restarts): %w", ErrAgentExited, cmd.Process.Pid, r.restarts, err)
			r.mu.Unlock()
			r.log.Error("SSM agent exited", "pid", cmd.Process.Pid, "err", err, "restarts", r.restarts)
			return
		}
		r.restarts++
		n := r.restarts
		r.mu.Unlock()
		r.log.Warn("SSM agent exited; restarting", "pid", cmd.Process.Pid, "err", err, "restart", n, "delay", delay)

		t := time.NewTimer(delay)
		select {
		case <-r.stopCh:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, time.Minute)

		r.mu.Lock()
		if r.stopping {
			r.mu.Unlock()
			return
		}
		cmd = r.newAgentCmd()
		if err := cmd.Start(); err != nil {
			r.agentErr = fmt.Errorf("%w: restart: %w", ErrAgentStart, err)
			r.mu.Unlock()
			r.log.Error("SSM agent restart failed", "err", err)
			return
		}
		r.cmd = cmd
		r.mu.Unlock()
		r.log.Info("restarted SSM agent", "pid", cmd.Process.Pid)
	}
}

// Done is closed when the agent has stopped for good: it exited and was not
// restarted, or Deregister stopped it.
func (r *Registration) Done() <-chan struct{} { return r.done }

// Err returns why the agent stopped on its own (wrapping ErrAgentExited or
// ErrAgentStart), or nil while it runs or after Deregister stopped it.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agentErr
}

// AgentPID returns the PID of the current agent process.
func (r *Registration) AgentPID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Restarts returns how many times the agent has been restarted.
func (r *Registration) Restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restarts
}

// ManagedInstanceID reads the managed instance ID from the agent's
// registration file.
func (r *Registration) ManagedInstanceID() (string, error) {
	info, err := ReadRegistrationFile(r.opts.RegistrationFile)
	return info.ManagedInstanceID, err
}

// Deregister undoes Register in the script's order: DeleteActivation, read
// the managed instance ID from the registration file,
// DeregisterManagedInstance, then stop the agent (SIGTERM, SIGKILL after
// StopTimeout or when ctx ends). It carries on past each failure and returns
// all of them joined. Later calls return the first call's result.
func (r *Registration) Deregister(ctx context.Context) error {
	r.deregMu.Lock()
	defer r.deregMu.Unlock()
	if r.deregDone {
		return r.deregErr
	}
	r.deregErr = errors.Join(r.deregisterSSM(ctx, true), r.stopAgent(ctx))
	r.deregDone = true
	if r.deregErr != nil {
		r.log.Error("deregistration finished with errors", "err", r.deregErr)
	} else {
		r.log.Info("deregistered")
	}
	return r.deregErr
}

// deregisterSSM deletes the activation and, if instance is true,
// deregisters the managed instance named in the registration file.
func (r *Registration) deregisterSSM(ctx context.Context, instance bool) error {
	var errs []error
	if _, err := r.client.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(r.ActivationID)}); err != nil {
		errs = append(errs, fmt.Errorf("ssmreg: delete activation %s: %w", r.ActivationID, err))
		r.log.Error("delete activation failed", "err", err)
	} else {
		r.log.Info("deleted SSM activation")
	}
	if !instance {
		return errors.Join(errs...)
	}
	id, err := r.ManagedInstanceID()
	if err != nil {
		errs = append(errs, fmt.Errorf("ssmreg: read managed instance ID: %w", err))
		r.log.Error("read registration file failed", "err", err)
		return errors.Join(errs...)
	}
	if _, err := r.client.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String(id)}); err != nil {
		errs = append(errs, fmt.Errorf("ssmreg: deregister managed instance %s: %w", id, err))
		r.log.Error("deregister managed instance failed", "managed_instance_id", id, "err", err)
	} else {
		r.log.Info("deregistered managed instance", "managed_instance_id", id)
	}
	return errors.Join(errs...)
}

// cleanup undoes a failed Register with a fresh deadline, since ctx may be
// what failed.
func (r *Registration) cleanup(ctx context.Context, instance bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	return r.deregisterSSM(ctx, instance)
}

// stopAgent stops the supervised agent and waits for it.
func (r *Registration) stopAgent(ctx context.Context) error {
	r.mu.Lock()
	r.stopping = true
	cmd := r.cmd
	r.mu.Unlock()
	r.stopOnce.Do(func() { close(r.stopCh) })

	select {
	case <-r.done:
		return nil
	default:
	}
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.log.Error("SIGTERM to SSM agent failed", "pid", pid, "err", err)
	}
	t := time.NewTimer(r.opts.StopTimeout)
	defer t.Stop()
	var why string
	select {
	case <-r.done:
		r.log.Info("SSM agent stopped", "pid", pid)
		return nil
	case <-t.C:
		why = fmt.Sprintf("did not exit within %s of SIGTERM", r.opts.StopTimeout)
	case <-ctx.Done():
		why = fmt.Sprintf("did not exit before the deadline (%v)", ctx.Err())
	}
	r.log.Warn("killing SSM agent", "pid", pid, "reason", why)
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("ssmreg: SSM agent pid %d %s; SIGKILL: %w", pid, why, err)
	}
	<-r.done // SIGKILL cannot be ignored; Wait returns promptly
	return fmt.Errorf("ssmreg: SSM agent pid %d %s; killed", pid, why)
}
