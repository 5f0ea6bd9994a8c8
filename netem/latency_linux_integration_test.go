//go:build linux

package netem

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/nettest"
	"github.com/faultkit/faultkit/netem/internal/tc"
	"github.com/vishvananda/netlink"
)

// These tests need sch_netem (and prio, u32, flow, ifb, mirred): they skip
// where the kernel lacks them and fail instead when FAULTKIT_REQUIRE names
// the missing feature (the kernel lab sets netem).

func tcPair(t *testing.T) *nettest.Pair {
	t.Helper()
	return probedPair(t, tc.Probe)
}

func rtt(t *testing.T, p *nettest.Pair, dst netip.AddrPort, n int) nettest.ProbeStats {
	t.Helper()
	st, err := p.ProbeUDP(context.Background(), dst, nettest.ProbeConfig{Count: n, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Received < n*9/10 {
		t.Fatalf("%v: only %d/%d answered", dst, st.Received, st.Sent)
	}
	return st
}

func newLat(t *testing.T, iface string, d, j time.Duration, sources string, opts ...Option) *LatencyFault {
	t.Helper()
	f, err := NewLatency(iface, d, j, sources, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLatencyRTT: the round trip grows by the configured delay within
// ±2 ms, for IPv4 and IPv6, egress and ingress (ifb), and only towards the
// listed sources. With no jitter netem holds every packet exactly the
// delay, so the increase is measured on the minimum RTT, which scheduling
// noise (an emulated lab VM has plenty) can only inflate; the median is
// logged too.
func TestLatencyRTT(t *testing.T) {
	p := tcPair(t)
	hit4 := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7100))
	hit6 := p.B.EchoUDP(t, netip.AddrPortFrom(p.B6[0], 7100))
	miss := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[1], 7100))
	base := map[netip.AddrPort]nettest.ProbeStats{}
	for _, dst := range []netip.AddrPort{hit4, hit6, miss} {
		base[dst] = rtt(t, p, dst, 60)
	}
	for _, tcase := range []struct {
		delay time.Duration
		dir   Direction
	}{{50 * time.Millisecond, Egress}, {100 * time.Millisecond, Egress}, {50 * time.Millisecond, Ingress}} {
		t.Run(tcase.dir.String()+"-"+tcase.delay.String(), func(t *testing.T) {
			sources := p.B4[0].String() + "," + p.B6[0].String()
			h := start(t, newLat(t, p.AIf, tcase.delay, 0, sources, WithNetNS(p.A.Path()), WithDirection(tcase.dir)))
			for _, dst := range []netip.AddrPort{hit4, hit6} {
				st := rtt(t, p, dst, 60)
				got := st.Min - base[dst].Min
				t.Logf("%s %v to %v: min RTT +%v, median +%v", tcase.dir, tcase.delay, dst.Addr(), got, st.P50-base[dst].P50)
				if d := got - tcase.delay; d < -2*time.Millisecond || d > 2*time.Millisecond {
					t.Errorf("%v: RTT increase %v, want %v ± 2ms", dst, got, tcase.delay)
				}
			}
			if st := rtt(t, p, miss, 40); st.Min > base[miss].Min+tcase.delay/2 {
				t.Errorf("unlisted %v delayed: min RTT %v (baseline %v)", miss, st.Min, base[miss].Min)
			}
			act, err := Status(context.Background(), WithNetNS(p.A.Path()), WithInterfaces(p.AIf))
			if err != nil || len(act) != 1 || act[0].Fault != NameLatency || act[0].Direction != tcase.dir {
				t.Errorf("Status = %v, %v", act, err)
			}
			if err := h.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := rtt(t, p, hit4, 40); st.Min > base[hit4].Min+tcase.delay/2 {
				t.Errorf("after revert: min RTT %v (baseline %v)", st.Min, base[hit4].Min)
			}
		})
	}
}

// TestLatencyJitter: jitter spreads the round trips.
func TestLatencyJitter(t *testing.T) {
	p := tcPair(t)
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7101))
	start(t, newLat(t, p.AIf, 50*time.Millisecond, 20*time.Millisecond, "ALL", WithNetNS(p.A.Path())))
	st := rtt(t, p, dst, 150)
	t.Logf("50ms ± 20ms: min %v p50 %v max %v stddev %v", st.Min, st.P50, st.Max, st.StdDev)
	if st.StdDev < 5*time.Millisecond || st.Max-st.Min < 20*time.Millisecond {
		t.Errorf("jitter not visible: stddev %v, spread %v", st.StdDev, st.Max-st.Min)
	}
	// netem never delays less than delay - jitter (noise only adds).
	if st.Min < 28*time.Millisecond {
		t.Errorf("RTT %v below 50ms - 20ms", st.Min)
	}
}

// TestLatencyConflict: a second latency or loss fault on the interface is
// refused, from either engine, and the first stays.
func TestLatencyConflict(t *testing.T) {
	p := tcPair(t)
	start(t, newLat(t, p.AIf, 10*time.Millisecond, 0, "ALL", WithNetNS(p.A.Path())))
	for _, f := range []fault.Fault{
		newLat(t, p.AIf, 20*time.Millisecond, 0, "ALL", WithNetNS(p.A.Path())),
		newLoss(t, p.AIf, 10, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineTC)),
		newLoss(t, p.AIf, 10, "ALL", WithNetNS(p.A.Path()), WithEngine(EngineNFT)),
	} {
		if _, err := f.Inject(context.Background(), nil); fault.HTTPStatus(err) != 409 {
			t.Errorf("%s over latency: %v, want ErrConflict", f.Name(), err)
		}
	}
	// And the other way round: latency over nftables loss.
	q := tcPair(t)
	start(t, newLoss(t, q.AIf, 10, "ALL", WithNetNS(q.A.Path()), WithEngine(EngineNFT)))
	if _, err := newLat(t, q.AIf, 10*time.Millisecond, 0, "ALL", WithNetNS(q.A.Path())).Inject(context.Background(), nil); fault.HTTPStatus(err) != 409 {
		t.Errorf("latency over nft loss: %v, want ErrConflict", err)
	}
}

// TestPacketLossTC: the tc engine's loss rate is inside the binomial bound
// and Auto picks tc where sch_netem exists.
func TestPacketLossTC(t *testing.T) {
	p := tcPair(t)
	dst := p.B.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7102))
	h := start(t, newLoss(t, p.AIf, 30, dst.Addr().String(), WithNetNS(p.A.Path())))
	act, err := Status(context.Background(), WithNetNS(p.A.Path()), WithInterfaces(p.AIf))
	if err != nil || len(act) != 1 || act[0].Engine != EngineTC || act[0].Fault != NameLoss {
		t.Fatalf("Status = %v, %v; want a tc loss fault", act, err)
	}
	st := lost(t, p, dst, 2000)
	bound := binomialBound(0.3, st.Sent)
	t.Logf("tc loss 30%%: %d/%d = %.4f (accept ±%.4f)", st.Lost, st.Sent, st.LossRatio, bound)
	if math.Abs(st.LossRatio-0.3) > bound {
		t.Errorf("observed %.4f, outside 0.3 ± %.4f", st.LossRatio, bound)
	}
	if err := h.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestHelperLatencyChild is not a test: TestLatencySIGKILL runs the test
// binary again with childEnv set to inject latency and wait to be killed.
func TestHelperLatencyChild(t *testing.T) {
	spec := os.Getenv(childEnv + "_LATENCY")
	if spec == "" {
		t.Skip("helper process for TestLatencySIGKILL")
	}
	nsPath, link, _ := strings.Cut(spec, ",")
	f, err := NewLatency(link, 30*time.Millisecond, 0, "ALL", WithNetNS(nsPath))
	if err != nil {
		t.Fatal(err)
	}
	_, err = fault.During(context.Background(), f, func(context.Context) error {
		os.Stdout.WriteString("READY\n")
		for {
			time.Sleep(time.Hour) // until SIGKILL (a bare select{} may trip the deadlock detector)
		}
	})
	t.Fatalf("latency ended: %v", err)
}

// TestLatencySIGKILL: the journal's guardian removes the qdiscs of a
// SIGKILLed injector within 2 s.
func TestLatencySIGKILL(t *testing.T) {
	p := tcPair(t)
	cmd := startChild(t, "TestHelperLatencyChild", childEnv+"_LATENCY="+p.A.Path()+","+p.AIf)
	status := func() []Active {
		act, err := Status(context.Background(), WithNetNS(p.A.Path()), WithInterfaces(p.AIf))
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	if act := status(); len(act) != 1 {
		t.Fatalf("child's fault: %v", act)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = cmd.Wait()
	for len(status()) != 0 {
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("%v still active 2 s after SIGKILL", status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("nothing left %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
}

// TestLatencyRollback: a latency injection on two interfaces that fails
// after both trees exist removes both.
func TestLatencyRollback(t *testing.T) {
	p := tcPair(t)
	// A second link in A: a veth pair inside A itself.
	h, err := p.A.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fkrb0"}, PeerName: "fkrb1"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	defer h.LinkDel(veth)
	if err := h.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	f := newLat(t, p.AIf+",fkrb0", 20*time.Millisecond, 0, "ALL", WithNetNS(p.A.Path()))
	var seen int
	f.step = func(name string) error {
		if name != "applied" {
			return nil
		}
		act, err := Status(context.Background(), WithNetNS(p.A.Path()))
		if err != nil {
			return err
		}
		seen = len(act)
		return errors.New("injected failure after apply")
	}
	if _, err := f.Inject(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Inject = %v", err)
	}
	if seen != 2 {
		t.Fatalf("before the failure %d trees were active, want 2", seen)
	}
	act, err := Status(context.Background(), WithNetNS(p.A.Path()))
	if err != nil || len(act) != 0 {
		t.Fatalf("after rollback: %v, %v", act, err)
	}
}
