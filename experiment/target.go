package experiment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/template"
)

// TargetKind says what a local target is.
type TargetKind string

// Target kinds.
const (
	KindHost   TargetKind = "host"   // this machine's (or container's) own namespaces
	KindNetNS  TargetKind = "netns"  // a network namespace, by path
	KindPID    TargetKind = "pid"    // a process: its network namespace and cgroup
	KindCgroup TargetKind = "cgroup" // a cgroup: CPU and I/O stress are charged to it
	KindTask   TargetKind = "task"   // the ECS task this process runs in (task metadata endpoint)
)

// Target is one local resource an aws:ecs:task action acts on: what FIS
// would call one resolved task. Engines bind faults to it through
// Config.RegistryFor (network faults to NetNS, stress to Cgroup).
type Target struct {
	Kind TargetKind `json:"kind"`
	// Name identifies the target in logs and reports: "host", a netns
	// path, "pid:1234", "cgroup:/x", a task ARN.
	Name string `json:"name"`
	// NetNS is the network namespace path; "" means the caller's.
	NetNS string `json:"netns,omitempty"`
	// PID is the process of a pid target.
	PID int `json:"pid,omitempty"`
	// Cgroup is a cgroup path as /proc/PID/cgroup lists it.
	Cgroup string `json:"cgroup,omitempty"`
	// TaskARN and AvailabilityZone describe a task target; template
	// targets' resourceArns, resourceTags and AvailabilityZone filters
	// are matched against them.
	TaskARN          string            `json:"taskArn,omitempty"`
	AvailabilityZone string            `json:"availabilityZone,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// Host returns the target for the local host: faults act in the
// caller's own network namespace and cgroup.
func Host() Target { return Target{Kind: KindHost, Name: "host"} }

// ErrTarget is wrapped by the errors of ParseTarget and of target checks.
var ErrTarget = errors.New("invalid target")

// ParseTarget parses a --target value:
//
//	host                  the local host
//	netns:NAME            /run/netns/NAME (as "ip netns add NAME" creates)
//	netns:/path           a network namespace file, e.g. /proc/42/ns/net
//	pid:N  or  N          process N: its network namespace and cgroup
//	cgroup:/path          a cgroup, as /proc/PID/cgroup lists it
//
// A bare absolute path is taken as a network namespace. ParseTarget checks
// syntax only; Check looks at the system.
func ParseTarget(s string) (Target, error) {
	bad := func(why string) (Target, error) {
		return Target{}, fmt.Errorf("%w %q: %s (want host, netns:NAME|PATH, pid:N or cgroup:PATH)", ErrTarget, s, why)
	}
	kind, arg, hasKind := strings.Cut(s, ":")
	if !hasKind {
		switch {
		case s == "host":
			return Host(), nil
		case s != "" && strings.Trim(s, "0123456789") == "":
			kind, arg = "pid", s
		case strings.HasPrefix(s, "/"):
			kind, arg = "netns", s
		default:
			return bad("unknown target")
		}
	}
	switch kind {
	case "netns":
		if arg == "" {
			return bad("no namespace name or path")
		}
		p := arg
		if !strings.HasPrefix(p, "/") {
			if strings.Contains(p, "/") || p == "." || p == ".." {
				return bad("a namespace name cannot contain '/'")
			}
			p = filepath.Join("/run/netns", p)
		}
		return Target{Kind: KindNetNS, Name: "netns:" + p, NetNS: filepath.Clean(p)}, nil
	case "pid":
		pid, err := strconv.Atoi(arg)
		if err != nil || pid <= 0 {
			return bad("the PID must be a positive whole number")
		}
		return Target{Kind: KindPID, Name: "pid:" + arg, PID: pid, NetNS: "/proc/" + arg + "/ns/net"}, nil
	case "cgroup":
		if !strings.HasPrefix(arg, "/") {
			return bad("the cgroup path must start with '/'")
		}
		return Target{Kind: KindCgroup, Name: "cgroup:" + arg, Cgroup: filepath.Clean(arg)}, nil
	}
	return bad("unknown kind " + strconv.Quote(kind))
}

// Check verifies that the target exists: the namespace file, the
// process, the cgroup directory (under /sys/fs/cgroup, v2 or any v1
// hierarchy).
func (t Target) Check() error {
	switch t.Kind {
	case KindHost, KindTask:
		return nil
	case KindPID:
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", t.PID)); err != nil {
			return fmt.Errorf("%w %s: no such process", ErrTarget, t.Name)
		}
	case KindNetNS:
		if _, err := os.Stat(t.NetNS); err != nil {
			return fmt.Errorf("%w %s: %v", ErrTarget, t.Name, err)
		}
	case KindCgroup:
		for _, root := range cgroupRoots() {
			if st, err := os.Stat(filepath.Join(root, t.Cgroup)); err == nil && st.IsDir() {
				return nil
			}
		}
		return fmt.Errorf("%w %s: no such cgroup under /sys/fs/cgroup", ErrTarget, t.Name)
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrTarget, t.Kind)
	}
	return nil
}

func cgroupRoots() []string {
	roots := []string{"/sys/fs/cgroup"}
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
			}
		}
	}
	return roots
}

// DetectTargets returns the default candidates: the ECS task this process
// runs in when ECS_CONTAINER_METADATA_URI_V4 is set (read through
// ecsmeta, with the task's tags), otherwise the local host.
func DetectTargets(ctx context.Context) ([]Target, error) {
	if os.Getenv(ecsmeta.EnvEndpointV4) == "" {
		return []Target{Host()}, nil
	}
	c, err := ecsmeta.FromEnv(nil)
	if err != nil {
		return nil, fmt.Errorf("experiment: task metadata: %w", err)
	}
	task, err := c.TaskWithTags(ctx)
	if err != nil {
		return nil, fmt.Errorf("experiment: task metadata: %w", err)
	}
	return []Target{TaskTarget(task)}, nil
}

// TaskTarget is the target for a task described by its metadata: the
// process's own namespaces, identified by the task ARN.
func TaskTarget(task *ecsmeta.Task) Target {
	return Target{Kind: KindTask, Name: task.TaskARN, TaskARN: task.TaskARN,
		AvailabilityZone: task.AvailabilityZone, Tags: task.TaskTags}
}

// Resolver returns the candidate targets of one template target. The
// experiment then applies the target's selectionMode to them.
type Resolver func(ctx context.Context, name string, t template.Target) ([]Target, error)

// StaticResolver resolves every aws:ecs:task template target to the given
// candidates. Candidates of kind task are filtered by the template
// target's resourceArns, resourceTags and AvailabilityZone filters, as
// FIS filters tasks; the other kinds are local stand-ins for tasks and
// match whatever ARNs or tags the template names.
func StaticResolver(candidates []Target) Resolver {
	return func(_ context.Context, name string, t template.Target) ([]Target, error) {
		if t.ResourceType != "aws:ecs:task" {
			return nil, fmt.Errorf("%w: target %q has resource type %q; faultkit resolves only aws:ecs:task targets locally",
				ErrTarget, name, t.ResourceType)
		}
		var out []Target
		for _, c := range candidates {
			if matches(c, t) {
				out = append(out, c)
			}
		}
		return out, nil
	}
}

func matches(c Target, t template.Target) bool {
	if c.Kind != KindTask {
		return true
	}
	if len(t.ResourceArns) > 0 && !slices.Contains(t.ResourceArns, c.TaskARN) {
		return false
	}
	for k, v := range t.ResourceTags {
		if got, ok := c.Tags[k]; !ok || got != v {
			return false
		}
	}
	for _, f := range t.Filters {
		if f.Path == "AvailabilityZone" && !slices.Contains(f.Values, c.AvailabilityZone) {
			return false
		}
	}
	return true
}

// selectTargets applies mode to candidates: ALL keeps them, COUNT and
// PERCENT pick at random (PERCENT rounds down), keeping the candidates'
// order.
func selectTargets(mode template.SelectionMode, candidates []Target, rnd *rand.Rand) []Target {
	n := mode.Select(len(candidates))
	if n >= len(candidates) {
		return slices.Clone(candidates)
	}
	picked := rnd.Perm(len(candidates))[:n]
	slices.Sort(picked)
	out := make([]Target, 0, n)
	for _, i := range picked {
		out = append(out, candidates[i])
	}
	return out
}
