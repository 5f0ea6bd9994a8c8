package procs

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

func TestActionsRegistry(t *testing.T) {
	r, err := fault.NewRegistry(Actions())
	if err != nil {
		t.Fatal(err)
	}
	if ids := r.IDs(); len(ids) != 1 || ids[0] != fault.ActionTaskKillProcess {
		t.Fatalf("IDs = %v", ids)
	}
	f, d, err := r.New(fault.ActionTaskKillProcess, map[string]string{"processName": "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if d != 0 {
		t.Errorf("duration = %v, want 0 (instantaneous)", d)
	}
	kf, ok := f.(KillFault)
	if !ok || kf.ProcessName != "nginx" || kf.Signal != syscall.SIGTERM || kf.AllowPID1 || kf.Name() != "kill-process" {
		t.Errorf("fault = %#v", f)
	}
	f, _, err = r.New(fault.ActionTaskKillProcess, map[string]string{
		"processName": "java-app.v2=blue_1", "signal": "SIGKILL", "installDependencies": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if kf := f.(KillFault); kf.Signal != syscall.SIGKILL || kf.ProcessName != "java-app.v2=blue_1" {
		t.Errorf("fault = %#v", kf)
	}
}

func TestActionsRejectBadParameters(t *testing.T) {
	r, err := fault.NewRegistry(Actions())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		params map[string]string
		param  string
	}{
		{map[string]string{}, "processName"},
		{map[string]string{"processName": ""}, "processName"},
		{map[string]string{"processName": "a/b"}, "processName"},
		{map[string]string{"processName": "sleep 1"}, "processName"},
		{map[string]string{"processName": strings.Repeat("a", 129)}, "processName"},
		{map[string]string{"processName": "x", "signal": "SIGHUP"}, "signal"},
		{map[string]string{"processName": "x", "signal": "sigkill"}, "signal"},
		{map[string]string{"processName": "x", "duration": "PT1M"}, "duration"},
		{map[string]string{"processName": "x", "installDependencies": "maybe"}, "installDependencies"},
	}
	for _, c := range cases {
		_, _, err := r.New(fault.ActionTaskKillProcess, c.params)
		var pe *fault.ParamError
		if !errors.As(err, &pe) || pe.Param != c.param {
			t.Errorf("New(%v) = %v, want a ParamError for %s", c.params, err, c.param)
		}
	}
}

func TestKillFaultValidate(t *testing.T) {
	bad := []KillFault{
		{},
		{ProcessName: "x", Signal: 99},
		{ProcessName: "x", Wait: -1},
		{ProcessName: "x/y"},
		{ProcessName: "(", Match: MatchCmdline},
	}
	for i, f := range bad {
		if err := f.Validate(); !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("case %d: Validate(%+v) = %v, want invalid parameter", i, f, err)
		}
	}
	if h, err := bad[4].Inject(t.Context(), nil); h != nil || !errors.Is(err, fault.ErrInvalidParameter) {
		t.Errorf("Inject with a bad regexp = %v, want invalid parameter", err)
	}
	if err := (KillFault{ProcessName: "x", Signal: syscall.SIGUSR2, Wait: 1}).Validate(); err != nil {
		t.Errorf("valid fault rejected: %v", err)
	}
}

func TestResultMetrics(t *testing.T) {
	r := &Result{
		Signalled: []Signalled{{Process: Process{PID: 10}, Exited: true, ExitAfter: 1500e6}, {Process: Process{PID: 11}}},
		Failed:    []Failure{{PID: 12, Err: goneError{}}},
	}
	got := map[string]float64{}
	for _, m := range r.Metrics() {
		got[m.Name] = m.Value
	}
	want := map[string]float64{"signalled": 2, "failed": 1, "skipped": 0, "pid10.exit_time": 1.5}
	if len(got) != len(want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v", k, got[k], v)
		}
	}
	if pids := r.PIDs(); len(pids) != 2 || pids[0] != 10 || pids[1] != 11 {
		t.Errorf("PIDs = %v", pids)
	}
	if !errors.Is(r.Failed[0].Err, syscall.ESRCH) {
		t.Errorf("gone error %v does not wrap ESRCH", r.Failed[0].Err)
	}
}
