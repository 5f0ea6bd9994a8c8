package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSocketNS is a net.Dialer/ListenConfig Control function that fails
// unless the new socket lives in n. It asks the kernel (SIOCGSKNS) rather
// than trusting the thread the socket was created on; kernels without the
// ioctl (before 4.9) or without the privilege skip the check.
func (n *NS) checkSocketNS(network, address string, c syscall.RawConn) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		nsfd, ioErr := unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
		if ioErr != nil {
			if !errors.Is(ioErr, unix.ENOTTY) && !errors.Is(ioErr, unix.EINVAL) && !errors.Is(ioErr, unix.EPERM) {
				err = fmt.Errorf("SIOCGSKNS: %w", ioErr)
			}
			return
		}
		defer unix.Close(nsfd)
		var st unix.Stat_t
		if err = unix.Fstat(nsfd, &st); err != nil {
			return
		}
		if st.Dev != n.id.Dev || st.Ino != n.id.Ino {
			err = fmt.Errorf("nettest: %s socket for %s created in netns [%d:%d], want %s", network, address, st.Dev, st.Ino, n.id)
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// network returns "udp4"/"udp6" (or tcp) for the family of a.
func network(proto string, a netip.Addr) string {
	if a.Unmap().Is4() {
		return proto + "4"
	}
	return proto + "6"
}

// ListenUDP opens a UDP socket in the namespace bound to addr (port 0
// picks a free port). Bind a specific address, not the wildcard: a
// wildcard-bound server answers from the primary address, and a connected
// client drops such replies.
func (n *NS) ListenUDP(addr netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: n.checkSocketNS}
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		pc, err = lc.ListenPacket(context.Background(), network("udp", addr.Addr()), addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: listen udp %s: %w", n.name, addr, err)
	}
	return pc.(*net.UDPConn), nil
}

// DialUDP opens a UDP socket in the namespace connected to remote, bound to
// local when local is valid (its port may be 0).
func (n *NS) DialUDP(local, remote netip.AddrPort) (*net.UDPConn, error) {
	c, err := n.dial(context.Background(), "udp", local, remote)
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// ListenTCP opens a TCP listener in the namespace bound to addr.
func (n *NS) ListenTCP(addr netip.AddrPort) (*net.TCPListener, error) {
	lc := net.ListenConfig{Control: n.checkSocketNS}
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = lc.Listen(context.Background(), network("tcp", addr.Addr()), addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: listen tcp %s: %w", n.name, addr, err)
	}
	return l.(*net.TCPListener), nil
}

// DialTCP connects from the namespace to remote, from local when local is
// valid. ctx bounds the connect.
func (n *NS) DialTCP(ctx context.Context, local, remote netip.AddrPort) (*net.TCPConn, error) {
	c, err := n.dial(ctx, "tcp", local, remote)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

func (n *NS) dial(ctx context.Context, proto string, local, remote netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: n.checkSocketNS}
	if local.IsValid() {
		if proto == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(local)
		} else {
			d.LocalAddr = net.TCPAddrFromAddrPort(local)
		}
	}
	var c net.Conn
	// A literal address makes the dialer connect serially on this goroutine,
	// so the socket is created on Do's thread (checkSocketNS verifies it).
	err := n.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, network(proto, remote.Addr()), remote.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s %s: %w", n.name, proto, remote, err)
	}
	return c, nil
}
