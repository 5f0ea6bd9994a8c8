package ssmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Environment variables the fake agent (package ./fakeagent) reads.
const (
	// EnvAgentEndpoint is the fake SSM endpoint the fake agent registers
	// with (RegisterManagedInstance). When unset, the agent mints an
	// instance ID itself.
	EnvAgentEndpoint = "FAKEAGENT_SSM_ENDPOINT"
	// EnvAgentRegistration is the registration file the fake agent writes
	// on -register (the real agent writes /var/lib/amazon/ssm/registration).
	EnvAgentRegistration = "FAKEAGENT_REGISTRATION"
	// EnvAgentLog, when set, is a file the fake agent appends one line per
	// event to: "register <instance-id> <region>", "start <pid>",
	// "term <pid>", "exit <pid> <code>".
	EnvAgentLog = "FAKEAGENT_LOG"
	// EnvAgentRegisterFail=1 makes -register fail with exit code 1 after
	// printing the activation code to stderr (to test redaction).
	EnvAgentRegisterFail = "FAKEAGENT_REGISTER_FAIL"
	// EnvAgentExit=<n> makes the run mode exit with code n right after
	// starting (to test supervision).
	EnvAgentExit = "FAKEAGENT_EXIT"
	// EnvAgentIgnoreTerm=1 makes the run mode ignore SIGTERM (to test the
	// SIGKILL fallback).
	EnvAgentIgnoreTerm = "FAKEAGENT_IGNORE_TERM"
)

// BuildFakeAgent compiles the fake amazon-ssm-agent (package ./fakeagent)
// to path with the go tool and returns path. Name the file after the
// process name the code under test looks for. It fails the test when the
// build fails.
func BuildFakeAgent(t testing.TB, path string) string {
	t.Helper()
	if err := BuildFakeAgentFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// BuildFakeAgentFile is BuildFakeAgent for callers without a testing.TB,
// such as a TestMain that builds the agent once for every test.
func BuildFakeAgentFile(path string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", path, "github.com/faultkit/faultkit/ssmreg/ssmtest/fakeagent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build fake agent: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
