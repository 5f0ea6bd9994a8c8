package ssmreg_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
	"github.com/faultkit/faultkit/ssmreg"
	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

// fakeAgent is the fake amazon-ssm-agent built once for the package. Its
// name is unique per run, so the "already running" scan cannot see agents of
// other test binaries running in parallel.
var fakeAgent string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ssmreg-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	fakeAgent = filepath.Join(dir, "ssmreg-fa-"+hex.EncodeToString(b)) // 14 characters: fits comm
	if err := ssmtest.BuildFakeAgentFile(fakeAgent); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

const (
	accessKey = "AKIDFAULTKITTEST"
	secretKey = "fake/secret/key"
)

// fixture is one fake world: SSM endpoint, agent environment and options.
type fixture struct {
	srv     *ssmtest.Server
	regFile string
	logFile string
	logs    *syncBuffer
	opts    ssmreg.Options
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, agentEnv ...string) *fixture {
	t.Helper()
	srv := ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{accessKey: secretKey}, Region: "us-west-2"})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	f := &fixture{srv: srv, regFile: filepath.Join(dir, "registration"), logFile: filepath.Join(dir, "agent.log"), logs: &syncBuffer{}}
	cfg := aws.Config{
		Region:      "us-east-1", // Register must override it with the task's Region
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
	f.opts = ssmreg.Options{
		RoleName:   "ecsFisManagedInstanceRole",
		AWSConfig:  &cfg,
		SSMOptions: []func(*ssm.Options){func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL()) }},
		AgentPath:  fakeAgent,
		AgentEnv: append([]string{
			ssmtest.EnvAgentEndpoint + "=" + srv.URL(),
			ssmtest.EnvAgentRegistration + "=" + f.regFile,
			ssmtest.EnvAgentLog + "=" + f.logFile,
		}, agentEnv...),
		AgentStdout:      f.logs,
		AgentStderr:      f.logs,
		RegistrationFile: f.regFile,
		Logger:           slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return f
}

// agentEvents returns the fake agent's event lines.
func (f *fixture) agentEvents(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.logFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// task returns AWS's recorded EC2 example task.
func task(t *testing.T) *ecsmeta.Task {
	t.Helper()
	var task ecsmeta.Task
	if err := json.Unmarshal(ecsmetatest.EC2().Task, &task); err != nil {
		t.Fatal(err)
	}
	return &task
}

// ops lists the operations of the recorded calls.
func ops(calls []ssmtest.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Operation
	}
	return out
}

// waitGone waits until no process named like the fake agent remains.
func waitGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pid, err := ssmreg.FindProcess("/proc", filepath.Base(fakeAgent))
		if err != nil {
			t.Fatal(err)
		}
		if pid == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake agent pid %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deregisterOnCleanup(t *testing.T, r *ssmreg.Registration) {
	t.Cleanup(func() {
		_ = r.Deregister(context.Background())
		waitGone(t)
	})
}

// withCtx is a test context that ends with the test.
func withCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
