//go:build linux

package vmtest_test

// Host-side tests: they boot the lab (about 5 s each under TCG, plus a
// download and build of about 10 s on a cold cache) and check that the
// exit status of the program inside distinguishes pass, test failure,
// timeout and lab failure. They need root and QEMU; FAULTKIT_REQUIRE=lab
// turns a skip into a failure.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/internal/vmtest"
)

const (
	featureLab = "lab"
	helperEnv  = "VMTEST_HELPER"
)

// TestHelperProcess is the program the lab tests run in the guest: this
// test binary itself, selected with -test.run and VMTEST_HELPER.
func TestHelperProcess(t *testing.T) {
	mode, ok := os.LookupEnv(helperEnv)
	if !ok {
		t.Skip("helper program of the lab tests; does nothing on its own")
	}
	fmt.Printf("helper: args=%q lab=%s quoted=%q uid=%d\n", flag.Args(), os.Getenv(vmtest.InGuestEnv), os.Getenv("VMTEST_QUOTED"), os.Getuid())
	switch {
	case mode == "share":
		// cwd is the shared directory: read the host's file, write one back
		b, err := os.ReadFile("from-host.txt")
		fmt.Printf("helper: read %q %v\n", b, err)
		if err := os.WriteFile("from-guest.txt", []byte("written in the guest"), 0o644); err != nil {
			fmt.Println("helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case mode == "sleep":
		time.Sleep(time.Hour)
	case strings.HasPrefix(mode, "exit:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(mode, "exit:"))
		// A forged marker (wrong nonce) must not decide the result.
		fmt.Println("VMTEST-0123456789abcdef-EXIT=0")
		os.Exit(n)
	}
	os.Exit(99)
}

// lab prepares the lab from the FAULTKIT_LAB_* environment, or skips.
func lab(t *testing.T, kernelArgs ...string) *vmtest.Lab {
	t.Helper()
	if os.Getenv(vmtest.InGuestEnv) == "1" {
		t.Skip("already inside the lab")
	}
	if testing.Short() && !testenv.Required(featureLab) {
		t.Skip("boots QEMU: skipped in -short mode")
	}
	testenv.Require(t, featureLab, errors.Join(testenv.ProbeRoot(), testenv.ProbeQEMU()))
	cfg := vmtest.ConfigFromEnv()
	cfg.KernelArgs = kernelArgs
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := vmtest.Prepare(ctx, cfg)
	testenv.Require(t, featureLab, err)
	return l
}

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLabExitStatus(t *testing.T) {
	l := lab(t)
	for _, want := range []int{0, 3} {
		t.Run(fmt.Sprintf("exit%d", want), func(t *testing.T) {
			var console bytes.Buffer
			res, err := l.Run(context.Background(), vmtest.RunOptions{
				Binary:  self(t),
				Args:    []string{"-test.run=^TestHelperProcess$", "--", "a b", `c'd"e`},
				Env:     []string{helperEnv + "=exit:" + strconv.Itoa(want), `VMTEST_QUOTED=it's $HOME "x"`},
				Timeout: 2 * time.Minute,
				Console: &console,
			})
			t.Logf("console:\n%s", console.String())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != want || vmtest.ExitStatus(res, err) != want {
				t.Errorf("exit code %d, ExitStatus %d; want %d", res.ExitCode, vmtest.ExitStatus(res, err), want)
			}
			wantLine := `helper: args=["a b" "c'd\"e"] lab=1 quoted="it's $HOME \"x\"" uid=0`
			if !strings.Contains(console.String(), wantLine) {
				t.Errorf("console lacks %q", wantLine)
			}
			t.Logf("elapsed %v (%s)", res.Elapsed, res.Accel)
		})
	}
}

func TestLabTimeout(t *testing.T) {
	l := lab(t)
	start := time.Now()
	res, err := l.Run(context.Background(), vmtest.RunOptions{
		Binary:  self(t),
		Args:    []string{"-test.run=^TestHelperProcess$"},
		Env:     []string{helperEnv + "=sleep"},
		Timeout: 10 * time.Second,
	})
	if !errors.Is(err, vmtest.ErrTimeout) || vmtest.ExitStatus(res, err) != vmtest.ExitTimeout {
		t.Fatalf("Run = %+v, %v; want ErrTimeout and status %d", res, err, vmtest.ExitTimeout)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("timeout of 10s took %v to take effect", d)
	}
}

func TestLabFailure(t *testing.T) {
	l := lab(t)
	t.Run("guest-init-error", func(t *testing.T) {
		// No binary: the guest's /init reports the lab failure itself.
		res, err := l.Run(context.Background(), vmtest.RunOptions{Timeout: 2 * time.Minute})
		if !errors.Is(err, vmtest.ErrLab) || !strings.Contains(err.Error(), "/vmtest/test is missing") {
			t.Fatalf("Run = %+v, %v; want ErrLab naming the missing binary", res, err)
		}
		if got := vmtest.ExitStatus(res, err); got != vmtest.ExitLabFailure {
			t.Errorf("ExitStatus %d, want %d", got, vmtest.ExitLabFailure)
		}
	})
	t.Run("kernel-panic", func(t *testing.T) {
		// /init exits at once: the kernel panics ("Attempted to kill
		// init"), QEMU exits, no marker.
		res, err := lab(t, "rdinit=/bin/false").Run(context.Background(), vmtest.RunOptions{
			Binary: self(t), Timeout: 2 * time.Minute,
		})
		if !errors.Is(err, vmtest.ErrLab) || !strings.Contains(err.Error(), "no exit marker") {
			t.Fatalf("Run = %+v, %v; want ErrLab without marker", res, err)
		}
		if got := vmtest.ExitStatus(res, err); got != vmtest.ExitLabFailure {
			t.Errorf("ExitStatus %d, want %d", got, vmtest.ExitLabFailure)
		}
	})
}

func TestLabShare(t *testing.T) {
	l := lab(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/from-host.txt", []byte("testdata"), 0o644); err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	res, err := l.Run(context.Background(), vmtest.RunOptions{
		Binary:  self(t),
		Args:    []string{"-test.run=^TestHelperProcess$"},
		Env:     []string{helperEnv + "=share"},
		Share:   dir,
		Timeout: 2 * time.Minute,
		Console: &console,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v; console:\n%s", res, err, console.String())
	}
	if !strings.Contains(console.String(), `helper: read "testdata" <nil>`) {
		t.Errorf("guest did not read the shared file; console:\n%s", console.String())
	}
	if b, err := os.ReadFile(dir + "/from-guest.txt"); err != nil || string(b) != "written in the guest" {
		t.Errorf("file written by the guest: %q, %v", b, err)
	}
}
