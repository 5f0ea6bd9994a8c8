//go:build linux

package vmtest_test

// Tests that run INSIDE the lab (vmtest test ./internal/vmtest): they prove
// that the guest has what the netem engine's tests need, through the same
// netlink libraries the engine uses. Outside the lab they skip.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/florianl/go-tc"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/internal/vmtest"
)

// requireGuest skips t outside the lab guest.
func requireGuest(t *testing.T) {
	t.Helper()
	if os.Getenv(vmtest.InGuestEnv) != "1" {
		t.Skipf("runs only inside the lab (%s=1): go run ./internal/vmtest/cmd/vmtest test ./internal/vmtest", vmtest.InGuestEnv)
	}
	testenv.RequireRoot(t)
}

// newNetNS returns a fresh, unnamed network namespace that disappears when
// the test ends.
func newNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	f, err := testenv.UnshareNetNS()
	testenv.Require(t, testenv.NetNS, err)
	ns := netns.NsHandle(f.Fd())
	t.Cleanup(func() { f.Close() })
	return ns
}

// inNS runs fn on an OS thread switched into ns; sockets created by fn
// stay in ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
		errc <- ferr
	}()
	return <-errc
}

// handle opens a netlink handle in ns. NETLINK_ROUTE only: without a
// family list NewHandleAt also opens NETLINK_XFRM, which fails with
// EPROTONOSUPPORT when xfrm_user is not loaded.
func handle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestGuestEnvironment(t *testing.T) {
	requireGuest(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Errorf("/sys/fs/cgroup is not cgroup2 (statfs type %#x, err %v)", st.Type, err)
	}
	for _, d := range []string{"/run/netns", "/var/run/netns", "/tmp", "/dev/shm"} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s: want a directory, got %v", d, err)
		}
	}
	if err := unix.Statfs("/run", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Errorf("/run is not a tmpfs (type %#x, err %v)", st.Type, err)
	}
	// The tools the netem benchmark compares against, from iproute2 and
	// nftables (not busybox's cut-down applets).
	for _, c := range [][]string{{"tc", "-V"}, {"ip", "-V"}, {"nft", "--version"}, {"iptables", "-V"}} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v: %s", c, err, out)
			continue
		}
		t.Logf("%s", strings.TrimSpace(string(out)))
		if c[0] == "tc" && !strings.Contains(string(out), "iproute2") {
			t.Errorf("tc is not iproute2's: %s", out)
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s", unix.ByteSliceToString(u.Release[:]))
}

// TestGuestTrafficControl creates, through netlink, every kernel object
// the netem engine uses, and reads each back.
func TestGuestTrafficControl(t *testing.T) {
	requireGuest(t)
	ns := newNetNS(t)
	h := handle(t, ns)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	va, err := h.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(va); err != nil {
		t.Fatal(err)
	}
	idx := va.Attrs().Index

	// prio root with all traffic in band 3 (2), netem on band 1 (1:1), and
	// a u32 filter steering one destination into band 1.
	prio := netlink.NewPrio(netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)})
	prio.PriorityMap = [16]uint8{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}
	if err := h.QdiscAdd(prio); err != nil {
		testenv.Require(t, testenv.Prio, fmt.Errorf("add prio qdisc: %w", err))
	}
	nm := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(1, 1), Handle: netlink.MakeHandle(10, 0)},
		netlink.NetemQdiscAttrs{Latency: 50000, Jitter: 10000, Loss: 5})
	if err := h.QdiscAdd(nm); err != nil {
		testenv.Require(t, testenv.Netem, fmt.Errorf("add netem qdisc: %w", err))
	}
	dst := netip.MustParseAddr("10.99.0.2")
	d4 := dst.As4()
	u32 := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(1, 0), Priority: 1, Protocol: unix.ETH_P_IP},
		ClassId:     netlink.MakeHandle(1, 1),
		Sel: &netlink.TcU32Sel{Flags: u32Terminal, Keys: []netlink.TcU32Key{{
			// host order: the library applies htonl itself
			Val: binary.BigEndian.Uint32(d4[:]), Mask: 0xffffffff, Off: 16,
		}}},
	}
	if err := h.FilterAdd(u32); err != nil {
		testenv.Require(t, testenv.U32, fmt.Errorf("add u32 filter: %w", err))
	}

	// cls_flow: hash on the destination over bands 1:1..1:3, the kernel
	// object behind flowsPercent. vishvananda/netlink has no flow type, so
	// this one goes through go-tc.
	f, err := ns2File(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tcnl, err := tc.Open(&tc.Config{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatalf("go-tc: %v", err)
	}
	defer tcnl.Close()
	const flowKeyDst, flowModeHash = 1 << 1, 1 // FLOW_KEY_DST, FLOW_MODE_HASH
	keys, mode, div, base := uint32(flowKeyDst), uint32(flowModeHash), uint32(3), netlink.MakeHandle(1, 1)
	err = tcnl.Filter().Add(&tc.Object{
		Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: uint32(idx), Handle: 1, Parent: netlink.MakeHandle(1, 0),
			Info: 2<<16 | uint32(htons(unix.ETH_P_ALL))},
		Attribute: tc.Attribute{Kind: "flow", Flow: &tc.Flow{Keys: &keys, Mode: &mode, Divisor: &div, BaseClass: &base}},
	})
	if err != nil {
		testenv.Require(t, testenv.Flow, fmt.Errorf("add flow filter: %w", err))
	}

	// ingress: ingress qdisc, u32 match-all with mirred redirect to an ifb,
	// netem on the ifb.
	ifb := &netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: "ifb-lab"}}
	if err := h.LinkAdd(ifb); err != nil {
		testenv.Require(t, testenv.IFB, fmt.Errorf("add ifb link: %w", err))
	}
	ifbl, err := h.LinkByName("ifb-lab")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(ifbl); err != nil {
		t.Fatal(err)
	}
	ingress := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.HANDLE_INGRESS, Handle: netlink.MakeHandle(0xffff, 0)}}
	if err := h.QdiscAdd(ingress); err != nil {
		t.Fatalf("add ingress qdisc: %v", err)
	}
	redirect := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: unix.ETH_P_ALL},
		Sel:         &netlink.TcU32Sel{Flags: u32Terminal, Keys: []netlink.TcU32Key{{}}},
		Actions:     []netlink.Action{netlink.NewMirredAction(ifbl.Attrs().Index)},
	}
	redirect.Actions[0].(*netlink.MirredAction).MirredAction = netlink.TCA_EGRESS_REDIR
	if err := h.FilterAdd(redirect); err != nil {
		t.Fatalf("add u32+mirred redirect: %v", err)
	}
	ifbNetem := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: ifbl.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)},
		netlink.NetemQdiscAttrs{Latency: 20000})
	if err := h.QdiscAdd(ifbNetem); err != nil {
		t.Fatalf("add netem on ifb: %v", err)
	}

	// Read everything back through netlink.
	qs, err := h.QdiscList(nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, q := range qs {
		kinds = append(kinds, fmt.Sprintf("%s@%d", q.Type(), q.Attrs().LinkIndex))
	}
	for _, want := range []string{fmt.Sprintf("prio@%d", idx), fmt.Sprintf("netem@%d", idx), fmt.Sprintf("ingress@%d", idx), fmt.Sprintf("netem@%d", ifbl.Attrs().Index)} {
		if !slices.Contains(kinds, want) {
			t.Errorf("qdisc %s missing; have %v", want, kinds)
		}
	}
	fs, err := h.FilterList(va, netlink.MakeHandle(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var gotU32 bool
	for _, fl := range fs {
		if u, ok := fl.(*netlink.U32); ok && u.Sel != nil && len(u.Sel.Keys) == 1 {
			k := u.Sel.Keys[0]
			gotU32 = k.Val == binary.BigEndian.Uint32(d4[:]) && k.Off == 16 && u.ClassId == netlink.MakeHandle(1, 1)
		}
	}
	if !gotU32 {
		t.Errorf("u32 filter for %s to 1:1 not read back: %+v", dst, fs)
	}
	var gotFlow bool
	for _, fl := range fs {
		if g, ok := fl.(*netlink.GenericFilter); ok && g.Type() == "flow" && g.Attrs().Handle == 1 {
			gotFlow = true
		}
	}
	if !gotFlow {
		t.Errorf("flow filter not read back: %+v", fs)
	}
	ing, err := h.FilterList(va, netlink.MakeHandle(0xffff, 0))
	if err != nil {
		t.Fatal(err)
	}
	var gotMirred bool
	for _, fl := range ing {
		if u, ok := fl.(*netlink.U32); ok {
			for _, a := range u.Actions {
				if m, ok := a.(*netlink.MirredAction); ok && m.Ifindex == ifbl.Attrs().Index && m.MirredAction == netlink.TCA_EGRESS_REDIR {
					gotMirred = true
				}
			}
		}
	}
	if !gotMirred {
		t.Errorf("mirred redirect to %s not read back: %+v", ifbl.Attrs().Name, ing)
	}
	// iproute2 in the guest reads the same objects (what the benchmark
	// compares against).
	var out []byte
	err = inNS(ns, func() error {
		var err error
		out, err = exec.Command("tc", "qdisc", "show", "dev", "va").CombinedOutput()
		return err
	})
	if err != nil || !strings.Contains(string(out), "delay 50ms") {
		t.Errorf("tc qdisc show: %v: %s", err, out)
	}
	err = inNS(ns, func() error {
		var err error
		out, err = exec.Command("tc", "filter", "show", "dev", "va").CombinedOutput()
		return err
	})
	if err != nil || !strings.Contains(string(out), "hash keys dst divisor 3") || !strings.Contains(string(out), "match 0a630002/ffffffff at 16") {
		t.Errorf("tc filter show: %v: %s", err, out)
	}
	testenv.RequireFeature(t, testenv.NFTables)
}

// u32Terminal is TC_U32_TERMINAL (linux/pkt_cls.h).
const u32Terminal = 1

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ns2File reopens ns as an *os.File (go-tc wants a descriptor it may use).
func ns2File(ns netns.NsHandle) (*os.File, error) {
	return os.Open(fmt.Sprintf("/proc/self/fd/%d", int(ns)))
}

// TestGuestNetemDelay measures the round trip over a veth pair between
// two namespaces, with and without netem delay 50ms on one side.
func TestGuestNetemDelay(t *testing.T) {
	requireGuest(t)
	const delay = 50 * time.Millisecond
	const margin = 15 * time.Millisecond // TCG: +1-1.5 ms typical, rare 20 ms spikes
	nsA, nsB := newNetNS(t), newNetNS(t)
	hA, hB := handle(t, nsA), handle(t, nsB)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "va", Namespace: netlink.NsFd(nsA)},
		PeerName:      "vb",
		PeerNamespace: netlink.NsFd(nsB),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	setup := func(h *netlink.Handle, name, cidr string) netlink.Link {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := netlink.ParseAddr(cidr)
		if err := h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	va := setup(hA, "va", "10.99.0.1/24")
	setup(hB, "vb", "10.99.0.2/24")

	var srv *net.UDPConn
	if err := inNS(nsB, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 7777})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], from)
		}
	}()
	var cli *net.UDPConn
	if err := inNS(nsA, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 7777})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	baseline := probe(t, cli, 40)
	nm := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: va.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)},
		netlink.NetemQdiscAttrs{Latency: uint32(delay / time.Microsecond)})
	if err := hA.QdiscAdd(nm); err != nil {
		testenv.Require(t, testenv.Netem, err)
	}
	delayed := probe(t, cli, 40)
	if err := hA.QdiscDel(nm); err != nil {
		t.Fatal(err)
	}
	after := probe(t, cli, 40)
	t.Logf("RTT baseline  %s", baseline)
	t.Logf("RTT netem %v %s", delay, delayed)
	t.Logf("RTT removed   %s", after)
	if delayed.min < delay {
		t.Errorf("with netem delay %v: min RTT %v < %v", delay, delayed.min, delay)
	}
	if delayed.p50 > delay+margin {
		t.Errorf("with netem delay %v: p50 RTT %v > %v + %v", delay, delayed.p50, delay, margin)
	}
	if after.p50 >= delay/2 || baseline.p50 >= delay/2 {
		t.Errorf("without netem the p50 RTT should be far below %v: baseline %v, after removal %v", delay, baseline.p50, after.p50)
	}
}

type rtts struct {
	n, lost            int
	min, p50, p90, max time.Duration
}

func (r rtts) String() string {
	return fmt.Sprintf("n=%d lost=%d min=%v p50=%v p90=%v max=%v", r.n, r.lost,
		r.min.Round(10*time.Microsecond), r.p50.Round(10*time.Microsecond), r.p90.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond))
}

// probe sends n sequential UDP echoes and returns their round-trip times.
func probe(t *testing.T, c *net.UDPConn, n int) rtts {
	t.Helper()
	var ds []time.Duration
	lost := 0
	buf := make([]byte, 64)
	for i := range n {
		msg := []byte(fmt.Sprintf("probe-%d", i))
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(start.Add(time.Second))
		for {
			m, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				lost++
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:m]) == string(msg) {
				ds = append(ds, time.Since(start))
				break
			}
		}
	}
	if len(ds) == 0 {
		t.Fatalf("all %d probes lost", n)
	}
	slices.Sort(ds)
	return rtts{n: n, lost: lost, min: ds[0], p50: ds[len(ds)/2], p90: ds[len(ds)*9/10], max: ds[len(ds)-1]}
}
