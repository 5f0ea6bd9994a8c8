//go:build linux

package procs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/procs"
)

// startNamed starts a copy of sleep under name, the way a service binary
// would run, and returns it with a cleanup function.
func startNamed(name string) (*exec.Cmd, func(), error) {
	dir, err := os.MkdirTemp("", "procs-example-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	src, err := exec.LookPath("sleep")
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	in, err := os.Open(src)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	defer in.Close()
	path := filepath.Join(dir, name)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, in)
		err = errors.Join(err, out.Close())
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	cmd := exec.Command(path, "60")
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, nil, err
	}
	for range 1000 { // until it has exec'd
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)); strings.TrimSpace(string(b)) == name {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return cmd, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); cleanup() }, nil
}

// Kill signals every process with the name and, with Wait, reports when
// each exited.
func ExampleKill() {
	name := fmt.Sprintf("example-%d", os.Getpid())
	cmd, cleanup, err := startNamed(name)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	res, err := procs.Kill(context.Background(), name, syscall.SIGTERM, procs.Wait(10*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signalled child:", res.PIDs()[0] == cmd.Process.Pid, "exited:", res.Signalled[0].Exited)
	_ = cmd.Wait() // reap it; until then the zombie would be reported as skipped

	_, err = procs.Kill(context.Background(), name, syscall.SIGTERM)
	fmt.Println(errors.Is(err, fault.ErrNotFound), strings.HasPrefix(err.Error(), "No process matching example-"))
	// Output:
	// signalled child: true exited: true
	// true true
}

// Find looks before Kill acts: here by executable path instead of name.
func ExampleFind() {
	name := fmt.Sprintf("exfind-%d", os.Getpid()) // at most 15 bytes: all of it is the comm
	cmd, cleanup, err := startNamed(name)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
	if err != nil {
		fmt.Println(err)
		return
	}
	found, err := procs.Find(exe, procs.WithMatch(procs.MatchExe))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range found {
		fmt.Println(p.Name == name, p.PID == cmd.Process.Pid, p.Cmdline[1:])
	}
	// Output: true true [60]
}

// KillFault is the registry's aws:ecs:task-kill-process. Its handle has
// ended when Inject returns; there is nothing to revert.
func ExampleKillFault() {
	name := fmt.Sprintf("example-flt-%d", os.Getpid())
	_, cleanup, err := startNamed(name)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	reg, err := fault.NewRegistry(procs.Actions())
	if err != nil {
		fmt.Println(err)
		return
	}
	f, d, err := reg.New(fault.ActionTaskKillProcess, map[string]string{"processName": name, "signal": "SIGKILL"})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := fault.Run(context.Background(), f, d, fault.WithoutJournal())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Fault, "ended by", rep.EndedBy, "duration", d)
	for _, m := range rep.Metrics {
		fmt.Println(m.Name, m.Value)
	}
	// Output:
	// kill-process ended by fault duration 0s
	// signalled 1
	// failed 0
	// skipped 0
}
