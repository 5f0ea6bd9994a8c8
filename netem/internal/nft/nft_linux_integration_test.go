//go:build linux

package nft

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/nettest"
	"github.com/faultkit/faultkit/internal/testenv"
	"golang.org/x/sys/unix"
)

func kernelPair(t *testing.T) *nettest.Pair {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.NetNS)
	testenv.RequireFeature(t, testenv.NFTables)
	p := nettest.NewPair(t)
	testenv.RequireUnsupported(t, Probe(p.A.NetNS()))
	return p
}

func probeCfg(n int) nettest.ProbeConfig {
	// Back-to-back sends overflow socket buffers even without a fault;
	// 200 µs apart loses nothing on an unimpaired veth.
	return nettest.ProbeConfig{Count: n, Interval: 200 * time.Microsecond, Timeout: time.Second}
}

func mustApply(t *testing.T, c Config) *Applied {
	t.Helper()
	a, err := Apply(context.Background(), nil, c)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", c, err)
	}
	t.Cleanup(func() {
		if err := a.Revert(context.Background()); err != nil {
			t.Errorf("Revert: %v", err)
		}
	})
	return a
}

func tables(t *testing.T, ns fault.NetNS) []Active {
	t.Helper()
	act, err := Status(ns)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return act
}

func TestProbe(t *testing.T) {
	p := kernelPair(t)
	if err := Probe(p.A.NetNS()); err != nil {
		t.Fatal(err)
	}
	if act := tables(t, p.A.NetNS()); len(act) != 0 {
		t.Fatalf("probe left tables: %+v", act)
	}
}

func TestBlackholeEgressUDP(t *testing.T) {
	p := kernelPair(t)
	ctx := context.Background()
	hit := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 5353))
	other := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 5354))
	hit6 := p.EchoUDP(t, netip.AddrPortFrom(p.B6[0], 5353))
	a := mustApply(t, Config{NetNS: p.A.NetNS(), Kind: KindBlackhole, Protocol: unix.IPPROTO_UDP, Port: 5353})
	if !a.Owned() {
		t.Errorf("table not owned on kernel with owner flag")
	}
	for _, dst := range []netip.AddrPort{hit, hit6} {
		st, err := p.ProbeUDP(ctx, dst, probeCfg(50))
		if err != nil {
			t.Fatal(err)
		}
		if st.Received != 0 {
			t.Errorf("%v: %d/%d probes answered through a blackhole", dst, st.Received, st.Sent)
		}
	}
	st, err := p.ProbeUDP(ctx, other, probeCfg(50))
	if err != nil {
		t.Fatal(err)
	}
	if st.Lost != 0 {
		t.Errorf("port 5354: %d/%d lost, want none", st.Lost, st.Sent)
	}
	if n, err := a.Dropped(); err != nil || n < 100 {
		t.Errorf("Dropped() = %d, %v; want >= 100", n, err)
	}
	if err := a.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	if act := tables(t, p.A.NetNS()); len(act) != 0 {
		t.Fatalf("revert left tables: %+v", act)
	}
	st, err = p.ProbeUDP(ctx, hit, probeCfg(50))
	if err != nil || st.Lost != 0 {
		t.Fatalf("after revert: lost %d/%d (%v)", st.Lost, st.Sent, err)
	}
}

func TestBlackholeConflict(t *testing.T) {
	p := kernelPair(t)
	c := Config{NetNS: p.A.NetNS(), Kind: KindBlackhole, Protocol: unix.IPPROTO_TCP, Port: 80}
	mustApply(t, c)
	_, err := Apply(context.Background(), nil, c)
	if !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("second Apply: %v, want ErrConflict", err)
	}
	c.Port = 81
	mustApply(t, c)
	if act := tables(t, p.A.NetNS()); len(act) != 2 {
		t.Fatalf("want 2 blackholes, got %+v", act)
	}
}

func TestLossRate(t *testing.T) {
	p := kernelPair(t)
	dst := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 7000))
	warmUp(t, p, dst)
	for _, pct := range []float64{10, 50, 100} {
		// Sources = the echo server only, so the rule counter sees nothing
		// but the probes (IPv6 neighbour discovery also leaves A).
		a := mustApply(t, Config{NetNS: p.A.NetNS(), Kind: KindLoss, Interfaces: []string{p.AIf}, LossPercent: pct,
			Sources: []netip.Prefix{netip.PrefixFrom(p.B4[0], 32)}})
		// 1 ms apart: an emulated lab VM loses probes of its own faster.
		st, err := p.ProbeUDP(context.Background(), dst, nettest.ProbeConfig{Count: 2000, Interval: time.Millisecond, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		want := pct / 100
		bound := 4.5 * math.Sqrt(want*(1-want)/float64(st.Sent))
		t.Logf("loss %v%%: lost %d/%d = %.4f (bound ±%.4f; late %d, send errors %d)", pct, st.Lost, st.Sent, st.LossRatio, bound, st.Late, st.SendErrors)
		if math.Abs(st.LossRatio-want) > bound {
			t.Errorf("loss %v%%: observed %.4f outside %.4f±%.4f", pct, st.LossRatio, want, bound)
		}
		// An OUTPUT drop makes sendto fail with EPERM: the rule's counter
		// must match those refusals one for one.
		if d, err := a.Dropped(); err != nil || d != uint64(st.SendErrors) {
			t.Errorf("loss %v%%: rule counter %d (%v), sends refused %d", pct, d, err, st.SendErrors)
		}
		if err := a.Revert(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// warmUp resolves the neighbour before a measurement: while ARP/ND is
// unresolved the kernel queues only a few packets and drops the rest.
func warmUp(t *testing.T, p *nettest.Pair, dst netip.AddrPort) {
	t.Helper()
	st, err := p.ProbeUDP(context.Background(), dst, nettest.ProbeConfig{Count: 20})
	if err != nil || st.Lost != 0 {
		t.Fatalf("warm-up to %v: lost %d/%d (%v)", dst, st.Lost, st.Sent, err)
	}
}
