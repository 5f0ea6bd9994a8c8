//go:build linux

package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/faultkit/faultkit/fault"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// transport sends one nf_tables batch: one kernel transaction.
type transport interface {
	// exec sends msgs between a batch begin and a batch end and waits for
	// the kernel's answer to every message that asked for one.
	exec(msgs []netlink.Message) error
	close() error
}

// batchError is the kernel's refusal of one message of a batch.
type batchError struct {
	Index int // position in the batch (-1: the batch as a whole)
	Type  netlink.HeaderType
	Errno unix.Errno
}

func (e *batchError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("nf_tables batch: %v", e.Errno)
	}
	return fmt.Sprintf("nf_tables %s (message %d): %v", msgName(e.Type), e.Index, e.Errno)
}

func (e *batchError) Unwrap() error { return e.Errno }

// sock is a lasting NETLINK_NETFILTER socket opened in a network
// namespace. Tables created with the owner flag through it belong to it: the
// kernel deletes them when it is closed, by us or by the death of the
// process.
type sock struct {
	mu  sync.Mutex
	fd  int
	seq uint32
}

func dialSock(ns fault.NetNS) (*sock, error) {
	fd := -1
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return os.NewSyscallError("socket", err)
		}
		return nil
	})
	if err != nil {
		return nil, fault.Permission(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	// A kernel that never answers must not hang a revert forever.
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	// Extended acks make the kernel name the offending attribute; older
	// kernels without it still work.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	return &sock{fd: fd, seq: 1}, nil
}

func (s *sock) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

func (s *sock) exec(msgs []netlink.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return errors.New("nf_tables socket is closed")
	}
	b := batch(msgs)
	first := s.seq
	var buf []byte
	want := 0
	for i := range b {
		b[i].Header.Sequence = first + uint32(i)
		b[i].Header.PID = 0
		b[i].Header.Length = uint32(16 + len(b[i].Data))
		if b[i].Header.Flags&netlink.Acknowledge != 0 {
			want++
		}
		mb, err := b[i].MarshalBinary()
		if err != nil {
			return err
		}
		buf = append(buf, mb...)
	}
	s.seq += uint32(len(b))
	if err := unix.Sendto(s.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fault.Permission(os.NewSyscallError("sendto", err))
	}
	var errs []error
	rb := make([]byte, 1<<16)
	for got := 0; got < want; {
		n, _, err := unix.Recvfrom(s.fd, rb, 0)
		if err != nil {
			return errors.Join(append(errs, os.NewSyscallError("recvfrom", err))...)
		}
		for _, m := range parseMessages(rb[:n]) {
			if m.Header.Type != netlink.Error || m.Header.Sequence < first || m.Header.Sequence >= first+uint32(len(b)) {
				continue // not an answer to this batch
			}
			idx := int(m.Header.Sequence - first)
			errno := unix.Errno(0)
			if len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code < 0 {
					errno = unix.Errno(-code)
				}
			}
			if idx == 0 || idx == len(b)-1 {
				// The kernel refused the batch itself (no CAP_NET_ADMIN,
				// no nf_tables, out of memory): nothing else will come.
				if errno == 0 {
					continue
				}
				return fault.Permission(&batchError{Index: -1, Errno: errno})
			}
			got++
			if errno != 0 {
				errs = append(errs, &batchError{Index: idx - 1, Type: b[idx].Header.Type, Errno: errno})
			}
		}
	}
	return fault.Permission(errors.Join(errs...))
}

// parseMessages splits a datagram into netlink messages.
func parseMessages(b []byte) []netlink.Message {
	var out []netlink.Message
	for len(b) >= 16 {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < 16 || l > len(b) {
			break
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:l]); err == nil {
			out = append(out, m)
		}
		b = b[min(len(b), (l+3)&^3):]
	}
	return out
}

func nfgenHeader(family uint8, resID uint16) []byte {
	return []byte{family, unix.NFNETLINK_V0, byte(resID >> 8), byte(resID)}
}

// batch wraps msgs in a batch begin and a batch end message.
func batch(msgs []netlink.Message) []netlink.Message {
	out := make([]netlink.Message, 0, len(msgs)+2)
	out = append(out, netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
		Data:   nfgenHeader(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES),
	})
	for _, m := range msgs {
		m.Data = append([]byte(nil), m.Data...)
		out = append(out, m)
	}
	out = append(out, netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request},
		Data:   nfgenHeader(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES),
	})
	return out
}
