//go:build linux

package nettest_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/nettest"
)

// A kernel test builds two namespaces joined by a veth, starts an echo
// server on one of B's addresses and probes it from A. (Compiled, not run:
// it needs root and a *testing.T.)
func ExampleNewPair() {
	_ = func(t *testing.T) {
		p := nettest.NewPair(t) // skipped without root; torn down on cleanup
		dst := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 0))
		other := p.EchoUDP(t, netip.AddrPortFrom(p.B4[1], 0))

		ctx := context.Background()
		before, err := p.ProbeUDP(ctx, dst, nettest.ProbeConfig{Count: 200})
		if err != nil {
			t.Fatal(err)
		}
		// ... inject a fault on p.AIf in namespace p.A.Path() targeting dst ...
		after, _ := p.ProbeUDP(ctx, dst, nettest.ProbeConfig{Count: 200})
		untouched, _ := p.ProbeUDP(ctx, other, nettest.ProbeConfig{Count: 200})
		t.Logf("before %v\nafter %v\nother %v", before, after, untouched)
	}
}

// ConnectTCP tells a refused connection (nothing listens) from a timed-out
// one (packets dropped), which is what a blackhole test asserts.
func ExampleClassify() {
	_ = func(t *testing.T) {
		p := nettest.NewPair(t)
		svc := p.EchoTCP(t, netip.AddrPortFrom(p.B4[0], 0))
		_, err := p.ConnectTCP(context.Background(), svc, 500*time.Millisecond)
		if nettest.Classify(err) != nettest.Connected {
			t.Fatalf("baseline connect: %v", err)
		}
		// ... blackhole svc.Port() ...
		_, err = p.ConnectTCP(context.Background(), svc, 500*time.Millisecond)
		if o := nettest.Classify(err); o != nettest.TimedOut {
			t.Errorf("under blackhole: %s (%v), want timeout", o, err)
		}
	}
}
