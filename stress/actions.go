package stress

import (
	"github.com/faultkit/faultkit/fault"
)

// Actions returns the FIS actions this package implements, for
// fault.NewRegistry: aws:ecs:task-cpu-stress and aws:ecs:task-io-stress,
// with FIS's parameter names and defaults (percent 100 / workers 0 for CPU,
// percent 80 / workers 1 for I/O). installDependencies is accepted and
// ignored: faultkit needs no stress-ng. The memory stress, which FIS has no
// ECS action for, is MemoryAction.
func Actions() []fault.Action {
	cpu, _ := fault.ECSTaskActionSpec(fault.ActionTaskCPUStress)
	io, _ := fault.ECSTaskActionSpec(fault.ActionTaskIOStress)
	return []fault.Action{
		{Spec: cpu, New: newCPUFromParams},
		{Spec: io, New: newIOFromParams},
	}
}

func newCPUFromParams(p fault.Params) (fault.Fault, error) {
	f := CPUFault{Load: int(p.Int("percent")), Workers: int(p.Int("workers"))}
	return f, f.validate()
}
