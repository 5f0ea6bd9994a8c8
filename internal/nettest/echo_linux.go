package nettest

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// EchoUDP starts a UDP echo server in the namespace, bound to addr (port 0
// picks a free port), and returns the bound address. addr must be a
// specific address: a wildcard-bound UDP server answers a probe sent to a
// secondary address from the primary one, and the prober's connected
// socket drops that reply, which looks exactly like 100 % loss. The server
// stops on test cleanup.
func (n *NS) EchoUDP(tb testing.TB, addr netip.AddrPort) netip.AddrPort {
	tb.Helper()
	if addr.Addr().IsUnspecified() || !addr.Addr().IsValid() {
		tb.Fatalf("nettest: EchoUDP needs a specific address, got %s", addr)
	}
	conn, err := n.ListenUDP(addr)
	if err != nil {
		tb.Fatalf("nettest: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			m, from, err := conn.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue // e.g. a transient ENOBUFS; keep serving
			}
			conn.WriteToUDPAddrPort(buf[:m], from) // a failed reply is a lost probe
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// EchoTCP starts a TCP echo server in the namespace, bound to the specific
// address addr (port 0 picks a free port), and returns the bound address.
// Each connection gets back what it sends. The listener and every open
// connection are closed on test cleanup.
func (n *NS) EchoTCP(tb testing.TB, addr netip.AddrPort) netip.AddrPort {
	tb.Helper()
	if addr.Addr().IsUnspecified() || !addr.Addr().IsValid() {
		tb.Fatalf("nettest: EchoTCP needs a specific address, got %s", addr)
	}
	l, err := n.ListenTCP(addr)
	if err != nil {
		tb.Fatalf("nettest: %v", err)
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(func() {
		mu.Lock()
		closed = true
		l.Close()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).AddrPort()
}
