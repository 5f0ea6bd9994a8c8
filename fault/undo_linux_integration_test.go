//go:build linux

package fault_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"testing"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/testenv"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// newNamedNetNS creates a network namespace bind-mounted at
// /run/netns/<prefix><random>, removed when the test ends.
func newNamedNetNS(t *testing.T, prefix string) (string, netns.NsHandle) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireFeature(t, testenv.NetNS)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	h, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		t.Fatal(serr) // the thread stays locked and dies with the test
	}
	runtime.UnlockOSThread()
	orig.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); _ = netns.DeleteNamed(name) })
	return name, h
}

// namedNS creates a throwaway named network namespace and returns it with
// a netlink handle inside it.
func namedNS(t *testing.T) (fault.NetNS, *netlink.Handle, netns.NsHandle) {
	t.Helper()
	name, h := newNamedNetNS(t, "fk-fault-")
	nl, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	ns, err := fault.NetNSFromPath("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return ns, nl, h
}

func TestUndoQdiscAndLinkInNetNS(t *testing.T) {
	ns, nl, _ := namedNS(t)
	ctx := context.Background()
	ifb := &netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: "fkifb-test"}}
	if err := nl.LinkAdd(ifb); err != nil {
		testenv.Require(t, testenv.IFB, err)
	}
	link, err := nl.LinkByName("fkifb-test")
	if err != nil {
		t.Fatal(err)
	}
	htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(0xfa10, 0), Parent: netlink.HANDLE_ROOT})
	if err := nl.QdiscAdd(htb); err != nil {
		t.Fatalf("add htb: %v", err)
	}
	// Wrong kind: the qdisc is not the one recorded, so undo refuses.
	if err := fault.UndoQdisc(ns, "fkifb-test", netlink.HANDLE_ROOT, 0xfa100000, "prio").Apply(ctx); err == nil {
		t.Error("deleted a qdisc of another kind")
	}
	if qs, _ := nl.QdiscList(link); !hasQdisc(qs, "htb") {
		t.Fatal("htb gone after a refused undo")
	}
	u := fault.UndoQdisc(ns, "fkifb-test", netlink.HANDLE_ROOT, 0xfa100000, "htb")
	if err := u.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if qs, _ := nl.QdiscList(link); hasQdisc(qs, "htb") {
		t.Fatal("htb still there after undo")
	}
	if err := u.Apply(ctx); err != nil {
		t.Fatalf("second apply not idempotent: %v", err)
	}
	// Links: wrong kind refused, right kind deleted, twice is fine.
	if err := fault.UndoLink(ns, "fkifb-test", "veth").Apply(ctx); err == nil {
		t.Error("deleted a link of another kind")
	}
	ul := fault.UndoLink(ns, "fkifb-test", "ifb")
	if err := ul.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nl.LinkByName("fkifb-test"); err == nil {
		t.Fatal("ifb still there")
	}
	if err := ul.Apply(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUndoNFTableInNetNS(t *testing.T) {
	ns, _, h := namedNS(t)
	testenv.RequireFeature(t, testenv.NFTables)
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "faultkit_undo_test"})
	c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "other"})
	if err := c.Flush(); err != nil {
		testenv.Require(t, testenv.NFTables, err)
	}
	u := fault.UndoNFTable(ns, unix.NFPROTO_INET, "faultkit_undo_test")
	if err := u.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := u.Apply(context.Background()); err != nil {
		t.Fatalf("not idempotent: %v", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	if len(names) != 1 || names[0] != "other" {
		t.Fatalf("tables after undo: %v, want only the foreign one", names)
	}
}

// A namespace that is gone takes its objects with it: undo succeeds.
func TestUndoInVanishedNetNS(t *testing.T) {
	testenv.RequireRoot(t)
	gone := fault.NetNS{Path: "/run/netns/fk-never-existed", Dev: 1, Ino: 1}
	if err := fault.UndoQdisc(gone, "eth0", 0xFFFFFFFF, 0xfa100000, "prio").Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gone.Path); !os.IsNotExist(err) {
		t.Fatal("test namespace path unexpectedly exists")
	}
}

func hasQdisc(qs []netlink.Qdisc, kind string) bool {
	for _, q := range qs {
		if q.Type() == kind {
			return true
		}
	}
	return false
}

func TestUndoNetNS(t *testing.T) {
	name, _ := newNamedNetNS(t, "fk-undo-")
	path := "/run/netns/" + name
	if err := fault.UndoNetNS("/run/netns/other").Apply(context.Background()); err == nil {
		t.Error("would remove a namespace not named fk*")
	}
	if err := fault.UndoNetNS("/tmp/" + name).Apply(context.Background()); err == nil {
		t.Error("would remove a file outside /run/netns")
	}
	u := fault.UndoNetNS(path)
	if err := u.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", path, err)
	}
	if err := u.Apply(context.Background()); err != nil {
		t.Fatalf("not idempotent: %v", err)
	}
}
