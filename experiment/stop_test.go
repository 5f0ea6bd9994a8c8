package experiment_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/template"
)

// fakeCloudWatch answers DescribeAlarms in the protocol cloudwatch
// v1.75 speaks (Smithy RPC v2 CBOR). state returns the alarm's state for
// the n-th request (1-based); "" means the alarm does not exist.
type fakeCloudWatch struct {
	srv      *httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	names    []string // AlarmNames of every request
	authOK   bool
}

func newFakeCloudWatch(t *testing.T, state func(n int) string) *fakeCloudWatch {
	f := &fakeCloudWatch{authOK: true}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.requests.Add(1))
		if r.Method != http.MethodPost || r.URL.Path != "/service/GraniteServiceVersion20100801/operation/DescribeAlarms" ||
			r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
			t.Errorf("unexpected request %s %s (Smithy-Protocol %q)", r.Method, r.URL.Path, r.Header.Get("Smithy-Protocol"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDTEST/") {
			f.mu.Lock()
			f.authOK = false
			f.mu.Unlock()
		}
		body, _ := io.ReadAll(r.Body)
		v, err := cbor.Decode(body)
		if err != nil {
			t.Errorf("request body is not CBOR: %v", err)
			return
		}
		in, _ := v.(cbor.Map)
		names, _ := in["AlarmNames"].(cbor.List)
		f.mu.Lock()
		for _, nm := range names {
			if s, ok := nm.(cbor.String); ok {
				f.names = append(f.names, string(s))
			}
		}
		f.mu.Unlock()
		alarms := cbor.List{}
		if st := state(n); st != "" && len(names) == 1 {
			alarms = append(alarms, cbor.Map{"AlarmName": names[0], "StateValue": cbor.String(st)})
		}
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		_, _ = w.Write(cbor.Encode(cbor.Map{"MetricAlarms": alarms, "CompositeAlarms": cbor.List{}}))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloudWatch) client() *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

const alarmARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx:high"

func TestAlarmStopsExperiment(t *testing.T) {
	t.Parallel()
	cw := newFakeCloudWatch(t, func(n int) string {
		if n >= 3 {
			return "ALARM"
		}
		return "OK"
	})
	l := newLedger()
	plan := buildPlan(t, allTasks(),
		act{name: "long", dur: time.Minute, target: "tasks"},
		act{name: "next", dur: time.Minute, target: "tasks", after: []string{"long"}})
	plan.StopConditions = []template.StopCondition{{Source: template.StopSourceAlarm, Value: alarmARN}}
	cfg := baseConfig(l)
	cfg.CloudWatch = cw.client()
	cfg.AlarmInterval = 20 * time.Millisecond
	rep := runWant(t, context.Background(), plan, cfg, experiment.ErrStopped)
	if !strings.Contains(rep.State.Reason, "checkout-5xx:high is in state ALARM") {
		t.Errorf("reason = %q", rep.State.Reason)
	}
	checkStates(t, "action long", actionStates(rep, "long"), "initiating", "running", "stopping", "stopped")
	checkStates(t, "action next", actionStates(rep, "next"), "cancelled")
	l.checkReverted(t)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for _, n := range cw.names {
		if n != "checkout-5xx:high" {
			t.Errorf("DescribeAlarms asked for %q, want the name from the ARN", n)
		}
	}
	if !cw.authOK {
		t.Error("requests were not signed with the static credentials")
	}
	if s := rep.StopConditions[0]; s.Source != experiment.SourceAlarm || s.Checks != 3 || !s.Tripped {
		t.Errorf("stop report = %+v, want tripped at the 3rd check", s)
	}
}

func TestAlarmCondition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		state   string
		tripped bool
		err     string
	}{
		{state: "OK"},
		{state: "INSUFFICIENT_DATA"},
		{state: "ALARM", tripped: true},
		{state: "", err: "not found"},
	}
	for _, tc := range cases {
		cw := newFakeCloudWatch(t, func(int) string { return tc.state })
		c, err := experiment.AlarmCondition(cw.client(), alarmARN)
		if err != nil {
			t.Fatal(err)
		}
		tripped, why, err := c.Check(context.Background())
		if tripped != tc.tripped || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("state %q: Check = %v, %q, %v", tc.state, tripped, why, err)
		}
	}
	for _, bad := range []string{"", "arn:aws:sns:us-east-1:1:topic", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:", "checkout"} {
		if _, err := experiment.AlarmCondition(nil, bad); !errors.Is(err, experiment.ErrStopCondition) {
			t.Errorf("AlarmCondition(%q) = %v, want ErrStopCondition", bad, err)
		}
	}
	if _, err := experiment.AlarmCondition(nil, alarmARN); !errors.Is(err, experiment.ErrStopCondition) {
		t.Errorf("nil client accepted: %v", err)
	}
}

func TestAlarmWithoutClientFails(t *testing.T) {
	t.Parallel()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "a", dur: time.Minute})
	plan.StopConditions = []template.StopCondition{{Source: template.StopSourceAlarm, Value: alarmARN}}
	rep, err := experiment.Run(context.Background(), plan, baseConfig(l))
	if !errors.Is(err, experiment.ErrFailed) || !strings.Contains(rep.State.Reason, "CloudWatch client") {
		t.Fatalf("Run = %+v, %v", rep.State, err)
	}
	if len(l.entries) != 0 {
		t.Error("injected")
	}
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	p := experiment.HTTPProbe(srv.URL, time.Second, nil)
	if tripped, why, err := p.Check(context.Background()); tripped || err != nil {
		t.Fatalf("200: Check = %v %q %v", tripped, why, err)
	}
	status.Store(503)
	if tripped, why, _ := p.Check(context.Background()); !tripped || !strings.Contains(why, "503") {
		t.Errorf("503: Check = %v %q", tripped, why)
	}
	srv.Close()
	if tripped, _, _ := p.Check(context.Background()); !tripped {
		t.Error("closed server: not tripped")
	}
}

func TestCommandProbe(t *testing.T) {
	t.Parallel()
	if tripped, why, err := experiment.CommandProbe("exit 0", 0).Check(context.Background()); tripped || err != nil {
		t.Errorf("exit 0: %v %q %v", tripped, why, err)
	}
	if tripped, why, _ := experiment.CommandProbe("echo sick >&2; exit 4", 0).Check(context.Background()); !tripped ||
		!strings.Contains(why, "exit status 4") || !strings.Contains(why, "sick") {
		t.Errorf("exit 4: %v %q", tripped, why)
	}
	if tripped, why, _ := experiment.CommandProbe("sleep 5", 50*time.Millisecond).Check(context.Background()); !tripped ||
		!strings.Contains(why, "did not finish") {
		t.Errorf("timeout: %v %q", tripped, why)
	}
}

func TestHTTPProbeStopsExperiment(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	l := newLedger()
	plan := buildPlan(t, nil, act{name: "a", dur: time.Minute})
	cfg := baseConfig(l)
	cfg.StopConditions = []experiment.StopCondition{experiment.HTTPProbe(srv.URL, time.Second, nil)}
	cfg.Observer = func(ev experiment.Event) {
		if ev.Type == experiment.EventAction && ev.Status == "running" {
			healthy.Store(false) // the fault "breaks" the service
		}
	}
	rep, err := experiment.Run(context.Background(), plan, cfg)
	if !errors.Is(err, experiment.ErrStopped) || !strings.Contains(rep.State.Reason, "500") {
		t.Fatalf("Run = %+v, %v", rep.State, err)
	}
	l.checkReverted(t)
}
