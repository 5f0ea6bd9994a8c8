package ecsmetatest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

//go:embed recorded/*.json
var recorded embed.FS

// Responses holds the raw JSON bodies the server returns. A nil field makes
// the path answer 404, as an older agent would.
type Responses struct {
	Container    []byte // ${ECS_CONTAINER_METADATA_URI_V4}
	Task         []byte // /task
	TaskWithTags []byte // /taskWithTags
	Stats        []byte // /stats
	TaskStats    []byte // /task/stats
}

func mustRead(name string) []byte {
	b, err := recorded.ReadFile("recorded/" + name)
	if err != nil {
		// The files are embedded at build time; a miss is a packaging bug.
		panic(fmt.Sprintf("ecsmetatest: embedded file %s: %v", name, err))
	}
	return b
}

// EC2 returns AWS's example responses for a task on EC2 in awsvpc mode
// (cluster "default", zone "us-west-2d", a pause container and a "curl"
// container). TaskWithTags adds synthesized tags; Stats and TaskStats are
// synthesized in Docker's stats format (one counter holds uint64 max).
func EC2() Responses {
	task := mustRead("metadatav4-response-task-ec2.json")
	stats := mustRead("stats-ec2.json")
	return Responses{
		Container: mustRead("metadatav4-response-container-ec2.json"),
		Task:      task,
		TaskWithTags: withTags(task,
			map[string]string{"app": "curltest", "team": "platform"},
			map[string]string{"aws:autoscaling:groupName": "ecs-default-asg"}),
		Stats: stats,
		TaskStats: taskStats(map[string][]byte{
			"598cba581fe3f939459eaba1e071d5c93bb2c49b7d1ba7db6bb19deeb70d8e38": nil,
			"ee08638adaaf009d78c248913f629e38299471d45fe7dc944d1039077e3424ca": stats,
		}),
	}
}

// Fargate returns AWS's example responses for a Fargate task (cluster ARN,
// zone "us-west-2a", one "curl" container). TaskWithTags adds synthesized
// task tags; Stats and TaskStats reuse the synthesized EC2 stats body.
func Fargate() Responses {
	task := mustRead("metadatav4-response-task-fargate.json")
	stats := mustRead("stats-ec2.json")
	return Responses{
		Container:    mustRead("metadatav4-response-container-fargate.json"),
		Task:         task,
		TaskWithTags: withTags(task, map[string]string{"app": "curltest"}, nil),
		Stats:        stats,
		TaskStats: taskStats(map[string][]byte{
			"e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603": stats,
		}),
	}
}

// withTags adds TaskTags and ContainerInstanceTags to a task body.
func withTags(task []byte, taskTags, instanceTags map[string]string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(task, &m); err != nil {
		panic(fmt.Sprintf("ecsmetatest: embedded task: %v", err))
	}
	put := func(k string, v map[string]string) {
		if v == nil {
			return
		}
		b, _ := json.Marshal(v)
		m[k] = b
	}
	put("TaskTags", taskTags)
	put("ContainerInstanceTags", instanceTags)
	out, _ := json.Marshal(m)
	return out
}

// taskStats builds a /task/stats body; a nil value becomes JSON null.
func taskStats(byID map[string][]byte) []byte {
	m := make(map[string]json.RawMessage, len(byID))
	for id, b := range byID {
		if b == nil {
			b = []byte("null")
		}
		m[id] = b
	}
	out, _ := json.Marshal(m)
	return out
}

// Server is a fake task metadata endpoint v4.
type Server struct {
	srv    *httptest.Server
	prefix string

	mu       sync.Mutex
	resp     Responses
	failNext int
	failCode int
	requests []string
}

// NewServer starts a server answering with r. Close it when done.
func NewServer(r Responses) *Server {
	s := &Server{prefix: "/v4/0123456789abcdef0123456789abcdef-1234567890", resp: r}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Endpoint returns the value to put in ECS_CONTAINER_METADATA_URI_V4.
func (s *Server) Endpoint() string { return s.srv.URL + s.prefix }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetResponses replaces the bodies served from now on.
func (s *Server) SetResponses(r Responses) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resp = r
}

// FailNext makes the next n requests answer with the given status (for
// example 503) instead of their body, to exercise retries.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, status
}

// Requests returns the paths requested so far, relative to the endpoint
// ("" for the container itself, "/task", ...), failed ones included.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		http.Error(w, "unknown metadata path", http.StatusNotFound)
		return
	}
	s.requests = append(s.requests, rest)
	if s.failNext > 0 {
		s.failNext--
		http.Error(w, "injected failure", s.failCode)
		return
	}
	var body []byte
	switch rest {
	case "", "/":
		body = s.resp.Container
	case "/task":
		body = s.resp.Task
	case "/taskWithTags":
		body = s.resp.TaskWithTags
	case "/stats":
		body = s.resp.Stats
	case "/task/stats":
		body = s.resp.TaskStats
	}
	if body == nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
