package nettest

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// ProbeStats is what ProbeUDP measured. A probe counts as received only
// when its reply arrived within ProbeConfig.Timeout of sending it.
type ProbeStats struct {
	Sent       int     // probes handed to the kernel (including failed sends)
	Received   int     // distinct probes answered within the timeout
	Lost       int     // Sent - Received: no reply, a late reply or a failed send
	Late       int     // replies that arrived after their timeout (part of Lost)
	Duplicates int     // extra replies to an already answered probe (ignored)
	SendErrors int     // sends the kernel refused, e.g. EPERM from an nft OUTPUT drop (part of Lost)
	SendErr    error   // the first send error, nil if none
	LossRatio  float64 // Lost / Sent, 0 when nothing was sent

	RTTs                             []time.Duration // round-trip time of each received probe, in sequence order
	Min, P50, P99, Max, Mean, StdDev time.Duration   // over RTTs; zero when nothing was received
}

// summarize fills the counters derived from Sent/Received and the RTT
// statistics.
func (s *ProbeStats) summarize() {
	s.Received = len(s.RTTs)
	s.Lost = s.Sent - s.Received
	if s.Sent > 0 {
		s.LossRatio = float64(s.Lost) / float64(s.Sent)
	}
	if len(s.RTTs) == 0 {
		return
	}
	sorted := slices.Clone(s.RTTs)
	slices.Sort(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.P50, s.P99 = Percentile(sorted, 0.50), Percentile(sorted, 0.99)
	var sum float64
	for _, d := range sorted {
		sum += float64(d)
	}
	mean := sum / float64(len(sorted))
	var sq float64
	for _, d := range sorted {
		sq += (float64(d) - mean) * (float64(d) - mean)
	}
	s.Mean = time.Duration(math.Round(mean))
	s.StdDev = time.Duration(math.Round(math.Sqrt(sq / float64(len(sorted)))))
}

// Percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted,
// which must be in ascending order; zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// String summarises the stats on one line, ping-style.
func (s ProbeStats) String() string {
	str := fmt.Sprintf("%d sent, %d received, %.1f%% loss (late %d, dup %d, send errors %d)",
		s.Sent, s.Received, 100*s.LossRatio, s.Late, s.Duplicates, s.SendErrors)
	if s.Received > 0 {
		str += fmt.Sprintf(", rtt min/p50/p99/max/mean/sd = %v/%v/%v/%v/%v/%v",
			s.Min, s.P50, s.P99, s.Max, s.Mean, s.StdDev)
	}
	if s.SendErr != nil {
		str += fmt.Sprintf(", first send error: %v", s.SendErr)
	}
	return str
}
