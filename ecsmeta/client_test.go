package ecsmeta_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
)

// fast keeps retry delays short in tests.
var fast = &ecsmeta.Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

func newClient(t *testing.T, r ecsmetatest.Responses) (*ecsmeta.Client, *ecsmetatest.Server) {
	t.Helper()
	srv := ecsmetatest.NewServer(r)
	t.Cleanup(srv.Close)
	c, err := ecsmeta.New(srv.Endpoint(), fast)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestClientAllPaths(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t, ecsmetatest.EC2())

	ctr, err := c.Container(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ctr.Name != "curl" || ctr.DockerID != "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66" {
		t.Errorf("Container = %q %q", ctr.Name, ctr.DockerID)
	}

	task, err := c.Task(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if task.AvailabilityZone != "us-west-2d" || len(task.Containers) != 2 || task.TaskTags != nil {
		t.Errorf("Task: AZ %q, %d containers, tags %v", task.AvailabilityZone, len(task.Containers), task.TaskTags)
	}

	tagged, err := c.TaskWithTags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tagged.TaskARN != task.TaskARN || tagged.TaskTags["team"] != "platform" ||
		tagged.ContainerInstanceTags["aws:autoscaling:groupName"] != "ecs-default-asg" {
		t.Errorf("TaskWithTags: %q tags %v instance tags %v", tagged.TaskARN, tagged.TaskTags, tagged.ContainerInstanceTags)
	}

	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.MemoryStats.Stats["hierarchical_memsw_limit"]; got != math.MaxUint64 {
		t.Errorf("uint64-max counter decoded as %d", got)
	}
	if st.CPUStats.OnlineCPUs != 2 || len(st.CPUStats.CPUUsage.PercpuUsage) != 2 || st.Networks["eth1"].RxBytes != 564655295 ||
		st.NetworkRateStats == nil || st.NetworkRateStats.TxBytesPerSec != 62.25 || st.BlkioStats.IoServiceBytesRecursive[0].Value != 638976 {
		t.Errorf("Stats = %+v", st)
	}
	// (360968065-160968065) / (13939680000000-13937680000000) * 2 CPUs * 100
	if got := st.CPUPercent(); math.Abs(got-20) > 1e-9 {
		t.Errorf("CPUPercent = %v, want 20", got)
	}

	ts, err := c.TaskStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("TaskStats has %d entries, want 2", len(ts))
	}
	if s, ok := ts["598cba581fe3f939459eaba1e071d5c93bb2c49b7d1ba7db6bb19deeb70d8e38"]; !ok || s != nil {
		t.Errorf("pause container stats = %v, %v; want present and nil", s, ok)
	}
	if s := ts[task.Containers[1].DockerID]; s == nil || s.ID != task.Containers[1].DockerID {
		t.Errorf("curl stats = %+v", s)
	}

	want := []string{"", "/task", "/taskWithTags", "/stats", "/task/stats"}
	if got := srv.Requests(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

func TestClientRetriesServerErrors(t *testing.T) {
	c, srv := newClient(t, ecsmetatest.Fargate())
	srv.FailNext(2, http.StatusServiceUnavailable)
	task, err := c.Task(context.Background())
	if err != nil {
		t.Fatalf("Task after two 503s: %v", err)
	}
	if task.LaunchType != "FARGATE" {
		t.Errorf("LaunchType = %q", task.LaunchType)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestClientGivesUpAfterMaxAttempts(t *testing.T) {
	srv := ecsmetatest.NewServer(ecsmetatest.EC2())
	defer srv.Close()
	c, err := ecsmeta.New(srv.Endpoint(), &ecsmeta.Options{MaxAttempts: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(100, http.StatusInternalServerError)
	_, err = c.Task(context.Background())
	var se *ecsmeta.StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 || se.Path != "/task" || !ecsmeta.IsTransient(err) {
		t.Fatalf("err = %v, want a transient *StatusError 500 for /task", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("err = %q, want the attempt count", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestClientDoesNotRetryClientErrors(t *testing.T) {
	r := ecsmetatest.EC2()
	r.TaskWithTags = nil // an agent without /taskWithTags answers 404
	c, srv := newClient(t, r)
	_, err := c.TaskWithTags(context.Background())
	var se *ecsmeta.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound || ecsmeta.IsTransient(err) {
		t.Fatalf("err = %v, want a non-transient 404", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestClientBadJSON(t *testing.T) {
	r := ecsmetatest.EC2()
	r.Task = []byte(`{"TaskARN": 42}`)
	c, srv := newClient(t, r)
	_, err := c.Task(context.Background())
	if err == nil || !strings.Contains(err.Error(), "decode response") || !strings.Contains(err.Error(), "TaskARN") {
		t.Fatalf("err = %v, want a decode error naming TaskARN", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (decode errors are not retried)", n)
	}
}

// TestClientRetriesConnectionErrors serves from a listener that drops the
// first connections without answering, as a task sees while the agent's
// endpoint comes up.
func TestClientRetriesConnectionErrors(t *testing.T) {
	task := ecsmetatest.EC2().Task
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dl := &droppingListener{Listener: ln, drop: 2}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(task)
	}))
	srv.Listener = dl
	srv.Start()
	defer srv.Close()

	c, err := ecsmeta.New(srv.URL+"/v4/abc", fast)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Task(context.Background())
	if err != nil {
		t.Fatalf("Task: %v", err)
	}
	if got.Revision != "26" {
		t.Errorf("Revision = %q", got.Revision)
	}
	if n := dl.accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (two dropped)", n)
	}
}

type droppingListener struct {
	net.Listener
	drop     int64
	accepted atomic.Int64
}

func (l *droppingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.accepted.Add(1) <= l.drop {
			c.Close()
			continue
		}
		return c, nil
	}
}

func TestClientContextCancelStopsRetrying(t *testing.T) {
	srv := ecsmetatest.NewServer(ecsmetatest.EC2())
	defer srv.Close()
	c, err := ecsmeta.New(srv.Endpoint(), &ecsmeta.Options{MaxAttempts: 1000, Backoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(1000, http.StatusBadGateway)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(srv.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = c.Task(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var se *ecsmeta.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway {
		t.Errorf("err = %v, want the last 502 kept", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNewAndFromEnv(t *testing.T) {
	t.Setenv(ecsmeta.EnvEndpointV4, "")
	if _, err := ecsmeta.FromEnv(nil); !errors.Is(err, ecsmeta.ErrNoEndpoint) || !strings.Contains(err.Error(), ecsmeta.EnvEndpointV4) {
		t.Errorf("FromEnv with the variable empty: %v", err)
	}
	t.Setenv(ecsmeta.EnvEndpointV4, "http://169.254.170.2/v4/abc")
	c, err := ecsmeta.FromEnv(nil)
	if err != nil || c.Endpoint() != "http://169.254.170.2/v4/abc" {
		t.Errorf("FromEnv = %v, %v", c, err)
	}
	for _, bad := range []string{"169.254.170.2/v4", "ftp://x/v4", "http://", "http://[::1"} {
		if _, err := ecsmeta.New(bad, nil); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("New(%q) = %v, want an error naming the value", bad, err)
		}
	}
	if _, err := ecsmeta.New("http://x/v4", &ecsmeta.Options{MaxAttempts: -1}); err == nil {
		t.Error("New accepted MaxAttempts -1")
	}
}
