package ssmreg_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ssmreg"
)

// Register the task the FIS sidecar way, run until ECS stops the container,
// then clean up. (Needs a task and amazon-ssm-agent, so it is not run here;
// examples/sidecar is the complete program.)
func ExampleRegister() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	meta, err := ecsmeta.FromEnv(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	task, err := meta.Task(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	reg, err := ssmreg.Register(ctx, task, ssmreg.Options{
		RoleName: os.Getenv(ssmreg.EnvRoleName),
		Logger:   slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case <-ctx.Done(): // SIGTERM
	case <-reg.Done(): // the agent died
	}
	cleanup, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := reg.Deregister(cleanup); err != nil {
		fmt.Println(err)
	}
}

// The registration file the agent writes after -register.
func ExampleReadRegistrationFile() {
	dir, _ := os.MkdirTemp("", "ssm")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "registration")
	_ = os.WriteFile(path, []byte(`{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"us-west-2"}`), 0o600)

	info, err := ssmreg.ReadRegistrationFile(path)
	fmt.Println(info.ManagedInstanceID, info.Region, err)
	// Output: mi-0123456789abcdef0 us-west-2 <nil>
}

// The "SSM agent is already running" check scans /proc.
func ExampleFindProcess() {
	pid, err := ssmreg.FindProcess("/proc", "no-such-agent-x")
	fmt.Println(pid, err)
	// Output: 0 <nil>
}
