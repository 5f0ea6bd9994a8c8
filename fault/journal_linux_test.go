package fault_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// The child half of the crash tests: a copy of this test binary that opens
// a journal, creates an owned directory, prints its path and waits to be
// killed. It is a no-op in a normal test run.
func TestJournalChildProcess(t *testing.T) {
	dir := os.Getenv("FAULTKIT_TEST_JOURNAL_CHILD")
	if dir == "" {
		t.Skip("helper process for the crash tests")
	}
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: dir, NoGuardian: os.Getenv("FAULTKIT_TEST_NO_GUARDIAN") == "1"})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	path, _, err := j.CreateDir(os.Getenv("FAULTKIT_TEST_PARENT"), "faultkit-crash-")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Println("DIR", path)
	time.Sleep(time.Hour)
}

// startCrashChild runs the child and returns it with the directory it made.
func startCrashChild(t *testing.T, state, parent string, noGuardian bool) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "FAULTKIT_TEST_JOURNAL_CHILD="+state, "FAULTKIT_TEST_PARENT="+parent)
	if noGuardian {
		cmd.Env = append(cmd.Env, "FAULTKIT_TEST_NO_GUARDIAN=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERR ") {
			t.Fatalf("child: %s", line)
		}
		if dir, ok := strings.CutPrefix(line, "DIR "); ok {
			go func() { // keep draining so the child never blocks on stdout
				for sc.Scan() {
				}
			}()
			return cmd, dir
		}
	}
	t.Fatalf("child exited without creating its directory: %v", sc.Err())
	return nil, ""
}

func TestGuardianRevertsAfterSIGKILL(t *testing.T) {
	state, parent := t.TempDir(), t.TempDir()
	cmd, dir := startCrashChild(t, state, parent, false)
	if _, err := os.Stat(filepath.Join(dir, fault.OwnerMarker)); err != nil {
		t.Fatalf("child's directory not there before the kill: %v", err)
	}
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := killed.Add(2 * time.Second)
	for {
		_, err := os.Stat(dir)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("directory %s still exists 2 s after SIGKILL of its creator", dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("guardian removed the directory %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	// The guardian removes the journal once it has replayed it.
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(filepath.Join(state, "*.journal")); len(m) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	m, _ := filepath.Glob(filepath.Join(state, "*.journal"))
	t.Fatalf("journal left behind: %v", m)
}

func TestRecoverReplaysAbandonedJournal(t *testing.T) {
	state, parent := t.TempDir(), t.TempDir()
	cmd, dir := startCrashChild(t, state, parent, true) // no guardian: only Recover can help

	// While the owner lives, Recover must leave its journal alone.
	res, err := fault.Recover(context.Background(), state)
	if err != nil || res.Live != 1 || res.Journals != 0 {
		t.Fatalf("Recover with live owner: %+v, %v", res, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("Recover touched a live process's directory")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("without a guardian the directory should survive the crash")
	}
	res, err = fault.Recover(context.Background(), state)
	if err != nil || res.Journals != 1 || len(res.Reverted) != 1 {
		t.Fatalf("Recover: %+v, %v", res, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Recover left %s", dir)
	}
	if m, _ := filepath.Glob(filepath.Join(state, "*.journal")); len(m) != 0 {
		t.Fatalf("journal not removed: %v", m)
	}
}

func TestJournalReleaseAndClose(t *testing.T) {
	state, parent := filepath.Join(t.TempDir(), "state"), t.TempDir()
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: state})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(state)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", info.Mode().Perm())
	}
	kept, e1, err := j.CreateDir(parent, "faultkit-kept-")
	if err != nil {
		t.Fatal(err)
	}
	left, _, err := j.CreateDir(parent, "faultkit-left-")
	if err != nil {
		t.Fatal(err)
	}
	// Released entries are the caller's business: remove it ourselves.
	if err := os.RemoveAll(kept); err != nil {
		t.Fatal(err)
	}
	if err := e1.Release(); err != nil || e1.Release() != nil {
		t.Fatal("release not idempotent")
	}
	// Close applies what is still active (through the guardian) and waits.
	start := time.Now()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start))
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("Close left an unreleased directory: %v", err)
	}
	if _, err := os.Stat(j.Path()); !os.IsNotExist(err) {
		t.Fatal("journal file not removed")
	}
	if _, err := j.Record(fault.UndoRemoveDir("/nonexistent")); err == nil {
		t.Fatal("Record after Close accepted")
	}
	if err := j.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestNilJournal(t *testing.T) {
	var j *fault.Journal
	e, err := j.Record(fault.UndoRemoveDir("/x"))
	if err != nil || e.Release() != nil || j.Close() != nil {
		t.Fatal("nil journal must be a no-op")
	}
	dir, _, err := j.CreateDir(t.TempDir(), "faultkit-nil-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, fault.OwnerMarker)); err != nil {
		t.Fatal(err)
	}
}

func TestUndoRefusesForeignObjects(t *testing.T) {
	ctx := context.Background()
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "data"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fault.UndoRemoveDir(foreign).Apply(ctx); err == nil {
		t.Error("removed a directory without the owner marker")
	}
	if _, err := os.Stat(filepath.Join(foreign, "data")); err != nil {
		t.Fatal("foreign data destroyed")
	}
	// Missing objects are fine: undo is idempotent.
	if err := fault.UndoRemoveDir(filepath.Join(foreign, "gone")).Apply(ctx); err != nil {
		t.Error(err)
	}
	ns := fault.NetNS{}
	if err := fault.UndoNFTable(ns, 1, "filter").Apply(ctx); err == nil {
		t.Error("would delete a table not named faultkit*")
	}
	if err := fault.UndoLink(ns, "eth0", "veth").Apply(ctx); err == nil {
		t.Error("would delete a link not named fk*")
	}
	if err := fault.UndoStripLines("/etc/hosts", "localhost").Apply(ctx); err == nil {
		t.Error("would strip lines without a faultkit marker")
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n10.0.0.1 a.example #faultkit-pin\n"), 0o644)
	if err := fault.UndoStripLines(hosts, "#faultkit-pin").Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(hosts); string(b) != "127.0.0.1 localhost\n" {
		t.Errorf("hosts after strip: %q", b)
	}
}

func TestUndoKillChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	u, err := fault.UndoKill(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	stale := u
	stale.Start++ // same PID, another process: must not be signalled
	if err := stale.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatal("a process with another start time was killed")
	}
	if err := u.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("process not killed: %v", err)
	}
}
