package tc

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// Direction says which traffic of a link is impaired.
type Direction int

const (
	// Egress impairs packets the link sends. Sources and Allow match the
	// packets' destination address.
	Egress Direction = iota
	// Ingress impairs packets the link receives. They are redirected
	// (act_mirred) to an ifb device whose egress carries the netem tree;
	// Sources and Allow match the packets' source address.
	Ingress
)

func (d Direction) String() string {
	switch d {
	case Egress:
		return "egress"
	case Ingress:
		return "ingress"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// Limits enforced by Validate.
const (
	// MaxDelay bounds Delay and Jitter.
	MaxDelay = time.Hour
	// MaxPrefixes bounds Sources and Allow together: each prefix is one u32
	// filter node, and a u32 hash bucket holds at most 4095 of them.
	MaxPrefixes = 4000
	// maxLinkName is IFNAMSIZ-1.
	maxLinkName = 15
)

// Config describes one impairment on one link. The zero value of every
// impairment field means "none"; at least one must be set.
type Config struct {
	// NetNS is the namespace the link lives in. The zero value means the
	// caller's current namespace.
	NetNS fault.NetNS
	// Link is the interface name. Apply acts on exactly one interface.
	Link string
	// Direction is Egress (the default) or Ingress.
	Direction Direction

	// Delay is the added one-way delay, Jitter its random variation
	// (±Jitter around Delay, shaped by Distribution).
	Delay, Jitter time.Duration
	// DelayCorrelation (percent, 0-100) makes each delay depend on the
	// previous one.
	DelayCorrelation float64
	// Distribution shapes Jitter: "" or "uniform" (netem's built-in
	// uniform), "normal", "pareto" or "paretonormal" (tables computed like
	// iproute2's). It only matters when Jitter > 0.
	Distribution string

	// LossPercent (0-100) drops packets at random; LossCorrelation (0-100)
	// makes losses come in bursts.
	LossPercent, LossCorrelation float64
	// CorruptPercent flips a random bit, DuplicatePercent sends a packet
	// twice and ReorderPercent sends a packet at once instead of delayed
	// (needs Delay > 0). All 0-100.
	CorruptPercent, DuplicatePercent, ReorderPercent float64
	// RateBytesPerSec caps the impaired traffic's rate (0 = no cap).
	RateBytesPerSec uint64
	// Limit is netem's queue length in packets. 0 computes it, see
	// DefaultLimit.
	Limit uint32

	// Sources are the peer prefixes whose traffic is impaired (the
	// destination for Egress, the source for Ingress). Empty means all
	// traffic of the interface except Allow.
	Sources []netip.Prefix
	// Allow are prefixes that are never impaired, even when they fall in
	// Sources (FIS SourcesToFilter: protected endpoints go here).
	Allow []netip.Prefix
	// FlowsPercent (1-100, 0 means 100) is the share of flows impaired:
	// flows are hashed over 100 leaves and the first FlowsPercent of them
	// carry netem.
	FlowsPercent int
}

func paramErr(param, value, reason string) error {
	return &fault.ParamError{Action: "tc", Param: param, Value: value, Reason: reason}
}

func checkPercent(errs []error, name string, v float64) []error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return append(errs, paramErr(name, strconv.FormatFloat(v, 'g', -1, 64), "out of range 0-100"))
	}
	return errs
}

// Validate checks c without touching the system. Every problem is
// reported as a *fault.ParamError (wrapping fault.ErrInvalidParameter)
// naming the Config field; several problems are joined.
func (c Config) Validate() error {
	var errs []error
	if c.Link == "" {
		errs = append(errs, paramErr("Link", "", "required"))
	} else if len(c.Link) > maxLinkName || !validLinkName(c.Link) {
		errs = append(errs, paramErr("Link", c.Link, "not a valid interface name (1-15 bytes, no '/', ':' or white space)"))
	}
	if c.Direction != Egress && c.Direction != Ingress {
		errs = append(errs, paramErr("Direction", c.Direction.String(), "must be Egress or Ingress"))
	}
	if c.Delay < 0 || c.Delay > MaxDelay {
		errs = append(errs, paramErr("Delay", c.Delay.String(), "out of range 0-"+MaxDelay.String()))
	}
	if c.Jitter < 0 || c.Jitter > MaxDelay {
		errs = append(errs, paramErr("Jitter", c.Jitter.String(), "out of range 0-"+MaxDelay.String()))
	}
	errs = checkPercent(errs, "DelayCorrelation", c.DelayCorrelation)
	switch c.Distribution {
	case "", "uniform", "normal", "pareto", "paretonormal":
	default:
		errs = append(errs, paramErr("Distribution", c.Distribution, `must be "", "uniform", "normal", "pareto" or "paretonormal"`))
	}
	errs = checkPercent(errs, "LossPercent", c.LossPercent)
	errs = checkPercent(errs, "LossCorrelation", c.LossCorrelation)
	errs = checkPercent(errs, "CorruptPercent", c.CorruptPercent)
	errs = checkPercent(errs, "DuplicatePercent", c.DuplicatePercent)
	errs = checkPercent(errs, "ReorderPercent", c.ReorderPercent)
	if c.ReorderPercent > 0 && c.Delay == 0 {
		errs = append(errs, paramErr("ReorderPercent", strconv.FormatFloat(c.ReorderPercent, 'g', -1, 64), "reordering needs Delay > 0"))
	}
	if c.FlowsPercent < 0 || c.FlowsPercent > 100 {
		errs = append(errs, paramErr("FlowsPercent", strconv.Itoa(c.FlowsPercent), "out of range 1-100 (0 means 100)"))
	}
	if n := len(c.Sources) + len(c.Allow); n > MaxPrefixes {
		errs = append(errs, paramErr("Sources", strconv.Itoa(n)+" prefixes", "Sources and Allow together exceed "+strconv.Itoa(MaxPrefixes)))
	}
	for i, p := range c.Sources {
		if !p.IsValid() {
			errs = append(errs, paramErr(fmt.Sprintf("Sources[%d]", i), p.String(), "not a valid prefix"))
		}
	}
	for i, p := range c.Allow {
		if !p.IsValid() {
			errs = append(errs, paramErr(fmt.Sprintf("Allow[%d]", i), p.String(), "not a valid prefix"))
		}
	}
	if c.Delay == 0 && c.Jitter == 0 && c.LossPercent == 0 && c.CorruptPercent == 0 &&
		c.DuplicatePercent == 0 && c.RateBytesPerSec == 0 {
		errs = append(errs, paramErr("Delay", "", "no impairment: set Delay, Jitter, LossPercent, CorruptPercent, DuplicatePercent or RateBytesPerSec"))
	}
	return errors.Join(errs...)
}

func validLinkName(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '/' || b == ':' || b <= ' ' || b == 0x7f:
			return false
		}
	}
	return true
}

// flows returns FlowsPercent with 0 read as 100.
func (c Config) flows() int {
	if c.FlowsPercent == 0 {
		return 100
	}
	return c.FlowsPercent
}

// kind classifies the impairment the way Status reports it.
func (c Config) kind() string {
	delay := c.Delay > 0 || c.Jitter > 0
	loss := c.LossPercent > 0
	other := c.CorruptPercent > 0 || c.DuplicatePercent > 0 || c.ReorderPercent > 0 || c.RateBytesPerSec > 0
	return classify(delay, loss, other)
}

func classify(delay, loss, other bool) string {
	switch {
	case delay && !loss && !other:
		return KindLatency
	case loss && !delay && !other:
		return KindLoss
	}
	return KindImpair
}

// Kinds reported by Status and Applied.Kind.
const (
	KindLatency = "latency" // delay and/or jitter only
	KindLoss    = "loss"    // random loss only
	KindImpair  = "impair"  // anything else (combinations, corrupt, rate...)
)

// Queue-limit rule (see DefaultLimit).
const (
	minLimit        = 1000        // netem's own default
	maxLimit        = 1_000_000   // cap: packets only use memory while queued
	assumedRate     = 125_000_000 // bytes/s (1 Gbit/s) when RateBytesPerSec is 0
	limitPacketSize = 1500        // bytes, a full Ethernet frame
)

// DefaultLimit is the netem queue limit used when Config.Limit is 0: the
// number of full-size (1500 B) packets in flight during twice the maximum
// delay at the configured rate, so the queue never tail-drops traffic that
// the caller did not ask to drop (limit ≥ rate × delay, with a 2× margin as
// chaos-mesh advises for tbf):
//
//	limit = clamp(⌈2 × R × (Delay + Jitter) / 1500 B⌉, 1000, 1 000 000)
//
// where R is RateBytesPerSec, or 125 MB/s (1 Gbit/s) when no rate is set.
// netem's own default, 1000 packets, caps throughput at about
// 1000 × 1500 B / delay (≈ 120 Mbit/s at 100 ms). With FlowsPercent < 100
// every netem leaf gets this limit.
func (c Config) DefaultLimit() uint32 {
	rate := float64(assumedRate)
	if c.RateBytesPerSec > 0 {
		rate = float64(c.RateBytesPerSec)
	}
	d := (c.Delay + c.Jitter).Seconds()
	n := math.Ceil(2 * rate * d / limitPacketSize)
	switch {
	case n < minLimit:
		return minLimit
	case n > maxLimit:
		return maxLimit
	}
	return uint32(n)
}

func (c Config) limit() uint32 {
	if c.Limit > 0 {
		return c.Limit
	}
	return c.DefaultLimit()
}
