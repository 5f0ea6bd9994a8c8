//go:build linux

package netem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/netem/internal/nft"
	"github.com/faultkit/faultkit/netem/internal/tc"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netns identifies the scope's namespace; zero for the caller's own.
func (s *Scope) netns() (fault.NetNS, error) {
	if s.NetNS == "" {
		return fault.NetNS{}, nil
	}
	ns, err := fault.NetNSFromPath(s.NetNS)
	if errors.Is(err, os.ErrNotExist) {
		return ns, fmt.Errorf("%w: network namespace %s: %w", fault.ErrNotFound, s.NetNS, err)
	}
	return ns, err
}

// withHandle runs fn with a route netlink handle in ns. Only
// NETLINK_ROUTE is opened: a kernel without xfrm_user or nfnetlink loaded
// refuses those protocols (EPROTONOSUPPORT).
func withHandle(ns fault.NetNS, fn func(*netlink.Handle) error) error {
	var h *netlink.Handle
	var err error
	if ns.IsZero() {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		f, oerr := ns.Open()
		if oerr != nil {
			return oerr
		}
		defer f.Close()
		h, err = netlink.NewHandleAt(netns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	}
	if err != nil {
		return fmt.Errorf("netem: rtnetlink in %s: %w", ns, err)
	}
	defer h.Close()
	return fn(h)
}

// selectLinks resolves the scope's interface selection in ns: DEFAULT
// (the links of the default routes), ALL (every link but loopback) or
// names, each of which must exist.
func selectLinks(ns fault.NetNS, sel []string) ([]string, error) {
	var out []string
	err := withHandle(ns, func(h *netlink.Handle) error {
		switch {
		case len(sel) == 1 && sel[0] == InterfaceDefault:
			idx, err := defaultRouteLinks(h)
			if err != nil {
				return err
			}
			for _, i := range idx {
				l, err := h.LinkByIndex(i)
				if err != nil {
					return err
				}
				out = append(out, l.Attrs().Name)
			}
			if len(out) == 0 {
				return fmt.Errorf("%w: no default route in %s (name the interface instead of DEFAULT)", fault.ErrNotFound, ns)
			}
		case len(sel) == 1 && sel[0] == InterfaceAll:
			links, err := h.LinkList()
			if err != nil {
				return err
			}
			for _, l := range links {
				if l.Attrs().Flags&net.FlagLoopback == 0 {
					out = append(out, l.Attrs().Name)
				}
			}
			if len(out) == 0 {
				return fmt.Errorf("%w: no interface but loopback in %s", fault.ErrNotFound, ns)
			}
		default:
			for _, n := range sel {
				if _, err := h.LinkByName(n); err != nil {
					var nf netlink.LinkNotFoundError
					if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
						return fmt.Errorf("%w: interface %q in %s", fault.ErrNotFound, n, ns)
					}
					return err
				}
				out = append(out, n)
			}
		}
		return nil
	})
	slices.Sort(out)
	return slices.Compact(out), err
}

func defaultRouteLinks(h *netlink.Handle) ([]int, error) {
	var idx []int
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, fam)
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones != 0 {
					continue
				}
			}
			if r.LinkIndex > 0 {
				idx = append(idx, r.LinkIndex)
			}
			for _, nh := range r.MultiPath {
				if nh.LinkIndex > 0 {
					idx = append(idx, nh.LinkIndex)
				}
			}
		}
	}
	slices.Sort(idx)
	return slices.Compact(idx), nil
}

// checkConflict refuses a latency or loss fault on a link that already
// carries one, from either engine. (Each engine also refuses atomically
// against itself: tc by the root qdisc, nft by the table name.)
func checkConflict(ns fault.NetNS, links []string) error {
	act, err := nft.Status(ns)
	if err != nil {
		return fmt.Errorf("netem: read nftables state: %w", err)
	}
	for _, l := range links {
		for _, a := range act {
			if a.Kind == nft.KindLoss && a.Link == l {
				return conflict("a faultkit packet-loss fault (nftables table %s) is already active on %s in %s", a.Table, l, ns)
			}
		}
		ts, err := tc.Status(ns, l)
		if err != nil {
			return fmt.Errorf("netem: read tc state of %s: %w", l, err)
		}
		if len(ts) > 0 {
			return conflict("a faultkit %s fault (tc) is already active on %s in %s", ts[0].Kind, l, ns)
		}
	}
	return nil
}

// prepared is the common part of a latency or loss injection.
type prepared struct {
	ns      fault.NetNS
	links   []string
	sources []netip.Prefix // the resolved sources (pins already made)
	allow   []netip.Prefix
}

// prepare runs the steps latency and loss share, in this order: resolve
// the namespace, links and sources; check that the engine can run (check
// names a missing kernel feature); refuse a conflict; pin the hosts file
// (its undo pushed on undo) and run the "pinned" step hook.
func (s *Scope) prepare(ctx context.Context, j *fault.Journal, undo *undoStack, srcs []fault.Source, check func(fault.NetNS) error) (*prepared, error) {
	ns, err := s.netns()
	if err != nil {
		return nil, err
	}
	links, err := selectLinks(ns, s.Interfaces)
	if err != nil {
		return nil, err
	}
	t, err := s.resolve(ctx, srcs)
	if err != nil {
		return nil, err
	}
	allow := s.protected(ctx)
	if !t.all && !s.Unprotected && onlyProtected(t.prefixes, allow) {
		return nil, paramErr("sources", prefixList(t.prefixes),
			"sources contain only protected endpoints (IMDS, task metadata, SSM); use WithoutProtection to impair them")
	}
	if err := check(ns); err != nil {
		return nil, err
	}
	if err := checkConflict(ns, links); err != nil {
		return nil, err
	}
	unpin, err := pinHosts(ctx, j, s.HostsFile, t.pins)
	if err != nil {
		return nil, err
	}
	undo.push("hosts pins", unpin)
	if err := s.after("pinned"); err != nil {
		return nil, err
	}
	return &prepared{ns: ns, links: links, sources: t.prefixes, allow: allow}, nil
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func tcDirection(d Direction) tc.Direction {
	if d == Ingress {
		return tc.Ingress
	}
	return tc.Egress
}

func nftDirection(d Direction) nft.Direction {
	if d == Ingress {
		return nft.Ingress
	}
	return nft.Egress
}

// applyTC applies cfg on every link, all or nothing, with the scope's
// direction, flows, sources and allow-list, then runs the "applied" step
// hook.
func (s *Scope) applyTC(ctx context.Context, j *fault.Journal, p *prepared, cfg tc.Config, undo *undoStack) (func() []fault.Metric, error) {
	cfg.NetNS, cfg.Direction, cfg.FlowsPercent = p.ns, tcDirection(s.Direction), s.FlowsPercent
	cfg.Sources, cfg.Allow = p.sources, p.allow
	var applied []*tc.Applied
	for _, l := range p.links {
		c := cfg
		c.Link = l
		a, err := tc.Apply(ctx, j, c)
		if err != nil {
			return nil, err
		}
		applied = append(applied, a)
		undo.push("tc "+l, a.Revert)
	}
	if err := s.after("applied"); err != nil {
		return nil, err
	}
	return tcMetrics(applied), nil
}

// applyNFT applies cfg with the scope's direction, then runs the
// "applied" step hook.
func (s *Scope) applyNFT(ctx context.Context, j *fault.Journal, cfg nft.Config, undo *undoStack) (func() []fault.Metric, error) {
	cfg.Direction = nftDirection(s.Direction)
	a, err := nft.Apply(ctx, j, cfg)
	if err != nil {
		return nil, err
	}
	undo.push("nftables "+strings.Join(a.Tables(), ","), a.Revert)
	if err := s.after("applied"); err != nil {
		return nil, err
	}
	return nftMetrics(a), nil
}

func tcMetrics(applied []*tc.Applied) func() []fault.Metric {
	return func() []fault.Metric {
		var sent, dropped uint64
		for _, a := range applied {
			s, d, err := a.Stats()
			if err != nil {
				return nil
			}
			sent, dropped = sent+s, dropped+d
		}
		return []fault.Metric{{Name: "packets_impaired", Value: float64(sent), Unit: "packets"},
			{Name: "packets_dropped", Value: float64(dropped), Unit: "packets"}}
	}
}

func nftMetrics(a *nft.Applied) func() []fault.Metric {
	var mu sync.Mutex
	var last uint64
	return func() []fault.Metric {
		mu.Lock()
		defer mu.Unlock()
		if n, err := a.Dropped(); err == nil {
			last = n
		}
		return []fault.Metric{{Name: "packets_dropped", Value: float64(last), Unit: "packets"}}
	}
}

// inject runs the steps of an injection; when one fails, every step done
// so far is undone before the error returns.
func inject(ctx context.Context, name string, steps func(undo *undoStack) (func() []fault.Metric, error)) (fault.Handle, error) {
	undo := &undoStack{}
	metrics, err := steps(undo)
	if err != nil {
		if uerr := undo.unwind(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, fmt.Errorf("netem: %s: rollback: %w", name, uerr))
		}
		return nil, err
	}
	return fault.NewControl(undo.unwind, metrics), nil
}

// Inject implements fault.Fault: it installs the latency on every selected
// interface with the tc engine.
func (f *LatencyFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return inject(ctx, f.Name(), func(undo *undoStack) (func() []fault.Metric, error) {
		p, err := f.Scope.prepare(ctx, j, undo, f.Sources, tc.Probe)
		if err != nil {
			return nil, err
		}
		return f.applyTC(ctx, j, p, tc.Config{
			Delay: f.Delay, Jitter: f.Jitter, DelayCorrelation: f.DelayCorrelation, Distribution: f.Distribution,
			CorruptPercent: f.CorruptPercent, DuplicatePercent: f.DuplicatePercent, ReorderPercent: f.ReorderPercent,
			RateBytesPerSec: f.RateBytesPerSec, Limit: f.QueueLimit,
		}, undo)
	})
}

// engine picks the loss engine: tc where the kernel has sch_netem and the
// rest of FIS's tree, nftables otherwise, unless the scope forces one.
func (f *LossFault) engine(ns fault.NetNS) (Engine, error) {
	switch f.Engine {
	case EngineTC:
		return EngineTC, tc.Probe(ns)
	case EngineNFT:
		return EngineNFT, nft.Probe(ns)
	}
	tcErr := tc.Probe(ns)
	if tcErr == nil {
		return EngineTC, nil
	}
	if f.Correlation != 0 {
		return EngineTC, tcErr // only tc can correlate losses
	}
	if err := nft.Probe(ns); err != nil {
		return EngineNFT, errors.Join(err, fmt.Errorf("tc engine: %w", tcErr))
	}
	return EngineNFT, nil
}

// Inject implements fault.Fault.
func (f *LossFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return inject(ctx, f.Name(), func(undo *undoStack) (func() []fault.Metric, error) {
		var eng Engine
		p, err := f.Scope.prepare(ctx, j, undo, f.Sources, func(ns fault.NetNS) (err error) {
			eng, err = f.engine(ns)
			return err
		})
		if err != nil {
			return nil, err
		}
		if eng == EngineTC {
			return f.applyTC(ctx, j, p, tc.Config{LossPercent: f.Percent, LossCorrelation: f.Correlation, Limit: f.QueueLimit}, undo)
		}
		return f.applyNFT(ctx, j, nft.Config{
			NetNS: p.ns, Kind: nft.KindLoss, Interfaces: p.links,
			LossPercent: f.Percent, FlowsPercent: f.FlowsPercent, Sources: p.sources, Allow: p.allow,
		}, undo)
	})
}

// Inject implements fault.Fault.
func (f *BlackholeFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return inject(ctx, f.Name(), func(undo *undoStack) (func() []fault.Metric, error) {
		ns, err := f.Scope.netns()
		if err != nil {
			return nil, err
		}
		var links []string
		if len(f.Interfaces) > 0 {
			if links, err = selectLinks(ns, f.Interfaces); err != nil {
				return nil, err
			}
		}
		// Egress: keep the control channel (IMDS, TMDS, SSM) reachable, as
		// the ECS agent keeps TMDS for egress port 80. Ingress matches the
		// sender, so only the caller's allow-list applies.
		allow := f.Allow
		if f.Direction == Egress {
			allow = f.Scope.protected(ctx)
		}
		proto := uint8(unix.IPPROTO_TCP)
		if f.Protocol == "udp" {
			proto = unix.IPPROTO_UDP
		}
		return f.applyNFT(ctx, j, nft.Config{
			NetNS: ns, Kind: nft.KindBlackhole, Interfaces: links, Protocol: proto, Port: uint16(f.Port), Allow: allow,
		}, undo)
	})
}
