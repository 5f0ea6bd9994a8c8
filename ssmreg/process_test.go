package ssmreg_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/faultkit/faultkit/ssmreg"
)

// fakeProc writes a minimal /proc entry.
func fakeProc(t *testing.T, dir, pid, comm, state, exe string) {
	t.Helper()
	p := filepath.Join(dir, pid)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "comm"), []byte(comm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stat := pid + " (" + comm + ") " + state + " 1 1 1 0 -1"
	if err := os.WriteFile(filepath.Join(p, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if exe != "" {
		if err := os.Symlink(exe, filepath.Join(p, "exe")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindProcessRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string)
		want int
	}{
		{"truncated comm", func(t *testing.T, d string) { fakeProc(t, d, "42", "amazon-ssm-agen", "S", "") }, 42},
		{"exe base name", func(t *testing.T, d string) { fakeProc(t, d, "43", "agent", "S", "/usr/bin/amazon-ssm-agent") }, 43},
		{"deleted exe", func(t *testing.T, d string) { fakeProc(t, d, "44", "x", "S", "/usr/bin/amazon-ssm-agent (deleted)") }, 44},
		{"zombie ignored", func(t *testing.T, d string) { fakeProc(t, d, "45", "amazon-ssm-agen", "Z", "") }, 0},
		{"worker is not the agent", func(t *testing.T, d string) {
			fakeProc(t, d, "46", "ssm-agent-worke", "S", "/usr/bin/ssm-agent-worker")
		}, 0},
		{"comm with parenthesis", func(t *testing.T, d string) { fakeProc(t, d, "47", "a) Z (b", "S", "") }, 0},
		{"non-numeric entries skipped", func(t *testing.T, d string) {
			_ = os.MkdirAll(filepath.Join(d, "self"), 0o755)
			fakeProc(t, d, "48", "amazon-ssm-agen", "R", "")
		}, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.make(t, dir)
			got, err := ssmreg.FindProcess(dir, "amazon-ssm-agent")
			if err != nil || got != tc.want {
				t.Errorf("FindProcess = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if _, err := ssmreg.FindProcess(t.TempDir(), ""); !errors.Is(err, ssmreg.ErrInvalidOptions) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := ssmreg.FindProcess(filepath.Join(t.TempDir(), "missing"), "x"); err == nil {
		t.Error("missing proc dir: no error")
	}
}

func TestReadRegistrationFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "registration")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	info, err := ssmreg.ReadRegistrationFile(write(`{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"us-east-1"}`))
	if err != nil || info.ManagedInstanceID != "mi-0123456789abcdef0" || info.Region != "us-east-1" {
		t.Errorf("ReadRegistrationFile = %+v, %v", info, err)
	}
	for _, bad := range []string{`{"ManagedInstanceID":"i-0123"}`, `not json`, `{}`} {
		if _, err := ssmreg.ReadRegistrationFile(write(bad)); !errors.Is(err, ssmreg.ErrRegistrationFile) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}
