package tc

import (
	"encoding/binary"

	gotc "github.com/florianl/go-tc"
	"github.com/mdlayher/netlink"
)

// Attribute numbers from include/uapi/linux/rtnetlink.h, gen_stats.h and
// pkt_sched.h that the tolerant decoder needs.
const (
	sizeofTcMsg       = 20
	tcaKind           = 1  // TCA_KIND
	tcaOptions        = 2  // TCA_OPTIONS
	tcaStats          = 3  // TCA_STATS (struct tc_stats)
	tcaStats2         = 7  // TCA_STATS2 (nested)
	tcaStatsBasic     = 1  // TCA_STATS_BASIC
	tcaStatsQueue     = 3  // TCA_STATS_QUEUE
	tcaStatsPkt64     = 8  // TCA_STATS_PKT64
	sizeofNetemQopt   = 24 // struct tc_netem_qopt
	tcaNetemReorder   = 3
	tcaNetemCorrupt   = 4
	tcaNetemRate      = 6
	tcaNetemLatency64 = 10
	tcaNetemJitter64  = 11
)

// attrs are the top-level attributes of a dumped qdisc, filter or action
// that the decoders read. Qdiscs, filters (TCA_KIND, TCA_OPTIONS) and
// actions (TCA_ACT_KIND, TCA_ACT_OPTIONS) number kind 1 and options 2.
type attrs struct {
	kind          string
	opts          []byte
	stats, stats2 []byte // qdiscs: TCA_STATS, TCA_STATS2
}

// readAttrs reads b's attributes; false when b is not a valid attribute
// list.
func readAttrs(b []byte) (attrs, bool) {
	var a attrs
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return a, false
	}
	for ad.Next() {
		switch ad.Type() {
		case tcaKind:
			a.kind = ad.String()
		case tcaOptions:
			a.opts = ad.Bytes()
		case tcaStats:
			if len(a.stats) < 16 { // the first one long enough
				a.stats = ad.Bytes()
			}
		case tcaStats2:
			a.stats2 = ad.Bytes()
		}
	}
	return a, true
}

// decodeQdisc fills o.Kind, o.Stats and, for netem, o.Netem (qopt, 64-bit
// latency and jitter) from a qdisc's attributes. Unknown or malformed
// attributes are skipped, never an error.
func decodeQdisc(b []byte, o *gotc.Object) {
	a, ok := readAttrs(b)
	if !ok {
		return
	}
	o.Kind = a.kind
	if st, ok := decodeStats2(a.stats2); ok {
		o.Stats = &st
	} else if v := a.stats; len(v) >= 16 {
		o.Stats = &gotc.Stats{
			Bytes:   binary.NativeEndian.Uint64(v[0:8]),
			Packets: binary.NativeEndian.Uint32(v[8:12]),
			Drops:   binary.NativeEndian.Uint32(v[12:16]),
		}
	}
	if opts := a.opts; o.Kind == "netem" && len(opts) >= sizeofNetemQopt {
		n := &gotc.Netem{Qopt: gotc.NetemQopt{
			Latency:   binary.NativeEndian.Uint32(opts[0:4]),
			Limit:     binary.NativeEndian.Uint32(opts[4:8]),
			Loss:      binary.NativeEndian.Uint32(opts[8:12]),
			Gap:       binary.NativeEndian.Uint32(opts[12:16]),
			Duplicate: binary.NativeEndian.Uint32(opts[16:20]),
			Jitter:    binary.NativeEndian.Uint32(opts[20:24]),
		}}
		if nad, err := netlink.NewAttributeDecoder(opts[sizeofNetemQopt:]); err == nil {
			for nad.Next() {
				v := nad.Bytes()
				switch {
				case nad.Type() == tcaNetemCorrupt && len(v) >= 8:
					n.Corrupt = &gotc.NetemCorrupt{Probability: binary.NativeEndian.Uint32(v[0:4])}
				case nad.Type() == tcaNetemReorder && len(v) >= 8:
					n.Reorder = &gotc.NetemReorder{Probability: binary.NativeEndian.Uint32(v[0:4])}
				case nad.Type() == tcaNetemRate && len(v) >= 4:
					n.Rate = &gotc.NetemRate{Rate: binary.NativeEndian.Uint32(v[0:4])}
				}
				if len(v) != 8 {
					continue
				}
				x := int64(binary.NativeEndian.Uint64(v))
				switch nad.Type() {
				case tcaNetemLatency64:
					n.Latency64 = &x
				case tcaNetemJitter64:
					n.Jitter64 = &x
				}
			}
		}
		o.Netem = n
	}
}

// decodeStats2 reads packets (64-bit when the kernel sends it), bytes and
// drops from a TCA_STATS2 nest.
func decodeStats2(b []byte) (gotc.Stats, bool) {
	var st gotc.Stats
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return st, false
	}
	ok := false
	var pkt64 uint64
	for ad.Next() {
		v := ad.Bytes()
		switch ad.Type() {
		case tcaStatsBasic:
			if len(v) >= 12 {
				st.Bytes = binary.NativeEndian.Uint64(v[0:8])
				st.Packets = binary.NativeEndian.Uint32(v[8:12])
				ok = true
			}
		case tcaStatsQueue:
			if len(v) >= 20 {
				st.Qlen = binary.NativeEndian.Uint32(v[0:4])
				st.Backlog = binary.NativeEndian.Uint32(v[4:8])
				st.Drops = binary.NativeEndian.Uint32(v[8:12])
				st.Overlimits = binary.NativeEndian.Uint32(v[16:20])
			}
		case tcaStatsPkt64:
			if len(v) == 8 {
				pkt64 = binary.NativeEndian.Uint64(v)
			}
		}
	}
	if pkt64 > uint64(st.Packets) && pkt64 <= 1<<32-1 {
		st.Packets = uint32(pkt64)
	}
	return st, ok
}

// netemDelay returns a dumped netem qdisc's delay and jitter in ns.
func netemDelay(n *gotc.Netem) (latency, jitter int64) {
	latency = int64(n.Qopt.Latency) << 6
	jitter = int64(n.Qopt.Jitter) << 6
	if n.Latency64 != nil {
		latency = *n.Latency64
	}
	if n.Jitter64 != nil {
		jitter = *n.Jitter64
	}
	return latency, jitter
}

// netemKind classifies a dumped netem qdisc like Config.kind.
func netemKind(n *gotc.Netem) string {
	lat, jit := netemDelay(n)
	other := n.Qopt.Duplicate > 0 ||
		(n.Reorder != nil && n.Reorder.Probability > 0) ||
		(n.Corrupt != nil && n.Corrupt.Probability > 0) ||
		(n.Rate != nil && n.Rate.Rate > 0)
	return classify(lat > 0 || jit > 0, n.Qopt.Loss > 0, other)
}

// Filter attributes (pkt_cls.h, tc_act/tc_mirred.h).
const (
	tcaU32ClassID     = 1 // TCA_U32_CLASSID
	tcaU32Act         = 7 // TCA_U32_ACT
	tcaActKind        = 1 // TCA_ACT_KIND, read as tcaKind by readAttrs
	tcaActOptions     = 2 // TCA_ACT_OPTIONS, read as tcaOptions
	tcaMirredParms    = 2 // TCA_MIRRED_PARMS
	sizeofTcMirred    = 28
	offTcMirredIfidx  = 24
	offTcMirredEactn  = 20
	offTcMirredAction = 8
)

// decodeFilter fills o.Kind and, for u32, the class id and mirred
// actions. Everything else is skipped.
func decodeFilter(b []byte, o *gotc.Object) {
	a, ok := readAttrs(b)
	if !ok {
		return
	}
	o.Kind = a.kind
	if o.Kind != "u32" || a.opts == nil {
		return
	}
	u := &gotc.U32{}
	o.U32 = u
	uad, err := netlink.NewAttributeDecoder(a.opts)
	if err != nil {
		return
	}
	for uad.Next() {
		switch uad.Type() {
		case tcaU32ClassID:
			if v := uad.Bytes(); len(v) == 4 {
				u.ClassID = ptr(binary.NativeEndian.Uint32(v))
			}
		case tcaU32Act:
			acts := decodeActions(uad.Bytes())
			u.Actions = &acts
		}
	}
}

func decodeActions(b []byte) []*gotc.Action {
	var out []*gotc.Action
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil
	}
	for ad.Next() {
		aa, ok := readAttrs(ad.Bytes())
		if !ok {
			continue
		}
		act := &gotc.Action{Kind: aa.kind}
		if act.Kind == "mirred" && aa.opts != nil {
			if mad, err := netlink.NewAttributeDecoder(aa.opts); err == nil {
				for mad.Next() {
					if v := mad.Bytes(); mad.Type() == tcaMirredParms && len(v) >= sizeofTcMirred {
						act.Mirred = &gotc.Mirred{Parms: &gotc.MirredParam{
							Action:  binary.NativeEndian.Uint32(v[offTcMirredAction:]),
							Eaction: binary.NativeEndian.Uint32(v[offTcMirredEactn:]),
							IfIndex: binary.NativeEndian.Uint32(v[offTcMirredIfidx:]),
						}}
					}
				}
			}
		}
		out = append(out, act)
	}
	return out
}
