package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/netem"
	"github.com/faultkit/faultkit/procs"
	"github.com/faultkit/faultkit/stress"
)

// registryFor builds the engines' registry bound to one target: network
// faults act in the target's namespace (netem.WithNetNS), and CPU stress
// is charged to the target's cgroup (a cgroup target, or a pid target's
// cgroup).
func registryFor(t experiment.Target) (*fault.Registry, error) {
	var nopts []netem.Option
	if t.NetNS != "" {
		nopts = append(nopts, netem.WithNetNS(t.NetNS))
	}
	cgroup := t.Cgroup
	if t.Kind == experiment.KindPID {
		cg, err := cgroupOfPID(t.PID)
		if err != nil {
			return nil, err
		}
		cgroup = cg
	}
	stressActions := stress.Actions()
	if cgroup != "" {
		for i, a := range stressActions {
			if a.Spec.ID == fault.ActionTaskCPUStress {
				stressActions[i].New = func(p fault.Params) (fault.Fault, error) {
					return stress.CPUFault{Load: int(p.Int("percent")), Workers: int(p.Int("workers")), Cgroup: cgroup}, nil
				}
			}
		}
	}
	return fault.NewRegistry(stressActions, netem.Actions(nopts...), procs.Actions())
}

// cgroupOfPID returns the cgroup of process pid as /proc/PID/cgroup lists
// it: the unified (v2) path, or the v1 cpu controller's path.
func cgroupOfPID(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	defer f.Close()
	var unified, cpu string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpu" {
				cpu = parts[2]
			}
		}
	}
	if cpu != "" {
		return cpu, nil
	}
	if unified != "" {
		return unified, nil
	}
	return "", fmt.Errorf("cgroup of pid %d: not found in /proc/%d/cgroup", pid, pid)
}
