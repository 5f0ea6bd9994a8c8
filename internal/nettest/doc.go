// Package nettest gives kernel tests real network namespaces: a fresh
// namespace per test, a veth pair between two of them with IPv4 and IPv6
// addresses, echo services bound to specific addresses, and a UDP prober
// that measures loss and round-trip times.
//
//	func TestLatency(t *testing.T) {
//		p := nettest.NewPair(t)                      // skips without root/netns (or fails, see testenv)
//		dst := p.EchoUDP(t, netip.AddrPortFrom(p.B4[0], 0))
//		st, err := p.ProbeUDP(ctx, dst, nettest.ProbeConfig{Count: 200})
//		// inject a fault on p.AIf inside p.A.Path(), probe again, compare st.P50 ...
//	}
//
// Everything a helper creates is removed by t.Cleanup, also when the test
// fails: namespaces are bind-mounted at /run/netns/fk-<random> while the
// test runs, so other processes (a re-executed test binary, the fault
// journal's guardian, `ip netns exec`) can enter them by path.
//
// Sockets are created inside the right namespace on a locked OS thread and
// may then be used from any goroutine; each one is checked to really live
// in the intended namespace (SIOCGSKNS) before it is returned.
package nettest
