//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/internal/nettest"
	"github.com/faultkit/faultkit/internal/testenv"
)

// End-to-end tests: the runner binary, built once, runs templates with the
// real engines, as root.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func runnerBinary(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faultkit-runner-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "runner")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running runner.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string // stderr lines
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func startRunner(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(runnerBinary(t), args...), lines: make(chan string, 1000), done: make(chan struct{})}
	p.cmd.Stdout = &p.stdout
	pr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// waitLine waits for a stderr line containing all of parts.
func (p *proc) waitLine(t *testing.T, timeout time.Duration, parts ...string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("runner exited before logging %q\nstderr:\n%s", parts, p.stderrText())
			}
			all := true
			for _, s := range parts {
				all = all && strings.Contains(l, s)
			}
			if all {
				return
			}
		case <-deadline:
			t.Fatalf("no line with %q within %s\nstderr:\n%s", parts, timeout, p.stderrText())
		}
	}
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wait waits for the exit and returns the status.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for range p.lines {
		}
		errc <- p.cmd.Wait()
	}()
	select {
	case err := <-errc:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		t.Fatalf("runner did not exit within %s\nstderr:\n%s", timeout, p.stderrText())
	}
	return -1
}

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	return writeFile(t, "template.json", body)
}

// ecsTemplate wraps actions in a valid template on an aws:ecs:task target.
func ecsTemplate(selection, actions string) string {
	return `{
  "description": "e2e",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {"app": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "e2e"}, "selectionMode": "` + selection + `"}},
  "actions": {` + actions + `},
  "stopConditions": [{"source": "none"}]
}`
}

func TestE2ECPUStressTemplate(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--report", report, "../templates/cpu-stress.json")
	code := p.wait(t, 2*time.Minute)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout.String(), p.stderrText())
	}
	rep := readReportFile(t, report)
	if rep.State.Status != experiment.StatusCompleted {
		t.Fatalf("state = %+v", rep.State)
	}
	cpu := mustReportAction(t, rep, "cpu")
	load, _ := cpu.Metric("load_percent")
	cpuSeconds, _ := cpu.Metric("cpu_seconds")
	held := cpu.EndTime.Sub(cpu.StartTime)
	// The kernel's own accounting of the runner process must cover the CPU
	// time the report claims the workers burned.
	ru := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	procCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	t.Logf("cpu-stress: held %s, load_percent %.1f (target 50), cpu_seconds %.2f, runner process CPU %.2fs",
		held.Round(time.Millisecond), load, cpuSeconds, procCPU.Seconds())
	if held < 5*time.Second {
		t.Errorf("held %s, want at least the template's PT5S", held)
	}
	if cpuSeconds < 0.2 {
		t.Errorf("cpu_seconds = %.2f: no CPU burned", cpuSeconds)
	}
	if procCPU.Seconds() < 0.95*cpuSeconds {
		t.Errorf("the process used %.2fs CPU, less than the %.2fs the report claims", procCPU.Seconds(), cpuSeconds)
	}
	if load <= 0 || load > 60 {
		t.Errorf("load_percent = %.1f, want (0, 60] for a 50%% target", load)
	}
	if !strings.Contains(p.stdout.String(), "completed") {
		t.Errorf("no summary on stdout: %q", p.stdout.String())
	}
	if rep.Template.Digest == "" || rep.Template.File != "../templates/cpu-stress.json" {
		t.Errorf("template info = %+v", rep.Template)
	}
}

func TestE2EParallelTemplateTimeline(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--report", report, "../templates/parallel.json")
	if code := p.wait(t, 2*time.Minute); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	rep := readReportFile(t, report)
	cpu, ios, peak := mustReportAction(t, rep, "cpu"), mustReportAction(t, rep, "io"), mustReportAction(t, rep, "cpu-peak")
	for _, a := range []*experiment.ActionReport{cpu, ios, peak} {
		if a.State.Status != experiment.ActionCompleted {
			t.Errorf("%s = %+v", a.Name, a.State)
		}
	}
	if !cpu.StartTime.Before(ios.EndTime) || !ios.StartTime.Before(cpu.EndTime) {
		t.Errorf("cpu [%v, %v] and io [%v, %v] did not run in parallel", cpu.StartTime, cpu.EndTime, ios.StartTime, ios.EndTime)
	}
	if peak.StartTime.Before(cpu.EndTime) || peak.StartTime.Before(ios.EndTime) {
		t.Errorf("cpu-peak started %v before cpu (%v) and io (%v) completed", peak.StartTime, cpu.EndTime, ios.EndTime)
	}
	written, _ := ios.Metric("bytes_written")
	if written <= 0 {
		t.Errorf("io wrote %v bytes", written)
	}
	if got := experimentStatuses(rep); strings.Join(got, ",") != "initiating,running,completed" {
		t.Errorf("experiment timeline = %v", got)
	}
}

// nftTables lists the nftables tables of a namespace.
func nftTables(t *testing.T, ns *nettest.NS) string {
	t.Helper()
	out, err := ns.Exec(context.Background(), "nft", "list", "tables")
	if err != nil {
		t.Fatalf("nft list tables: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

const blackholeAction = `"blackhole": {"actionId": "aws:ecs:task-network-blackhole-port",
  "parameters": {"duration": "PT1M", "port": "9", "protocol": "udp", "trafficType": "egress"}, "targets": {"Tasks": "app"}},
 "after": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S", "percent": "10"},
  "targets": {"Tasks": "app"}, "startAfter": ["blackhole"]}`

// blackholeRun is the runner running blackholeAction in a namespace of
// its own.
type blackholeRun struct {
	*proc
	ns     *nettest.NS
	before string // the namespace's nftables tables before the run
	report string // the report's path
}

// startBlackholeRun starts the runner on blackholeAction in a fresh
// namespace and returns once the blackhole runs.
func startBlackholeRun(t *testing.T) blackholeRun {
	t.Helper()
	testenv.RequireFeature(t, testenv.NFTables)
	ns := nettest.NewNS(t)
	r := blackholeRun{ns: ns, before: nftTables(t, ns), report: filepath.Join(t.TempDir(), "report.json")}
	r.proc = startRunner(t, "run", "--plain", "--report", r.report, "--target", "netns:"+ns.Path(),
		writeTemplate(t, ecsTemplate("ALL", blackholeAction)))
	r.waitLine(t, time.Minute, "status=running", "name=blackhole")
	return r
}

func TestE2ESIGINTStopsCleanly(t *testing.T) {
	p := startBlackholeRun(t)
	ns, before, report := p.ns, p.before, p.report
	during := nftTables(t, ns)
	if during == before {
		t.Fatalf("no nftables table while the blackhole runs: %q", during)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, time.Minute)
	if code != exitStopped {
		t.Errorf("exit %d, want %d (stopped)\n%s", code, exitStopped, p.stderrText())
	}
	rep := readReportFile(t, report)
	if rep.State.Status != experiment.StatusStopped || !strings.Contains(rep.State.Reason, "interrupt") {
		t.Errorf("state = %+v", rep.State)
	}
	if got := mustReportAction(t, rep, "blackhole").State.Status; got != experiment.ActionStopped {
		t.Errorf("blackhole = %s, want stopped", got)
	}
	if got := mustReportAction(t, rep, "after").State.Status; got != experiment.ActionCancelled {
		t.Errorf("after = %s, want cancelled", got)
	}
	if got := experimentStatuses(rep); strings.Join(got, ",") != "initiating,running,stopping,stopped" {
		t.Errorf("experiment timeline = %v", got)
	}
	if after := nftTables(t, ns); after != before {
		t.Errorf("left behind in the namespace: %q (before: %q)", after, before)
	}
	assertNoJournal(t, p.cmd.Process.Pid)
}

func TestE2ESecondSignalForcesExit(t *testing.T) {
	p := startBlackholeRun(t)
	ns, before, report := p.ns, p.before, p.report
	// Two different signals: the same one sent twice in a row could be
	// merged into one by the kernel or the Go runtime.
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != exitForced {
		t.Errorf("exit %d, want %d\n%s", code, exitForced, p.stderrText())
	}
	if after := nftTables(t, ns); after != before {
		t.Errorf("left behind: %q", after)
	}
	rep := readReportFile(t, report)
	if len(rep.Errors) == 0 || !strings.Contains(strings.Join(rep.Errors, ";"), "forced exit") {
		t.Errorf("report errors = %v", rep.Errors)
	}
	assertNoJournal(t, p.cmd.Process.Pid)
}

func TestE2ESIGKILLLeavesNothing(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	ns := nettest.NewNS(t)
	before := nftTables(t, ns)
	p := startRunner(t, "run", "--plain", "--target", "netns:"+ns.Path(), writeTemplate(t, ecsTemplate("ALL", blackholeAction)))
	p.waitLine(t, time.Minute, "status=running", "name=blackhole")
	p.cmd.Process.Kill()
	p.wait(t, time.Minute)
	// The journal's guardian reverts within 2 s (tens of ms when idle).
	deadline := time.Now().Add(2 * time.Second)
	for nftTables(t, ns) != before {
		if time.Now().After(deadline) {
			t.Fatalf("still there 2 s after SIGKILL: %q", nftTables(t, ns))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The demo namespaces are journaled too: a runner killed with SIGKILL
// leaves neither its faults nor its namespaces behind.
func TestE2EDemoSIGKILLLeavesNothing(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	p := startRunner(t, "run", "--plain", "--demo-netns", "../templates/network-demo.json")
	p.waitLine(t, time.Minute, "status=running", "name=blackhole")
	pid := p.cmd.Process.Pid
	names := []string{fmt.Sprintf("/run/netns/fkdemo-%d-a", pid), fmt.Sprintf("/run/netns/fkdemo-%d-b", pid)}
	for _, n := range names {
		if _, err := os.Stat(n); err != nil {
			t.Fatalf("demo namespace missing while the runner runs: %v", err)
		}
	}
	killed := time.Now()
	p.cmd.Process.Kill()
	p.wait(t, time.Minute)
	for _, n := range names {
		for {
			if _, err := os.Stat(n); os.IsNotExist(err) {
				break
			}
			if time.Since(killed) > 2*time.Second {
				t.Fatalf("%s still there 2 s after SIGKILL", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("demo namespaces gone %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	assertNoJournal(t, pid)
}

func TestE2ELocalStopCondition(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	ns := nettest.NewNS(t)
	before := nftTables(t, ns)
	flagFile := filepath.Join(t.TempDir(), "unhealthy")
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--plain", "--report", report, "--target", "netns:"+ns.Path(),
		"--stop-on-cmd", "test ! -e "+flagFile, "--probe-interval", "100ms",
		writeTemplate(t, ecsTemplate("ALL", blackholeAction)))
	p.waitLine(t, time.Minute, "status=running", "name=blackhole")
	if err := os.WriteFile(flagFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, time.Minute); code != exitStopped {
		t.Errorf("exit %d, want %d\n%s", code, exitStopped, p.stderrText())
	}
	rep := readReportFile(t, report)
	if rep.State.Status != experiment.StatusStopped || !strings.Contains(rep.State.Reason, "faultkit:command-probe") {
		t.Errorf("state = %+v", rep.State)
	}
	if len(rep.StopConditions) != 1 || !rep.StopConditions[0].Tripped {
		t.Errorf("stop conditions = %+v", rep.StopConditions)
	}
	if got := mustReportAction(t, rep, "after").State.Status; got != experiment.ActionCancelled {
		t.Errorf("after = %s, want cancelled", got)
	}
	if after := nftTables(t, ns); after != before {
		t.Errorf("left behind: %q", after)
	}
}

func TestE2ESelectionOverNamespaces(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	var nss []*nettest.NS
	args := []string{"run", "--plain"}
	for range 4 {
		ns := nettest.NewNS(t)
		nss = append(nss, ns)
		args = append(args, "--target", "netns:"+ns.Path())
	}
	for _, tc := range []struct {
		mode string
		want int
	}{{"COUNT(3)", 3}, {"PERCENT(50)", 2}, {"PERCENT(30)", 1}, {"ALL", 4}} {
		t.Run(tc.mode, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			tpl := writeTemplate(t, ecsTemplate(tc.mode, `"blackhole": {"actionId": "aws:ecs:task-network-blackhole-port",
  "parameters": {"duration": "PT2S", "port": "9", "protocol": "udp", "trafficType": "egress"}, "targets": {"Tasks": "app"}}`))
			p := startRunner(t, append(append([]string{}, args...), "--report", report, tpl)...)
			p.waitLine(t, time.Minute, "status=running", "name=blackhole")
			withTable := 0
			for _, ns := range nss {
				if strings.Contains(nftTables(t, ns), "table") {
					withTable++
				}
			}
			if code := p.wait(t, time.Minute); code != exitOK {
				t.Fatalf("exit %d\n%s", code, p.stderrText())
			}
			if withTable != tc.want {
				t.Errorf("%s: %d namespaces had a blackhole table, want %d", tc.mode, withTable, tc.want)
			}
			rep := readReportFile(t, report)
			if tr := rep.Targets["app"]; tr == nil || tr.Candidates != 4 || len(tr.Selected) != tc.want {
				t.Errorf("target report = %+v", tr)
			}
			if f := mustReportAction(t, rep, "blackhole").Faults; len(f) != tc.want {
				t.Errorf("%d faults, want %d", len(f), tc.want)
			}
			for _, ns := range nss {
				if s := nftTables(t, ns); s != "" {
					t.Errorf("left behind in %s: %q", ns.Name(), s)
				}
			}
		})
	}
}

func TestE2EDemoNetwork(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	testenv.RequireFeature(t, testenv.NetNS)
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--plain", "--demo-netns", "--report", report, "../templates/network-demo.json")
	if code := p.wait(t, 2*time.Minute); code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout.String(), p.stderrText())
	}
	out := p.stdout.String()
	t.Logf("demo summary:\n%s", out[strings.Index(out, "Demo probe"):])
	lossOf := func(name string) float64 {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 4 && f[0] == name && strings.HasPrefix(f[3], "(") {
				var pct float64
				fmt.Sscanf(strings.Trim(f[3], "(%)"), "%g", &pct)
				return pct
			}
		}
		t.Fatalf("no probe line for %s in:\n%s", name, out)
		return 0
	}
	if l := lossOf("before"); l > 5 {
		t.Errorf("loss before the experiment = %.0f%%", l)
	}
	if l := lossOf("blackhole"); l < 99 {
		t.Errorf("loss during the blackhole = %.0f%%, want 100%%", l)
	}
	// 30% loss, ~230 probes: binomial 99.9% bounds are about 20-40%.
	if l := lossOf("packet-loss"); l < 18 || l > 42 {
		t.Errorf("loss during packet-loss = %.0f%%, want about 30%%", l)
	}
	rep := readReportFile(t, report)
	if d, _ := mustReportAction(t, rep, "blackhole").Metric("packets_dropped"); d <= 0 {
		t.Errorf("blackhole packets_dropped = %v", d)
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("%s%d-", demoPrefix, p.cmd.Process.Pid)) {
			t.Errorf("demo namespace left behind: %s", e.Name())
		}
	}
}

func TestE2EDryRunTouchesNothing(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--dry-run", "--report", report, "../templates/parallel.json")
	if code := p.wait(t, time.Minute); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	if !strings.Contains(p.stdout.String(), "Level 1") {
		t.Errorf("no plan on stdout:\n%s", p.stdout.String())
	}
	rep := readReportFile(t, report)
	if !rep.DryRun || rep.State.Status != experiment.StatusCompleted {
		t.Errorf("report = %+v", rep.State)
	}
	for _, a := range rep.Actions {
		if a.State.Status != experiment.ActionSkipped {
			t.Errorf("%s = %s, want skipped", a.Name, a.State.Status)
		}
		for _, f := range a.Faults {
			if !f.Injected.IsZero() {
				t.Errorf("%s injected in a dry run", a.Name)
			}
		}
	}
	assertNoJournal(t, p.cmd.Process.Pid)
}

func TestE2EUnsupportedActions(t *testing.T) {
	tpl := writeTemplate(t, `{
  "description": "mixed",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {
    "app": {"resourceType": "aws:ecs:task", "resourceTags": {"app": "e2e"}, "selectionMode": "ALL"},
    "vms": {"resourceType": "aws:ec2:instance", "resourceTags": {"app": "e2e"}, "selectionMode": "ALL"}
  },
  "actions": {
    "cpu": {"actionId": "aws:ecs:task-cpu-stress", "parameters": {"duration": "PT1S", "percent": "10"}, "targets": {"Tasks": "app"}},
    "stop-vms": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "vms"}}
  },
  "stopConditions": [{"source": "none"}]
}`)
	p := startRunner(t, "run", "--plain", tpl)
	if code := p.wait(t, time.Minute); code != exitInvalid {
		t.Errorf("exit %d, want %d", code, exitInvalid)
	}
	if !strings.Contains(p.stdout.String(), "stop-vms (aws:ec2:stop-instances)") {
		t.Errorf("no clear message:\n%s\n%s", p.stdout.String(), p.stderrText())
	}
	report := filepath.Join(t.TempDir(), "report.json")
	p = startRunner(t, "run", "--plain", "--skip-unsupported", "--report", report, tpl)
	if code := p.wait(t, time.Minute); code != exitOK {
		t.Fatalf("--skip-unsupported: exit %d\n%s", code, p.stderrText())
	}
	rep := readReportFile(t, report)
	if got := mustReportAction(t, rep, "stop-vms").State.Status; got != experiment.ActionSkipped {
		t.Errorf("stop-vms = %s", got)
	}
	if got := mustReportAction(t, rep, "cpu").State.Status; got != experiment.ActionCompleted {
		t.Errorf("cpu = %s", got)
	}
}

func assertNoJournal(t *testing.T, pid int) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("/run/faultkit", fmt.Sprintf("%d-*", pid)))
	if len(matches) > 0 {
		t.Errorf("journal left behind: %v", matches)
	}
}

func mustReportAction(t *testing.T, rep *experiment.Report, name string) *experiment.ActionReport {
	t.Helper()
	a, ok := rep.Action(name)
	if !ok {
		t.Fatalf("no action %s in the report", name)
	}
	return a
}

func experimentStatuses(rep *experiment.Report) []string {
	var out []string
	for _, ev := range rep.Timeline {
		if ev.Type == experiment.EventExperiment {
			out = append(out, ev.Status)
		}
	}
	return out
}

// fakeCloudWatch answers DescribeAlarms in Smithy RPC v2 CBOR, the
// protocol of the cloudwatch client in go.mod: OK for the first two
// requests, ALARM after.
func fakeCloudWatch(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/operation/DescribeAlarms") {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		v, err := cbor.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		names, _ := v.(cbor.Map)["AlarmNames"].(cbor.List)
		state := "OK"
		if n.Add(1) > 2 {
			state = "ALARM"
		}
		alarms := cbor.List{}
		for _, name := range names {
			alarms = append(alarms, cbor.Map{"AlarmName": name, "StateValue": cbor.String(state)})
		}
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Write(cbor.Encode(cbor.Map{"MetricAlarms": alarms}))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestE2ECloudWatchAlarmStops(t *testing.T) {
	testenv.RequireFeature(t, testenv.NFTables)
	ns := nettest.NewNS(t)
	before := nftTables(t, ns)
	srv, requests := fakeCloudWatch(t)
	tpl := writeTemplate(t, strings.Replace(ecsTemplate("ALL", blackholeAction),
		`"stopConditions": [{"source": "none"}]`,
		`"stopConditions": [{"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-errors"}]`, 1))
	report := filepath.Join(t.TempDir(), "report.json")
	p := exec.Command(runnerBinary(t), "run", "--plain", "--report", report, "--target", "netns:"+ns.Path(),
		"--cloudwatch-endpoint", srv.URL, "--alarm-interval", "200ms", tpl)
	p.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := p.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitStopped {
		t.Fatalf("exit %v, want %d\n%s", err, exitStopped, out)
	}
	rep := readReportFile(t, report)
	if !strings.Contains(rep.State.Reason, "api-errors is in state ALARM") {
		t.Errorf("reason = %q", rep.State.Reason)
	}
	if got := mustReportAction(t, rep, "blackhole").State.Status; got != experiment.ActionStopped {
		t.Errorf("blackhole = %s, want stopped", got)
	}
	if requests.Load() < 3 {
		t.Errorf("%d DescribeAlarms requests", requests.Load())
	}
	if after := nftTables(t, ns); after != before {
		t.Errorf("left behind: %q", after)
	}
}

func TestE2EKillProcess(t *testing.T) {
	// A victim with a name no other process has: a copy of sleep.
	victimBin := filepath.Join(t.TempDir(), "fk-e2e-victim")
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary:", err)
	}
	data, err := os.ReadFile(sleepPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victimBin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := exec.Command(victimBin, "300")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- victim.Wait() }()
	t.Cleanup(func() { victim.Process.Kill() })

	report := filepath.Join(t.TempDir(), "report.json")
	tpl := writeTemplate(t, ecsTemplate("ALL", `"kill": {"actionId": "aws:ecs:task-kill-process",
  "parameters": {"processName": "fk-e2e-victim", "signal": "SIGKILL"}, "targets": {"Tasks": "app"}}`))
	p := startRunner(t, "run", "--plain", "--report", report, tpl)
	if code := p.wait(t, time.Minute); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("victim ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the victim is still alive")
	}
	rep := readReportFile(t, report)
	kill := mustReportAction(t, rep, "kill")
	if kill.State.Status != experiment.ActionCompleted || kill.DurationSeconds != 0 {
		t.Errorf("kill = %+v, %vs", kill.State, kill.DurationSeconds)
	}
	if n, _ := kill.Metric("signalled"); n != 1 {
		t.Errorf("signalled = %v, want 1", n)
	}
}

// cgroupUsage creates a cgroup for the test in the CPU accounting
// hierarchies (v1 cpu and cpuacct, or v2) and returns its path as
// /proc/PID/cgroup would list it and a function reading its CPU usage.
func cgroupUsage(t *testing.T) (string, func() time.Duration) {
	t.Helper()
	name := fmt.Sprintf("/fk-e2e-%d", os.Getpid())
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil { // v2
		dir := "/sys/fs/cgroup" + name
		if err := os.Mkdir(dir, 0o755); err != nil {
			testenv.Require(t, testenv.Cgroup2, fmt.Errorf("create %s: %w", dir, err))
		}
		t.Cleanup(func() { rmCgroup(t, dir) })
		return name, func() time.Duration {
			data, _ := os.ReadFile(dir + "/cpu.stat")
			var usec int64
			for _, l := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
					fmt.Sscan(v, &usec)
				}
			}
			return time.Duration(usec) * time.Microsecond
		}
	}
	acct := "/sys/fs/cgroup/cpuacct" + name
	for _, dir := range []string{"/sys/fs/cgroup/cpu" + name, acct} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			testenv.Require(t, testenv.Cgroup1, fmt.Errorf("create %s: %w", dir, err))
		}
		t.Cleanup(func() { rmCgroup(t, dir) })
	}
	return name, func() time.Duration {
		data, _ := os.ReadFile(acct + "/cpuacct.usage")
		var ns int64
		fmt.Sscan(strings.TrimSpace(string(data)), &ns)
		return time.Duration(ns)
	}
}

func rmCgroup(t *testing.T, dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond) // the stress child may still be exiting
	}
}

// runCPUStressOn runs examples/templates/cpu-stress.json against target
// and returns the report, the CPU seconds it says the stress burned, and
// the CPU time usage says was charged meanwhile.
func runCPUStressOn(t *testing.T, target string, usage func() time.Duration) (*experiment.Report, float64, time.Duration) {
	t.Helper()
	before := usage()
	report := filepath.Join(t.TempDir(), "report.json")
	p := startRunner(t, "run", "--plain", "--report", report, "--target", target, "../templates/cpu-stress.json")
	if code := p.wait(t, 2*time.Minute); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	rep := readReportFile(t, report)
	cpuSeconds, _ := mustReportAction(t, rep, "cpu").Metric("cpu_seconds")
	return rep, cpuSeconds, usage() - before
}

func TestE2ECgroupTarget(t *testing.T) {
	testenv.RequireFeature(t, testenv.Cgroup)
	runnerBinary(t)
	cg, usage := cgroupUsage(t)
	_, cpuSeconds, charged := runCPUStressOn(t, "cgroup:"+cg, usage)
	t.Logf("cgroup %s: report cpu_seconds %.2f, charged to the cgroup %.2fs", cg, cpuSeconds, charged.Seconds())
	if cpuSeconds < 0.2 {
		t.Errorf("cpu_seconds = %.2f: no CPU burned", cpuSeconds)
	}
	if charged.Seconds() < 0.9*cpuSeconds {
		t.Errorf("the cgroup was charged %.2fs, less than the %.2fs burned: the stress did not run in it", charged.Seconds(), cpuSeconds)
	}
}

// A pid target: the stress is charged to the process's cgroup.
func TestE2EPIDTarget(t *testing.T) {
	testenv.RequireFeature(t, testenv.Cgroup)
	runnerBinary(t)
	cg, usage := cgroupUsage(t)
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	pid := fmt.Sprint(sleeper.Process.Pid)
	dirs := []string{"/sys/fs/cgroup" + cg}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		dirs = []string{"/sys/fs/cgroup/cpu" + cg, "/sys/fs/cgroup/cpuacct" + cg}
	}
	for _, d := range dirs {
		if err := os.WriteFile(d+"/cgroup.procs", []byte(pid), 0o644); err != nil {
			t.Fatalf("move the sleeper into %s: %v", d, err)
		}
	}
	rep, cpuSeconds, charged := runCPUStressOn(t, "pid:"+pid, usage)
	t.Logf("pid %s in %s: report cpu_seconds %.2f, charged to its cgroup %.2fs", pid, cg, cpuSeconds, charged.Seconds())
	if cpuSeconds < 0.2 || charged.Seconds() < 0.9*cpuSeconds {
		t.Errorf("cpu_seconds %.2f, charged %.2fs: the stress did not run in the process's cgroup", cpuSeconds, charged.Seconds())
	}
	if f := mustReportAction(t, rep, "cpu").Faults; len(f) != 1 || f[0].Target.PID != sleeper.Process.Pid {
		t.Errorf("faults = %+v", f)
	}
}
