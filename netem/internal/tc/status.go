package tc

import (
	"context"
	"errors"
	"fmt"

	gotc "github.com/florianl/go-tc"

	"github.com/faultkit/faultkit/fault"
)

// Active is a faultkit impairment found on a link by Status.
type Active struct {
	Link      string    // the interface the impairment acts on
	Direction Direction // Egress or Ingress
	Kind      string    // "latency", "loss" or "impair"
	Handle    uint32    // handle of the tree's root qdisc (RootHandle)
}

// Status reads from the kernel which faultkit impairments are active on
// link, so a restarted process can tell whether a fault is still running.
// It recognises faultkit's trees by their reserved handles: an egress tree
// has RootHandle as the link's root qdisc; an ingress one is an ingress
// qdisc on the link plus the ifb device fkifb<ifindex> carrying a tree. A
// missing link gives an error wrapping fault.ErrNotFound.
func Status(ns fault.NetNS, link string) ([]Active, error) {
	return defaultEngine().status(ns, link)
}

func (e engine) status(ns fault.NetNS, link string) ([]Active, error) {
	cn, err := e.dial(ns)
	if err != nil {
		return nil, opErr("status", "netns", err)
	}
	defer cn.close()
	idx, _, err := cn.linkByName(link)
	if err != nil {
		return nil, opErr("status", "link "+link, err)
	}
	qs, err := cn.qdiscs(idx)
	if err != nil {
		return nil, opErr("status", "list qdiscs dev "+link, err)
	}
	var out []Active
	hasIngress := false
	for _, q := range qs {
		if q.Parent == gotc.HandleRoot && q.Handle == RootHandle && q.Kind == "prio" {
			out = append(out, Active{Link: link, Direction: Egress, Kind: treeKind(qs), Handle: RootHandle})
		}
		if q.Parent == gotc.HandleIngress && q.Kind == "ingress" {
			hasIngress = true
		}
	}
	if hasIngress {
		ifb, kind, err := cn.linkByName(ifbName(idx))
		switch {
		case errors.Is(err, fault.ErrNotFound):
		case err != nil:
			return nil, opErr("status", "link "+ifbName(idx), err)
		case kind == "ifb":
			iqs, err := cn.qdiscs(ifb)
			if err != nil {
				return nil, opErr("status", "list qdiscs dev "+ifbName(idx), err)
			}
			for _, q := range iqs {
				if q.Parent == gotc.HandleRoot && q.Handle == RootHandle && q.Kind == "prio" {
					out = append(out, Active{Link: link, Direction: Ingress, Kind: treeKind(iqs), Handle: RootHandle})
				}
			}
		}
	}
	return out, nil
}

// treeKind classifies a tree by its first netem qdisc ("impair" if it has
// none, which only a tree damaged from outside can lack).
func treeKind(qs []gotc.Object) string {
	for _, q := range qs {
		if q.Kind == "netem" && isNetemHandle(q.Handle) && q.Netem != nil {
			return netemKind(q.Netem)
		}
	}
	return KindImpair
}

// Remove deletes the faultkit impairment in direction dir on link, as
// found by Status, for a process that did not create it (e.g. after a
// restart, when the ECS agent's stop endpoint is called). Like
// Applied.Revert it removes only faultkit's objects and treats missing
// ones as removed; it does not touch journals (fault.Recover replays
// those of dead processes).
func Remove(ctx context.Context, ns fault.NetNS, link string, dir Direction) error {
	return defaultEngine().remove(ctx, ns, link, dir)
}

func (e engine) remove(_ context.Context, ns fault.NetNS, link string, dir Direction) error {
	cn, err := e.dial(ns)
	if err != nil {
		if isNetNSGone(err) {
			return nil
		}
		return opErr("remove", "netns", err)
	}
	defer cn.close()
	idx, _, err := cn.linkByName(link)
	if errors.Is(err, fault.ErrNotFound) {
		return nil // the link and its qdiscs are gone
	}
	if err != nil {
		return opErr("remove", "link "+link, err)
	}
	a := &Applied{eng: e, ns: ns, link: link, ifindex: idx, dir: dir, treeIndex: idx}
	switch dir {
	case Egress:
		a.createdRoot = true
	case Ingress:
		ifb, kind, err := cn.linkByName(a.ifb())
		switch {
		case errors.Is(err, fault.ErrNotFound):
			// Without the ifb the ingress qdisc cannot be proven
			// faultkit's: leave it.
			return nil
		case err != nil:
			return opErr("remove", "link "+a.ifb(), err)
		case kind != "ifb":
			return opErr("remove", "link "+a.ifb(), fmt.Errorf("kind %q is not faultkit's ifb", kind))
		}
		a.treeIndex, a.createdIngress, a.createdIfb = ifb, true, true
	default:
		return paramErr("Direction", dir.String(), "must be Egress or Ingress")
	}
	return a.revert(cn)
}
