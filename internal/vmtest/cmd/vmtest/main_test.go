package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/vmtest"
)

func TestWorse(t *testing.T) {
	cases := []struct{ a, b, want int }{
		{0, 0, 0},
		{0, 1, 1},
		{1, 2, 1}, // the first test failure stays
		{1, vmtest.ExitTimeout, vmtest.ExitTimeout},
		{vmtest.ExitTimeout, vmtest.ExitLabFailure, vmtest.ExitLabFailure},
		{vmtest.ExitLabFailure, 1, vmtest.ExitLabFailure},
		{vmtest.ExitLabFailure, 0, vmtest.ExitLabFailure},
	}
	for _, c := range cases {
		if got := worse(c.a, c.b); got != c.want {
			t.Errorf("worse(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// Usage errors never look like a test result: they exit 125.
func TestUsageErrors(t *testing.T) {
	cache := t.TempDir()
	notELF := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	cases := []struct {
		args    []string
		wantErr string
	}{
		{nil, "usage"},
		{[]string{"frobnicate"}, `unknown mode "frobnicate"`},
		{[]string{"run"}, "missing binary"},
		{[]string{"run", "-env", "NOVALUE", "x"}, `-env "NOVALUE"`},
		{[]string{"run", "-nosuchflag"}, "flag provided but not defined"},
		{[]string{"test"}, "no packages"},
		{[]string{"prepare", "-cache", cache, "-accel", "hvf"}, `accel "hvf"`},
		{[]string{"prepare", "-cache", cache, "-mem", "1"}, "memory 1 MiB"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := realMain(c.args, &out, &errb)
		if code != vmtest.ExitLabFailure || !strings.Contains(errb.String(), c.wantErr) {
			t.Errorf("vmtest %q: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), vmtest.ExitLabFailure, c.wantErr)
		}
	}
	var out bytes.Buffer
	if code := realMain([]string{"help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "vmtest test") {
		t.Errorf("help: exit %d, %q", code, out.String())
	}
}

func TestGuestEnv(t *testing.T) {
	t.Setenv("VMTEST_PASSED", "p v")
	t.Setenv("FAULTKIT_REQUIRE", "root") // the host's value is not passed
	o := options{require: "netem,prio", pass: listFlag{"VMTEST_PASSED", "VMTEST_UNSET"}, env: listFlag{"A=b=c"}}
	env, err := guestEnv(o)
	if err != nil {
		t.Fatal(err)
	}
	want := "FAULTKIT_REQUIRE=netem,prio|VMTEST_PASSED=p v|A=b=c"
	if got := strings.Join(env, "|"); got != want {
		t.Errorf("guestEnv = %q, want %q", got, want)
	}
}

func TestTestFlags(t *testing.T) {
	got := testFlags([]string{"-v", "-run", "Latency", "-count=1", "--bench=.", "-test.short", "-custom", "x", "-v"})
	want := "-test.v -test.run Latency -test.count=1 -test.bench=. -test.short -custom x -v"
	if strings.Join(got, " ") != want {
		t.Errorf("testFlags = %q\nwant        %q", strings.Join(got, " "), want)
	}
	if got := testFlags([]string{"--", "-v"}); strings.Join(got, " ") != "-- -v" {
		t.Errorf("after --: %q", got)
	}
}

func TestVMTimeout(t *testing.T) {
	cases := []struct {
		flag time.Duration
		args []string
		want time.Duration
	}{
		{0, nil, vmtest.DefaultTimeout},
		{0, []string{"-test.paniconexit0", "-test.timeout=10m0s", "-test.v=true"}, 11 * time.Minute},
		{0, []string{"-test.timeout", "30s"}, 90 * time.Second},
		{0, []string{"-test.timeout=0"}, vmtest.DefaultTimeout},
		{5 * time.Minute, []string{"-test.timeout=1h"}, 5 * time.Minute},
	}
	for _, c := range cases {
		if got := vmTimeout(c.flag, c.args); got != c.want {
			t.Errorf("vmTimeout(%v, %q) = %v, want %v", c.flag, c.args, got, c.want)
		}
	}
}
