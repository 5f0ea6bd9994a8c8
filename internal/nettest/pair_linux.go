package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Pair is two network namespaces, A and B, joined by a veth pair. A has one
// address per family, B two, so a fault can target one of B's addresses
// and a test can check that the other is untouched.
type Pair struct {
	A, B     *NS
	AIf, BIf string // veth ends: AIf lives in A, BIf in B

	A4, A6 netip.Addr   // 10.99.0.1, fd00:99::1 by default
	B4, B6 []netip.Addr // 10.99.0.2 and .3, fd00:99::2 and ::3 by default

	Prefix4, Prefix6 netip.Prefix // 10.99.0.0/24, fd00:99::/64 by default
}

// PairOption configures NewPair.
type PairOption func(*pairConfig)

type pairConfig struct {
	prefix4, prefix6 netip.Prefix
	aIf, bIf         string
	dynamicNeigh     bool
}

// WithDynamicNeighbors leaves address resolution to ARP and neighbour
// discovery. By default NewPair installs permanent neighbour entries for
// the pair's addresses on both sides, so the first probe is not queued
// behind ARP/ND and a fault that drops or delays every packet on the link
// cannot also fail the neighbour entry and add losses of its own.
func WithDynamicNeighbors() PairOption { return func(c *pairConfig) { c.dynamicNeigh = true } }

// WithIPv4 sets the IPv4 subnet; A gets its first host address, B the
// second and third. The default is 10.99.0.0/24.
func WithIPv4(p netip.Prefix) PairOption { return func(c *pairConfig) { c.prefix4 = p.Masked() } }

// WithIPv6 sets the IPv6 subnet; A gets ::1, B ::2 and ::3. The default is
// fd00:99::/64.
func WithIPv6(p netip.Prefix) PairOption { return func(c *pairConfig) { c.prefix6 = p.Masked() } }

// WithLinkNames names the veth ends (at most 15 bytes each). The default
// is "fk<random>a" / "fk<random>b", unique per pair, so a leftover is
// attributable.
func WithLinkNames(a, b string) PairOption {
	return func(c *pairConfig) { c.aIf, c.bIf = a, b }
}

// NewPair creates namespaces A and B (see NewNS) joined by a veth pair with
// both ends up and addresses assigned: IPv4 and IPv6, the IPv6 ones with
// IFA_F_NODAD (and DAD off on both links) so they work at once, and
// permanent neighbour entries for each other's addresses (see
// WithDynamicNeighbors). It returns once both links are operational.
// Cleanup deletes the veth and both namespaces. Like NewNS it skips
// without root or netns support.
func NewPair(tb testing.TB, opts ...PairOption) *Pair {
	tb.Helper()
	cfg := pairConfig{
		prefix4: netip.MustParsePrefix("10.99.0.0/24"),
		prefix6: netip.MustParsePrefix("fd00:99::/64"),
	}
	for _, o := range opts {
		o(&cfg)
	}
	p := &Pair{Prefix4: cfg.prefix4, Prefix6: cfg.prefix6}
	var err4, err6 error
	p.A4, p.B4, err4 = hosts(cfg.prefix4)
	p.A6, p.B6, err6 = hosts(cfg.prefix6)
	if !cfg.prefix4.Addr().Is4() {
		err4 = fmt.Errorf("WithIPv4: %s is not an IPv4 subnet", cfg.prefix4)
	}
	if !cfg.prefix6.Addr().Is6() || cfg.prefix6.Addr().Is4In6() {
		err6 = fmt.Errorf("WithIPv6: %s is not an IPv6 subnet", cfg.prefix6)
	}
	if err := errors.Join(err4, err6); err != nil {
		tb.Fatalf("nettest: %v", err)
	}
	a := NewNS(tb)
	b := NewNS(tb)
	if cfg.aIf == "" {
		// Derived from A's random name: fk-1a2b3c4d -> fk1a2b3c4da.
		cfg.aIf, cfg.bIf = "fk"+a.name[len(NamePrefix):]+"a", "fk"+a.name[len(NamePrefix):]+"b"
	}
	p.A, p.B, p.AIf, p.BIf = a, b, cfg.aIf, cfg.bIf
	if err := p.setup(cfg.dynamicNeigh); err != nil {
		tb.Fatalf("nettest: pair %s/%s: %v", a, b, err)
	}
	// Registered after the namespaces' cleanups, so it runs before them.
	tb.Cleanup(func() {
		if err := p.deleteVeth(); err != nil {
			tb.Errorf("nettest: %v", err)
		}
	})
	return p
}

// hosts returns the first three host addresses of prefix: one for A, two
// for B.
func hosts(prefix netip.Prefix) (netip.Addr, []netip.Addr, error) {
	if !prefix.IsValid() {
		return netip.Addr{}, nil, fmt.Errorf("invalid subnet %s", prefix)
	}
	a := prefix.Addr().Next()
	b1 := a.Next()
	b2 := b1.Next()
	if !prefix.Contains(b2) || !prefix.Contains(b2.Next()) { // keep clear of the v4 broadcast address
		return netip.Addr{}, nil, fmt.Errorf("subnet %s too small for three hosts", prefix)
	}
	return a, []netip.Addr{b1, b2}, nil
}

func (p *Pair) setup(dynamicNeigh bool) error {
	ha, err := p.A.Netlink()
	if err != nil {
		return err
	}
	defer ha.Close()
	hb, err := p.B.Netlink()
	if err != nil {
		return err
	}
	defer hb.Close()
	bf, err := p.B.Open()
	if err != nil {
		return err
	}
	defer bf.Close()

	// Created inside A with its peer placed straight into B: the pair never
	// appears in the host namespace.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: p.AIf},
		PeerName:      p.BIf,
		PeerNamespace: netlink.NsFd(int(bf.Fd())),
	}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s (peer %s in %s): %w", p.AIf, p.BIf, p.B, err)
	}
	// No duplicate address detection on either end, for the link-local
	// address too: while an address is tentative the kernel does not use it
	// as a source, and neighbour solicitations wait for DAD (about 1 s).
	for _, c := range []struct {
		ns   *NS
		link string
	}{{p.A, p.AIf}, {p.B, p.BIf}} {
		if err := c.ns.SetSysctl("net/ipv6/conf/"+c.link+"/accept_dad", "0"); err != nil {
			return err
		}
	}
	if err := configure(ha, p.AIf, []netip.Prefix{
		netip.PrefixFrom(p.A4, p.Prefix4.Bits()), netip.PrefixFrom(p.A6, p.Prefix6.Bits()),
	}); err != nil {
		return fmt.Errorf("%s: %w", p.A, err)
	}
	var bAddrs []netip.Prefix
	for _, a := range append(append([]netip.Addr{}, p.B4...), p.B6...) {
		bits := p.Prefix4.Bits()
		if a.Is6() {
			bits = p.Prefix6.Bits()
		}
		bAddrs = append(bAddrs, netip.PrefixFrom(a, bits))
	}
	if err := configure(hb, p.BIf, bAddrs); err != nil {
		return fmt.Errorf("%s: %w", p.B, err)
	}
	if !dynamicNeigh {
		aAddrs := []netip.Addr{p.A4, p.A6}
		if err := staticNeighbors(ha, p.AIf, hb, p.BIf, append(append([]netip.Addr{}, p.B4...), p.B6...)); err != nil {
			return fmt.Errorf("%s: %w", p.A, err)
		}
		if err := staticNeighbors(hb, p.BIf, ha, p.AIf, aAddrs); err != nil {
			return fmt.Errorf("%s: %w", p.B, err)
		}
	}
	// A link set up is not yet usable: the kernel's linkwatch attaches the
	// real qdisc and marks the carrier up asynchronously, up to a second
	// later, and IPv6 addresses stay tentative a little longer. Packets
	// sent before are dropped, or the first ARP/ND probe is, and that is
	// retried only after 1 s: a test would see loss or latency it did not
	// cause. So wait for operstate UP and usable IPv6 addresses.
	deadline := time.Now().Add(linkUpTimeout)
	for _, c := range []struct {
		h    *netlink.Handle
		name string
	}{{ha, p.AIf}, {hb, p.BIf}} {
		if err := waitOperUp(c.h, c.name, deadline); err != nil {
			return err
		}
	}
	return nil
}

// usable reports whether the IPv6 addresses include a link-local one and
// none is tentative.
func usable(addrs []netlink.Addr) bool {
	ll := false
	for _, a := range addrs {
		if a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			return false
		}
		ll = ll || a.IP.IsLinkLocalUnicast()
	}
	return ll
}

// linkUpTimeout bounds the wait for a new veth to become operational;
// generous for qemu TCG.
const linkUpTimeout = 10 * time.Second

func waitOperUp(h *netlink.Handle, name string, deadline time.Time) error {
	for {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("link %s: %w", name, err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			addrs, err := h.AddrList(l, netlink.FAMILY_V6)
			switch {
			case errors.Is(err, netlink.ErrDumpInterrupted):
				// addrconf changed the list during the dump (e.g. added
				// the link-local address): not settled yet, ask again.
			case err != nil:
				return fmt.Errorf("link %s: list addresses: %w", name, err)
			case usable(addrs):
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link %s not operational after %v (state %s, or IPv6 addresses tentative)", name, linkUpTimeout, l.Attrs().OperState)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// staticNeighbors adds permanent neighbour entries on link (handle h) for
// the peer's addrs, pointing at the peer link's MAC address.
func staticNeighbors(h *netlink.Handle, link string, peerH *netlink.Handle, peerLink string, addrs []netip.Addr) error {
	l, err := h.LinkByName(link)
	if err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	peer, err := peerH.LinkByName(peerLink)
	if err != nil {
		return fmt.Errorf("link %s: %w", peerLink, err)
	}
	for _, a := range addrs {
		family := netlink.FAMILY_V4
		if a.Is6() {
			family = netlink.FAMILY_V6
		}
		n := &netlink.Neigh{
			LinkIndex:    l.Attrs().Index,
			Family:       family,
			State:        netlink.NUD_PERMANENT,
			IP:           a.AsSlice(),
			HardwareAddr: peer.Attrs().HardwareAddr,
		}
		if err := h.NeighSet(n); err != nil {
			return fmt.Errorf("neighbour %s lladdr %s on %s: %w", a, peer.Attrs().HardwareAddr, link, err)
		}
	}
	return nil
}

// configure assigns addrs to the link and sets it up.
func configure(h *netlink.Handle, name string, addrs []netip.Prefix) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	for _, a := range addrs {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("add %s to %s: %w", a, name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// deleteVeth removes the pair (deleting one end deletes both) so it is gone
// synchronously, not only when the kernel dismantles the namespaces.
func (p *Pair) deleteVeth() error {
	h, err := p.A.Netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(p.AIf)
	if err != nil {
		if _, ok := err.(netlink.LinkNotFoundError); ok {
			return nil // already gone, e.g. deleted by the test
		}
		return fmt.Errorf("%s: link %s: %w", p.A, p.AIf, err)
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("%s: delete veth %s: %w", p.A, p.AIf, err)
	}
	return nil
}

// EchoUDP starts a UDP echo server in B on addr; see NS.EchoUDP.
func (p *Pair) EchoUDP(tb testing.TB, addr netip.AddrPort) netip.AddrPort {
	tb.Helper()
	return p.B.EchoUDP(tb, addr)
}

// EchoTCP starts a TCP echo server in B on addr; see NS.EchoTCP.
func (p *Pair) EchoTCP(tb testing.TB, addr netip.AddrPort) netip.AddrPort {
	tb.Helper()
	return p.B.EchoTCP(tb, addr)
}

// ProbeUDP probes dst from A; see NS.ProbeUDP.
func (p *Pair) ProbeUDP(ctx context.Context, dst netip.AddrPort, cfg ProbeConfig) (ProbeStats, error) {
	return p.A.ProbeUDP(ctx, dst, cfg)
}

// ConnectTCP connects from A to dst; see NS.ConnectTCP.
func (p *Pair) ConnectTCP(ctx context.Context, dst netip.AddrPort, timeout time.Duration) (time.Duration, error) {
	return p.A.ConnectTCP(ctx, dst, timeout)
}

// Reverse returns the same pair seen from B: A and B, their interfaces and
// addresses swapped, so ProbeUDP and ConnectTCP run from B against
// services in A (ingress tests). Reverse's A4 is B's first address; its B4
// holds A's address only.
func (p *Pair) Reverse() *Pair {
	return &Pair{
		A: p.B, B: p.A, AIf: p.BIf, BIf: p.AIf,
		A4: p.B4[0], A6: p.B6[0],
		B4: []netip.Addr{p.A4}, B6: []netip.Addr{p.A6},
		Prefix4: p.Prefix4, Prefix6: p.Prefix6,
	}
}
