// Package tc is the traffic-control engine of package netem: it builds
// netem impairments (delay, jitter, loss, corruption, duplication,
// reordering, rate) from prio qdiscs, u32 and flow classifiers, and for
// ingress an ifb device fed by a mirred redirect. It talks rtnetlink
// through github.com/florianl/go-tc (qdiscs, filters) and
// github.com/vishvananda/netlink (the ifb link); it never runs tc.
//
//	a, err := tc.Apply(ctx, journal, tc.Config{
//		Link: "eth0", Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond,
//		Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//	})
//	if err != nil { return err }
//	defer a.Revert(ctx)
//
// # Trees
//
// Every qdisc the engine creates has a handle major in faultkit's reserved
// range fa10–faff, so the kernel alone says which qdiscs are faultkit's:
//
//	fa10:        root prio, 3 bands. fa10:1 carries the impairment,
//	             fa10:3 is unimpaired. Its priomap sends unclassified
//	             traffic to fa10:3 when Sources are given, and to fa10:1
//	             when Sources is empty (the whole interface).
//	fa20:        10-band prio under fa10:1 (only when FlowsPercent < 100)
//	fa30:–fa39:  10-band prio leaves under fa20:1–fa20:a (idem)
//	fa40:        netem under fa10:1 (FlowsPercent = 100), or
//	fa40:–faa3:  netem on leaf k = fa3(k/10):(k%10+1) for k < FlowsPercent
//
// Filters on fa10: (all "protocol all", u32, terminal): prio 1 sends each
// Allow prefix to fa10:3, so protected endpoints are never impaired; prio 2
// sends each Sources prefix to fa10:1. Each u32 filter matches the IP
// version nibble as well as the address words (in network byte order), so
// an IPv4 key never matches bytes of an IPv6 header. With FlowsPercent < 100
// the ECS agent's spreading is reproduced: a flow filter (hash of src, dst,
// proto, proto-src, proto-dst; divisor 10) on fa20: and on each leaf prio
// spreads flows over the 100 leaves, and netem sits on the first
// FlowsPercent of them. With FlowsPercent = 100 no spreading is needed and
// the tree is just fa10: and fa40:.
//
// Egress trees sit on the link and match destination addresses. Ingress
// trees sit on an ifb device named fkifb<ifindex>; the link gets an ingress
// qdisc (ffff:) with one u32 filter redirecting every packet to the ifb
// (act_mirred egress redirect), and the tree matches source addresses.
//
// # Safety
//
// Apply journals the removal of the root qdisc, the ingress qdisc and the
// ifb device before creating each (fault.UndoQdisc, fault.UndoLink), so the
// fault journal's guardian removes them if the process dies. Apply adds
// with NLM_F_CREATE|NLM_F_EXCL only: it never replaces a qdisc and returns
// fault.ErrConflict when faultkit's tree or any non-default root (or any
// ingress/clsact qdisc, for Ingress) is already there. Removing the root
// qdisc removes the whole tree, so Revert is one request for egress.
//
// # Status after a restart
//
// Status reads the kernel, not memory: it reports the faultkit trees on a
// link (direction and kind, from the netem options), so a restarted
// process can answer "running or not", and Remove deletes such a tree
// without the Applied that created it.
//
// # Side effects outside the target namespace
//
// The first use of sch_netem, sch_prio, cls_u32, cls_flow, act_mirred and
// ifb loads their kernel modules (the kernel does so on demand). Loading
// ifb with its default parameters also creates ifb0 and ifb1 in the
// initial namespace (module parameter numifbs, 2 by default); faultkit
// never uses or removes those. Hosts that mind set "options ifb
// numifbs=0" in /etc/modprobe.d.
//
// # Queue limit
//
// netem's default queue of 1000 packets silently drops traffic above about
// 1000 × 1500 B / delay. When Config.Limit is 0 the engine uses
// Config.DefaultLimit: ⌈2 × rate × (Delay+Jitter) / 1500 B⌉ packets,
// between 1000 and 1 000 000, with rate = RateBytesPerSec or 1 Gbit/s.
package tc
