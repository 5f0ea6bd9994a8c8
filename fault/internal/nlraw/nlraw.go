//go:build linux

// Package nlraw is the minimal netlink client the fault journal needs to
// undo kernel objects (qdiscs, links, nftables tables) from a guardian
// process. It depends on golang.org/x/sys only, so package fault keeps the
// dependency rule of the design (standard library and x/sys).
package nlraw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Conn is a netlink socket of one protocol.
type Conn struct {
	fd  int
	seq uint32
}

// Dial opens a netlink socket of the given protocol (unix.NETLINK_ROUTE,
// unix.NETLINK_NETFILTER) in the calling thread's network namespace.
func Dial(proto int) (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	return &Conn{fd: fd}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Msg is one netlink message: header type and flags plus payload.
type Msg struct {
	Type  uint16
	Flags uint16
	Data  []byte
}

// Execute sends msgs as one write and reads replies until every request
// that asked for an ack was acknowledged, or a dump finished. It returns the
// payloads of the data messages received. An NLMSG_ERROR with a non-zero
// code becomes a syscall.Errno.
func (c *Conn) Execute(msgs ...Msg) ([]Msg, error) {
	var buf []byte
	// what ends each request: an ack (NLMSG_ERROR), the end of a dump, or
	// the first reply
	const (
		waitAck = iota + 1
		waitDone
		waitReply
	)
	pending := map[uint32]int{}
	for _, m := range msgs {
		c.seq++
		h := make([]byte, unix.NLMSG_HDRLEN)
		binary.NativeEndian.PutUint32(h[0:4], uint32(unix.NLMSG_HDRLEN+len(m.Data)))
		binary.NativeEndian.PutUint16(h[4:6], m.Type)
		binary.NativeEndian.PutUint16(h[6:8], m.Flags)
		binary.NativeEndian.PutUint32(h[8:12], c.seq)
		buf = append(buf, h...)
		buf = append(buf, m.Data...)
		buf = append(buf, make([]byte, align(len(m.Data))-len(m.Data))...)
		switch {
		case m.Flags&unix.NLM_F_ACK != 0:
			pending[c.seq] = waitAck
		case m.Flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP:
			pending[c.seq] = waitDone
		case m.Type != nfnlMsgBatchBegin && m.Type != nfnlMsgBatchEnd:
			pending[c.seq] = waitReply
		}
	}
	if err := unix.Sendto(c.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto", err)
	}
	var out []Msg
	var firstErr error
	rb := make([]byte, 1<<16)
	for len(pending) > 0 {
		n, _, err := unix.Recvfrom(c.fd, rb, 0)
		if err != nil {
			return out, os.NewSyscallError("recvfrom", err)
		}
		data := rb[:n]
		for len(data) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(data[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(data) {
				return out, errors.New("nlraw: malformed netlink message")
			}
			typ := binary.NativeEndian.Uint16(data[4:6])
			flags := binary.NativeEndian.Uint16(data[6:8])
			seq := binary.NativeEndian.Uint32(data[8:12])
			body := data[unix.NLMSG_HDRLEN:l]
			switch typ {
			case unix.NLMSG_DONE:
				delete(pending, seq)
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(body[0:4])); code != 0 && firstErr == nil {
						firstErr = syscall.Errno(-code)
					}
				}
				delete(pending, seq)
			default:
				out = append(out, Msg{Type: typ, Flags: flags, Data: append([]byte(nil), body...)})
				if pending[seq] == waitReply && flags&unix.NLM_F_MULTI == 0 {
					delete(pending, seq)
				}
			}
			data = data[align(l):]
		}
	}
	return out, firstErr
}

func align(n int) int { return (n + 3) &^ 3 }

// Attr appends a netlink attribute to b.
func Attr(b []byte, typ uint16, val []byte) []byte {
	h := make([]byte, 4)
	binary.NativeEndian.PutUint16(h[0:2], uint16(4+len(val)))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	b = append(b, h...)
	b = append(b, val...)
	return append(b, make([]byte, align(len(val))-len(val))...)
}

// CString returns s NUL-terminated.
func CString(s string) []byte { return append([]byte(s), 0) }

// Attrs parses a run of attributes into a map of type to value (nested
// flag bits cleared). Later duplicates win.
func Attrs(b []byte) map[uint16][]byte {
	m := map[uint16][]byte{}
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff
		if l < 4 || l > len(b) {
			break
		}
		m[typ] = b[4:l]
		if align(l) > len(b) {
			break
		}
		b = b[align(l):]
	}
	return m
}

// Str returns a NUL-terminated attribute value as a string.
func Str(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Link is what LinkByName reports.
type Link struct {
	Index int32
	Kind  string // IFLA_INFO_KIND, "" for physical devices
}

// LinkByName looks a link up by name in the socket's namespace. A missing
// link gives an error wrapping unix.ENODEV.
func (c *Conn) LinkByName(name string) (Link, error) {
	req := make([]byte, unix.SizeofIfInfomsg)
	req = Attr(req, unix.IFLA_IFNAME, CString(name))
	msgs, err := c.Execute(Msg{Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Data: req})
	if err != nil {
		return Link{}, fmt.Errorf("get link %q: %w", name, err)
	}
	for _, m := range msgs {
		if m.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		l := Link{Index: int32(binary.NativeEndian.Uint32(m.Data[4:8]))}
		attrs := Attrs(m.Data[unix.SizeofIfInfomsg:])
		if li, ok := attrs[unix.IFLA_LINKINFO]; ok {
			l.Kind = Str(Attrs(li)[unix.IFLA_INFO_KIND])
		}
		return l, nil
	}
	return Link{}, fmt.Errorf("get link %q: %w", name, unix.ENODEV)
}

// DelLink deletes the link with the given index.
func (c *Conn) DelLink(index int32) error {
	req := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(req[4:8], uint32(index))
	_, err := c.Execute(Msg{Type: unix.RTM_DELLINK, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Data: req})
	return err
}

// Qdisc is one qdisc as dumped by the kernel.
type Qdisc struct {
	Index  int32
	Handle uint32
	Parent uint32
	Kind   string
}

// sizeofTcMsg is sizeof(struct tcmsg).
const sizeofTcMsg = 20

func tcmsg(index int32, handle, parent uint32) []byte {
	b := make([]byte, sizeofTcMsg)
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	binary.NativeEndian.PutUint32(b[8:12], handle)
	binary.NativeEndian.PutUint32(b[12:16], parent)
	return b
}

// Qdiscs dumps the qdiscs of the link with the given index.
func (c *Conn) Qdiscs(index int32) ([]Qdisc, error) {
	msgs, err := c.Execute(Msg{Type: unix.RTM_GETQDISC, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP,
		Data: tcmsg(index, 0, 0)})
	if err != nil {
		return nil, err
	}
	var out []Qdisc
	for _, m := range msgs {
		if m.Type != unix.RTM_NEWQDISC || len(m.Data) < sizeofTcMsg {
			continue
		}
		q := Qdisc{
			Index:  int32(binary.NativeEndian.Uint32(m.Data[4:8])),
			Handle: binary.NativeEndian.Uint32(m.Data[8:12]),
			Parent: binary.NativeEndian.Uint32(m.Data[12:16]),
			Kind:   Str(Attrs(m.Data[sizeofTcMsg:])[unix.TCA_KIND]),
		}
		if q.Index == index {
			out = append(out, q)
		}
	}
	return out, nil
}

// DelQdisc deletes the qdisc with the given parent and handle.
func (c *Conn) DelQdisc(index int32, parent, handle uint32) error {
	_, err := c.Execute(Msg{Type: unix.RTM_DELQDISC, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK,
		Data: tcmsg(index, handle, parent)})
	return err
}

// nfnetlink constants (linux/netfilter/nfnetlink.h, nf_tables.h).
const (
	nfnlSubsysNFTables = 10
	nfnlMsgBatchBegin  = 0x10
	nfnlMsgBatchEnd    = 0x11
	nftMsgGetTable     = 1
	nftMsgDelTable     = 2
	nftaTableName      = 1
	nftaTableFlags     = 2
)

func nfgen(family uint8, resID uint16) []byte {
	b := []byte{family, 0 /* NFNETLINK_V0 */, 0, 0}
	binary.BigEndian.PutUint16(b[2:4], resID)
	return b
}

// DelTable deletes an nftables table in one batch transaction. A table that
// does not exist gives an error wrapping unix.ENOENT.
func (c *Conn) DelTable(family uint8, name string) error {
	body := Attr(nfgen(family, 0), nftaTableName, CString(name))
	_, err := c.Execute(
		Msg{Type: nfnlMsgBatchBegin, Flags: unix.NLM_F_REQUEST, Data: nfgen(unix.AF_UNSPEC, nfnlSubsysNFTables)},
		Msg{Type: nfnlSubsysNFTables<<8 | nftMsgDelTable, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Data: body},
		Msg{Type: nfnlMsgBatchEnd, Flags: unix.NLM_F_REQUEST, Data: nfgen(unix.AF_UNSPEC, nfnlSubsysNFTables)},
	)
	return err
}

// TableExists reports whether an nftables table exists.
func (c *Conn) TableExists(family uint8, name string) (bool, error) {
	body := Attr(nfgen(family, 0), nftaTableName, CString(name))
	_, err := c.Execute(Msg{Type: nfnlSubsysNFTables<<8 | nftMsgGetTable, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Data: body})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, err
}
