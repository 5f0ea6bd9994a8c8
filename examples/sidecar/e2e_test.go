package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
	"github.com/faultkit/faultkit/ssmreg"
	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

const (
	accessKey = "AKIDSIDECARTEST"
	secretKey = "sidecar/secret"
	roleName  = "ecsFisManagedInstanceRole"
)

// Binaries built once for the package: the sidecar itself (CGO off, as the
// Dockerfile builds it) and a fake agent with a name unique to this run, so
// the "already running" scan does not see agents of other test binaries.
var (
	sidecarBin string
	agentBin   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sidecar-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sidecarBin = filepath.Join(dir, "sidecar")
	cmd := exec.Command("go", "build", "-o", sidecarBin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sidecar: %v\n%s", err, out)
		return 1
	}
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	agentBin = filepath.Join(dir, "sidecar-fa-"+hex.EncodeToString(b)) // 15 characters: fits comm
	if err := ssmtest.BuildFakeAgentFile(agentBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// world is a fake ECS task: metadata endpoint, SSM endpoint, agent files.
type world struct {
	meta    *ecsmetatest.Server
	ssm     *ssmtest.Server
	dir     string
	regFile string
	logFile string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		meta: ecsmetatest.NewServer(ecsmetatest.EC2()),
		ssm:  ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{accessKey: secretKey}, Region: "us-west-2"}),
		dir:  t.TempDir(),
	}
	t.Cleanup(w.meta.Close)
	t.Cleanup(w.ssm.Close)
	w.regFile = filepath.Join(w.dir, "registration")
	w.logFile = filepath.Join(w.dir, "agent.log")
	return w
}

// env is the sidecar's environment: what ECS would set, AWS settings
// pointing the SDK's standard chain at the fake, and the fake agent's knobs.
func (w *world) env(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.dir,
		ssmreg.EnvRoleName + "=" + roleName,
		"ECS_CONTAINER_METADATA_URI_V4=" + w.meta.Endpoint(),
		"AWS_ACCESS_KEY_ID=" + accessKey,
		"AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_ENDPOINT_URL_SSM=" + w.ssm.URL(),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(w.dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.dir, "no-credentials"),
		ssmtest.EnvAgentEndpoint + "=" + w.ssm.URL(),
		ssmtest.EnvAgentRegistration + "=" + w.regFile,
		ssmtest.EnvAgentLog + "=" + w.logFile,
	}
	return append(env, extra...)
}

// sidecar returns the command for the sidecar with the test's agent.
func (w *world) sidecar(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(sidecarBin, append([]string{"-agent", agentBin, "-registration-file", w.regFile,
		"-agent-restart-delay", "10ms", "-metadata-timeout", "20s"}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	return cmd, &stderr
}

func (w *world) agentEvents(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(w.logFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (w *world) waitAgentStarted(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if slices.ContainsFunc(w.agentEvents(t), func(e string) bool { return strings.HasPrefix(e, "start ") }) {
			return
		}
		if cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("agent did not start; sidecar output:\n%s", out)
		}
	}
}

// wait waits for the sidecar and returns its exit code.
func wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("sidecar did not exit")
		return -1
	}
}

// logLines parses the sidecar's stderr: every line must be a JSON object
// (the fake agent's own output lines start with "fakeagent:" or "Successfully").
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "fakeagent:") || strings.HasPrefix(l, "Successfully registered") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if m["time"] == nil || m["level"] == nil || m["msg"] == nil {
			t.Errorf("log line lacks time/level/msg: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

func hasMsg(lines []map[string]any, msg string) bool {
	return slices.ContainsFunc(lines, func(m map[string]any) bool { return m["msg"] == msg })
}

func TestEndToEndRegisterAndSIGTERM(t *testing.T) {
	w := newWorld(t)
	// The metadata endpoint answers 503 twice, as it can while a task starts.
	w.meta.FailNext(2, 503)
	cmd, out := w.sidecar(t, w.env())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	w.waitAgentStarted(t, cmd, out)
	if got := w.meta.Requests(); !slices.Equal(got, []string{"/task", "/task", "/task"}) {
		t.Errorf("metadata requests %q, want /task three times", got)
	}

	// Registered: one activation with the FIS tags, one managed instance.
	acts := w.ssm.Activations()
	if len(acts) != 1 {
		t.Fatalf("%d activations", len(acts))
	}
	wantTags := []ssmtest.Tag{
		{Key: "ECS_TASK_AVAILABILITY_ZONE", Value: "us-west-2d"},
		{Key: "ECS_TASK_ARN", Value: "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"},
		{Key: "FAULT_INJECTION_SIDECAR", Value: "true"},
	}
	if acts[0].IamRole != roleName || !slices.Equal(acts[0].Tags, wantTags) {
		t.Errorf("activation role %q tags %v; want %q %v", acts[0].IamRole, acts[0].Tags, roleName, wantTags)
	}
	info, err := ssmreg.ReadRegistrationFile(w.regFile)
	if err != nil {
		t.Fatal(err)
	}
	if insts := w.ssm.Instances(); len(insts) != 1 || insts[0].ID != info.ManagedInstanceID || info.Region != "us-west-2" {
		t.Fatalf("instances %+v, registration file %+v", insts, info)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, cmd); code != exitOK {
		t.Fatalf("exit code %d, want 0; output:\n%s", code, out)
	}

	calls := w.ssm.Calls()
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.Operation)
		if c.ErrorCode != "" {
			t.Errorf("%s answered %s", c.Operation, c.ErrorCode)
		}
		if c.Operation != "RegisterManagedInstance" && (!c.Signed || c.Region != "us-west-2" || c.AccessKeyID != accessKey) {
			t.Errorf("%s: signed %v region %q key %q", c.Operation, c.Signed, c.Region, c.AccessKeyID)
		}
	}
	want := []string{"CreateActivation", "RegisterManagedInstance", "DeleteActivation", "DeregisterManagedInstance"}
	if !slices.Equal(ops, want) {
		t.Fatalf("SSM calls %v, want %v", ops, want)
	}
	var del struct{ ActivationId string }
	var dereg struct{ InstanceId string }
	_ = json.Unmarshal(calls[2].Input, &del)
	_ = json.Unmarshal(calls[3].Input, &dereg)
	if del.ActivationId != acts[0].ID || dereg.InstanceId != info.ManagedInstanceID {
		t.Errorf("DeleteActivation(%q) DeregisterManagedInstance(%q); want %q, %q", del.ActivationId, dereg.InstanceId, acts[0].ID, info.ManagedInstanceID)
	}
	// The agent got SIGTERM after the SSM cleanup and exited.
	ev := w.agentEvents(t)
	if len(ev) < 3 || !strings.HasPrefix(ev[len(ev)-2], "term ") || !strings.HasSuffix(ev[len(ev)-1], " 0") {
		t.Errorf("agent events %v, want ... term, exit 0", ev)
	}
	lines := logLines(t, out.String())
	for _, msg := range []string{"created SSM activation", "ready for AWS FIS", "stop signal received; deregistering", "deleted SSM activation", "deregistered managed instance", "stopped"} {
		if !hasMsg(lines, msg) {
			t.Errorf("no %q log line in:\n%s", msg, out)
		}
	}
	if strings.Contains(out.String(), acts[0].Code) {
		t.Error("activation code in the sidecar's output")
	}
	if pid, _ := ssmreg.FindProcess("/proc", filepath.Base(agentBin)); pid != 0 {
		t.Errorf("agent pid %d still running", pid)
	}
}

func TestEndToEndFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *world) []string // returns extra env
		args  []string
		code  int
		msg   string
	}{
		{"missing role", func(t *testing.T, w *world) []string { return []string{ssmreg.EnvRoleName + "="} }, nil, exitRole, "missing managed instance role"},
		{"role ARN", func(t *testing.T, w *world) []string { return nil }, []string{"-role", "arn:aws:iam::1:role/r"}, exitRole, "registration failed"},
		{"missing metadata URI", func(t *testing.T, w *world) []string { return []string{"ECS_CONTAINER_METADATA_URI_V4="} }, nil, exitNoMetadata, "missing task metadata endpoint"},
		{"metadata unavailable", func(t *testing.T, w *world) []string {
			r := ecsmetatest.EC2()
			r.Task = nil
			w.meta.SetResponses(r)
			return nil
		}, nil, exitMetadata, "cannot read task metadata"},
		{"zone ID", func(t *testing.T, w *world) []string {
			w.meta.SetResponses(withTaskField(t, "AvailabilityZone", "usw2-az4"))
			return nil
		}, nil, exitIdentity, "registration failed"},
		{"local zone", func(t *testing.T, w *world) []string {
			w.meta.SetResponses(withTaskField(t, "AvailabilityZone", "us-west-2-lax-1a"))
			return nil
		}, nil, exitIdentity, "registration failed"},
		{"short task ARN", func(t *testing.T, w *world) []string {
			w.meta.SetResponses(withTaskField(t, "TaskARN", "arn:aws:ecs:us-west-2:111122223333:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6"))
			return nil
		}, nil, exitIdentity, "registration failed"},
		{"activation refused", func(t *testing.T, w *world) []string {
			w.ssm.FailNext("CreateActivation", "InvalidParameters", 400)
			return nil
		}, nil, exitActivation, "registration failed"},
		{"agent register fails", func(t *testing.T, w *world) []string { return []string{ssmtest.EnvAgentRegisterFail + "=1"} }, nil, exitAgent, "registration failed"},
		{"agent keeps exiting", func(t *testing.T, w *world) []string { return []string{ssmtest.EnvAgentExit + "=2"} }, []string{"-agent-restarts", "1"}, exitAgentExited, "SSM agent is gone; deregistering"},
		{"bad flag", func(t *testing.T, w *world) []string { return nil }, []string{"-agent-restarts", "-1"}, exitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			env := w.env(tc.setup(t, w)...)
			cmd, out := w.sidecar(t, env, tc.args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if code := wait(t, cmd); code != tc.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			if tc.msg == "" {
				return
			}
			lines := logLines(t, out.String())
			if !hasMsg(lines, tc.msg) {
				t.Errorf("no %q log line in:\n%s", tc.msg, out)
			}
			// Whatever failed, nothing stays registered.
			for _, a := range w.ssm.Activations() {
				if !a.Deleted {
					t.Errorf("activation %s left behind", a.ID)
				}
			}
			for _, in := range w.ssm.Instances() {
				if !in.Deregistered {
					t.Errorf("instance %s left registered", in.ID)
				}
			}
			if pid, _ := ssmreg.FindProcess("/proc", filepath.Base(agentBin)); pid != 0 {
				t.Errorf("agent pid %d still running", pid)
			}
		})
	}
}

func TestEndToEndAgentAlreadyRunning(t *testing.T) {
	w := newWorld(t)
	other := exec.Command(agentBin)
	other.Env = w.env()
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill()
		_ = other.Wait()
	})
	w.waitAgentStarted(t, other, &bytes.Buffer{})
	cmd, out := w.sidecar(t, w.env())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, cmd); code != exitAgentRunning {
		t.Fatalf("exit code %d, want %d; output:\n%s", code, exitAgentRunning, out)
	}
	if !hasMsg(logLines(t, out.String()), "SSM agent is already running, exiting") || !strings.Contains(out.String(), fmt.Sprint(other.Process.Pid)) {
		t.Errorf("output does not name the running agent:\n%s", out)
	}
	if n := len(w.ssm.Calls()); n != 0 {
		t.Errorf("%d SSM calls", n)
	}
}

// TestEndToEndStubbornAgent: an agent that ignores SIGTERM is killed and the
// sidecar still exits, with the cleanup-failed code, inside its stop budget.
func TestEndToEndStubbornAgent(t *testing.T) {
	w := newWorld(t)
	cmd, out := w.sidecar(t, w.env(ssmtest.EnvAgentIgnoreTerm+"=1"), "-agent-stop-timeout", "200ms", "-stop-timeout", "5s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	w.waitAgentStarted(t, cmd, out)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, cmd); code != exitCleanup {
		t.Fatalf("exit code %d, want %d; output:\n%s", code, exitCleanup, out)
	}
	if !w.ssm.Activations()[0].Deleted || !w.ssm.Instances()[0].Deregistered {
		t.Error("SSM cleanup skipped")
	}
	if !strings.Contains(out.String(), "killed") {
		t.Errorf("output does not report the kill:\n%s", out)
	}
	if pid, _ := ssmreg.FindProcess("/proc", filepath.Base(agentBin)); pid != 0 {
		t.Errorf("agent pid %d still running", pid)
	}
}

// withTaskField returns the recorded EC2 responses with one /task field
// replaced.
func withTaskField(t *testing.T, key, value string) ecsmetatest.Responses {
	t.Helper()
	r := ecsmetatest.EC2()
	var m map[string]any
	if err := json.Unmarshal(r.Task, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.Task = b
	return r
}

// TestBinaryIsStatic checks the CGO-off build has no ELF interpreter and no
// shared-library dependencies, so it runs on distroless/static.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(sidecarBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a PT_INTERP program header: dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("imported libraries %v, %v", libs, err)
	}
}

func TestHelpDocumentsEverything(t *testing.T) {
	cmd := exec.CommandContext(context.Background(), sidecarBin, "-h")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("-h: %v\n%s", err, out.String())
	}
	help := out.String()
	for _, want := range []string{
		"-role", "-metadata-uri", "-agent", "-registration-file", "-region", "-permissive", "-overwrite",
		"-agent-restarts", "-agent-restart-delay", "-agent-stop-timeout", "-stop-timeout", "-metadata-timeout", "-log-level",
		"MANAGED_INSTANCE_ROLE_NAME", "ECS_CONTAINER_METADATA_URI_V4", "AWS_ENDPOINT_URL_SSM",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	// Every exit code appears in -h and in the package documentation with
	// the same text.
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for code := exitOK; code <= exitCleanup; code++ {
		line := helpLine(help, code)
		if line == "" {
			t.Errorf("-h does not document exit code %d", code)
			continue
		}
		if !strings.Contains(string(src), "//\t"+line+"\n") {
			t.Errorf("package doc lacks exit code line %q", line)
		}
	}
}

func helpLine(help string, code int) string {
	for _, l := range strings.Split(help, "\n") {
		l = strings.TrimSpace(l)
		if f := strings.Fields(l); len(f) > 1 && f[0] == fmt.Sprint(code) {
			return l
		}
	}
	return ""
}
