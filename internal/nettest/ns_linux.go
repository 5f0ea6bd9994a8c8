package nettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/internal/testenv"
)

// NetNSDir is where NewNS bind-mounts namespaces, the directory `ip netns`
// uses.
const NetNSDir = "/run/netns"

// NamePrefix starts the name of every namespace NewNS creates.
const NamePrefix = "fk-"

// NS is a network namespace that exists for the duration of one test.
type NS struct {
	name string
	path string
	id   fault.NetNS
}

// NewNS creates a fresh network namespace with lo up and bind-mounts it at
// /run/netns/fk-<random>. t.Cleanup unmounts and removes it. When the
// namespace cannot be created (not root, no CONFIG_NET_NS), NewNS skips
// the test, or fails it when FAULTKIT_REQUIRE names "netns" (or "root",
// if the cause is a missing root). Any later error fails the test.
func NewNS(tb testing.TB) *NS {
	tb.Helper()
	f, err := testenv.UnshareNetNS()
	if err != nil && os.Geteuid() != 0 {
		err = fmt.Errorf("needs root (uid %d): %w", os.Geteuid(), err)
		if testenv.Required(testenv.Root) {
			testenv.Require(tb, testenv.Root, err)
		}
	}
	testenv.Require(tb, testenv.NetNS, err)
	defer f.Close()
	n, err := mountNS(f)
	if err != nil {
		tb.Fatalf("nettest: %v", err)
	}
	tb.Cleanup(func() {
		if err := n.remove(); err != nil {
			tb.Errorf("nettest: %v", err)
		}
	})
	if err := n.linkUp("lo"); err != nil {
		tb.Fatalf("nettest: %s: %v", n.name, err)
	}
	return n
}

// mountNS bind-mounts the namespace f under a new random name.
func mountNS(f *os.File) (*NS, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	name := NamePrefix + hex.EncodeToString(rnd[:])
	path := filepath.Join(NetNSDir, name)
	// Another test's cleanup may remove an empty NetNSDir between MkdirAll
	// and creating the file: retry a few times.
	var err error
	for range 5 {
		if err = os.MkdirAll(NetNSDir, 0o755); err != nil {
			return nil, err
		}
		var mp *os.File
		mp, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err == nil {
			mp.Close()
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	src := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("bind-mount netns at %s: %w", path, err)
	}
	id, err := fault.NetNSFromPath(path)
	if err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
		return nil, err
	}
	return &NS{name: name, path: path, id: id}, nil
}

// remove unmounts and deletes the mount point, and NetNSDir when it is left
// empty. The namespace itself disappears when no process, thread, socket
// or open file refers to it any more.
func (n *NS) remove() error {
	var errs []error
	if err := unix.Unmount(n.path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmount %s: %w", n.path, err))
	}
	if err := os.Remove(n.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	os.Remove(NetNSDir) // only succeeds when empty; ip netns recreates it on demand
	return errors.Join(errs...)
}

// Name returns the namespace's name, as `ip netns` lists it (fk-xxxxxxxx).
func (n *NS) Name() string { return n.name }

// Path returns the bind mount, /run/netns/<Name>.
func (n *NS) Path() string { return n.path }

// NetNS returns the namespace's identity for faultkit APIs and journal
// entries (fault.UndoQdisc and friends).
func (n *NS) NetNS() fault.NetNS { return n.id }

// String returns the name.
func (n *NS) String() string { return n.name }

// Open opens the namespace file; the caller closes it.
func (n *NS) Open() (*os.File, error) { return n.id.Open() }

// Do runs fn on a locked OS thread inside the namespace and restores the
// thread afterwards. Sockets created in fn belong to the namespace and may
// be used from any goroutine after Do returns; goroutines fn starts do NOT
// run in the namespace.
func (n *NS) Do(fn func() error) error { return n.id.Do(fn) }

// Netlink returns a rtnetlink handle inside the namespace (NETLINK_ROUTE
// only, so it works on kernels without xfrm). The caller closes it.
func (n *NS) Netlink() (*netlink.Handle, error) {
	f, err := n.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := netlink.NewHandleAt(netns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", n.name, err)
	}
	return h, nil
}

func (n *NS) linkUp(name string) error {
	h, err := n.Netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// Exec runs a command inside the namespace and returns its combined
// output, e.g. n.Exec(ctx, "tc", "-s", "qdisc", "show", "dev", p.AIf). The
// child inherits the namespace from the locked thread that starts it. A
// run that exceeds 30 s is killed unless ctx ends sooner.
func (n *NS) Exec(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []byte
	err := n.Do(func() error {
		var err error
		out, err = exec.CommandContext(ctx, name, args...).CombinedOutput()
		return err
	})
	if err != nil {
		return string(out), fmt.Errorf("%s: %s %v: %w", n.name, name, args, err)
	}
	return string(out), nil
}

// sysctlPath maps "net.ipv6.conf.veth0.accept_dad" (or the slash form
// "net/ipv6/conf/veth0/accept_dad", needed when an interface name holds a
// dot) to its file under /proc/sys.
func sysctlPath(key string) string {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	return filepath.Join("/proc/sys", filepath.Clean("/"+key))
}

// Sysctl reads a sysctl inside the namespace, e.g.
// n.Sysctl("net.ipv4.ip_forward"). Keys under net/ are per namespace;
// others are the host's.
func (n *NS) Sysctl(key string) (string, error) {
	var b []byte
	err := n.Do(func() error {
		var err error
		b, err = os.ReadFile(sysctlPath(key))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: sysctl %s: %w", n.name, key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SetSysctl writes a sysctl inside the namespace.
func (n *NS) SetSysctl(key, value string) error {
	err := n.Do(func() error {
		return os.WriteFile(sysctlPath(key), []byte(value), 0)
	})
	if err != nil {
		return fmt.Errorf("%s: sysctl %s=%s: %w", n.name, key, value, err)
	}
	return nil
}
