package procs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/testenv"
)

// TestMatchesKillall starts processes whose names exercise killall's rules
// (long names, changed argv[0], symlinks, scripts) and checks, for a set of
// names, that Find selects exactly the processes psmisc killall selects:
// "killall -v -0 NAME" sends the null signal and prints each process it
// picked. It runs when killall (psmisc) is installed, and fails instead of
// skipping when FAULTKIT_REQUIRE names "killall".
func TestMatchesKillall(t *testing.T) {
	killall, err := exec.LookPath("killall")
	testenv.Require(t, "killall", err)
	sleep := sleepBinary(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := exeDir(t)
	tok := token(t) // 8 bytes
	long := tok + "-abcdefghijklm"
	twin := tok + "-abcdefgXYZ-twin"
	exact15 := tok + "-abcdef"
	shortN := tok + "-s"
	script := tok + "-job.sh"
	longScript := tok + "-a-long-script.sh"
	link := tok + "-linked-name-x"

	longExe := exeCopy(t, dir, sleep, long)
	exeCopy(t, dir, sleep, twin)
	exe15 := exeCopy(t, dir, sleep, exact15)
	shortExe := exeCopy(t, dir, sleep, shortN)
	if err := os.Symlink(longExe, filepath.Join(dir, link)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{script, longScript} {
		body := "#!" + sh + "\nsleep 300 &\nwait\n"
		if err := os.WriteFile(filepath.Join(dir, s), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	argv0 := func(a string) func(*exec.Cmd) { return func(c *exec.Cmd) { c.Args[0] = a } }
	start(t, nil, longExe, "300")
	start(t, nil, filepath.Join(dir, twin), "300")
	start(t, argv0("foo"), longExe, "300")
	start(t, argv0("-"+long), longExe, "300")
	start(t, argv0("/x/zz"), exe15, "300")
	start(t, nil, exe15, "300")
	start(t, argv0(tok+"-alias"), shortExe, "300")
	start(t, nil, filepath.Join(dir, link), "300")
	// The scripts fork a sleep; until it has exec'd, the child carries
	// the script's name too, so wait for it before comparing.
	for _, p := range []*proc{
		start(t, nil, filepath.Join(dir, script)),
		start(t, nil, filepath.Join(dir, longScript)),
		start(t, nil, sh, filepath.Join(dir, script)), // comm "sh": matches neither
	} {
		waitChildExec(t, p.pid, "sleep")
	}

	names := []string{long, long[:CommLen], long[:CommLen+1], long + "x", twin, tok + "-abcdefgOTHER",
		exact15, exact15[:CommLen-1], shortN, shortN + "x", tok + "-alias", link, script, longScript, longScript[:CommLen]}
	for _, name := range names {
		want := killallPIDs(t, killall, name)
		found, err := Find(name)
		if err != nil {
			t.Fatal(err)
		}
		got := processPIDs(found)
		if !slices.Equal(got, want) {
			t.Errorf("name %q: Find %v, killall %v", name, got, want)
		} else {
			t.Logf("name %q: %d processes, as killall", name, len(got))
		}
	}
}

// waitChildExec waits until pid has a child whose comm is comm.
func waitChildExec(t *testing.T, pid int, comm string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		for _, f := range strings.Fields(string(b)) {
			c, _ := os.ReadFile("/proc/" + f + "/comm")
			if strings.TrimSpace(string(c)) == comm {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("pid %d has no %s child", pid, comm)
}

var killedLine = regexp.MustCompile(`(?m)^Killed .*\((\d+)\) with signal 0$`)

// killallPIDs returns the PIDs killall picks for name, sorted.
func killallPIDs(t *testing.T, killall, name string) []int {
	t.Helper()
	out, _ := exec.Command(killall, "-v", "-0", name).CombinedOutput() // exit 1 when none
	var pids []int
	for _, m := range killedLine.FindAllSubmatch(out, -1) {
		pid, err := strconv.Atoi(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	if pids == nil {
		pids = []int{}
	}
	return pids
}
