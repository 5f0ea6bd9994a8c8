package ecsmeta

import "time"

// Task is the task object returned by ${ECS_CONTAINER_METADATA_URI_V4}/task
// and, with the two tag maps filled in, by /taskWithTags. Field names follow
// the ECS agent's JSON; fields the agent marks omitempty are zero when absent.
// Unknown fields are ignored, so newer agents decode without error.
type Task struct {
	// Cluster is the short cluster name on EC2 and the full cluster ARN on
	// Fargate.
	Cluster string `json:"Cluster"`
	// TaskARN is the task's ARN, in the long (cluster-qualified) or the old
	// short format.
	TaskARN string `json:"TaskARN"`
	// Family is the task definition family.
	Family string `json:"Family"`
	// Revision is the task definition revision. The agent sends a string.
	Revision string `json:"Revision"`
	// DesiredStatus is the status ECS wants, for example "RUNNING".
	DesiredStatus string `json:"DesiredStatus,omitempty"`
	// KnownStatus is the status the agent last observed.
	KnownStatus string `json:"KnownStatus"`
	// Limits holds task-level CPU (vCPU) and memory (MiB) limits when the
	// task definition sets them; nil otherwise.
	Limits *Limits `json:"Limits,omitempty"`
	// PullStartedAt is when the first image pull started.
	PullStartedAt time.Time `json:"PullStartedAt,omitzero"`
	// PullStoppedAt is when the last image pull finished.
	PullStoppedAt time.Time `json:"PullStoppedAt,omitzero"`
	// ExecutionStoppedAt is when every essential container had stopped.
	ExecutionStoppedAt time.Time `json:"ExecutionStoppedAt,omitzero"`
	// AvailabilityZone is the zone name, for example "us-west-2a". See
	// RegionFromAvailabilityZone and CheckSidecarAvailabilityZone.
	AvailabilityZone string `json:"AvailabilityZone,omitempty"`
	// AvailabilityZoneID is the zone ID, for example "usw2-az1", when the
	// agent reports it.
	AvailabilityZoneID string `json:"AvailabilityZoneID,omitempty"`
	// TaskTags holds the task's tags; only /taskWithTags fills it.
	TaskTags map[string]string `json:"TaskTags,omitempty"`
	// ContainerInstanceTags holds the EC2 container instance's tags; only
	// /taskWithTags on EC2 fills it.
	ContainerInstanceTags map[string]string `json:"ContainerInstanceTags,omitempty"`
	// LaunchType is "EC2" or "FARGATE" (agent 1.45.0 and later).
	LaunchType string `json:"LaunchType,omitempty"`
	// Errors lists partial failures, for example tags that could not be read.
	Errors []MetadataError `json:"Errors,omitempty"`
	// Containers lists the task's containers, including the pause container
	// on EC2 awsvpc tasks.
	Containers []Container `json:"Containers,omitempty"`
	// VPCID is the task's VPC (EC2 only, agent 1.63.1 and later).
	VPCID string `json:"VPCID,omitempty"`
	// ServiceName is the ECS service that started the task, if any.
	ServiceName string `json:"ServiceName,omitempty"`
	// Group is the task group, for example "service:web".
	Group string `json:"Group,omitempty"`
	// ClockDrift describes the host clock's accuracy (Fargate).
	ClockDrift *ClockDrift `json:"ClockDrift,omitempty"`
	// EphemeralStorageMetrics reports ephemeral storage use (Fargate Linux
	// platform 1.4.0 and later).
	EphemeralStorageMetrics *EphemeralStorageMetrics `json:"EphemeralStorageMetrics,omitempty"`
	// FaultInjectionEnabled reports the task definition's
	// enableFaultInjection setting. The EC2 agent always sends it.
	FaultInjectionEnabled bool `json:"FaultInjectionEnabled"`
}

// Limits holds CPU and memory limits. For a task, CPU is in vCPUs (0.25);
// for a container, CPU is in CPU units (1024 per vCPU). Memory is in MiB.
type Limits struct {
	CPU    float64 `json:"CPU"`    // vCPUs (task) or CPU units (container)
	Memory int64   `json:"Memory"` // MiB
}

// MetadataError is one entry of Task.Errors: a partial failure the agent
// met while building the response.
type MetadataError struct {
	ErrorField   string `json:"ErrorField,omitempty"`   // which field could not be filled, e.g. "TaskTags"
	ErrorCode    string `json:"ErrorCode,omitempty"`    // AWS error code
	ErrorMessage string `json:"ErrorMessage,omitempty"` // AWS error message
	StatusCode   int    `json:"StatusCode,omitempty"`   // HTTP status of the failed AWS call
	RequestID    string `json:"RequestId,omitempty"`    // AWS request ID
	ResourceARN  string `json:"ResourceARN,omitempty"`  // resource the failed call was about
}

// ClockDrift describes the clock accuracy of the host running the task.
type ClockDrift struct {
	// ClockErrorBound is the estimated clock error, in milliseconds.
	ClockErrorBound float64 `json:"ClockErrorBound"`
	// ReferenceTimestamp is when the bound was measured.
	ReferenceTimestamp time.Time `json:"ReferenceTimestamp,omitzero"`
	// ClockSynchronizationStatus is "SYNCHRONIZED" or "NOT_SYNCHRONIZED".
	ClockSynchronizationStatus string `json:"ClockSynchronizationStatus,omitempty"`
}

// EphemeralStorageMetrics reports a Fargate task's ephemeral storage, in MiB.
type EphemeralStorageMetrics struct {
	Utilized int64 `json:"Utilized"` // MiB in use
	Reserved int64 `json:"Reserved"` // MiB reserved
}

// Container returns the task's container with the given name and true, or
// the zero Container and false.
func (t *Task) Container(name string) (Container, bool) {
	for _, c := range t.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return Container{}, false
}
