package tc

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"

	gotc "github.com/florianl/go-tc"
)

// Handle majors reserved by faultkit. Every qdisc the engine creates has a
// major number in [MajorFirst, MajorLast], so the kernel alone tells which
// qdiscs are faultkit's (Status, conflict checks, crash recovery).
const (
	MajorRoot   = 0xfa10 // root prio, 3 bands: 1 = impaired, 3 = unimpaired
	MajorSpread = 0xfa20 // 10-band prio under fa10:1 (FlowsPercent < 100)
	MajorLeaf   = 0xfa30 // fa30:..fa39: 10-band prio leaves under fa20:1..a
	MajorNetem  = 0xfa40 // fa40: (simple tree) or fa40:..faa3: (leaf i gets fa40+i)
	MajorFirst  = 0xfa10 // first reserved major
	MajorLast   = 0xfaff // last reserved major
)

// RootHandle is the handle of the root qdisc of every faultkit tree.
const RootHandle = MajorRoot << 16

const (
	ethPAll      = 0x0003 // ETH_P_ALL
	tcActStolen  = 4      // TC_ACT_STOLEN
	tcaEgressRed = 1      // TCA_EGRESS_REDIR
	u32Terminal  = 1      // TC_U32_TERMINAL
	flowModeHash = 1      // FLOW_MODE_HASH
	// FLOW_KEY_SRC|DST|PROTO|PROTO_SRC|PROTO_DST: the ECS agent's
	// "keys src,dst,proto,proto-src,proto-dst".
	flowKeys5Tuple = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4
	spreadBands    = 10
	rootBands      = 3
	ingressHandle  = 0xffff0000 // ffff:
	prioAllow      = 1          // allow-list u32 filters (win over Sources)
	prioSources    = 2          // Sources u32 filters
	prioFlow       = 2          // flow hash filters (ECS agent's choice)
)

func handle(maj, min uint32) uint32 { return maj<<16 | min }

// hexHandle prints a handle the way tc does ("fa10:", "fa10:1", "root").
func hexHandle(h uint32) string {
	switch h {
	case gotc.HandleRoot:
		return "root"
	case gotc.HandleIngress:
		return "ingress"
	case 0:
		return "0:"
	}
	if h&0xffff == 0 {
		return fmt.Sprintf("%x:", h>>16)
	}
	return fmt.Sprintf("%x:%x", h>>16, h&0xffff)
}

// htons converts a 16-bit value to network byte order as the kernel
// expects it in tcm_info's protocol half.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// filterInfo builds tcm_info for a filter: priority and protocol.
func filterInfo(prio uint16, proto uint16) uint32 {
	return uint32(prio)<<16 | uint32(htons(proto))
}

// match says which address of a packet Sources and Allow are compared with.
type match int

const (
	matchDst match = iota // egress: where the packet goes
	matchSrc              // ingress: where it comes from
)

// Offsets of the addresses in the IPv4 and IPv6 headers.
const (
	ip4Src, ip4Dst = 12, 16
	ip6Src, ip6Dst = 8, 24
)

// u32Key builds a key from network-order mask and value bytes. go-tc
// encodes U32Key fields in host byte order, while the kernel compares them
// as raw network-order words, so the bytes are read in host order here.
func u32Key(mask, val [4]byte, off int) gotc.U32Key {
	return gotc.U32Key{
		Mask: binary.NativeEndian.Uint32(mask[:]),
		Val:  binary.NativeEndian.Uint32(val[:]),
		Off:  uint32(int32(off)),
	}
}

// prefixKeys returns the u32 keys matching prefix p against the source or
// destination address, preceded by a key on the IP version nibble: the
// filters use "protocol all" (as the ECS agent does), so an IPv4 key alone
// could match bytes of an IPv6 header and vice versa.
func prefixKeys(p netip.Prefix, m match) []gotc.U32Key {
	p = p.Masked()
	addr, bits := p.Addr(), p.Bits()
	if addr.Is4In6() && bits >= 96 { // ::ffff:a.b.c.d/120 is a.b.c.d/24
		addr, bits = addr.Unmap(), bits-96
	}
	var raw []byte
	var version byte
	var off int
	if addr.Is4() {
		a := addr.As4()
		raw, version = a[:], 0x40
		off = ip4Dst
		if m == matchSrc {
			off = ip4Src
		}
	} else {
		a := addr.As16()
		raw, version = a[:], 0x60
		off = ip6Dst
		if m == matchSrc {
			off = ip6Src
		}
	}
	keys := []gotc.U32Key{u32Key([4]byte{0xf0}, [4]byte{version}, 0)}
	for w := 0; w*32 < bits; w++ {
		var mask, val [4]byte
		for i := 0; i < 4; i++ {
			n := bits - (w*32 + i*8) // bits of this byte covered by the prefix
			switch {
			case n >= 8:
				mask[i] = 0xff
			case n > 0:
				mask[i] = byte(0xff << (8 - n))
			}
			val[i] = raw[w*4+i] & mask[i]
		}
		keys = append(keys, u32Key(mask, val, off+w*4))
	}
	return keys
}

// u32Filter is one "u32 ... flowid classid" filter for a prefix.
//
// Note for maintainers: go-tc (v0.4.5-0.20240822175159) writes the
// tc_u32_sel header fields after nkeys (offmask, off, offoff, hoff, hmask)
// one byte early, with the padding byte at the end instead of at offset 3.
// That is harmless only because the engine leaves all of them zero; the
// keys themselves start at the right offset (16).
func u32Filter(ifindex, parent uint32, prio uint16, p netip.Prefix, m match, classid uint32) *gotc.Object {
	keys := prefixKeys(p, m)
	return &gotc.Object{
		Msg: gotc.Msg{Family: 0, Ifindex: ifindex, Parent: parent, Info: filterInfo(prio, ethPAll)},
		Attribute: gotc.Attribute{
			Kind: "u32",
			U32: &gotc.U32{
				ClassID: ptr(classid),
				Sel:     &gotc.U32Sel{Flags: u32Terminal, NKeys: uint8(len(keys)), Keys: keys},
			},
		},
	}
}

// redirectFilter sends every packet arriving on ifindex to the ifb device.
func redirectFilter(ifindex, ifb uint32) *gotc.Object {
	return &gotc.Object{
		Msg: gotc.Msg{Ifindex: ifindex, Parent: ingressHandle, Info: filterInfo(1, ethPAll)},
		Attribute: gotc.Attribute{
			Kind: "u32",
			U32: &gotc.U32{
				Sel: &gotc.U32Sel{Flags: u32Terminal, NKeys: 1, Keys: []gotc.U32Key{{}}}, // match u32 0 0 at 0
				Actions: &[]*gotc.Action{{
					Kind: "mirred",
					Mirred: &gotc.Mirred{Parms: &gotc.MirredParam{
						Action: tcActStolen, Eaction: tcaEgressRed, IfIndex: ifb,
					}},
				}},
			},
		},
	}
}

func ingressQdisc(ifindex uint32) *gotc.Object {
	return &gotc.Object{
		Msg:       gotc.Msg{Ifindex: ifindex, Handle: ingressHandle, Parent: gotc.HandleIngress},
		Attribute: gotc.Attribute{Kind: "ingress"},
	}
}

func prioQdisc(ifindex, parent, h uint32, bands uint32, band uint8) *gotc.Object {
	var pm [16]uint8
	for i := range pm {
		pm[i] = band
	}
	return &gotc.Object{
		Msg:       gotc.Msg{Ifindex: ifindex, Handle: h, Parent: parent},
		Attribute: gotc.Attribute{Kind: "prio", Prio: &gotc.Prio{Bands: bands, PrioMap: pm}},
	}
}

func flowFilter(ifindex, parentMajor uint32, fh uint32) *gotc.Object {
	return &gotc.Object{
		Msg: gotc.Msg{Ifindex: ifindex, Parent: handle(parentMajor, 0), Handle: fh, Info: filterInfo(prioFlow, ethPAll)},
		Attribute: gotc.Attribute{
			Kind: "flow",
			Flow: &gotc.Flow{
				Keys:      ptr(uint32(flowKeys5Tuple)),
				Mode:      ptr(uint32(flowModeHash)),
				BaseClass: ptr(handle(parentMajor, 1)),
				Divisor:   ptr(uint32(spreadBands)),
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// probability scales a percentage to netem's 32-bit fixed point, like
// iproute2's get_percent.
func probability(pct float64) uint32 {
	if pct <= 0 {
		return 0
	}
	if pct >= 100 {
		return math.MaxUint32
	}
	return uint32(math.Round(pct / 100 * math.MaxUint32))
}

// ticks converts a duration to the legacy psched ticks of tc_netem_qopt
// (PSCHED_NS2TICKS: ns >> 6), saturating.
func ticks(ns int64) uint32 {
	t := ns >> 6
	if t > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(t)
}

// netemQdisc builds the netem qdisc for c. dist is the delay distribution
// table (nil for uniform).
func netemQdisc(ifindex, parent, h uint32, c Config, dist []int16) *gotc.Object {
	n := &gotc.Netem{
		Qopt: gotc.NetemQopt{
			Latency:   ticks(c.Delay.Nanoseconds()),
			Jitter:    ticks(c.Jitter.Nanoseconds()),
			Limit:     c.limit(),
			Loss:      probability(c.LossPercent),
			Duplicate: probability(c.DuplicatePercent),
		},
	}
	if c.Delay > 0 {
		n.Latency64 = ptr(c.Delay.Nanoseconds())
	}
	if c.Jitter > 0 {
		n.Jitter64 = ptr(c.Jitter.Nanoseconds())
		if dist != nil {
			d := append([]int16(nil), dist...)
			n.DelayDist = &d
		}
	}
	if c.DelayCorrelation > 0 || c.LossCorrelation > 0 {
		n.Corr = &gotc.NetemCorr{Delay: probability(c.DelayCorrelation), Loss: probability(c.LossCorrelation)}
	}
	if c.ReorderPercent > 0 {
		n.Reorder = &gotc.NetemReorder{Probability: probability(c.ReorderPercent)}
		n.Qopt.Gap = 1 // as iproute2: reorder without gap means gap 1
	}
	if c.CorruptPercent > 0 {
		n.Corrupt = &gotc.NetemCorrupt{Probability: probability(c.CorruptPercent)}
	}
	if c.RateBytesPerSec > 0 {
		if c.RateBytesPerSec >= 1<<32 {
			n.Rate = &gotc.NetemRate{Rate: math.MaxUint32}
			n.Rate64 = ptr(c.RateBytesPerSec)
		} else {
			n.Rate = &gotc.NetemRate{Rate: uint32(c.RateBytesPerSec)}
		}
	}
	return &gotc.Object{
		Msg:       gotc.Msg{Ifindex: ifindex, Handle: h, Parent: parent},
		Attribute: gotc.Attribute{Kind: "netem", Netem: n},
	}
}

// tree returns the objects of a faultkit tree on ifindex, in creation
// order; the first is the root qdisc (RootHandle), whose deletion removes
// all the others.
//
// FlowsPercent = 100 (simple tree):
//
//	fa10: prio bands 3        priomap → band 3 (Sources given) or band 1 (all traffic)
//	└ fa10:1 → fa40: netem
//	filters on fa10: u32 prio 1 Allow → fa10:3, u32 prio 2 Sources → fa10:1
//
// FlowsPercent = F < 100 (the ECS agent's tree):
//
//	fa10: prio bands 3 (as above)
//	└ fa10:1 → fa20: prio bands 10, flow hash filter → fa20:1..a
//	  └ fa20:i → fa3(i-1): prio bands 10, flow hash filter → fa3X:1..a
//	    └ leaf k (0..99) = fa3(k/10):(k%10+1) → fa40+k: netem, for k < F
func tree(ifindex uint32, c Config, m match, dist []int16) []*gotc.Object {
	band := uint8(2) // unmatched traffic → fa10:3, unimpaired
	if len(c.Sources) == 0 {
		band = 0 // whole interface: unmatched traffic → fa10:1, impaired
	}
	objs := []*gotc.Object{prioQdisc(ifindex, gotc.HandleRoot, RootHandle, rootBands, band)}
	impaired := handle(MajorRoot, 1)
	if f := c.flows(); f == 100 {
		objs = append(objs, netemQdisc(ifindex, impaired, handle(MajorNetem, 0), c, dist))
	} else {
		objs = append(objs, prioQdisc(ifindex, impaired, handle(MajorSpread, 0), spreadBands, 2))
		for i := uint32(0); i < spreadBands; i++ {
			objs = append(objs, prioQdisc(ifindex, handle(MajorSpread, i+1), handle(MajorLeaf+i, 0), spreadBands, 2))
		}
		for k := uint32(0); k < uint32(f); k++ {
			parent := handle(MajorLeaf+k/10, k%10+1)
			objs = append(objs, netemQdisc(ifindex, parent, handle(MajorNetem+k, 0), c, dist))
		}
		objs = append(objs, flowFilter(ifindex, MajorSpread, 1))
		for i := uint32(0); i < spreadBands; i++ {
			objs = append(objs, flowFilter(ifindex, MajorLeaf+i, i+1))
		}
	}
	for _, p := range c.Allow {
		objs = append(objs, u32Filter(ifindex, RootHandle, prioAllow, p, m, handle(MajorRoot, 3)))
	}
	for _, p := range c.Sources {
		objs = append(objs, u32Filter(ifindex, RootHandle, prioSources, p, m, impaired))
	}
	return objs
}

// isNetemHandle reports whether h is one of faultkit's netem qdiscs.
func isNetemHandle(h uint32) bool {
	maj := h >> 16
	return maj >= MajorNetem && maj < MajorNetem+100
}

// ifbName is the ifb device carrying the ingress tree of the link with
// the given index: deterministic, so Status and conflict checks find it.
func ifbName(ifindex uint32) string { return fmt.Sprintf("fkifb%d", ifindex) }
