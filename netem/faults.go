package netem

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// Fault names, as fault.Fault.Name returns them.
const (
	NameLatency   = "network-latency"
	NameLoss      = "network-packet-loss"
	NameBlackhole = "network-blackhole-port"
)

// LatencyFault delays packets to (egress) or from (ingress) its sources
// by Delay ± Jitter. Build it with NewLatency; it needs the tc engine.
type LatencyFault struct {
	Scope
	Delay, Jitter    time.Duration
	DelayCorrelation float64 // percent, 0-100
	Distribution     string  // "", "uniform", "normal", "pareto", "paretonormal"
	// Extras beyond FIS, applied by the same netem qdisc.
	CorruptPercent, DuplicatePercent, ReorderPercent float64
	RateBytesPerSec                                  uint64
	QueueLimit                                       uint32 // packets; 0 = sized from the delay
	Sources                                          []fault.Source
}

// LossFault drops Percent percent of the packets to (egress) or from
// (ingress) its sources. Build it with NewPacketLoss.
type LossFault struct {
	Scope
	Percent     float64 // (0, 100], resolution 0.01 with the nft engine
	Correlation float64 // percent, 0-100; tc engine only
	QueueLimit  uint32  // tc engine; 0 = default
	Sources     []fault.Source
}

// BlackholeFault drops every packet of one protocol to one port: the
// destination port of packets sent (egress) or received (ingress). Build
// it with NewBlackhole; it uses the nftables engine.
type BlackholeFault struct {
	Scope
	Port     int    // 1-65535
	Protocol string // "tcp" or "udp"
}

// Name implements fault.Fault.
func (f *LatencyFault) Name() string { return NameLatency }

// Name implements fault.Fault.
func (f *LossFault) Name() string { return NameLoss }

// Name implements fault.Fault.
func (f *BlackholeFault) Name() string { return NameBlackhole }

// NewLatency builds a latency fault: delay ± jitter on the interfaces
// named by iface ("DEFAULT", "ALL", a name or a comma-separated list; ""
// means DEFAULT) for the destinations in sources (FIS's grammar; "" means
// ALL).
func NewLatency(iface string, delay, jitter time.Duration, sources string, opts ...Option) (*LatencyFault, error) {
	o, err := collect(NameLatency, opts)
	if err != nil {
		return nil, err
	}
	f := &LatencyFault{Scope: o.scope, Delay: delay, Jitter: jitter,
		DelayCorrelation: o.delayCorrelation, Distribution: o.distribution,
		CorruptPercent: o.corrupt, DuplicatePercent: o.duplicate, ReorderPercent: o.reorder,
		RateBytesPerSec: o.rate, QueueLimit: o.limit}
	var errs []error
	errs = append(errs, setInterfaces(&f.Scope, iface, o)...)
	f.Sources, errs = parseSources(sources, errs)
	if err := joinParamErrors(NameLatency, errs); err != nil {
		return nil, err
	}
	return f, f.Validate()
}

// NewPacketLoss builds a packet-loss fault: percent percent of the
// packets on the interfaces named by iface (as in NewLatency) to the
// destinations in sources are dropped.
func NewPacketLoss(iface string, percent float64, sources string, opts ...Option) (*LossFault, error) {
	o, err := collect(NameLoss, opts, latencyOnly())
	if err != nil {
		return nil, err
	}
	f := &LossFault{Scope: o.scope, Percent: percent, Correlation: o.lossCorrelation, QueueLimit: o.limit}
	var errs []error
	errs = append(errs, setInterfaces(&f.Scope, iface, o)...)
	f.Sources, errs = parseSources(sources, errs)
	if err := joinParamErrors(NameLoss, errs); err != nil {
		return nil, err
	}
	return f, f.Validate()
}

// NewBlackhole builds a blackhole of port for protocol "tcp" or "udp".
// It drops egress traffic unless WithDirection(Ingress) is given, on every
// interface unless WithInterfaces narrows it.
func NewBlackhole(port int, protocol string, opts ...Option) (*BlackholeFault, error) {
	o, err := collect(NameBlackhole, opts, latencyOnly(), sourceOptions(),
		[]string{"WithLossCorrelation", "WithQueueLimit"})
	if err != nil {
		return nil, err
	}
	f := &BlackholeFault{Scope: o.scope, Port: port, Protocol: protocol}
	return f, f.Validate()
}

func setInterfaces(s *Scope, iface string, o *options) []error {
	if iface == "" {
		if len(s.Interfaces) == 0 {
			s.Interfaces = []string{InterfaceDefault}
		}
		return nil
	}
	if o.set["WithInterfaces"] {
		return []error{paramErr("interface", iface, "given both as an argument and with WithInterfaces")}
	}
	s.Interfaces = splitList([]string{iface})
	return nil
}

func parseSources(s string, errs []error) ([]fault.Source, []error) {
	if s == "" {
		s = "ALL"
	}
	srcs, err := fault.ParseSources(s)
	if err != nil {
		return nil, append(errs, err)
	}
	return srcs, errs
}

// validate checks the scope's own fields.
func (s *Scope) validate(withFlows bool) []error {
	var errs []error
	if s.Direction != Egress && s.Direction != Ingress {
		errs = append(errs, paramErr("direction", s.Direction.String(), "must be Egress or Ingress"))
	}
	if withFlows && (s.FlowsPercent < 0 || s.FlowsPercent > 100) {
		errs = append(errs, paramErr("flowsPercent", strconv.Itoa(s.FlowsPercent), "out of range 1-100"))
	}
	if s.Engine < EngineAuto || s.Engine > EngineNFT {
		errs = append(errs, paramErr("engine", s.Engine.String(), "unknown engine"))
	}
	if s.NetNS != "" && !strings.HasPrefix(s.NetNS, "/") {
		errs = append(errs, paramErr("netns", s.NetNS, "must be an absolute path such as /run/netns/NAME or /proc/PID/ns/net"))
	}
	for _, p := range s.Allow {
		if !p.IsValid() {
			errs = append(errs, paramErr("allow", p.String(), "not a valid prefix"))
		}
	}
	sel := 0
	for _, n := range s.Interfaces {
		switch {
		case n == InterfaceDefault || n == InterfaceAll:
			sel++
		case !validLinkName(n):
			errs = append(errs, paramErr("interface", n, "not a valid interface name (1-15 characters, no '/', ':' or spaces)"))
		}
	}
	if sel > 0 && len(s.Interfaces) > 1 {
		errs = append(errs, paramErr("interface", strings.Join(s.Interfaces, ","), "DEFAULT and ALL cannot be combined with other interfaces"))
	}
	return errs
}

func validLinkName(n string) bool {
	return n != "" && len(n) <= 15 && n != "." && n != ".." && !strings.ContainsAny(n, "/: \t\n")
}

func checkPct(errs []error, name string, v float64, lo float64) []error {
	if math.IsNaN(v) || v < lo || v > 100 {
		return append(errs, paramErr(name, strconv.FormatFloat(v, 'g', -1, 64), fmt.Sprintf("out of range %g-100", lo)))
	}
	return errs
}

// maxDelay bounds delay and jitter, as the action spec does.
const maxDelay = fault.MaxDelayMilliseconds * time.Millisecond

// Validate checks the fault's fields without touching the system.
func (f *LatencyFault) Validate() error {
	errs := f.Scope.validate(true)
	if f.Delay < 0 || f.Delay > maxDelay {
		errs = append(errs, paramErr("delay", f.Delay.String(), "out of range 0-"+maxDelay.String()))
	}
	if f.Jitter < 0 || f.Jitter > maxDelay {
		errs = append(errs, paramErr("jitter", f.Jitter.String(), "out of range 0-"+maxDelay.String()))
	}
	extras := f.CorruptPercent != 0 || f.DuplicatePercent != 0 || f.ReorderPercent != 0 || f.RateBytesPerSec != 0
	if f.Delay == 0 && f.Jitter == 0 && !extras {
		errs = append(errs, paramErr("delay", "0", "delay and jitter must not both be 0"))
	}
	errs = checkPct(errs, "delayCorrelation", f.DelayCorrelation, 0)
	errs = checkPct(errs, "corrupt", f.CorruptPercent, 0)
	errs = checkPct(errs, "duplicate", f.DuplicatePercent, 0)
	errs = checkPct(errs, "reorder", f.ReorderPercent, 0)
	switch f.Distribution {
	case "", "uniform", "normal", "pareto", "paretonormal":
	default:
		errs = append(errs, paramErr("distribution", f.Distribution, "must be uniform, normal, pareto or paretonormal"))
	}
	if f.Engine == EngineNFT {
		errs = append(errs, paramErr("engine", "nft", "latency needs the tc engine"))
	}
	if len(f.Sources) == 0 {
		errs = append(errs, paramErr("sources", "", "must not be empty (use ALL for every destination)"))
	}
	return joinParamErrors(NameLatency, errs)
}

// Validate checks the fault's fields without touching the system.
func (f *LossFault) Validate() error {
	errs := f.Scope.validate(true)
	if math.IsNaN(f.Percent) || f.Percent <= 0 || f.Percent > 100 || math.Round(f.Percent*100) == 0 {
		errs = append(errs, paramErr("lossPercent", strconv.FormatFloat(f.Percent, 'g', -1, 64), "out of range (0-100], at least 0.01"))
	}
	errs = checkPct(errs, "lossCorrelation", f.Correlation, 0)
	if f.Engine == EngineNFT && f.Correlation != 0 {
		errs = append(errs, paramErr("lossCorrelation", strconv.FormatFloat(f.Correlation, 'g', -1, 64), "needs the tc engine"))
	}
	if len(f.Sources) == 0 {
		errs = append(errs, paramErr("sources", "", "must not be empty (use ALL for every destination)"))
	}
	return joinParamErrors(NameLoss, errs)
}

// Validate checks the fault's fields without touching the system.
func (f *BlackholeFault) Validate() error {
	errs := f.Scope.validate(false)
	if f.Port < 1 || f.Port > 65535 {
		errs = append(errs, paramErr("port", strconv.Itoa(f.Port), "out of range 1-65535"))
	}
	if f.Protocol != "tcp" && f.Protocol != "udp" {
		errs = append(errs, paramErr("protocol", f.Protocol, "must be tcp or udp"))
	}
	if f.Engine == EngineTC {
		errs = append(errs, paramErr("engine", "tc", "a blackhole uses the nft engine"))
	}
	if f.FlowsPercent != 0 && f.FlowsPercent != 100 {
		errs = append(errs, paramErr("flowsPercent", strconv.Itoa(f.FlowsPercent), "does not apply to a blackhole"))
	}
	return joinParamErrors(NameBlackhole, errs)
}

// Latency injects latency (see NewLatency), holds it until ctx ends, reverts
// it and returns the report. It keeps a crash-safe journal (fault.Run).
func Latency(ctx context.Context, iface string, delay, jitter time.Duration, sources string, opts ...Option) (fault.Report, error) {
	f, err := NewLatency(iface, delay, jitter, sources, opts...)
	if err != nil {
		return fault.Report{}, err
	}
	return fault.Run(ctx, f, 0)
}

// PacketLoss injects packet loss (see NewPacketLoss), holds it until ctx
// ends, reverts it and returns the report.
func PacketLoss(ctx context.Context, iface string, percent float64, sources string, opts ...Option) (fault.Report, error) {
	f, err := NewPacketLoss(iface, percent, sources, opts...)
	if err != nil {
		return fault.Report{}, err
	}
	return fault.Run(ctx, f, 0)
}

// Blackhole injects a port blackhole (see NewBlackhole), holds it until
// ctx ends, reverts it and returns the report.
func Blackhole(ctx context.Context, port int, protocol string, opts ...Option) (fault.Report, error) {
	f, err := NewBlackhole(port, protocol, opts...)
	if err != nil {
		return fault.Report{}, err
	}
	return fault.Run(ctx, f, 0)
}

// undoStack runs undo steps in reverse order; a step that succeeded is
// never run again, so a failed revert can be retried.
type undoStack struct {
	steps []undoStep
}

type undoStep struct {
	name string
	fn   func(context.Context) error
	done bool
}

func (u *undoStack) push(name string, fn func(context.Context) error) {
	u.steps = append(u.steps, undoStep{name: name, fn: fn})
}

func (u *undoStack) unwind(ctx context.Context) error {
	var errs []error
	for i := len(u.steps) - 1; i >= 0; i-- {
		st := &u.steps[i]
		if st.done {
			continue
		}
		if err := st.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.name, err))
			continue
		}
		st.done = true
	}
	return errors.Join(errs...)
}
