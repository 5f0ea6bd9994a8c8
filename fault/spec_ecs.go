package fault

import (
	"regexp"
	"time"
)

// FIS action IDs of the ECS task faults faultkit implements.
const (
	ActionTaskCPUStress            = "aws:ecs:task-cpu-stress"
	ActionTaskIOStress             = "aws:ecs:task-io-stress"
	ActionTaskKillProcess          = "aws:ecs:task-kill-process"
	ActionTaskNetworkBlackholePort = "aws:ecs:task-network-blackhole-port"
	ActionTaskNetworkLatency       = "aws:ecs:task-network-latency"
	ActionTaskNetworkPacketLoss    = "aws:ecs:task-network-packet-loss"
)

// ECS task actions act on resource type aws:ecs:task through target key Tasks.
const (
	ResourceTypeECSTask = "aws:ecs:task"
	TargetKeyTasks      = "Tasks"
)

// ProcessNamePattern is the processName rule of FIS's kill-process document.
const ProcessNamePattern = `^[0-9a-zA-Z.\-=_]{1,128}$`

// processNameRE is compiled once: specs are rebuilt on every
// ECSTaskActionSpecs call, and a regexp is immutable, so sharing it is safe.
var processNameRE = regexp.MustCompile(ProcessNamePattern)

// MaxDelayMilliseconds bounds delayMilliseconds and jitterMilliseconds.
// FIS states no maximum; an hour is far beyond any useful delay and keeps
// netem's time arithmetic well inside its limits.
const MaxDelayMilliseconds = 3_600_000

// ECSTaskActionSpecs returns fresh copies of the specs of the six
// aws:ecs:task fault actions, with FIS's parameter names, defaults and
// ranges. Engine packages pair them with constructors (stress.Actions,
// netem.Actions, procs.Actions); the template validator uses them as data.
func ECSTaskActionSpecs() []*ActionSpec {
	return []*ActionSpec{
		specCPUStress(), specIOStress(), specKillProcess(),
		specBlackholePort(), specNetworkLatency(), specPacketLoss(),
	}
}

// ECSTaskActionSpec returns a fresh copy of the spec for one of the six
// aws:ecs:task fault actions.
func ECSTaskActionSpec(id string) (*ActionSpec, bool) {
	for _, s := range ECSTaskActionSpecs() {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

func durationParam() ParamSpec {
	return ParamSpec{Name: "duration", Type: TypeDuration, Required: true,
		MinDuration: time.Second, MaxDuration: MaxActionDuration,
		Doc: "how long the fault is held (ISO-8601, PT1S to PT12H)"}
}

func installDependenciesParam() ParamSpec {
	return ParamSpec{Name: "installDependencies", Type: TypeBool, Default: "true", Ignored: true,
		Doc: "accepted for FIS compatibility; faultkit needs nothing installed"}
}

func useEndpointsParam() ParamSpec {
	return ParamSpec{Name: "useEcsFaultInjectionEndpoints", Type: TypeBool, Default: "false", Ignored: true,
		Doc: "accepted for FIS compatibility; faultkit always programs the kernel directly"}
}

func flowsPercentParam() ParamSpec {
	return ParamSpec{Name: "flowsPercent", Type: TypeInt, Default: "100", Min: 1, Max: 100,
		Doc: "percent of network flows impaired, spread by a flow hash"}
}

func sourcesParam() ParamSpec {
	return ParamSpec{Name: "sources", Type: TypeSources, Default: "ALL",
		Doc: "comma-separated destinations: IPv4/IPv6 address or CIDR, domain, AZ name or ID, ALL, DYNAMODB, S3"}
}

func ecsTask(id, desc, durationName string, params ...ParamSpec) *ActionSpec {
	return &ActionSpec{ID: id, Description: desc, ResourceType: ResourceTypeECSTask,
		TargetKey: TargetKeyTasks, DurationParam: durationName, Params: params}
}

func specCPUStress() *ActionSpec {
	return ecsTask(ActionTaskCPUStress, "Run CPU stress on the target tasks.", "duration",
		durationParam(),
		ParamSpec{Name: "percent", Type: TypeInt, Default: "100", Min: 0, Max: 100,
			Doc: "target load per worker, percent of one CPU (0 = no load, 100 = full)"},
		ParamSpec{Name: "workers", Type: TypeInt, Default: "0", Min: 0, Max: 1024,
			Doc: "number of CPU workers; 0 = one per CPU available to the task"},
		installDependenciesParam())
}

func specIOStress() *ActionSpec {
	return ecsTask(ActionTaskIOStress, "Run I/O stress on the target tasks.", "duration",
		durationParam(),
		ParamSpec{Name: "percent", Type: TypeInt, Default: "80", Min: 1, Max: 100,
			Doc: "percent of the free file-system space the workers may use"},
		ParamSpec{Name: "workers", Type: TypeInt, Default: "1", Min: 1, Max: 1024,
			Doc: "number of mixed sequential, random and memory-mapped I/O workers"},
		installDependenciesParam())
}

func specKillProcess() *ActionSpec {
	return ecsTask(ActionTaskKillProcess, "Stop the specified process in the target tasks, using killall.", "",
		ParamSpec{Name: "processName", Type: TypeString, Required: true,
			Pattern: processNameRE,
			Doc:     "name of the processes to signal, matched as killall matches"},
		ParamSpec{Name: "signal", Type: TypeEnum, Default: "SIGTERM", Values: []string{"SIGTERM", "SIGKILL"},
			Doc: "signal to send"},
		installDependenciesParam())
}

func specBlackholePort() *ActionSpec {
	return ecsTask(ActionTaskNetworkBlackholePort,
		"Drop inbound or outbound traffic for the specified protocol and port.", "duration",
		durationParam(),
		ParamSpec{Name: "port", Type: TypeInt, Required: true, Min: 1, Max: 65535, Doc: "port number"},
		ParamSpec{Name: "trafficType", Type: TypeEnum, Required: true, Values: []string{"ingress", "egress"},
			Doc: "direction of the traffic dropped"},
		ParamSpec{Name: "protocol", Type: TypeEnum, Default: "tcp", Values: []string{"tcp", "udp"},
			Doc: "transport protocol"},
		installDependenciesParam(), useEndpointsParam())
}

func specNetworkLatency() *ActionSpec {
	s := ecsTask(ActionTaskNetworkLatency,
		"Add latency and jitter to egress traffic to the specified sources.", "duration",
		durationParam(),
		ParamSpec{Name: "delayMilliseconds", Type: TypeInt, Default: "200", Min: 0, Max: MaxDelayMilliseconds,
			Doc: "added delay in milliseconds"},
		ParamSpec{Name: "jitterMilliseconds", Type: TypeInt, Default: "10", Min: 0, Max: MaxDelayMilliseconds,
			Doc: "delay variation in milliseconds"},
		flowsPercentParam(), sourcesParam(), installDependenciesParam(), useEndpointsParam())
	s.Check = func(p Params) error {
		if p.Int("delayMilliseconds") == 0 && p.Int("jitterMilliseconds") == 0 {
			return &ParamError{Action: s.ID, Param: "delayMilliseconds", Value: "0",
				Reason: "delayMilliseconds and jitterMilliseconds must not both be 0"}
		}
		return nil
	}
	return s
}

func specPacketLoss() *ActionSpec {
	return ecsTask(ActionTaskNetworkPacketLoss,
		"Drop a percentage of egress packets to the specified sources.", "duration",
		durationParam(),
		ParamSpec{Name: "lossPercent", Type: TypeInt, Default: "7", Min: 1, Max: 100,
			Doc: "percent of packets dropped"},
		flowsPercentParam(), sourcesParam(), installDependenciesParam(), useEndpointsParam())
}
