package netem

import (
	"time"

	"github.com/faultkit/faultkit/fault"
)

// Actions returns the registry entries of the three FIS network actions of
// ECS tasks, with FIS's parameters and defaults (fault.ECSTaskActionSpecs).
// opts apply to every fault they build, typically the target, e.g.
// WithPID(taskPID) or WithNetNS(path); latency and loss act on the
// DEFAULT interface, as FIS does. installDependencies and
// useEcsFaultInjectionEndpoints are accepted and ignored: faultkit needs
// nothing installed and always programs the kernel itself.
//
//	reg, err := fault.NewRegistry(netem.Actions(netem.WithPID(pid)))
func Actions(opts ...Option) []fault.Action {
	spec := func(id string) *fault.ActionSpec {
		s, _ := fault.ECSTaskActionSpec(id)
		return s
	}
	with := func(extra ...Option) []Option { return append(append([]Option(nil), opts...), extra...) }
	return []fault.Action{
		{Spec: spec(fault.ActionTaskNetworkLatency), New: func(p fault.Params) (fault.Fault, error) {
			return NewLatency("", time.Duration(p.Int("delayMilliseconds"))*time.Millisecond,
				time.Duration(p.Int("jitterMilliseconds"))*time.Millisecond, p.String("sources"),
				with(WithFlowsPercent(int(p.Int("flowsPercent"))))...)
		}},
		{Spec: spec(fault.ActionTaskNetworkPacketLoss), New: func(p fault.Params) (fault.Fault, error) {
			return NewPacketLoss("", float64(p.Int("lossPercent")), p.String("sources"),
				with(WithFlowsPercent(int(p.Int("flowsPercent"))))...)
		}},
		{Spec: spec(fault.ActionTaskNetworkBlackholePort), New: func(p fault.Params) (fault.Fault, error) {
			d, err := ParseDirection(p.String("trafficType"))
			if err != nil {
				return nil, err
			}
			return NewBlackhole(int(p.Int("port")), p.String("protocol"), with(WithDirection(d))...)
		}},
	}
}
