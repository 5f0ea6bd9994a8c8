package ssmreg_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ssmreg"
	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

func TestRegisterAndDeregister(t *testing.T) {
	f := newFixture(t)
	tk := task(t)
	r, err := ssmreg.Register(withCtx(t), tk, f.opts)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	deregisterOnCleanup(t, r)

	// CreateActivation: signed for the task's Region, with the role and
	// exactly the three FIS tags.
	creates := f.srv.Calls("CreateActivation")
	if len(creates) != 1 {
		t.Fatalf("%d CreateActivation calls", len(creates))
	}
	c := creates[0]
	if !c.Signed || c.Region != "us-west-2" || c.AccessKeyID != accessKey {
		t.Errorf("CreateActivation signed %v region %q key %q", c.Signed, c.Region, c.AccessKeyID)
	}
	var in struct {
		IamRole string
		Tags    []ssmtest.Tag
	}
	if err := json.Unmarshal(c.Input, &in); err != nil {
		t.Fatal(err)
	}
	wantTags := []ssmtest.Tag{
		{Key: "ECS_TASK_AVAILABILITY_ZONE", Value: "us-west-2d"},
		{Key: "ECS_TASK_ARN", Value: tk.TaskARN},
		{Key: "FAULT_INJECTION_SIDECAR", Value: "true"},
	}
	if in.IamRole != "ecsFisManagedInstanceRole" || !slices.Equal(in.Tags, wantTags) {
		t.Errorf("CreateActivation input = %+v, want role ecsFisManagedInstanceRole and tags %v", in, wantTags)
	}

	// The agent registered with the issued code and id; the instance
	// carries the tags FIS looks up.
	acts, insts := f.srv.Activations(), f.srv.Instances()
	if len(acts) != 1 || len(insts) != 1 || acts[0].Registrations != 1 || insts[0].ActivationID != r.ActivationID {
		t.Fatalf("activations %+v instances %+v", acts, insts)
	}
	if !slices.Equal(insts[0].Tags, wantTags) {
		t.Errorf("instance tags = %v", insts[0].Tags)
	}
	id, err := r.ManagedInstanceID()
	if err != nil || id != insts[0].ID {
		t.Errorf("ManagedInstanceID = %q, %v; want %q", id, err, insts[0].ID)
	}
	if r.Region != "us-west-2" || r.TaskARN != tk.TaskARN || r.AvailabilityZone != "us-west-2d" {
		t.Errorf("registration = %+v", r)
	}

	// The supervised agent runs and is what the process scan finds.
	pid, err := ssmreg.FindProcess("/proc", filepath.Base(fakeAgent))
	if err != nil || pid == 0 || pid != r.AgentPID() {
		t.Fatalf("FindProcess = %d, %v; AgentPID %d", pid, err, r.AgentPID())
	}

	f.waitStarted(t) // so the agent logs the SIGTERM it gets
	if err := r.Deregister(withCtx(t)); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("Done not closed after Deregister")
	}
	if r.Err() != nil {
		t.Errorf("Err after Deregister = %v", r.Err())
	}
	want := []string{"CreateActivation", "RegisterManagedInstance", "DeleteActivation", "DeregisterManagedInstance"}
	if got := ops(f.srv.Calls()); !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	del := f.srv.Calls("DeleteActivation", "DeregisterManagedInstance")
	if !strings.Contains(string(del[0].Input), r.ActivationID) || !strings.Contains(string(del[1].Input), id) {
		t.Errorf("cleanup inputs %s %s", del[0].Input, del[1].Input)
	}
	for _, c := range f.srv.Calls() {
		if c.ErrorCode != "" {
			t.Errorf("%s answered %s", c.Operation, c.ErrorCode)
		}
	}
	if a := f.srv.Activations()[0]; !a.Deleted {
		t.Error("activation not deleted")
	}
	if in := f.srv.Instances()[0]; !in.Deregistered {
		t.Error("instance not deregistered")
	}
	ev := f.agentEvents(t)
	wantEv := []string{
		fmt.Sprintf("register_%s_us-west-2", id),
		fmt.Sprintf("start_%d", pid), fmt.Sprintf("term_%d", pid), fmt.Sprintf("exit_%d_0", pid),
	}
	if !slices.Equal(ev, wantEv) {
		t.Errorf("agent events = %v, want %v", ev, wantEv)
	}
	waitGone(t)

	// Idempotent: no further calls.
	if err := r.Deregister(withCtx(t)); err != nil {
		t.Errorf("second Deregister: %v", err)
	}
	if n := len(f.srv.Calls()); n != 4 {
		t.Errorf("%d calls after a second Deregister, want 4", n)
	}
	if logs := f.logs.String(); strings.Contains(logs, f.srv.Activations()[0].Code) {
		t.Error("activation code appears in the logs")
	}
}

func TestRegisterRefusesWhenAgentRunning(t *testing.T) {
	f := newFixture(t)
	other := exec.Command(fakeAgent)
	other.Env = append(os.Environ(), ssmtest.EnvAgentLog+"="+f.logFile)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill()
		_ = other.Wait()
	})
	// Wait until it is up (it logs "start").
	for deadline := time.Now().Add(10 * time.Second); len(f.agentEvents(t)) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("fake agent did not start")
		}
	}
	_, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if !errors.Is(err, ssmreg.ErrAgentRunning) || !strings.Contains(err.Error(), fmt.Sprint(other.Process.Pid)) {
		t.Fatalf("Register = %v, want ErrAgentRunning naming pid %d", err, other.Process.Pid)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("%d SSM calls despite the refusal", n)
	}
}

func TestRegisterValidation(t *testing.T) {
	f := newFixture(t)
	base := task(t)
	for _, tc := range []struct {
		name   string
		mutate func(*ecsmeta.Task, *ssmreg.Options)
		want   error
		inMsg  string
	}{
		{"no role", func(_ *ecsmeta.Task, o *ssmreg.Options) { o.RoleName = "" }, ssmreg.ErrNoRoleName, "MANAGED_INSTANCE_ROLE_NAME"},
		{"role ARN", func(_ *ecsmeta.Task, o *ssmreg.Options) { o.RoleName = "arn:aws:iam::1:role/x" }, ssmreg.ErrInvalidRoleName, "arn:aws:iam::1:role/x"},
		{"zone ID", func(tk *ecsmeta.Task, _ *ssmreg.Options) { tk.AvailabilityZone = "usw2-az4" }, ecsmeta.ErrInvalidAvailabilityZone, "usw2-az4"},
		{"local zone", func(tk *ecsmeta.Task, _ *ssmreg.Options) { tk.AvailabilityZone = "us-west-2-lax-1a" }, ecsmeta.ErrInvalidAvailabilityZone, "us-west-2-lax-1a"},
		{"short ARN", func(tk *ecsmeta.Task, _ *ssmreg.Options) {
			tk.TaskARN = "arn:aws:ecs:us-west-2:111122223333:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6"
		}, ecsmeta.ErrInvalidTaskARN, "short-format"},
		{"negative restarts", func(_ *ecsmeta.Task, o *ssmreg.Options) { o.Restarts = -1 }, ssmreg.ErrInvalidOptions, "Restarts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk, o := *base, f.opts
			tc.mutate(&tk, &o)
			_, err := ssmreg.Register(withCtx(t), &tk, o)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("Register = %v, want %v mentioning %q", err, tc.want, tc.inMsg)
			}
		})
	}
	if _, err := ssmreg.Register(withCtx(t), nil, f.opts); !errors.Is(err, ssmreg.ErrInvalidOptions) {
		t.Errorf("Register(nil task) = %v", err)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("%d SSM calls for invalid input", n)
	}
}

func TestRegisterPermissiveAcceptsLocalZone(t *testing.T) {
	f := newFixture(t)
	tk := task(t)
	tk.AvailabilityZone = "us-west-2-lax-1a"
	f.opts.Permissive = true
	r, err := ssmreg.Register(withCtx(t), tk, f.opts)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	deregisterOnCleanup(t, r)
	if r.Region != "us-west-2" {
		t.Errorf("Region = %q, want us-west-2 (the script would derive us-west-2-lax-1)", r.Region)
	}
	if c := f.srv.Calls("CreateActivation"); len(c) != 1 || c[0].Region != "us-west-2" {
		t.Errorf("CreateActivation calls %+v", c)
	}
}

func TestRegisterFailureCleansUpAndRedacts(t *testing.T) {
	f := newFixture(t, ssmtest.EnvAgentRegisterFail+"=1")
	_, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if !errors.Is(err, ssmreg.ErrAgentRegister) {
		t.Fatalf("Register = %v, want ErrAgentRegister", err)
	}
	acts := f.srv.Activations()
	if len(acts) != 1 {
		t.Fatalf("%d activations", len(acts))
	}
	code := acts[0].Code
	if strings.Contains(err.Error(), code) || strings.Contains(f.logs.String(), code) {
		t.Errorf("activation code leaked: err %q", err)
	}
	// The fake agent printed the code; the error keeps its output, redacted.
	if !strings.Contains(err.Error(), "registration failed for activation code [REDACTED]") {
		t.Errorf("err = %q, want the redacted agent output", err)
	}
	if !acts[0].Deleted {
		t.Error("activation left behind after a failed registration")
	}
	if got := ops(f.srv.Calls()); !slices.Equal(got, []string{"CreateActivation", "DeleteActivation"}) {
		t.Errorf("calls = %v", got)
	}
	waitGone(t)
}

func TestRegisterCreateActivationError(t *testing.T) {
	f := newFixture(t)
	f.srv.FailNext("CreateActivation", "InvalidParameters", 400)
	_, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	var apiErr smithy.APIError
	if !errors.Is(err, ssmreg.ErrActivation) || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameters" {
		t.Fatalf("Register = %v, want ErrActivation wrapping InvalidParameters", err)
	}
	if len(f.agentEvents(t)) != 0 {
		t.Error("agent ran although CreateActivation failed")
	}
}

func TestDeregisterContinuesPastFailures(t *testing.T) {
	f := newFixture(t)
	r, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	deregisterOnCleanup(t, r)
	id, _ := r.ManagedInstanceID()
	f.srv.FailNext("DeleteActivation", "InvalidActivationId", 400)
	f.srv.FailNext("DeregisterManagedInstance", "InvalidInstanceId", 400)

	err = r.Deregister(withCtx(t))
	var apiErr smithy.APIError
	if err == nil || !errors.As(err, &apiErr) {
		t.Fatalf("Deregister = %v, want joined API errors", err)
	}
	for _, want := range []string{"delete activation " + r.ActivationID, "InvalidActivationId", "deregister managed instance " + id, "InvalidInstanceId"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Deregister error %q lacks %q", err, want)
		}
	}
	// Every step was still attempted, and the agent stopped.
	if got := ops(f.srv.Calls("DeleteActivation", "DeregisterManagedInstance")); !slices.Equal(got, []string{"DeleteActivation", "DeregisterManagedInstance"}) {
		t.Errorf("cleanup calls = %v", got)
	}
	<-r.Done()
	waitGone(t)
}

func TestDeregisterWithoutRegistrationFile(t *testing.T) {
	f := newFixture(t)
	r, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	deregisterOnCleanup(t, r)
	if err := os.Remove(f.regFile); err != nil {
		t.Fatal(err)
	}
	err = r.Deregister(withCtx(t))
	if !errors.Is(err, ssmreg.ErrRegistrationFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Deregister = %v, want ErrRegistrationFile/ErrNotExist", err)
	}
	if !f.srv.Activations()[0].Deleted {
		t.Error("activation not deleted")
	}
	if n := len(f.srv.Calls("DeregisterManagedInstance")); n != 0 {
		t.Errorf("%d DeregisterManagedInstance calls without an ID", n)
	}
	<-r.Done()
	waitGone(t)
}

func TestAgentRestartsThenGivesUp(t *testing.T) {
	f := newFixture(t, ssmtest.EnvAgentExit+"=3")
	f.opts.Restarts = 2
	f.opts.RestartDelay = time.Millisecond
	r, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	deregisterOnCleanup(t, r)
	select {
	case <-r.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after the agent kept exiting")
	}
	if !errors.Is(r.Err(), ssmreg.ErrAgentExited) || !strings.Contains(r.Err().Error(), "exit status 3") || r.Restarts() != 2 {
		t.Fatalf("Err = %v, Restarts = %d", r.Err(), r.Restarts())
	}
	starts := 0
	for _, e := range f.agentEvents(t) {
		if strings.HasPrefix(e, "start_") {
			starts++
		}
	}
	if starts != 3 {
		t.Errorf("agent started %d times, want 3 (1 + 2 restarts)", starts)
	}
	// Deregistering after the agent died still cleans up SSM.
	if err := r.Deregister(withCtx(t)); err != nil {
		t.Errorf("Deregister: %v", err)
	}
	if !f.srv.Instances()[0].Deregistered {
		t.Error("instance not deregistered")
	}
}

func TestDeregisterKillsStubbornAgent(t *testing.T) {
	f := newFixture(t, ssmtest.EnvAgentIgnoreTerm+"=1")
	f.opts.StopTimeout = 200 * time.Millisecond
	r, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	deregisterOnCleanup(t, r)
	f.waitStarted(t)
	err = r.Deregister(withCtx(t))
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Deregister = %v, want a 'killed' error", err)
	}
	if !f.srv.Instances()[0].Deregistered || !f.srv.Activations()[0].Deleted {
		t.Error("SSM cleanup skipped")
	}
	<-r.Done()
	waitGone(t)
}

func TestDeregisterContextBoundsStop(t *testing.T) {
	f := newFixture(t, ssmtest.EnvAgentIgnoreTerm+"=1")
	f.opts.StopTimeout = time.Hour
	r, err := ssmreg.Register(withCtx(t), task(t), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	deregisterOnCleanup(t, r)
	f.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = r.Deregister(ctx)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("Deregister = %v, want the agent killed at the deadline", err)
	}
	<-r.Done()
	waitGone(t)
}

// waitStarted waits until the fake agent has logged "start" (its signal
// handling is installed by then).
func (f *fixture) waitStarted(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !slices.ContainsFunc(f.agentEvents(t), func(e string) bool { return strings.HasPrefix(e, "start_") }); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("agent did not start")
		}
	}
}
