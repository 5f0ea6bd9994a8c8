package netem

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Direction is the direction of the traffic a fault acts on.
type Direction int

// Directions. FIS's ECS actions impair egress; the SSM documents also
// offer ingress.
const (
	Egress  Direction = iota // packets the namespace sends; sources match destinations
	Ingress                  // packets it receives; sources match the senders
)

func (d Direction) String() string {
	switch d {
	case Egress:
		return "egress"
	case Ingress:
		return "ingress"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// ParseDirection reads FIS's trafficType: "egress" or "ingress".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "egress":
		return Egress, nil
	case "ingress":
		return Ingress, nil
	}
	return 0, fmt.Errorf("traffic type %q: must be ingress or egress", s)
}

// Engine selects how a fault is programmed.
type Engine int

// Engines.
const (
	EngineAuto Engine = iota // the natural engine for the fault (see the package doc)
	EngineTC                 // tc qdiscs and filters (florianl/go-tc)
	EngineNFT                // an nftables table (google/nftables)
)

func (e Engine) String() string {
	switch e {
	case EngineAuto:
		return "auto"
	case EngineTC:
		return "tc"
	case EngineNFT:
		return "nft"
	}
	return "Engine(" + strconv.Itoa(int(e)) + ")"
}

// Interface selectors, as FIS's SSM documents spell them.
const (
	InterfaceDefault = "DEFAULT" // the interface(s) of the namespace's default routes
	InterfaceAll     = "ALL"     // every interface except loopback
)

// Resolver resolves domain-name sources. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ZoneResolver returns the prefixes of an Availability Zone name or ID
// source (FIS resolves them to the zone's subnets in the task's VPC).
type ZoneResolver func(ctx context.Context, zone string) ([]netip.Prefix, error)

// Scope says where a fault applies and how its sources are resolved. The
// constructors fill it from options; it is exported so a fault value can be
// inspected and adjusted before it is injected.
type Scope struct {
	// NetNS is the path of the target network namespace (/run/netns/NAME,
	// /proc/PID/ns/net); "" means the injecting process's namespace.
	NetNS string
	// Interfaces lists interface names, or holds one of InterfaceDefault
	// and InterfaceAll. Empty: InterfaceDefault for latency and loss, every
	// interface (loopback included, like FIS's iptables rules) for a
	// blackhole.
	Interfaces []string
	// Direction is Egress (the default) or Ingress.
	Direction Direction
	// FlowsPercent impairs about this percent of flows, chosen by a flow
	// hash (latency and loss; 0 means 100).
	FlowsPercent int
	// Allow lists prefixes that are never impaired; it wins over sources.
	Allow []netip.Prefix
	// Engine overrides the engine choice (loss only; latency needs tc and
	// a blackhole nftables).
	Engine Engine
	// Unprotected turns off the protection of IMDS, the task metadata
	// endpoint and the Region's SSM endpoints.
	Unprotected bool
	// Resolver resolves domain sources; nil means net.DefaultResolver.
	// Names are resolved by the injecting process, in its namespace.
	Resolver Resolver
	// HostsFile, when set, pins each resolved domain source in this hosts
	// file for the fault's life, as FIS does with /etc/hosts, so new
	// lookups return the impaired addresses. The journal removes the
	// lines even after a crash.
	HostsFile string
	// IPRanges is the path or http(s) URL of AWS's ip-ranges.json, used for
	// DYNAMODB and S3 sources; "" means DefaultIPRangesURL.
	IPRanges string
	// Region selects the DYNAMODB and S3 prefixes and the SSM endpoints to
	// protect; "" means $AWS_REGION, then $AWS_DEFAULT_REGION.
	Region string
	// Zones resolves Availability Zone sources; without it they are an
	// error.
	Zones ZoneResolver

	// step, when set (tests only), is called after each injection step
	// ("pinned", "applied"); an error makes the injection fail there.
	step func(name string) error
}

func (s *Scope) after(name string) error {
	if s.step == nil {
		return nil
	}
	return s.step(name)
}

// DefaultIPRangesURL is where AWS publishes its IP address ranges.
const DefaultIPRangesURL = "https://ip-ranges.amazonaws.com/ip-ranges.json"

// options collects what Option functions set: the scope and the
// impairment extras that only some faults accept.
type options struct {
	scope Scope
	// set records which options were given, to reject those that do not
	// apply to a fault.
	set map[string]bool

	delayCorrelation float64
	distribution     string
	lossCorrelation  float64
	corrupt          float64
	duplicate        float64
	reorder          float64
	rate             uint64
	limit            uint32
	errs             []error
}

func (o *options) mark(name string) {
	if o.set == nil {
		o.set = map[string]bool{}
	}
	o.set[name] = true
}

// Option configures a fault.
type Option func(*options)

// WithNetNS targets the network namespace at path, e.g. /run/netns/NAME
// or /proc/PID/ns/net.
func WithNetNS(path string) Option {
	return func(o *options) { o.mark("WithNetNS"); o.scope.NetNS = path }
}

// WithPID targets the network namespace of process pid (/proc/PID/ns/net),
// e.g. a task's process seen from a sidecar sharing its PID namespace.
func WithPID(pid int) Option {
	return func(o *options) {
		o.mark("WithPID")
		if pid <= 0 {
			o.errs = append(o.errs, paramErr("pid", strconv.Itoa(pid), "must be a positive process ID"))
			return
		}
		o.scope.NetNS = "/proc/" + strconv.Itoa(pid) + "/ns/net"
	}
}

// WithDirection sets the direction (Egress by default).
func WithDirection(d Direction) Option {
	return func(o *options) { o.mark("WithDirection"); o.scope.Direction = d }
}

// WithInterfaces selects interfaces: names, InterfaceDefault or
// InterfaceAll. A single argument may be a comma-separated list, as FIS's
// Interface parameter.
func WithInterfaces(names ...string) Option {
	return func(o *options) {
		o.mark("WithInterfaces")
		o.scope.Interfaces = splitList(names)
	}
}

// WithFlowsPercent impairs about pct percent of the flows (1-100), chosen
// by a hash of addresses, protocol and ports, as the ECS agent does.
func WithFlowsPercent(pct int) Option {
	return func(o *options) { o.mark("WithFlowsPercent"); o.scope.FlowsPercent = pct }
}

// WithAllow adds prefixes that are never impaired (FIS's SourcesToFilter).
func WithAllow(prefixes ...netip.Prefix) Option {
	return func(o *options) { o.mark("WithAllow"); o.scope.Allow = append(o.scope.Allow, prefixes...) }
}

// WithEngine forces an engine for packet loss.
func WithEngine(e Engine) Option {
	return func(o *options) { o.mark("WithEngine"); o.scope.Engine = e }
}

// WithResolver resolves domain sources with r instead of net.DefaultResolver.
func WithResolver(r Resolver) Option {
	return func(o *options) { o.mark("WithResolver"); o.scope.Resolver = r }
}

// WithHostsPinning pins resolved domain sources in the hosts file at path
// (usually /etc/hosts) for the fault's life, as FIS does.
func WithHostsPinning(path string) Option {
	return func(o *options) { o.mark("WithHostsPinning"); o.scope.HostsFile = path }
}

// WithIPRanges reads AWS's ip-ranges JSON from pathOrURL (a file, or an
// http/https URL) and uses region's prefixes for DYNAMODB and S3 sources.
// region also names the SSM endpoints to protect.
func WithIPRanges(pathOrURL, region string) Option {
	return func(o *options) {
		o.mark("WithIPRanges")
		o.scope.IPRanges = pathOrURL
		if region != "" {
			o.scope.Region = region
		}
	}
}

// WithRegion sets the AWS Region (DYNAMODB/S3 prefixes, SSM endpoints).
func WithRegion(region string) Option {
	return func(o *options) { o.mark("WithRegion"); o.scope.Region = region }
}

// WithZoneResolver resolves Availability Zone sources.
func WithZoneResolver(z ZoneResolver) Option {
	return func(o *options) { o.mark("WithZoneResolver"); o.scope.Zones = z }
}

// WithoutProtection allows impairing IMDS, the task metadata endpoint and
// the SSM endpoints.
func WithoutProtection() Option {
	return func(o *options) { o.mark("WithoutProtection"); o.scope.Unprotected = true }
}

// WithDelayCorrelation makes each delay depend on the previous one by pct
// percent (latency, tc engine).
func WithDelayCorrelation(pct float64) Option {
	return func(o *options) { o.mark("WithDelayCorrelation"); o.delayCorrelation = pct }
}

// WithDistribution shapes jitter: "uniform", "normal", "pareto" or
// "paretonormal" (latency).
func WithDistribution(name string) Option {
	return func(o *options) { o.mark("WithDistribution"); o.distribution = name }
}

// WithLossCorrelation makes each loss decision depend on the previous one
// by pct percent (packet loss, tc engine only).
func WithLossCorrelation(pct float64) Option {
	return func(o *options) { o.mark("WithLossCorrelation"); o.lossCorrelation = pct }
}

// WithCorrupt also corrupts pct percent of packets (latency, tc engine).
func WithCorrupt(pct float64) Option {
	return func(o *options) { o.mark("WithCorrupt"); o.corrupt = pct }
}

// WithDuplicate also duplicates pct percent of packets (latency, tc engine).
func WithDuplicate(pct float64) Option {
	return func(o *options) { o.mark("WithDuplicate"); o.duplicate = pct }
}

// WithReorder sends pct percent of packets at once, ahead of delayed ones
// (latency, tc engine; needs a delay).
func WithReorder(pct float64) Option {
	return func(o *options) { o.mark("WithReorder"); o.reorder = pct }
}

// WithRate also limits the impaired traffic to bytesPerSec (latency, tc
// engine).
func WithRate(bytesPerSec uint64) Option {
	return func(o *options) { o.mark("WithRate"); o.rate = bytesPerSec }
}

// WithQueueLimit sets netem's queue limit in packets (tc engine); 0 lets
// the engine size it from the delay.
func WithQueueLimit(packets uint32) Option {
	return func(o *options) { o.mark("WithQueueLimit"); o.limit = packets }
}

// latencyOnly names the options only latency accepts.
func latencyOnly() []string {
	return []string{"WithDelayCorrelation", "WithDistribution", "WithCorrupt", "WithDuplicate", "WithReorder", "WithRate"}
}

// sourceOptions names the options of faults with sources.
func sourceOptions() []string {
	return []string{"WithFlowsPercent", "WithResolver", "WithHostsPinning", "WithIPRanges", "WithZoneResolver"}
}

// collect applies opts and rejects those listed in notFor, which do not
// apply to the fault being built.
func collect(fault string, opts []Option, notFor ...[]string) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	for _, list := range notFor {
		for _, name := range list {
			if o.set[name] {
				o.errs = append(o.errs, paramErr(name, "", "option does not apply to "+fault))
			}
		}
	}
	if len(o.errs) > 0 {
		return nil, joinParamErrors(fault, o.errs)
	}
	return o, nil
}

func splitList(items []string) []string {
	var out []string
	for _, it := range items {
		for _, s := range strings.Split(it, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
