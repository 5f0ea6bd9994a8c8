package procs

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

// The cases below were observed with psmisc killall 23.6 on Linux 6.18
// (see the package tests' spawned processes for the live counterpart).
func TestMatchNameLikeKillall(t *testing.T) {
	const long = "abcdefghijklmnopqrst" // 20 bytes; comm is "abcdefghijklmno"
	comm := long[:CommLen]
	tests := []struct {
		desc  string
		name  string
		comm  string
		args  []string
		want  bool
		exact bool // result with MatchExactName, when different
	}{
		{"short name equals comm", "sleep", "sleep", []string{"sleep", "300"}, true, true},
		{"short name is a prefix of comm", "slee", "sleep", []string{"sleep"}, false, false},
		{"comm is a prefix of the name", "sleeper", "sleep", []string{"sleep"}, false, false},
		{"argv[0] is not used for short names", "foo", "short1", []string{"foo", "300"}, false, false},
		{"long name, full name from argv[0]", long, comm, []string{"./" + long, "300"}, true, true},
		{"15-byte prefix of a long running name", comm, comm, []string{"./" + long, "300"}, false, false},
		{"other long name with the same 15 bytes", "abcdefghijklmnopqXXX", comm, []string{"./" + long}, false, false},
		{"16-byte prefix", long[:16], comm, []string{"./" + long}, false, false},
		{"longer than the running name", long + "uvw", comm, []string{"./" + long}, false, false},
		{"14-byte prefix", long[:14], comm, []string{"./" + long}, false, false},
		{"argv[0] changed: falls back to the first 15 bytes", long, comm, []string{"foo", "300"}, true, false},
		{"argv[0] changed: any name with the same 15 bytes", "abcdefghijklmnoXYZ", comm, []string{"foo", "300"}, true, false},
		{"argv[0] changed: other 15 bytes", "zzzzzzzzzzzzzzzzzzzz", comm, []string{"/x/y/zzzzzzzzzzzzzzzzzzzz", "300"}, false, false},
		{"login-style dash is not stripped", "abcdefghijklmnoXYZ", comm, []string{"-" + long, "300"}, true, false},
		{"first argument starting with comm wins", "abcdefghijklmnoZZZ", comm, []string{"foo", "-c", "sleep 300; :", "/x/abcdefghijklmnoZZZ"}, true, true},
		{"exe name ignored when argv names it otherwise", "abcdefghijklmnoSH_long", comm, []string{"foo", "-c", "x", "/x/abcdefghijklmnoZZZ"}, false, false},
		{"earlier argument shadows a later one", "abcdefghijklmnoZZZ", comm, []string{"./abcdefghijklmnoSH_long", "/x/abcdefghijklmnoZZZ"}, false, false},
		{"symlink: the name it was started by", "linkname_is_long_too", "linkname_is_lon", []string{"./linkname_is_long_too", "300"}, true, true},
		{"symlink: not the target's name", long, "linkname_is_lon", []string{"./linkname_is_long_too"}, false, false},
		{"script by #!: comm is the script", "myscript.sh", "myscript.sh", []string{"/bin/sh", "./myscript.sh"}, true, true},
		{"long script by #!: found as the interpreter's argument", "a_very_long_script_name.sh", "a_very_long_scr", []string{"/bin/sh", "./a_very_long_script_name.sh"}, true, true},
		{"long script: its 15-byte prefix", "a_very_long_scr", "a_very_long_scr", []string{"/bin/sh", "./a_very_long_script_name.sh"}, false, false},
		{"script run as sh script.sh: comm is sh", "myscript.sh", "sh", []string{"sh", "./myscript.sh"}, false, false},
		{"exactly 15 bytes, full name equal", "abcdefghijklmno", "abcdefghijklmno", []string{"./abcdefghijklmno"}, true, true},
		{"exactly 15 bytes, argv[0] changed", "abcdefghijklmno", "abcdefghijklmno", []string{"foo"}, true, false},
		{"zombie or kernel thread: empty command line", long, comm, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for _, exact := range []bool{false, true} {
				want := tt.want
				if exact {
					want = tt.exact
				}
				called := false
				got := matchName(tt.name, tt.comm, exact, func() []string { called = true; return tt.args })
				if got != want {
					t.Errorf("matchName(%q, comm %q, args %q, exact=%v) = %v, want %v", tt.name, tt.comm, tt.args, exact, got, want)
				}
				if called != needsLongName(tt.name, tt.comm) {
					t.Errorf("command line read = %v, want %v", called, !called)
				}
			}
		})
	}
}

func TestLongName(t *testing.T) {
	if n, ok := LongName("sleep", []string{"sleep"}); ok || n != "" {
		t.Errorf("LongName of a short comm = %q, %v; want none", n, ok)
	}
	if n, ok := LongName("abcdefghijklmno", []string{"/usr/bin/env", "/opt/x/abcdefghijklmnopq", "y"}); !ok || n != "abcdefghijklmnopq" {
		t.Errorf("LongName = %q, %v; want abcdefghijklmnopq", n, ok)
	}
	if _, ok := LongName("abcdefghijklmno", []string{"", "/"}); ok {
		t.Error("LongName found a name in empty arguments")
	}
}

func TestMatchCmdline(t *testing.T) {
	re, err := cmdlineRegexp(`^python3 .*worker\.py --queue=jobs$`)
	if err != nil {
		t.Fatal(err)
	}
	if !matchCmdline(re, "python3", []string{"python3", "/srv/worker.py", "--queue=jobs"}) {
		t.Error("pattern did not match the joined command line")
	}
	if matchCmdline(re, "python3", []string{"python3", "/srv/worker.py", "--queue=other"}) {
		t.Error("pattern matched a different command line")
	}
	kt, _ := cmdlineRegexp(`^kworker`)
	if !matchCmdline(kt, "kworker/0:1", nil) {
		t.Error("empty command line not matched by comm")
	}
	_, err = cmdlineRegexp(`([`)
	var pe *fault.ParamError
	if !errors.As(err, &pe) || pe.Param != "name" || pe.Value != "([" {
		t.Errorf("bad regexp error = %v, want *fault.ParamError for name", err)
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name  string
		opts  []Option
		param string
	}{
		{"", nil, "name"},
		{"a/b", nil, "name"},
		{"x", []Option{WithMatch(Match(9))}, "match"},
		{"x", []Option{Wait(-1)}, "wait"},
	}
	for _, c := range cases {
		cfg := newConfig(c.opts)
		err := cfg.validate(c.name)
		var pe *fault.ParamError
		if !errors.As(err, &pe) || pe.Param != c.param || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("validate(%q) = %v, want ParamError for %s", c.name, err, c.param)
		}
	}
	cfg := newConfig([]Option{WithMatch(MatchExe)})
	if err := cfg.validate("/usr/bin/sleep"); err != nil {
		t.Errorf("path with MatchExe rejected: %v", err)
	}
	for _, sig := range []syscall.Signal{0, -1, 65} {
		if err := validSignal(sig); !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("validSignal(%d) = %v, want invalid parameter", sig, err)
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGKILL, syscall.SIGUSR1, 64} {
		if err := validSignal(sig); err != nil {
			t.Errorf("validSignal(%d) = %v", sig, err)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for s, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL} {
		if got, err := ParseSignal(s); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"sigterm", "SIGHUP", "9", ""} {
		if _, err := ParseSignal(s); !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("ParseSignal(%q) = %v, want invalid parameter", s, err)
		}
	}
}

func TestNotFoundError(t *testing.T) {
	err := error(&NotFoundError{Name: "nginx"})
	if err.Error() != "No process matching nginx found" {
		t.Errorf("message %q", err.Error())
	}
	if !errors.Is(err, fault.ErrNotFound) || fault.HTTPStatus(err) != 404 {
		t.Errorf("%v does not wrap fault.ErrNotFound", err)
	}
	err = &NotFoundError{Name: "init", Gone: 2, Skipped: []Skip{{PID: 1, Name: "init", Reason: SkipPID1}}}
	for _, want := range []string{"No process matching init found", "2 exited", "skipped pid 1: pid 1 of the namespace", "AllowPID1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err.Error(), want)
		}
	}
}
