//go:build linux

package stress_test

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
	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/stress"
	"golang.org/x/sys/unix"
)

// dirUsage returns the bytes the files under dir occupy on disk.
func dirUsage(dir string) (n uint64) {
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && !info.IsDir() {
				n += uint64(st.Blocks) * 512
			}
		}
		return nil
	})
	return n
}

// TestIOWritesAndLeavesNothing runs a short I/O stress with a journal and
// checks that it wrote and read real data, stayed within its cap (watched
// from outside, on disk), and left neither files nor journal entries.
func TestIOWritesAndLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const maxBytes = 32 << 20
	f := stress.IOFault{Percent: 50, Workers: 2, Dir: parent, MaxBytes: maxBytes}
	h, err := f.Inject(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var dir string
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		ents, _ := os.ReadDir(parent)
		for _, e := range ents {
			dir = filepath.Join(parent, e.Name())
		}
		if dir != "" {
			peak = max(peak, dirUsage(dir))
		}
	}
	if err := h.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := h.Status()
	t.Logf("dir %s, peak on disk %d, metrics %v", dir, peak, st.Metrics)
	if !strings.HasPrefix(filepath.Base(dir), "faultkit-io-") {
		t.Errorf("stress directory %q, want faultkit-io-*", dir)
	}
	if w := metric(t, st.Metrics, "bytes_written"); w < 1<<20 {
		t.Errorf("bytes_written %v, want at least 1 MiB in 2 s", w)
	}
	if r := metric(t, st.Metrics, "bytes_read"); r <= 0 {
		t.Errorf("bytes_read %v, want > 0", r)
	}
	if metric(t, st.Metrics, "write_bytes_per_sec") <= 0 {
		t.Error("write_bytes_per_sec not positive")
	}
	budget := metric(t, st.Metrics, "budget_bytes")
	if budget > maxBytes {
		t.Errorf("budget %v above MaxBytes %d", budget, maxBytes)
	}
	if capBytes := metric(t, st.Metrics, "cap_bytes"); float64(peak) > capBytes || capBytes > maxBytes {
		t.Errorf("peak %d bytes on disk (data and metadata), cap %v, MaxBytes %d", peak, capBytes, maxBytes)
	}
	if peak == 0 {
		t.Error("never saw a byte on disk")
	}
	if m := metric(t, st.Metrics, "disk_bytes_max"); m > budget {
		t.Errorf("disk_bytes_max %v above budget %v", m, budget)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left behind in %s: %v", parent, ents)
	}
	// The journal entry was released: closing replays nothing.
	if err := j.Close(); err != nil {
		t.Errorf("journal close: %v", err)
	}
}

// TestIOFrontDoorAndPercentCap uses the front door on a small tmpfs, so
// that Percent (not MaxBytes) is the binding cap and "free space at
// start" is exact: 25 % of a 64 MiB tmpfs is 16 MiB.
func TestIOFrontDoorAndPercentCap(t *testing.T) {
	testenv.RequireRoot(t)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m"); err != nil {
		testenv.Require(t, "tmpfs", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	var free0 uint64
	{
		var st unix.Statfs_t
		if err := unix.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		free0 = st.Bavail * uint64(st.Bsize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	stop := make(chan struct{})
	peakc := make(chan uint64)
	go func() {
		var peak uint64
		for {
			var st unix.Statfs_t
			if unix.Statfs(mnt, &st) == nil {
				peak = max(peak, free0-st.Bavail*uint64(st.Bsize))
			}
			select {
			case <-stop:
				peakc <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	rep, err := stress.IO(ctx, 25, 3, mnt, fault.WithoutJournal())
	close(stop)
	peak := <-peakc
	if err != nil {
		t.Fatal(err)
	}
	budget := metric(t, rep.Metrics, "budget_bytes")
	t.Logf("tmpfs free %d, budget %v, peak used %d, written %v", free0, budget, peak, metric(t, rep.Metrics, "bytes_written"))
	if budget > float64(free0)/4 {
		t.Errorf("budget %v above 25%% of %d", budget, free0)
	}
	if peak > free0/4 {
		t.Errorf("peak use %d above 25%% of the free space %d", peak, free0)
	}
	if peak < uint64(budget)/2 {
		t.Errorf("peak use %d: the stress barely used its budget %v", peak, budget)
	}
	if ents, _ := os.ReadDir(mnt); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestIOShrinksWhenSpaceRunsOut fills the tmpfs from outside while the
// stress runs and checks the stress gives space back to keep the margin.
func TestIOShrinksWhenSpaceRunsOut(t *testing.T) {
	testenv.RequireRoot(t)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m"); err != nil {
		testenv.Require(t, "tmpfs", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	h, err := stress.IOFault{Percent: 50, Workers: 1, Dir: mnt}.Inject(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Revert(context.Background())
	time.Sleep(500 * time.Millisecond)
	// Someone else takes all but 256 KiB of the 32 MiB the stress left
	// free, less than the 1 MiB margin.
	hog, err := os.Create(filepath.Join(mnt, "hog"))
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i)
	}
	for range 31*4 + 3 {
		if _, err := hog.Write(buf); err != nil {
			break // ENOSPC is possible before the stress reacts
		}
	}
	time.Sleep(700 * time.Millisecond)
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	s := h.Status()
	t.Logf("free after hog %d; metrics %v", free, s.Metrics)
	if free < stress.MinMargin {
		t.Errorf("free %d below the margin %d: the stress did not shrink", free, stress.MinMargin)
	}
	if metric(t, s.Metrics, "shrinks") == 0 {
		t.Error("no shrink recorded")
	}
	if s.State != fault.StateRunning {
		t.Errorf("state %s, want still running after shrinking", s.State)
	}
}

// TestIOCrashChild is the body of TestIOCleanedUpAfterSIGKILL's child
// process; it does nothing in a normal run.
func TestIOCrashChild(t *testing.T) {
	spec := os.Getenv("FAULTKIT_TEST_IO_CRASH_CHILD")
	if spec == "" {
		t.Skip("helper process for TestIOCleanedUpAfterSIGKILL")
	}
	parent, state, _ := strings.Cut(spec, ":")
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: state})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if _, err := (stress.IOFault{Percent: 10, Workers: 2, Dir: parent, MaxBytes: 8 << 20}).Inject(context.Background(), j); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		fmt.Println("DIR", filepath.Join(parent, e.Name()))
	}
	time.Sleep(time.Minute) // until SIGKILL
	os.Exit(2)
}

// TestIOCleanedUpAfterSIGKILL starts an I/O stress with a journal in a
// child process, SIGKILLs it, and expects the journal's guardian to remove
// the stress directory within 2 s.
func TestIOCleanedUpAfterSIGKILL(t *testing.T) {
	parent, state := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIOCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "FAULTKIT_TEST_IO_CRASH_CHILD="+parent+":"+state)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var dir string
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "DIR "); ok {
			dir = d
			break
		}
		if strings.HasPrefix(line, "ERR ") {
			t.Fatalf("child: %s", line)
		}
	}
	if dir == "" {
		t.Fatal("child never reported its stress directory")
	}
	time.Sleep(300 * time.Millisecond) // let the workers write
	if dirUsage(dir) == 0 {
		t.Errorf("%s holds nothing before the kill", dir)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for time.Since(killed) < 2*time.Second {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			t.Logf("guardian removed %s %v after SIGKILL", dir, time.Since(killed).Round(time.Millisecond))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ents, _ := os.ReadDir(dir)
	js, _ := filepath.Glob(filepath.Join(state, "*"))
	t.Fatalf("%s still exists 2 s after SIGKILL (holds %d entries); journals in %s: %v", dir, len(ents), state, js)
}
