//go:build linux

package nft

import (
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// tableFlagOwner is NFT_TABLE_F_OWNER from linux/netfilter/nf_tables.h
// (enum nft_table_flags: DORMANT 0x1, OWNER 0x2), Linux 5.12 and later.
// golang.org/x/sys/unix does not define it yet.
const tableFlagOwner = 0x2

// Registers. reg1 is the 16-byte NFT_REG_1; reg32(n) is NFT_REG32_0n, the
// 4-byte registers that concatenations use (NFT_REG32_00 overlaps NFT_REG_1).
const reg1 = unix.NFT_REG_1

func reg32(n uint32) uint32 { return unix.NFT_REG32_00 + n }

// lossModulus is the resolution of the loss draw: 1/10000, i.e. 0.01 %.
const lossModulus = 10000

// builder turns google/nftables calls into netlink messages without a
// kernel: a recording connection that acknowledges everything.
type builder struct {
	conn  *nftables.Conn
	msgs  []netlink.Message
	setID uint32
}

func newBuilder() (*builder, error) {
	b := &builder{}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		var acks []netlink.Message
		for _, m := range req {
			t := m.Header.Type
			if t != netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN) && t != netlink.HeaderType(unix.NFNL_MSG_BATCH_END) {
				b.msgs = append(b.msgs, m)
			}
			if m.Header.Flags&netlink.Acknowledge != 0 {
				acks = append(acks, netlink.Message{
					Header: netlink.Header{Length: 20, Type: netlink.Error, Sequence: m.Header.Sequence, PID: m.Header.PID},
					Data:   []byte{0, 0, 0, 0},
				})
			}
		}
		return acks, nil
	}))
	if err != nil {
		return nil, err
	}
	b.conn = c
	return b, nil
}

// finish returns the recorded messages with sequence numbers cleared.
func (b *builder) finish() ([]netlink.Message, error) {
	if err := b.conn.Flush(); err != nil {
		return nil, err
	}
	msgs := b.msgs
	for i := range msgs {
		msgs[i].Header.Sequence, msgs[i].Header.PID, msgs[i].Header.Length = 0, 0, 0
	}
	b.msgs = nil
	return msgs, nil
}

// newTableMsg builds NFT_MSG_NEWTABLE for an inet table with flags, as
// "create" (NLM_F_EXCL): an existing table of that name fails the batch
// with EEXIST, which is how conflicts are detected atomically.
func newTableMsg(name string, flags uint32) netlink.Message {
	data, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: []byte(name + "\x00")},
		{Type: unix.NFTA_TABLE_FLAGS, Data: binaryutil.BigEndian.PutUint32(flags)},
	})
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE),
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
		},
		Data: append(nfgenHeader(unix.NFPROTO_INET, 0), data...),
	}
}

// delTableMsg builds NFT_MSG_DELTABLE for an inet table.
func delTableMsg(name string) netlink.Message {
	data, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: []byte(name + "\x00")},
	})
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELTABLE),
			Flags: netlink.Request | netlink.Acknowledge,
		},
		Data: append(nfgenHeader(unix.NFPROTO_INET, 0), data...),
	}
}

// plan is what one table holds.
type plan struct {
	table string
	chain string
	build func(b *builder, t *nftables.Table, c *nftables.Chain) error
}

func chainFor(t *nftables.Table, name string, d Direction) *nftables.Chain {
	hook := nftables.ChainHookOutput
	if d == Ingress {
		hook = nftables.ChainHookInput
	}
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityRef(chainPriority), Policy: &accept}
}

// chainPriority runs faultkit's chains just before the filter chains of
// iptables-nft and of "nft" rulesets (priority 0), after conntrack (-200).
const chainPriority = -10

// messages builds the whole batch for plans: tables, chains, sets, rules.
func messages(plans []plan, tableFlags uint32) ([]netlink.Message, error) {
	b, err := newBuilder()
	if err != nil {
		return nil, err
	}
	var out []netlink.Message
	for _, p := range plans {
		t := &nftables.Table{Name: p.table, Family: nftables.TableFamilyINet}
		c := b.conn.AddChain(chainFor(t, p.chain, directionOfChain(p.chain)))
		if err := p.build(b, t, c); err != nil {
			return nil, err
		}
		msgs, err := b.finish()
		if err != nil {
			return nil, err
		}
		out = append(out, newTableMsg(p.table, tableFlags))
		out = append(out, msgs...)
	}
	return out, nil
}

func directionOfChain(name string) Direction {
	if name == chainIngress {
		return Ingress
	}
	return Egress
}

// Chain names: the direction.
const (
	chainEgress  = "egress"
	chainIngress = "ingress"
)

func chainName(d Direction) string {
	if d == Ingress {
		return chainIngress
	}
	return chainEgress
}

// --- expressions -------------------------------------------------------------

func metaLoad(k expr.MetaKey, reg uint32) expr.Any { return &expr.Meta{Key: k, Register: reg} }

func cmp(op expr.CmpOp, reg uint32, data []byte) expr.Any {
	return &expr.Cmp{Op: op, Register: reg, Data: data}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func nfproto(fam byte) []expr.Any {
	return []expr.Any{metaLoad(expr.MetaKeyNFPROTO, reg1), cmp(expr.CmpOpEq, reg1, []byte{fam})}
}

// addrOffset returns the offset and length of the address a rule matches:
// the destination for egress, the source (the remote peer) for ingress.
func addrOffset(fam byte, d Direction) (off, n uint32) {
	switch {
	case fam == unix.NFPROTO_IPV4 && d == Egress:
		return 16, 4
	case fam == unix.NFPROTO_IPV4:
		return 12, 4
	case d == Egress:
		return 24, 16
	default:
		return 8, 16
	}
}

func loadAddr(fam byte, d Direction, reg uint32) expr.Any {
	off, n := addrOffset(fam, d)
	return &expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseNetworkHeader,
		Offset: off, Len: n, DestRegister: reg}
}

// ifname pads an interface name to IFNAMSIZ as the kernel compares it.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// addSet adds a named set with explicit, deterministic IDs (google/nftables
// would otherwise draw them from a package-level counter).
func (b *builder) addSet(t *nftables.Table, name string, kt nftables.SetDatatype, interval bool, elems []nftables.SetElement) (*nftables.Set, error) {
	b.setID++
	s := &nftables.Set{Table: t, Name: name, ID: b.setID, KeyType: kt, Interval: interval, Constant: true}
	if err := b.conn.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("set %s: %w", name, err)
	}
	return s, nil
}

func lookup(s *nftables.Set, reg uint32, invert bool) expr.Any {
	return &expr.Lookup{SourceRegister: reg, SetName: s.Name, SetID: s.ID, Invert: invert}
}

// intervalElements turns prefixes of one family into the elements of an
// interval set: sorted, merged ranges [start, end+1), the closing element
// omitted when a range reaches the top of the address space.
func intervalElements(ps []netip.Prefix) []nftables.SetElement {
	type rng struct{ lo, hi netip.Addr }
	var rs []rng
	for _, p := range ps {
		p = p.Masked()
		rs = append(rs, rng{p.Addr(), lastAddr(p)})
	}
	slices.SortFunc(rs, func(a, b rng) int { return a.lo.Compare(b.lo) })
	var merged []rng
	for _, r := range rs {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			next := last.hi.Next()
			if !next.IsValid() || r.lo.Compare(next) <= 0 { // overlapping or adjacent
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		merged = append(merged, r)
	}
	var out []nftables.SetElement
	for _, r := range merged {
		out = append(out, nftables.SetElement{Key: r.lo.AsSlice()})
		if end := r.hi.Next(); end.IsValid() {
			out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// famPrefixes are the prefixes of one address family and the set that
// holds them.
type famPrefixes struct {
	fam byte
	ps  []netip.Prefix
	set string // the set's name
	kt  nftables.SetDatatype
}

// byFamily splits ps into IPv4 prefixes (IPv4-mapped ones unmapped), for
// a set named set+"4", and IPv6 prefixes, for set+"6".
func byFamily(ps []netip.Prefix, set string) [2]famPrefixes {
	f := [2]famPrefixes{
		{fam: unix.NFPROTO_IPV4, set: set + "4", kt: nftables.TypeIPAddr},
		{fam: unix.NFPROTO_IPV6, set: set + "6", kt: nftables.TypeIP6Addr},
	}
	for _, p := range ps {
		if a := p.Addr(); a.Is4In6() {
			p = netip.PrefixFrom(a.Unmap(), max(0, p.Bits()-96))
		}
		i := 0
		if !p.Addr().Is4() {
			i = 1
		}
		f[i].ps = append(f[i].ps, p)
	}
	return f
}

// addAllow adds the allow-list: packets to (egress) or from (ingress) these
// prefixes leave the chain before any impairment.
func (b *builder) addAllow(t *nftables.Table, c *nftables.Chain, d Direction, allow []netip.Prefix) error {
	for _, f := range byFamily(allow, "allow") {
		if len(f.ps) == 0 {
			continue
		}
		s, err := b.addSet(t, f.set, f.kt, true, intervalElements(f.ps))
		if err != nil {
			return err
		}
		ex := append(nfproto(f.fam), loadAddr(f.fam, d, reg1), lookup(s, reg1, false), verdict(expr.VerdictAccept))
		b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: ex})
	}
	return nil
}

// blackholePlan drops one port of one protocol.
func blackholePlan(cfg Config) plan {
	return plan{table: TableName(cfg), chain: chainName(cfg.Direction), build: func(b *builder, t *nftables.Table, c *nftables.Chain) error {
		if len(cfg.Interfaces) > 0 {
			var elems []nftables.SetElement
			for _, n := range cfg.Interfaces {
				elems = append(elems, nftables.SetElement{Key: ifname(n)})
			}
			s, err := b.addSet(t, "ifaces", nftables.TypeIFName, false, elems)
			if err != nil {
				return err
			}
			b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
				metaLoad(ifKey(cfg.Direction), reg1), lookup(s, reg1, true), verdict(expr.VerdictReturn)}})
		}
		if err := b.addAllow(t, c, cfg.Direction, cfg.Allow); err != nil {
			return err
		}
		b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
			metaLoad(expr.MetaKeyL4PROTO, reg1), cmp(expr.CmpOpEq, reg1, []byte{cfg.Protocol}),
			&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: reg1},
			cmp(expr.CmpOpEq, reg1, binaryutil.BigEndian.PutUint16(cfg.Port)),
			&expr.Counter{}, verdict(expr.VerdictDrop)}})
		return nil
	}}
}

func ifKey(d Direction) expr.MetaKey {
	if d == Ingress {
		return expr.MetaKeyIIFNAME
	}
	return expr.MetaKeyOIFNAME
}

// lossPlan drops a random share of the packets on one interface.
func lossPlan(cfg Config, link string) plan {
	return plan{table: LossTable(link), chain: chainName(cfg.Direction), build: func(b *builder, t *nftables.Table, c *nftables.Chain) error {
		// Only this interface.
		b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
			metaLoad(ifKey(cfg.Direction), reg1), cmp(expr.CmpOpNeq, reg1, ifname(link)), verdict(expr.VerdictReturn)}})
		if err := b.addAllow(t, c, cfg.Direction, cfg.Allow); err != nil {
			return err
		}
		// Only the listed destinations (sources, in FIS's words).
		if len(cfg.Sources) > 0 {
			for _, f := range byFamily(cfg.Sources, "sources") {
				if len(f.ps) == 0 {
					b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: append(nfproto(f.fam), verdict(expr.VerdictReturn))})
					continue
				}
				s, err := b.addSet(t, f.set, f.kt, true, intervalElements(f.ps))
				if err != nil {
					return err
				}
				b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: append(nfproto(f.fam),
					loadAddr(f.fam, cfg.Direction, reg1), lookup(s, reg1, true), verdict(expr.VerdictReturn))})
			}
		}
		// Only FlowsPercent of the flows: a Jenkins hash of addresses,
		// protocol and the first four transport bytes (the ports), modulo 100.
		if f := cfg.flows(); f < 100 {
			for _, fam := range []byte{unix.NFPROTO_IPV4, unix.NFPROTO_IPV6} {
				ex := append(flowHash(fam, cfg.Seed),
					cmp(expr.CmpOpGte, reg1, binaryutil.BigEndian.PutUint32(uint32(f))),
					verdict(expr.VerdictReturn))
				b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: ex})
			}
		}
		// The drop itself.
		var ex []expr.Any
		if th := lossThreshold(cfg.LossPercent); th < lossModulus {
			ex = append(ex,
				&expr.Numgen{Register: reg1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
				&expr.Byteorder{SourceRegister: reg1, DestRegister: reg1, Op: expr.ByteorderHton, Len: 4, Size: 4},
				cmp(expr.CmpOpLt, reg1, binaryutil.BigEndian.PutUint32(th)))
		}
		ex = append(ex, &expr.Counter{}, verdict(expr.VerdictDrop))
		b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: ex})
		return nil
	}}
}

// lossThreshold maps a percentage to the number of draws out of
// lossModulus that drop.
func lossThreshold(p float64) uint32 {
	return uint32(math.Round(p * lossModulus / 100))
}

// flowHash loads a flow's addresses, protocol and first four transport
// bytes (the ports) into consecutive 32-bit registers and leaves their
// Jenkins hash modulo 100, in network byte order, in reg1. Packets of
// another family do not match.
func flowHash(fam byte, seed uint32) []expr.Any {
	n, sOff, dOff := uint32(4), uint32(12), uint32(16)
	if fam == unix.NFPROTO_IPV6 {
		n, sOff, dOff = 16, 8, 24
	}
	w := n / 4 // registers per address
	return append(nfproto(fam),
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseNetworkHeader, Offset: sOff, Len: n, DestRegister: reg32(0)},
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseNetworkHeader, Offset: dOff, Len: n, DestRegister: reg32(w)},
		metaLoad(expr.MetaKeyL4PROTO, reg32(2*w)),
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 4, DestRegister: reg32(2*w + 1)},
		&expr.Hash{SourceRegister: reg32(0), DestRegister: reg1, Length: 2*n + 8, Modulus: 100, Seed: seed, Type: expr.HashTypeJenkins},
		&expr.Byteorder{SourceRegister: reg1, DestRegister: reg1, Op: expr.ByteorderHton, Len: 4, Size: 4})
}
