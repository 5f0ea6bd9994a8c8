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
// cgroup) through stress.CPUFault.Cgroup. I/O stress is not: stress.IOFault
// runs its workers in this process and has no way to place them in
// another cgroup.
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
			if a.Spec.ID != fault.ActionTaskCPUStress {
				continue
			}
			// stress maps and validates the parameters; only the cgroup is added.
			newCPU := a.New
			stressActions[i].New = func(p fault.Params) (fault.Fault, error) {
				f, err := newCPU(p)
				if err != nil {
					return nil, err
				}
				cpu, ok := f.(stress.CPUFault)
				if !ok {
					return nil, fmt.Errorf("cpu-stress for cgroup %s: stress built a %T, not a stress.CPUFault", cgroup, f)
				}
				cpu.Cgroup = cgroup
				return cpu, nil
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
