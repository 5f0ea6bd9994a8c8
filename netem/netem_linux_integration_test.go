//go:build linux

package netem

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/nettest"
	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/faultkit/faultkit/netem/internal/nft"
	"github.com/vishvananda/netlink"
)

// nftPair returns a veth pair whose namespace A supports the nft engine.
func nftPair(t *testing.T) *nettest.Pair {
	t.Helper()
	return probedPair(t, nft.Probe, testenv.NFTables)
}

// probedPair returns a veth pair whose namespace A passes probe. It skips
// without root, network namespaces, the named features or what probe
// reports missing, and fails instead when FAULTKIT_REQUIRE names it.
func probedPair(t *testing.T, probe func(fault.NetNS) error, features ...string) *nettest.Pair {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.NetNS)
	for _, f := range features {
		testenv.RequireFeature(t, f)
	}
	p := nettest.NewPair(t)
	testenv.RequireUnsupported(t, probe(p.A.NetNS()))
	return p
}

// start injects f with a journal in a temporary state directory and
// reverts it at cleanup (and checks the journal is empty then).
func start(t *testing.T, f fault.Fault) fault.Handle {
	t.Helper()
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir(), NoGuardian: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.Inject(context.Background(), j)
	if err != nil {
		j.Close()
		t.Fatalf("inject %s: %v", f.Name(), err)
	}
	t.Cleanup(func() {
		if err := h.Revert(context.Background()); err != nil {
			t.Errorf("revert %s: %v", f.Name(), err)
		}
		if err := j.Close(); err != nil {
			t.Errorf("journal close: %v", err)
		}
	})
	return h
}

func newBH(t *testing.T, port int, proto string, opts ...Option) *BlackholeFault {
	t.Helper()
	f, err := NewBlackhole(port, proto, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newLoss(t *testing.T, iface string, pct float64, sources string, opts ...Option) *LossFault {
	t.Helper()
	f, err := NewPacketLoss(iface, pct, sources, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func udpCfg(n int) nettest.ProbeConfig {
	// 200 µs apart: back-to-back sends overflow socket buffers even on an
	// unimpaired veth.
	return nettest.ProbeConfig{Count: n, Interval: 200 * time.Microsecond, Timeout: time.Second}
}

func lost(t *testing.T, p *nettest.Pair, dst netip.AddrPort, n int) nettest.ProbeStats {
	t.Helper()
	return probe(t, p, dst, udpCfg(n))
}

func probe(t *testing.T, p *nettest.Pair, dst netip.AddrPort, cfg nettest.ProbeConfig) nettest.ProbeStats {
	t.Helper()
	st, err := p.ProbeUDP(context.Background(), dst, cfg)
	if err != nil {
		t.Fatalf("probe %v: %v", dst, err)
	}
	return st
}

func connect(p *nettest.Pair, dst netip.AddrPort) nettest.Outcome {
	_, err := p.ConnectTCP(context.Background(), dst, 400*time.Millisecond)
	return nettest.Classify(err)
}

func activeNFT(t *testing.T, p *nettest.Pair) []Active {
	t.Helper()
	act, err := Status(context.Background(), WithNetNS(p.A.Path()))
	if err != nil {
		t.Fatal(err)
	}
	return act
}

// TestBlackhole checks that a blackhole drops exactly the chosen port,
// protocol and direction, for IPv4 and IPv6, and nothing else.
func TestBlackhole(t *testing.T) {
	p := nftPair(t)
	const port, other = 8080, 8081
	var tcpB, tcpBOther, udpB, tcpA []netip.AddrPort
	for _, b := range []netip.Addr{p.B4[0], p.B6[0]} {
		tcpB = append(tcpB, p.B.EchoTCP(t, netip.AddrPortFrom(b, port)))
		tcpBOther = append(tcpBOther, p.B.EchoTCP(t, netip.AddrPortFrom(b, other)))
		udpB = append(udpB, p.B.EchoUDP(t, netip.AddrPortFrom(b, port)))
	}
	for _, a := range []netip.Addr{p.A4, p.A6} {
		tcpA = append(tcpA, p.A.EchoTCP(t, netip.AddrPortFrom(a, port)))
	}
	rev := p.Reverse()
	for _, dir := range []Direction{Egress, Ingress} {
		t.Run(dir.String(), func(t *testing.T) {
			f := newBH(t, port, "tcp", WithNetNS(p.A.Path()), WithDirection(dir))
			h := start(t, f)
			for i := range tcpB {
				// A -> B:port is A's egress; B -> A:port is A's ingress.
				out, in := connect(p, tcpB[i]), connect(rev, tcpA[i])
				if dir == Egress && (out == nettest.Connected || in != nettest.Connected) {
					t.Errorf("egress blackhole: A->%v %s, B->%v %s; want blocked, connected", tcpB[i], out, tcpA[i], in)
				}
				if dir == Ingress && (out != nettest.Connected || in == nettest.Connected) {
					t.Errorf("ingress blackhole: A->%v %s, B->%v %s; want connected, dropped", tcpB[i], out, tcpA[i], in)
				}
				if o := connect(p, tcpBOther[i]); o != nettest.Connected {
					t.Errorf("port %d: %s, want connected", other, o)
				}
				if st := lost(t, p, udpB[i], 50); st.Lost != 0 {
					t.Errorf("udp/%d to %v: lost %d/%d, want none (only tcp is blackholed)", port, udpB[i], st.Lost, st.Sent)
				}
			}
			act := activeNFT(t, p)
			if len(act) != 1 || act[0].Fault != NameBlackhole || act[0].Port != port || act[0].Protocol != "tcp" || act[0].Direction != dir {
				t.Errorf("Status = %v", act)
			}
			if err := h.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			if act := activeNFT(t, p); len(act) != 0 {
				t.Errorf("after revert: Status = %v", act)
			}
			if o := connect(p, tcpB[0]); o != nettest.Connected {
				t.Errorf("after revert: %s", o)
			}
		})
	}
}

// TestBlackholeAllowList checks that allowed destinations still get
// through the blackholed port.
func TestBlackholeAllowList(t *testing.T) {
	p := nftPair(t)
	udp := func(a netip.Addr) netip.AddrPort { return p.B.EchoUDP(t, netip.AddrPortFrom(a, 5300)) }
	blocked, allowed, allowed6 := udp(p.B4[0]), udp(p.B4[1]), udp(p.B6[1])
	start(t, newBH(t, 5300, "udp", WithNetNS(p.A.Path()),
		WithAllow(netip.PrefixFrom(p.B4[1], 32), netip.PrefixFrom(p.B6[1], 128))))
	if st := lost(t, p, blocked, 50); st.Received != 0 {
		t.Errorf("%v: %d answered through the blackhole", blocked, st.Received)
	}
	for _, dst := range []netip.AddrPort{allowed, allowed6} {
		if st := lost(t, p, dst, 50); st.Lost != 0 {
			t.Errorf("allowed %v: lost %d/%d", dst, st.Lost, st.Sent)
		}
	}
}

// TestBlackholeConflict: different ports coexist, the same one conflicts.
func TestBlackholeConflict(t *testing.T) {
	p := nftPair(t)
	start(t, newBH(t, 443, "tcp", WithNetNS(p.A.Path())))
	start(t, newBH(t, 444, "tcp", WithNetNS(p.A.Path())))
	start(t, newBH(t, 443, "udp", WithNetNS(p.A.Path())))
	_, err := newBH(t, 443, "tcp", WithNetNS(p.A.Path())).Inject(context.Background(), nil)
	if !errors.Is(err, fault.ErrConflict) || fault.HTTPStatus(err) != 409 {
		t.Fatalf("same port again: %v, want ErrConflict", err)
	}
	if act := activeNFT(t, p); len(act) != 3 {
		t.Fatalf("Status = %v, want 3 blackholes", act)
	}
}

// binomialBound is the tolerance for an observed loss ratio over n
// probes when the true rate is p: 4.5 standard deviations, so a correct
// engine fails about once in 150 000 runs.
func binomialBound(p float64, n int) float64 { return 4.5 * math.Sqrt(p*(1-p)/float64(n)) }

// TestPacketLossRate measures nft loss over 2 000 UDP probes per rate. An
// echo round trip crosses A's egress once (the request; the reply is A's
// ingress), so the observed loss is the configured rate, not 1-(1-p)².
func TestPacketLossRate(t *testing.T) {
	p := nftPair(t)
	dst4 := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7000))
	dst6 := p.B.EchoUDP(t, netip.AddrPortFrom(p.B6[0], 7000))
	for _, tc := range []struct {
		pct float64
		dst netip.AddrPort
	}{{10, dst4}, {50, dst4}, {100, dst4}, {50, dst6}} {
		f := newLoss(t, p.AIf, tc.pct, tc.dst.Addr().String(), WithNetNS(p.A.Path()), WithEngine(EngineNFT))
		h := start(t, f)
		// 1 ms apart: an emulated lab VM loses probes of its own when
		// they come faster.
		st := probe(t, p, tc.dst, nettest.ProbeConfig{Count: 2000, Interval: time.Millisecond, Timeout: time.Second})
		want := tc.pct / 100
		bound := binomialBound(want, st.Sent)
		t.Logf("loss %v%% to %v: %d/%d lost = %.4f (accept ±%.4f)", tc.pct, tc.dst.Addr(), st.Lost, st.Sent, st.LossRatio, bound)
		if math.Abs(st.LossRatio-want) > bound {
			t.Errorf("loss %v%%: observed %.4f, outside %.2f ± %.4f", tc.pct, st.LossRatio, want, bound)
		}
		if tc.pct == 100 && st.Received != 0 {
			t.Errorf("loss 100%%: %d probes answered", st.Received)
		}
		m := h.Status().Metrics
		if len(m) != 1 || m[0].Name != "packets_dropped" || m[0].Value < float64(st.SendErrors) {
			t.Errorf("metrics %v, want packets_dropped >= %d", m, st.SendErrors)
		}
		if err := h.Revert(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPacketLossSourcesAndAllow: only listed destinations lose packets,
// and the allow-list wins over sources.
func TestPacketLossSourcesAndAllow(t *testing.T) {
	p := nftPair(t)
	echo := func(a netip.Addr) netip.AddrPort { return p.B.EchoUDP(t, netip.AddrPortFrom(a, 7001)) }
	b40, b41, b60, b61 := echo(p.B4[0]), echo(p.B4[1]), echo(p.B6[0]), echo(p.B6[1])
	// Sources: B4[0] and all of B's IPv6 /64; allow: B6[1].
	sources := p.B4[0].String() + "," + p.Prefix6.String()
	start(t, newLoss(t, p.AIf, 100, sources, WithNetNS(p.A.Path()), WithEngine(EngineNFT),
		WithAllow(netip.PrefixFrom(p.B6[1], 128))))
	for _, c := range []struct {
		dst  netip.AddrPort
		drop bool
	}{{b40, true}, {b41, false}, {b60, true}, {b61, false}} {
		st := lost(t, p, c.dst, 100)
		if c.drop && st.Received != 0 || !c.drop && st.Lost != 0 {
			t.Errorf("%v: lost %d/%d, want all=%v", c.dst, st.Lost, st.Sent, c.drop)
		}
	}
}

// TestPacketLossFlowsPercent: with flowsPercent 50 and 100 % loss, each
// flow (source port) is either always or never dropped, and about half of
// the flows are.
func TestPacketLossFlowsPercent(t *testing.T) {
	p := nftPair(t)
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7002))
	start(t, newLoss(t, p.AIf, 100, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT), WithFlowsPercent(50)))
	const flows = 200
	impaired := 0
	for i := range flows {
		// A dropped send fails at once (EPERM); a short timeout keeps the
		// dropped flows from waiting a second each.
		cfg := nettest.ProbeConfig{Count: 4, Interval: 200 * time.Microsecond, Timeout: 100 * time.Millisecond}
		cfg.Source = netip.AddrPortFrom(p.A4, uint16(20000+i))
		st, err := p.ProbeUDP(context.Background(), dst, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// An OUTPUT drop refuses the send (EPERM): count the rule's
		// decisions, which a probe lost elsewhere cannot blur.
		switch st.SendErrors {
		case 0:
		case st.Sent:
			impaired++
		default:
			t.Errorf("flow from port %d: %d/%d sends dropped, want all or nothing", 20000+i, st.SendErrors, st.Sent)
		}
	}
	bound := binomialBound(0.5, flows)
	t.Logf("flowsPercent 50: %d/%d flows impaired (accept 0.5 ± %.3f)", impaired, flows, bound)
	if r := float64(impaired) / flows; math.Abs(r-0.5) > bound {
		t.Errorf("impaired flows %.3f, outside 0.5 ± %.3f", r, bound)
	}
}

// TestLossConflict: a second loss fault on the same interface gets
// ErrConflict and the first keeps working.
func TestLossConflict(t *testing.T) {
	p := nftPair(t)
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7003))
	start(t, newLoss(t, p.AIf, 100, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)))
	_, err := newLoss(t, p.AIf, 30, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)).Inject(context.Background(), nil)
	if !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("second loss: %v, want ErrConflict", err)
	}
	if st := lost(t, p, dst, 50); st.Received != 0 {
		t.Errorf("first fault disturbed: %d/%d answered", st.Received, st.Sent)
	}
}

type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// TestRollback: an injection that fails after pinning hosts and creating
// the tables leaves nothing behind: no table, no hosts line, no journal
// entry.
func TestRollback(t *testing.T) {
	p := nftPair(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	orig := "127.0.0.1 localhost\n"
	if err := os.WriteFile(hosts, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: dir, NoGuardian: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, failAt := range []string{"pinned", "applied"} {
		f := newLoss(t, p.AIf, 50, "db.example.com", WithNetNS(p.A.Path()), WithEngine(EngineNFT),
			WithResolver(fakeResolver{"db.example.com": {p.B4[0], p.B6[0]}}), WithHostsPinning(hosts))
		var sawPins, sawTables bool
		f.step = func(name string) error {
			b, _ := os.ReadFile(hosts)
			sawPins = sawPins || strings.Contains(string(b), p.B4[0].String()+" db.example.com")
			act, _ := Status(context.Background(), WithNetNS(p.A.Path()))
			sawTables = sawTables || len(act) > 0
			if name == failAt {
				return errors.New("injected failure at " + name)
			}
			return nil
		}
		_, err := f.Inject(context.Background(), j)
		if err == nil || !strings.Contains(err.Error(), "injected failure at "+failAt) {
			t.Fatalf("fail at %s: Inject = %v", failAt, err)
		}
		if !sawPins || (failAt == "applied") != sawTables {
			t.Fatalf("fail at %s: the steps did not run (pins %v, tables %v)", failAt, sawPins, sawTables)
		}
		if act := activeNFT(t, p); len(act) != 0 {
			t.Errorf("fail at %s: left %v", failAt, act)
		}
		if b, _ := os.ReadFile(hosts); string(b) != orig {
			t.Errorf("fail at %s: hosts file now %q", failAt, b)
		}
	}
	// Every journal entry was released: recovering the journal undoes nothing.
	b, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if adds, rels := strings.Count(string(b), `"t":"add"`), strings.Count(string(b), `"t":"release"`); adds == 0 || adds != rels {
		t.Errorf("journal: %d entries added, %d released", adds, rels)
	}
}

// TestRegistry builds the FIS actions from string parameters.
func TestRegistry(t *testing.T) {
	p := nftPair(t)
	reg, err := fault.NewRegistry(Actions(WithNetNS(p.A.Path())))
	if err != nil {
		t.Fatal(err)
	}
	f, d, err := reg.New(fault.ActionTaskNetworkBlackholePort, map[string]string{
		"duration": "PT1M", "port": "9000", "trafficType": "egress", "installDependencies": "true"})
	if err != nil || d != time.Minute {
		t.Fatalf("New: %v, %v", d, err)
	}
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 9000))
	tcpDst := p.B.EchoTCP(t, netip.AddrPortFrom(p.B4[0], 9000))
	start(t, f)
	if o := connect(p, tcpDst); o == nettest.Connected {
		t.Errorf("tcp/9000 connected through the registry's blackhole (protocol default tcp)")
	}
	if st := lost(t, p, dst, 20); st.Lost != 0 {
		t.Errorf("udp/9000 lost %d", st.Lost)
	}
}

// childEnv tells a re-executed test binary to act as an injecting child;
// hostsEnv names the hosts file it pins in and the address the name
// resolves to ("path,addr").
const (
	childEnv = "FAULTKIT_NETEM_TEST_CHILD"
	hostsEnv = "FAULTKIT_NETEM_TEST_HOSTS"
)

// TestHelperChild is not a test: TestSIGKILL runs the test binary again
// with childEnv set; this function then injects a blackhole and a loss
// fault into the namespace named there, prints READY and waits to be
// killed. In journal mode the loss fault's source is a name, pinned in
// the hosts file named by hostsEnv, so the guardian has a pin to remove.
func TestHelperChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process for TestSIGKILL")
	}
	parts := strings.Split(spec, ",") // netns path, link, journal mode
	if len(parts) != 3 {
		t.Fatalf("%s=%q: want path,link,mode", childEnv, spec)
	}
	nsPath, link, mode := parts[0], parts[1], parts[2]
	var opts []fault.RunOption
	if mode == "nojournal" {
		opts = append(opts, fault.WithoutJournal())
	}
	ctx := context.Background()
	bh, err := NewBlackhole(6000, "tcp", WithNetNS(nsPath))
	if err != nil {
		t.Fatal(err)
	}
	sources, lossOpts := "ALL", []Option{WithNetNS(nsPath), WithEngine(EngineNFT)}
	if hosts, addr, ok := strings.Cut(os.Getenv(hostsEnv), ","); ok {
		sources = "db.example.com"
		lossOpts = append(lossOpts, WithHostsPinning(hosts),
			WithResolver(fakeResolver{"db.example.com": {netip.MustParseAddr(addr)}}))
	}
	loss, err := NewPacketLoss(link, 100, sources, lossOpts...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := fault.Run(ctx, bh, 0, opts...)
		t.Errorf("blackhole ended: %v", err)
	}()
	_, err = fault.During(ctx, loss, func(context.Context) error {
		os.Stdout.WriteString("READY\n")
		for {
			time.Sleep(time.Hour) // until SIGKILL (a bare select{} may trip the deadlock detector)
		}
	}, opts...)
	t.Fatalf("loss ended: %v", err)
}

// startChild re-executes the test binary to run only the helper test
// named, with env added and a fresh state directory, and waits until it
// prints READY (20 s at most). The child is killed at cleanup.
func startChild(t *testing.T, helper string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), "FAULTKIT_STATE_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "READY\n" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child not ready after 20 s")
	}
	return cmd
}

// TestSIGKILL kills a process that holds a blackhole and a loss fault and
// checks that nothing is left within 2 s: through the kernel's owner flag
// alone (no journal), and with the journal's guardian as well.
func TestSIGKILL(t *testing.T) {
	p := nftPair(t)
	for _, mode := range []string{"nojournal", "journal"} {
		t.Run(mode, func(t *testing.T) {
			env := []string{childEnv + "=" + p.A.Path() + "," + p.AIf + "," + mode}
			hosts := filepath.Join(t.TempDir(), "hosts")
			if mode == "journal" {
				if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				env = append(env, hostsEnv+"="+hosts+","+p.B4[0].String())
			}
			cmd := startChild(t, "TestHelperChild", env...)
			if act := activeNFT(t, p); len(act) != 2 {
				t.Fatalf("child's faults: %v, want blackhole and loss", act)
			}
			pinned := func() bool {
				b, _ := os.ReadFile(hosts)
				return strings.Contains(string(b), "db.example.com")
			}
			if mode == "journal" && !pinned() {
				t.Fatal("child did not pin db.example.com in its hosts file")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			_ = cmd.Wait()
			for {
				act := activeNFT(t, p)
				if len(act) == 0 && !pinned() {
					t.Logf("%s: nothing left %v after SIGKILL", mode, time.Since(killed).Round(time.Millisecond))
					break
				}
				if time.Since(killed) > 2*time.Second {
					t.Fatalf("%s: %v still active, hosts pin left: %v, 2 s after SIGKILL", mode, act, pinned())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestInterfaceSelection: DEFAULT follows the default route, ALL takes
// every link but loopback, a missing name is ErrNotFound, and nothing is
// applied when selection fails.
func TestInterfaceSelection(t *testing.T) {
	p := nftPair(t)
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7004))
	ctx := context.Background()
	_, err := newLoss(t, "DEFAULT", 100, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)).Inject(ctx, nil)
	if !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("DEFAULT without a default route: %v, want ErrNotFound", err)
	}
	_, err = newLoss(t, p.AIf+",nosuchlink", 100, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)).Inject(ctx, nil)
	if !errors.Is(err, fault.ErrNotFound) || !strings.Contains(err.Error(), "nosuchlink") {
		t.Fatalf("missing link: %v, want ErrNotFound naming it", err)
	}
	if act := activeNFT(t, p); len(act) != 0 {
		t.Fatalf("failed selections left %v", act)
	}
	h, err := p.A.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(p.AIf)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: p.B4[0].AsSlice()}); err != nil {
		t.Fatalf("add default route: %v", err)
	}
	for _, sel := range []string{"DEFAULT", "ALL"} {
		hd := start(t, newLoss(t, sel, 100, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)))
		act := activeNFT(t, p)
		if len(act) != 1 || act[0].Interface != p.AIf || act[0].Fault != NameLoss {
			t.Errorf("%s: Status = %v, want loss on %s", sel, act, p.AIf)
		}
		if st := lost(t, p, dst, 20); st.Received != 0 {
			t.Errorf("%s: %d/%d answered", sel, st.Received, st.Sent)
		}
		if err := hd.Revert(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProtectedOnly: sources that are only protected endpoints are
// refused unless protection is off; protected endpoints inside wider
// sources stay reachable.
func TestProtectedOnly(t *testing.T) {
	p := nftPair(t)
	ctx := context.Background()
	_, err := newLoss(t, p.AIf, 50, "169.254.169.254,169.254.170.2", WithNetNS(p.A.Path()), WithEngine(EngineNFT)).Inject(ctx, nil)
	if !errors.Is(err, fault.ErrInvalidParameter) || !strings.Contains(err.Error(), "protected") {
		t.Fatalf("protected-only sources: %v", err)
	}
	start(t, newLoss(t, p.AIf, 50, "169.254.169.254", WithNetNS(p.A.Path()), WithEngine(EngineNFT), WithoutProtection()))
}

// TestPacketLossIngress: ingress loss matches the sender: replies from
// the listed source are dropped on arrival, others pass.
func TestPacketLossIngress(t *testing.T) {
	p := nftPair(t)
	hit := p.B.EchoUDP(t, netip.AddrPortFrom(p.B6[0], 7005))
	miss := p.B.EchoUDP(t, netip.AddrPortFrom(p.B6[1], 7005))
	start(t, newLoss(t, p.AIf, 100, p.B6[0].String(), WithNetNS(p.A.Path()), WithEngine(EngineNFT), WithDirection(Ingress)))
	if st := lost(t, p, hit, 50); st.Received != 0 || st.SendErrors != 0 {
		t.Errorf("%v: %d answered, %d sends refused; want replies dropped on arrival", hit, st.Received, st.SendErrors)
	}
	if st := lost(t, p, miss, 50); st.Lost != 0 {
		t.Errorf("%v: lost %d/%d", miss, st.Lost, st.Sent)
	}
	act := activeNFT(t, p)
	if len(act) != 1 || act[0].Direction != Ingress {
		t.Errorf("Status = %v", act)
	}
}
