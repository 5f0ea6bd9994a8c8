//go:build linux

package tc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	gotc "github.com/florianl/go-tc"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
)

// nlConn is the real conn: two rtnetlink sockets created inside the
// target namespace (a socket stays in the namespace it was created in, so
// they can be used from any thread afterwards).
type nlConn struct {
	tc  *gotc.Tc
	nl  *vnl.Handle
	raw *netlink.Conn
}

func dialNetlink(ns fault.NetNS) (conn, error) {
	c := &nlConn{}
	err := ns.Do(func() error {
		t, err := gotc.Open(&gotc.Config{})
		if err != nil {
			return fmt.Errorf("open rtnetlink (tc): %w", err)
		}
		// Extended acks put the kernel's reason ("Specified qdisc kind is
		// unknown.") into errors.
		_ = t.SetOption(netlink.ExtendedAcknowledge, true)
		h, err := vnl.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			t.Close()
			return fmt.Errorf("open rtnetlink (link): %w", err)
		}
		raw, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
		if err != nil {
			t.Close()
			h.Close()
			return fmt.Errorf("open rtnetlink (dump): %w", err)
		}
		c.tc, c.nl, c.raw = t, h, raw
		return nil
	})
	if err != nil {
		return nil, fault.Permission(err)
	}
	return c, nil
}

func (c *nlConn) linkByName(name string) (uint32, string, error) {
	l, err := c.nl.LinkByName(name)
	if err != nil {
		var nf vnl.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return 0, "", fmt.Errorf("link %q: %w", name, fault.ErrNotFound)
		}
		return 0, "", fault.Permission(err)
	}
	return uint32(l.Attrs().Index), l.Type(), nil
}

func (c *nlConn) addIfb(name string) (uint32, error) {
	la := vnl.NewLinkAttrs()
	la.Name = name
	la.Flags = net.FlagUp
	ifb := &vnl.Ifb{LinkAttrs: la}
	if err := c.nl.LinkAdd(ifb); err != nil {
		return 0, fault.Permission(err)
	}
	l, err := c.nl.LinkByName(name)
	if err != nil {
		return 0, err
	}
	// LinkAdd asks for IFF_UP already; set it again for kernels that
	// ignore ifi_flags on creation.
	if err := c.nl.LinkSetUp(l); err != nil {
		return 0, fault.Permission(err)
	}
	return uint32(l.Attrs().Index), nil
}

func (c *nlConn) delLink(name, kind string) error {
	l, err := c.nl.LinkByName(name)
	if err != nil {
		var nf vnl.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fault.Permission(err)
	}
	if l.Type() != kind {
		return fmt.Errorf("refusing to delete link %s: kind %q, faultkit made %q", name, l.Type(), kind)
	}
	if err := c.nl.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fault.Permission(err)
	}
	return nil
}

// qdiscs dumps the qdiscs of one link. It decodes only what the engine
// reads (kind, handles, counters, netem's delay and loss) and ignores
// everything else, so a foreign qdisc with options go-tc cannot parse
// does not break Status or a conflict check.
func (c *nlConn) qdiscs(ifindex uint32) ([]gotc.Object, error) {
	return c.dump(unix.RTM_GETQDISC, unix.RTM_NEWQDISC, ifindex, 0, decodeQdisc)
}

// filters dumps the filters under parent, decoding only u32 class ids and
// mirred actions (go-tc's own decoder rejects the kernel's u32 TCA_U32_PCNT
// struct on kernels with CONFIG_CLS_U32_PERF).
func (c *nlConn) filters(ifindex, parent uint32) ([]gotc.Object, error) {
	return c.dump(unix.RTM_GETTFILTER, unix.RTM_NEWTFILTER, ifindex, parent, decodeFilter)
}

// dump sends a get request of type req for the objects of one link
// (under parent, when not 0) and returns the replies of type resp on that
// link: the tcmsg header read here, the attributes by decode.
func (c *nlConn) dump(req, resp netlink.HeaderType, ifindex, parent uint32, decode func([]byte, *gotc.Object)) ([]gotc.Object, error) {
	tcm := make([]byte, sizeofTcMsg)
	binary.NativeEndian.PutUint32(tcm[4:8], ifindex)
	binary.NativeEndian.PutUint32(tcm[12:16], parent)
	msgs, err := c.raw.Execute(netlink.Message{
		Header: netlink.Header{Type: req, Flags: netlink.Request | netlink.Dump},
		Data:   tcm,
	})
	if err != nil {
		return nil, fault.Permission(err)
	}
	var out []gotc.Object
	for _, m := range msgs {
		if m.Header.Type != resp || len(m.Data) < sizeofTcMsg {
			continue
		}
		o := gotc.Object{Msg: gotc.Msg{
			Family:  uint32(m.Data[0]),
			Ifindex: binary.NativeEndian.Uint32(m.Data[4:8]),
			Handle:  binary.NativeEndian.Uint32(m.Data[8:12]),
			Parent:  binary.NativeEndian.Uint32(m.Data[12:16]),
			Info:    binary.NativeEndian.Uint32(m.Data[16:20]),
		}}
		if o.Ifindex != ifindex {
			continue
		}
		decode(m.Data[sizeofTcMsg:], &o)
		out = append(out, o)
	}
	return out, nil
}

func (c *nlConn) addQdisc(o *gotc.Object) error  { return fault.Permission(c.tc.Qdisc().Add(o)) }
func (c *nlConn) delQdisc(o *gotc.Object) error  { return fault.Permission(c.tc.Qdisc().Delete(o)) }
func (c *nlConn) addFilter(o *gotc.Object) error { return fault.Permission(c.tc.Filter().Add(o)) }

func (c *nlConn) close() error {
	c.nl.Close()
	c.raw.Close()
	return c.tc.Close()
}
