//go:build linux

package netem

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/faultkit/faultkit/netem/internal/nft"
	"github.com/faultkit/faultkit/netem/internal/tc"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Status reports the faultkit network faults active in a namespace
// (WithNetNS, WithPID; default the caller's), optionally only those on
// some interfaces (WithInterfaces). It reads the kernel, not this
// process's memory, so a restarted process can tell whether a fault is
// still running. Other options are rejected.
func Status(ctx context.Context, opts ...Option) ([]Active, error) {
	o, err := collect("status", opts, latencyOnly(), sourceOptions(),
		[]string{"WithDirection", "WithAllow", "WithRegion", "WithoutProtection", "WithLossCorrelation", "WithQueueLimit", "WithEngine"})
	if err != nil {
		return nil, err
	}
	if err := joinParamErrors("status", o.scope.validate(false)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns, err := o.scope.netns()
	if err != nil {
		return nil, err
	}
	var links []string
	if len(o.scope.Interfaces) > 0 {
		if links, err = selectLinks(ns, o.scope.Interfaces); err != nil {
			return nil, err
		}
	} else {
		err = withHandle(ns, func(h *netlink.Handle) error {
			ls, err := h.LinkList()
			for _, l := range ls {
				if l.Attrs().Flags&net.FlagLoopback == 0 {
					links = append(links, l.Attrs().Name)
				}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	var out []Active
	nacts, err := nft.Status(ns)
	if err != nil {
		return nil, fmt.Errorf("netem: status: %w", err)
	}
	for _, a := range nacts {
		act := Active{Engine: EngineNFT, Object: "nftables table " + a.Table, Direction: Egress}
		if a.Direction == nft.Ingress {
			act.Direction = Ingress
		}
		switch a.Kind {
		case nft.KindLoss:
			if !slices.Contains(links, a.Link) {
				continue
			}
			act.Fault, act.Interface = NameLoss, a.Link
		case nft.KindBlackhole:
			act.Fault, act.Port, act.Protocol = NameBlackhole, int(a.Port), "tcp"
			if a.Protocol == unix.IPPROTO_UDP {
				act.Protocol = "udp"
			}
		}
		out = append(out, act)
	}
	for _, l := range links {
		tacts, err := tc.Status(ns, l)
		if err != nil {
			return nil, fmt.Errorf("netem: status of %s: %w", l, err)
		}
		for _, a := range tacts {
			act := Active{Engine: EngineTC, Interface: a.Link, Direction: Egress,
				Object: fmt.Sprintf("tc qdisc %x: on %s", a.Handle>>16, a.Link)}
			if a.Direction == tc.Ingress {
				act.Direction = Ingress
			}
			switch a.Kind {
			case tc.KindLatency:
				act.Fault = NameLatency
			case tc.KindLoss:
				act.Fault = NameLoss
			default:
				act.Fault = "network-impairment"
			}
			out = append(out, act)
		}
	}
	return out, nil
}
