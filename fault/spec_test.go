package fault_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

func TestResolveDefaults(t *testing.T) {
	spec, ok := fault.ECSTaskActionSpec(fault.ActionTaskNetworkLatency)
	if !ok {
		t.Fatal("latency spec missing")
	}
	p, err := spec.Resolve(map[string]string{"duration": "PT5M"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Int("delayMilliseconds") != 200 || p.Int("jitterMilliseconds") != 10 || p.Int("flowsPercent") != 100 ||
		p.String("sources") != "ALL" || !p.Bool("installDependencies") || p.Bool("useEcsFaultInjectionEndpoints") {
		t.Errorf("defaults not applied: %v", p.Map())
	}
	if p.Duration("duration") != 5*time.Minute {
		t.Errorf("duration = %v", p.Duration("duration"))
	}
	if p.Has("delayMilliseconds") || !p.Has("duration") {
		t.Error("Has must tell given from defaulted")
	}
}

func TestResolveErrorsNameParamAndValue(t *testing.T) {
	spec, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	_, err := spec.Resolve(map[string]string{"percent": "101", "workers": "-1", "duration": "5m", "bogus": "x"})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, fault.ErrInvalidParameter) {
		t.Errorf("not ErrInvalidParameter: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`parameter "percent" value "101": out of range 0-100`,
		`parameter "workers" value "-1": out of range 0-1024`,
		`parameter "duration" value "5m": invalid ISO-8601 duration`,
		`parameter "bogus" value "x": unknown parameter`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// errors.Join of *ParamError values: each one reachable.
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *fault.ParamError
		if errors.As(e, &pe) {
			n++
		}
	}
	if n != 4 {
		t.Errorf("want 4 ParamErrors, got %d", n)
	}
}

func TestResolveRequiredEnumPattern(t *testing.T) {
	kill, _ := fault.ECSTaskActionSpec(fault.ActionTaskKillProcess)
	_, err := kill.Resolve(map[string]string{"signal": "sigkill"})
	if err == nil || !strings.Contains(err.Error(), `"processName": required parameter is missing`) ||
		!strings.Contains(err.Error(), "case-sensitive") {
		t.Errorf("got %v", err)
	}
	if _, err := kill.Resolve(map[string]string{"processName": "bad name;rm"}); err == nil {
		t.Error("pattern not enforced")
	}
	p, err := kill.Resolve(map[string]string{"processName": "nginx", "installDependencies": "True"})
	if err != nil || p.String("signal") != "SIGTERM" || !p.Bool("installDependencies") {
		t.Errorf("got %v %v", p.Map(), err)
	}
	if kill.DurationParam != "" {
		t.Error("kill-process has no duration")
	}
	lat, _ := fault.ECSTaskActionSpec(fault.ActionTaskNetworkLatency)
	_, err = lat.Resolve(map[string]string{"duration": "PT1M", "delayMilliseconds": "0", "jitterMilliseconds": "0"})
	if err == nil || !strings.Contains(err.Error(), "must not both be 0") {
		t.Errorf("cross-parameter check: %v", err)
	}
	bh, _ := fault.ECSTaskActionSpec(fault.ActionTaskNetworkBlackholePort)
	if _, err := bh.Resolve(map[string]string{"duration": "PT1M", "port": "70000", "trafficType": "egress"}); err == nil {
		t.Error("port range not enforced")
	}
	if _, err := bh.Resolve(map[string]string{"duration": "PT13H", "port": "80", "trafficType": "egress"}); err == nil {
		t.Error("12h maximum not enforced")
	}
}

func TestECSTaskActionSpecsAreFresh(t *testing.T) {
	a, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	a.Params[0].Name = "mutated"
	b, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	if b.Params[0].Name == "mutated" {
		t.Fatal("specs share state between calls")
	}
	if got := len(fault.ECSTaskActionSpecs()); got != 6 {
		t.Fatalf("want 6 ECS task specs, got %d", got)
	}
}

type nopFault struct{ name string }

func (f nopFault) Name() string { return f.name }
func (f nopFault) Inject(context.Context, *fault.Journal) (fault.Handle, error) {
	return fault.NewControl(nil, nil), nil
}

func TestRegistry(t *testing.T) {
	spec, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	var got fault.Params
	r, err := fault.NewRegistry([]fault.Action{{Spec: spec, New: func(p fault.Params) (fault.Fault, error) {
		got = p
		return nopFault{"cpu-stress"}, nil
	}}})
	if err != nil {
		t.Fatal(err)
	}
	f, d, err := r.New(fault.ActionTaskCPUStress, map[string]string{"duration": "PT2M", "percent": "80"})
	if err != nil || f.Name() != "cpu-stress" || d != 2*time.Minute || got.Int("percent") != 80 || got.Int("workers") != 0 {
		t.Fatalf("New: %v %v %v %v", f, d, err, got.Map())
	}
	if _, _, err := r.New("aws:ecs:nope", nil); !errors.Is(err, fault.ErrUnknownAction) {
		t.Errorf("unknown action: %v", err)
	}
	if _, _, err := r.New(fault.ActionTaskCPUStress, map[string]string{"duration": "PT2M", "percent": "101"}); !errors.Is(err, fault.ErrInvalidParameter) {
		t.Errorf("bad param: %v", err)
	}
	if _, err := fault.NewRegistry([]fault.Action{{Spec: spec, New: nil}}); err == nil {
		t.Error("missing constructor accepted")
	}
	dup := fault.Action{Spec: spec, New: func(fault.Params) (fault.Fault, error) { return nopFault{}, nil }}
	if _, err := fault.NewRegistry([]fault.Action{dup}, []fault.Action{dup}); err == nil {
		t.Error("duplicate accepted")
	}
}

func TestHTTPStatus(t *testing.T) {
	cases := map[error]int{
		nil: 200, fault.ErrConflict: 409, fault.ErrNotFound: 404, fault.ErrPermission: 403,
		fault.Unsupported("sch_netem", nil): 501, &fault.ParamError{Param: "x"}: 400,
		errors.New("boom"): 500,
	}
	for err, want := range cases {
		if got := fault.HTTPStatus(err); got != want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", err, got, want)
		}
	}
	u := fault.Unsupported("sch_netem", errors.New("ENOENT"))
	var ue *fault.UnsupportedError
	if !errors.As(u, &ue) || ue.Feature != "sch_netem" || !strings.Contains(u.Error(), "sch_netem") {
		t.Errorf("UnsupportedError: %v", u)
	}
}

func TestPermission(t *testing.T) {
	err := fault.Permission(&os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES})
	if !errors.Is(err, fault.ErrPermission) || !errors.Is(err, syscall.EACCES) {
		t.Errorf("EACCES: %v", err)
	}
	if again := fault.Permission(err); again != err {
		t.Error("wrapped twice")
	}
	if fault.Permission(nil) != nil {
		t.Error("nil not kept")
	}
	other := errors.New("boom")
	if fault.Permission(other) != other {
		t.Error("non-permission error changed")
	}
	if !errors.Is(fault.Permission(syscall.EPERM), fault.ErrPermission) {
		t.Error("EPERM")
	}
}
