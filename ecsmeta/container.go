package ecsmeta

import "time"

// Container is the container object returned by
// ${ECS_CONTAINER_METADATA_URI_V4} itself and listed in Task.Containers.
type Container struct {
	// DockerID is the runtime ID: 64 hex digits on EC2,
	// "<task id>-<digits>" on Fargate.
	DockerID string `json:"DockerId"`
	// Name is the container name from the task definition.
	Name string `json:"Name"`
	// DockerName is the runtime's container name (equals Name on Fargate).
	DockerName string `json:"DockerName"`
	// Image is the image reference.
	Image string `json:"Image"`
	// ImageID is the image digest, empty for some internal containers.
	ImageID string `json:"ImageID"`
	// Ports lists published ports (bridge and host modes).
	Ports []Port `json:"Ports,omitempty"`
	// Labels are the container's Docker labels, including
	// com.amazonaws.ecs.task-arn and com.amazonaws.ecs.cluster.
	Labels map[string]string `json:"Labels,omitempty"`
	// DesiredStatus is the status ECS wants.
	DesiredStatus string `json:"DesiredStatus"`
	// KnownStatus is the status the agent last observed.
	KnownStatus string `json:"KnownStatus"`
	// ExitCode is the exit code once the container stopped; nil before.
	ExitCode *int `json:"ExitCode,omitempty"`
	// Limits holds the container's CPU units and memory (MiB).
	Limits *Limits `json:"Limits,omitempty"`
	// CreatedAt is when the container was created.
	CreatedAt time.Time `json:"CreatedAt,omitzero"`
	// StartedAt is when the container started.
	StartedAt time.Time `json:"StartedAt,omitzero"`
	// FinishedAt is when the container stopped.
	FinishedAt time.Time `json:"FinishedAt,omitzero"`
	// Type is "NORMAL" for task-definition containers, or an internal type
	// such as "CNI_PAUSE".
	Type string `json:"Type"`
	// Health is the container health check result, when one is configured.
	Health *Health `json:"Health,omitempty"`
	// Volumes lists the container's mounts.
	Volumes []Volume `json:"Volumes,omitempty"`
	// LogDriver is the log driver, for example "awslogs".
	LogDriver string `json:"LogDriver,omitempty"`
	// LogOptions are the log driver's options.
	LogOptions map[string]string `json:"LogOptions,omitempty"`
	// ContainerARN is the container's ARN.
	ContainerARN string `json:"ContainerARN,omitempty"`
	// Networks lists the container's network attachments.
	Networks []Network `json:"Networks,omitempty"`
	// Snapshotter is the containerd snapshotter (Fargate).
	Snapshotter string `json:"Snapshotter,omitempty"`
	// RestartCount counts restarts under a container restart policy.
	RestartCount *int `json:"RestartCount,omitempty"`
	// ClockDrift describes the host clock's accuracy (some Fargate
	// responses carry it per container).
	ClockDrift *ClockDrift `json:"ClockDrift,omitempty"`
}

// Port is a published container port.
type Port struct {
	ContainerPort uint16 `json:"ContainerPort,omitempty"`
	Protocol      string `json:"Protocol,omitempty"` // "tcp" or "udp"
	HostPort      uint16 `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

// Health is a container's health check status. Its JSON keys are lower-case,
// unlike the rest of the response.
type Health struct {
	Status      string    `json:"status,omitempty"` // "HEALTHY", "UNHEALTHY" or "UNKNOWN"
	StatusSince time.Time `json:"statusSince,omitzero"`
	ExitCode    *int      `json:"exitCode,omitempty"`
	Output      string    `json:"output,omitempty"`
}

// Volume is a container mount.
type Volume struct {
	DockerName  string `json:"DockerName,omitempty"`
	Source      string `json:"Source,omitempty"`
	Destination string `json:"Destination,omitempty"`
}

// Network is one network attachment of a container. The fields after
// IPv6Addresses are filled in awsvpc mode only.
type Network struct {
	NetworkMode              string   `json:"NetworkMode"` // "awsvpc", "bridge", "host", ...
	IPv4Addresses            []string `json:"IPv4Addresses,omitempty"`
	IPv6Addresses            []string `json:"IPv6Addresses,omitempty"`
	AttachmentIndex          *int     `json:"AttachmentIndex,omitempty"`
	MACAddress               string   `json:"MACAddress,omitempty"`
	IPv4SubnetCIDRBlock      string   `json:"IPv4SubnetCIDRBlock,omitempty"`
	IPv6SubnetCIDRBlock      string   `json:"IPv6SubnetCIDRBlock,omitempty"`
	DomainNameServers        []string `json:"DomainNameServers,omitempty"`
	DomainNameSearchList     []string `json:"DomainNameSearchList,omitempty"`
	PrivateDNSName           string   `json:"PrivateDNSName,omitempty"`
	SubnetGatewayIPv4Address string   `json:"SubnetGatewayIpv4Address,omitempty"`
	SubnetGatewayIPv6Address string   `json:"SubnetGatewayIpv6Address,omitempty"`
}
