//go:build linux

package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/testenv"
)

// TestPairLifecycle proves the namespaces and the veth exist while a test
// runs and are gone after its cleanup.
func TestPairLifecycle(t *testing.T) {
	testenv.RequireRoot(t)
	var (
		p     *Pair
		keepA *os.File // keeps A alive past cleanup, to look inside
	)
	t.Run("inner", func(t *testing.T) {
		p = NewPair(t)
		for _, n := range []*NS{p.A, p.B} {
			if !strings.HasPrefix(n.Path(), NetNSDir+"/"+NamePrefix) {
				t.Errorf("path %q not under %s/%s", n.Path(), NetNSDir, NamePrefix)
			}
			id, err := fault.NetNSFromPath(n.Path())
			if err != nil {
				t.Fatalf("namespace not mounted while the test runs: %v", err)
			}
			if id != n.NetNS() {
				t.Errorf("%s: identity %v, want %v", n, id, n.NetNS())
			}
		}
		if p.A.NetNS() == p.B.NetNS() {
			t.Fatal("A and B are the same namespace")
		}
		host, err := fault.NetNSFromPath("/proc/self/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		if host.Dev == p.A.NetNS().Dev && host.Ino == p.A.NetNS().Ino {
			t.Fatal("A is the host namespace")
		}
		for _, c := range []struct {
			ns   *NS
			link string
		}{{p.A, p.AIf}, {p.B, p.BIf}} {
			h, err := c.ns.Netlink()
			if err != nil {
				t.Fatal(err)
			}
			l, err := h.LinkByName(c.link)
			h.Close()
			if err != nil {
				t.Fatalf("%s: %s missing: %v", c.ns, c.link, err)
			}
			if l.Type() != "veth" || l.Attrs().OperState != netlink.OperUp {
				t.Errorf("%s: %s is %s, state %s; want an up veth", c.ns, c.link, l.Type(), l.Attrs().OperState)
			}
			if _, err := netlink.LinkByName(c.link); err == nil {
				t.Errorf("%s visible in the host namespace", c.link)
			}
		}
		if keepA, err = p.A.Open(); err != nil {
			t.Fatal(err)
		}
	})
	if p == nil || keepA == nil {
		t.Fatal("inner test did not get as far as creating the pair")
	}
	defer keepA.Close()

	for _, n := range []*NS{p.A, p.B} {
		if _, err := os.Lstat(n.Path()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after cleanup (err %v)", n.Path(), err)
		}
	}
	// The veth was deleted, not just left to die with the namespace.
	h, err := netlink.NewHandleAt(netns.NsHandle(keepA.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	links, err := h.LinkList()
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Errorf("link %s (%s) left in A after cleanup", l.Attrs().Name, l.Type())
		}
	}
	keepA.Close()
	// With the mount and our file gone, nothing refers to B or A any more.
	for _, n := range []*NS{p.A, p.B} {
		if f, err := n.NetNS().Open(); err == nil {
			f.Close()
			t.Errorf("%s still reachable after cleanup", n)
		}
	}
}

func TestEchoUDP(t *testing.T) {
	p := NewPair(t)
	ctx := context.Background()
	for _, dst := range []netip.Addr{p.B4[0], p.B4[1], p.B6[0], p.B6[1]} {
		t.Run(dst.String(), func(t *testing.T) {
			ap := p.EchoUDP(t, netip.AddrPortFrom(dst, 0))
			if ap.Addr() != dst || ap.Port() == 0 {
				t.Fatalf("EchoUDP bound %s, want %s:<port>", ap, dst)
			}
			st, err := p.ProbeUDP(ctx, ap, ProbeConfig{Count: 200, Interval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %v", ap, st)
			if st.Sent != 200 || st.Received != 200 || st.Lost != 0 || st.LossRatio != 0 || len(st.RTTs) != 200 {
				t.Errorf("want 200/200 received, 0 %% loss; got %v", st)
			}
			if st.Min <= 0 || st.Min > st.P50 || st.P50 > st.P99 || st.P99 > st.Max {
				t.Errorf("inconsistent RTT stats %v", st)
			}
		})
	}
}

// TestReverse probes from B to a service in A (the ingress direction), from
// a chosen source address.
func TestReverse(t *testing.T) {
	p := NewPair(t)
	r := p.Reverse()
	if r.A != p.B || r.AIf != p.BIf || r.B4[0] != p.A4 {
		t.Fatalf("Reverse did not swap the sides: %+v", r)
	}
	ap := r.EchoUDP(t, netip.AddrPortFrom(r.B4[0], 0))
	src := netip.AddrPortFrom(p.B4[1], 0) // B's second address
	st, err := r.ProbeUDP(context.Background(), ap, ProbeConfig{Count: 50, Interval: time.Millisecond, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if st.Received != 50 {
		t.Errorf("reverse probe: %v", st)
	}
}

// TestProbeCanFail: probes to something that cannot answer are all lost.
func TestProbeCanFail(t *testing.T) {
	p := NewPair(t)
	ctx := context.Background()
	cfg := ProbeConfig{Count: 20, Interval: time.Millisecond, Timeout: 300 * time.Millisecond}
	nobody4 := p.Prefix4.Addr().Next().Next().Next().Next().Next().Next().Next().Next().Next() // .9
	for name, dst := range map[string]netip.AddrPort{
		"no host v4":     netip.AddrPortFrom(nobody4, 7),
		"no host v6":     netip.AddrPortFrom(netip.MustParseAddr("fd00:99::9"), 7),
		"no listener v4": netip.AddrPortFrom(p.B4[0], 9),
		"no listener v6": netip.AddrPortFrom(p.B6[1], 9),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := p.ProbeUDP(ctx, dst, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if st.Sent != 20 || st.Received != 0 || st.Lost != 20 || st.LossRatio != 1 {
				t.Errorf("%s: want 100 %% loss of 20, got %v", dst, st)
			}
		})
	}
}

func TestConnectTCP(t *testing.T) {
	p := NewPair(t)
	ctx := context.Background()
	for _, dst := range []netip.Addr{p.B4[1], p.B6[0]} {
		t.Run(dst.String(), func(t *testing.T) {
			ap := p.EchoTCP(t, netip.AddrPortFrom(dst, 0))
			if d, err := p.ConnectTCP(ctx, ap, 0); err != nil || Classify(err) != Connected {
				t.Errorf("connect %s: %v (%s after %v)", ap, err, Classify(err), d)
			}
			// Echo really echoes.
			c, err := p.A.DialTCP(ctx, netip.AddrPort{}, ap)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
				t.Errorf("echo returned %q, %v", buf, err)
			}
			closed := netip.AddrPortFrom(dst, ap.Port()+1)
			_, err = p.ConnectTCP(ctx, closed, 0)
			if Classify(err) != Refused {
				t.Errorf("connect to closed port %s: %v (%s), want refused", closed, err, Classify(err))
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		// Nothing answers ARP for .9: the SYN goes nowhere.
		dst := netip.AddrPortFrom(netip.MustParseAddr("10.99.0.9"), 80)
		d, err := p.ConnectTCP(ctx, dst, 300*time.Millisecond)
		if o := Classify(err); o != TimedOut && o != Unreachable {
			t.Errorf("connect %s: %v (%s) after %v, want timeout", dst, err, o, d)
		}
	})
}

// TestSocketNamespaceCheck proves the guard on socket creation can fail: a
// socket made in the host namespace is rejected for A.
func TestSocketNamespaceCheck(t *testing.T) {
	n := NewNS(t)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.checkSocketNS("udp4", "127.0.0.1:0", rc); err == nil {
		t.Fatal("host socket accepted as living in the test namespace")
	}
	// And a socket made through the helpers passes and only sees A's lo.
	u, err := n.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

func TestExec(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	p := NewPair(t)
	out, err := p.A.Exec(context.Background(), "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	if len(names) != 2 || names[0] != "lo" || names[1] != p.AIf {
		t.Errorf("links seen by a command in A: %v, want [lo %s]", names, p.AIf)
	}
	// Another process finds B by its name under /run/netns.
	outB, err := exec.Command("ip", "netns", "exec", p.B.Name(), "ip", "-o", "link", "show", p.BIf).CombinedOutput()
	if err != nil || !strings.Contains(string(outB), p.BIf) {
		t.Errorf("ip netns exec %s: %v: %s", p.B.Name(), err, outB)
	}
}

// TestProbeLateAndOutOfOrder runs the prober against a misbehaving echo
// server in B: probes 0, 4 and 8 are answered after twice the timeout
// (late, so lost), every 5th other probe is answered twice, and
// replies to probes 1 mod 4 are held back until the next probe was
// answered (out of order).
func TestProbeLateAndOutOfOrder(t *testing.T) {
	p := NewPair(t)
	srv, err := p.B.ListenUDP(netip.AddrPortFrom(p.B4[0], 0))
	if err != nil {
		t.Fatal(err)
	}
	// Sending takes 1 s and the prober waits until 1.475 s; late replies
	// come 1 s after their probe, so the last one (8, sent at 200 ms)
	// arrives at 1.2 s, inside the window, where it must be counted late.
	// The margins (>= 275 ms) hold under qemu TCG on a loaded host.
	const (
		count    = 40
		interval = 25 * time.Millisecond
		timeout  = 500 * time.Millisecond
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		var held []byte
		var heldTo netip.AddrPort
		for {
			m, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg := append([]byte(nil), buf[:m]...)
			seq := int(msg[15]) // count < 256: the low byte is the sequence number
			delayed := seq%4 == 0 && seq < 12
			switch {
			case delayed:
				time.AfterFunc(2*timeout, func() { srv.WriteToUDPAddrPort(msg, from) })
			case seq%4 == 1:
				held, heldTo = msg, from
			default:
				srv.WriteToUDPAddrPort(msg, from)
				if held != nil {
					srv.WriteToUDPAddrPort(held, heldTo)
					held = nil
				}
			}
			if seq%5 == 0 && !delayed {
				srv.WriteToUDPAddrPort(msg, from)
			}
		}
	}()
	defer func() { srv.Close(); <-done }()

	st, err := p.ProbeUDP(context.Background(), srv.LocalAddr().(*net.UDPAddr).AddrPort(),
		ProbeConfig{Count: count, Interval: interval, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(st)
	if st.Sent != 40 || st.Received != 37 || st.Late != 3 || st.Lost != 3 || st.LossRatio != 0.075 {
		t.Errorf("want 37 received, 3 late and lost; got %v", st)
	}
	if st.Duplicates != 7 { // 5, 10, 15, 20, 25, 30, 35
		t.Errorf("want 7 duplicates, got %d", st.Duplicates)
	}
	if len(st.RTTs) != 37 || st.Max >= timeout {
		t.Errorf("RTTs must cover in-time replies only: %v", st)
	}
}

// TestProbeContextCancel: ending ctx stops the probe early with an error
// and the stats of what was sent.
func TestProbeContextCancel(t *testing.T) {
	p := NewPair(t)
	dst := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 0))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := p.ProbeUDP(ctx, dst, ProbeConfig{Count: 1000, Interval: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancelled probe returned after %v", el)
	}
	if st.Sent == 0 || st.Sent >= 1000 || st.Received > st.Sent {
		t.Errorf("stats after cancel: %v", st)
	}
}

// TestParallelPairs creates and removes pairs concurrently: namespace names
// do not collide and the shared /run/netns directory survives the races
// between one test's cleanup and another's setup.
func TestParallelPairs(t *testing.T) {
	testenv.RequireRoot(t)
	for i := range 6 {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			t.Parallel()
			for range 3 {
				t.Run("round", func(t *testing.T) {
					p := NewPair(t)
					dst := p.EchoUDP(t, netip.AddrPortFrom(p.B6[1], 0))
					st, err := p.ProbeUDP(context.Background(), dst, ProbeConfig{Count: 20, Interval: time.Millisecond})
					if err != nil || st.Received != 20 {
						t.Errorf("probe %s: %v, %v", dst, st, err)
					}
				})
			}
		})
	}
}

// TestSysctl: net sysctls are per namespace; setting one in A changes
// neither the host nor B.
func TestSysctl(t *testing.T) {
	p := NewPair(t)
	host, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.A.Sysctl("net.ipv6.conf." + p.AIf + ".accept_dad"); err != nil || got != "0" {
		t.Errorf("accept_dad on %s = %q, %v; NewPair should have set 0", p.AIf, got, err)
	}
	want := "1"
	if strings.TrimSpace(string(host)) == "1" {
		want = "0"
	}
	if err := p.A.SetSysctl("net.ipv4.ip_forward", want); err != nil {
		t.Fatal(err)
	}
	if got, err := p.A.Sysctl("net/ipv4/ip_forward"); err != nil || got != want {
		t.Errorf("A ip_forward = %q, %v; want %s", got, err, want)
	}
	if got, err := p.B.Sysctl("net.ipv4.ip_forward"); err != nil || got == want {
		t.Errorf("B ip_forward = %q, %v; A's write leaked", got, err)
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(host) {
		t.Errorf("host ip_forward changed from %q to %q", host, now)
	}
	if _, err := p.A.Sysctl("net.ipv4.no_such_key"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key: err = %v, want ErrNotExist", err)
	}
}

// TestNeighbors: by default each side knows the other's addresses
// permanently; WithDynamicNeighbors leaves them to ARP/ND, which still
// works.
func TestNeighbors(t *testing.T) {
	for _, dynamic := range []bool{false, true} {
		name := "static"
		var opts []PairOption
		if dynamic {
			name = "dynamic"
			opts = append(opts, WithDynamicNeighbors())
		}
		t.Run(name, func(t *testing.T) {
			p := NewPair(t, opts...)
			h, err := p.A.Netlink()
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			l, err := h.LinkByName(p.AIf)
			if err != nil {
				t.Fatal(err)
			}
			neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
			if err != nil {
				t.Fatal(err)
			}
			permanent := map[netip.Addr]bool{}
			for _, n := range neighs {
				if a, ok := netip.AddrFromSlice(n.IP); ok && n.State == netlink.NUD_PERMANENT {
					permanent[a.Unmap()] = true
				}
			}
			for _, a := range append(append([]netip.Addr{}, p.B4...), p.B6...) {
				if permanent[a] == dynamic {
					t.Errorf("permanent neighbour entry for %s: %v, want %v", a, permanent[a], !dynamic)
				}
			}
			for _, dst := range []netip.Addr{p.B4[1], p.B6[0]} {
				ap := p.EchoUDP(t, netip.AddrPortFrom(dst, 0))
				st, err := p.ProbeUDP(context.Background(), ap, ProbeConfig{Count: 50, Interval: 200 * time.Microsecond})
				if err != nil || st.Lost != 0 {
					t.Errorf("%s: %v, %v", ap, st, err)
				}
			}
		})
	}
}

func TestPairOptions(t *testing.T) {
	p := NewPair(t,
		WithIPv4(netip.MustParsePrefix("192.168.77.0/29")),
		WithIPv6(netip.MustParsePrefix("fd00:77:1::/64")),
		WithLinkNames("left", "right"))
	if p.AIf != "left" || p.BIf != "right" {
		t.Errorf("links %s/%s, want left/right", p.AIf, p.BIf)
	}
	want := "192.168.77.1 [192.168.77.2 192.168.77.3] fd00:77:1::1 [fd00:77:1::2 fd00:77:1::3]"
	if got := fmt.Sprint(p.A4, " ", p.B4, " ", p.A6, " ", p.B6); got != want {
		t.Errorf("addresses %s, want %s", got, want)
	}
	for _, dst := range []netip.Addr{p.B4[1], p.B6[1]} {
		ap := p.EchoUDP(t, netip.AddrPortFrom(dst, 0))
		if st, err := p.ProbeUDP(context.Background(), ap, ProbeConfig{Count: 20}); err != nil || st.Received != 20 {
			t.Errorf("%s: %v, %v", ap, st, err)
		}
	}
}

func TestHosts(t *testing.T) {
	if _, _, err := hosts(netip.MustParsePrefix("10.0.0.0/30")); err == nil {
		t.Error("a /30 has no room for three hosts and a broadcast address, want an error")
	}
	a, b, err := hosts(netip.MustParsePrefix("10.0.0.0/29"))
	if err != nil || a.String() != "10.0.0.1" || fmt.Sprint(b) != "[10.0.0.2 10.0.0.3]" {
		t.Errorf("hosts(/29) = %s %v %v", a, b, err)
	}
}
