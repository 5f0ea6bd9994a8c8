package ecsmeta

import "time"

// Stats is a container's resource usage as returned by
// ${ECS_CONTAINER_METADATA_URI_V4}/stats and as each value of /task/stats:
// Docker's stats object plus the ECS agent's network_rate_stats. Counters are
// uint64 and decode up to the full uint64 range; unknown keys are ignored.
type Stats struct {
	Read             time.Time               `json:"read"`    // when these stats were read
	PreRead          time.Time               `json:"preread"` // when PreCPUStats were read
	PidsStats        PidsStats               `json:"pids_stats"`
	BlkioStats       BlkioStats              `json:"blkio_stats"`
	NumProcs         uint32                  `json:"num_procs"`
	StorageStats     StorageStats            `json:"storage_stats"`
	CPUStats         CPUStats                `json:"cpu_stats"`
	PreCPUStats      CPUStats                `json:"precpu_stats"` // CPUStats of the previous read
	MemoryStats      MemoryStats             `json:"memory_stats"`
	Name             string                  `json:"name"` // runtime container name, with a leading "/"
	ID               string                  `json:"id"`   // runtime container ID
	Networks         map[string]NetworkStats `json:"networks,omitempty"`
	NetworkRateStats *NetworkRateStats       `json:"network_rate_stats,omitempty"`
}

// PidsStats counts the container's processes.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats holds block I/O counters (cgroup v1 names; on cgroup v2 hosts
// only IoServiceBytesRecursive is usually filled).
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioStatEntry `json:"io_service_bytes_recursive"`
	IoServicedRecursive     []BlkioStatEntry `json:"io_serviced_recursive"`
	IoQueuedRecursive       []BlkioStatEntry `json:"io_queue_recursive"`
	IoServiceTimeRecursive  []BlkioStatEntry `json:"io_service_time_recursive"`
	IoWaitTimeRecursive     []BlkioStatEntry `json:"io_wait_time_recursive"`
	IoMergedRecursive       []BlkioStatEntry `json:"io_merged_recursive"`
	IoTimeRecursive         []BlkioStatEntry `json:"io_time_recursive"`
	SectorsRecursive        []BlkioStatEntry `json:"sectors_recursive"`
}

// BlkioStatEntry is one block I/O counter for one device and operation.
type BlkioStatEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"` // "read", "write", "sync", "async", "discard", "total"
	Value uint64 `json:"value"`
}

// StorageStats holds Windows storage counters.
type StorageStats struct {
	ReadCountNormalized  uint64 `json:"read_count_normalized,omitempty"`
	ReadSizeBytes        uint64 `json:"read_size_bytes,omitempty"`
	WriteCountNormalized uint64 `json:"write_count_normalized,omitempty"`
	WriteSizeBytes       uint64 `json:"write_size_bytes,omitempty"`
}

// CPUStats holds CPU counters, in nanoseconds of CPU time.
type CPUStats struct {
	CPUUsage       CPUUsage       `json:"cpu_usage"`
	SystemUsage    uint64         `json:"system_cpu_usage,omitempty"` // host CPU time since boot
	OnlineCPUs     uint32         `json:"online_cpus,omitempty"`
	ThrottlingData ThrottlingData `json:"throttling_data"`
}

// CPUUsage is the container's CPU time.
type CPUUsage struct {
	TotalUsage        uint64   `json:"total_usage"`
	PercpuUsage       []uint64 `json:"percpu_usage,omitempty"`
	UsageInKernelmode uint64   `json:"usage_in_kernelmode"`
	UsageInUsermode   uint64   `json:"usage_in_usermode"`
}

// ThrottlingData reports CFS throttling.
type ThrottlingData struct {
	Periods          uint64 `json:"periods"`
	ThrottledPeriods uint64 `json:"throttled_periods"`
	ThrottledTime    uint64 `json:"throttled_time"`
}

// MemoryStats holds memory counters in bytes. Stats carries the raw cgroup
// memory.stat keys.
type MemoryStats struct {
	Usage             uint64            `json:"usage,omitempty"`
	MaxUsage          uint64            `json:"max_usage,omitempty"`
	Stats             map[string]uint64 `json:"stats,omitempty"`
	Failcnt           uint64            `json:"failcnt,omitempty"`
	Limit             uint64            `json:"limit,omitempty"`
	Commit            uint64            `json:"commitbytes,omitempty"`
	CommitPeak        uint64            `json:"commitpeakbytes,omitempty"`
	PrivateWorkingSet uint64            `json:"privateworkingset,omitempty"`
}

// NetworkStats holds one interface's counters.
type NetworkStats struct {
	RxBytes    uint64 `json:"rx_bytes"`
	RxPackets  uint64 `json:"rx_packets"`
	RxErrors   uint64 `json:"rx_errors"`
	RxDropped  uint64 `json:"rx_dropped"`
	TxBytes    uint64 `json:"tx_bytes"`
	TxPackets  uint64 `json:"tx_packets"`
	TxErrors   uint64 `json:"tx_errors"`
	TxDropped  uint64 `json:"tx_dropped"`
	EndpointID string `json:"endpoint_id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
}

// NetworkRateStats is the ECS agent's per-second network rate.
type NetworkRateStats struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// CPUPercent returns the container's CPU use between PreCPUStats and
// CPUStats as a percentage of one CPU times the online CPUs (the figure
// `docker stats` prints: 200 means two CPUs fully busy). It returns 0 when the
// counters did not advance or went backwards.
func (s *Stats) CPUPercent() float64 {
	cpu := s.CPUStats.CPUUsage.TotalUsage
	precpu := s.PreCPUStats.CPUUsage.TotalUsage
	sys := s.CPUStats.SystemUsage
	presys := s.PreCPUStats.SystemUsage
	if cpu <= precpu || sys <= presys {
		return 0
	}
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if online == 0 {
		online = 1
	}
	return float64(cpu-precpu) / float64(sys-presys) * online * 100
}
