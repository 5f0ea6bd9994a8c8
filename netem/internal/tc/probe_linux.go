//go:build linux

package tc

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"

	gotc "github.com/florianl/go-tc"
	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
)

// Probe reports whether the kernel can carry every object the engine
// creates, by creating each one on a throwaway device and deleting it again:
// nil, or an error from fault.Unsupported naming the first missing piece
// ("sch_prio", "sch_netem", "cls_u32", "cls_flow", "ifb", "sch_ingress",
// "act_mirred"). It never reads the kernel version.
//
// The probe runs in a scratch network namespace (on its lo device) that
// dies with the probe, so nothing of the caller's is touched. When a
// scratch namespace cannot be created (no CAP_SYS_ADMIN), it runs in ns on
// a throwaway ifb device named fkprobe<pid> instead; without ifb support it
// then reports "ifb". Missing privileges give an error wrapping
// fault.ErrPermission, not ErrUnsupported.
func Probe(ns fault.NetNS) error {
	err := inScratchNetNS(func() error { return probeOn(fault.NetNS{}, "lo", false) })
	if errors.Is(err, errNoScratch) {
		return probeOn(ns, fmt.Sprintf("fkprobe%d", os.Getpid()%100000), true)
	}
	return err
}

var errNoScratch = errors.New("cannot create a scratch network namespace")

// inScratchNetNS runs fn on an OS thread moved into a new network
// namespace. The thread is never unlocked, so the Go runtime discards it
// afterwards and the namespace disappears with it.
func inScratchNetNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("%w: %w", errNoScratch, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func probeOn(ns fault.NetNS, dev string, throwaway bool) (err error) {
	cn, err := dialNetlink(ns)
	if err != nil {
		return fmt.Errorf("tc: probe: %w", err)
	}
	defer cn.close()
	fail := func(feature string, err error) error {
		if errors.Is(err, fault.ErrPermission) {
			return fmt.Errorf("tc: probe %s: %w", feature, err)
		}
		return fault.Unsupported(feature, err)
	}
	var idx uint32
	if throwaway {
		if idx, err = cn.addIfb(dev); err != nil {
			return fail("ifb", err)
		}
		defer func() {
			if derr := cn.delLink(dev, "ifb"); derr != nil && err == nil {
				err = fmt.Errorf("tc: probe: remove %s: %w", dev, derr)
			}
		}()
	} else if idx, _, err = cn.linkByName(dev); err != nil {
		return fmt.Errorf("tc: probe: %w", err)
	}
	root := prioQdisc(idx, gotc.HandleRoot, RootHandle, rootBands, 2)
	if err := cn.addQdisc(root); err != nil {
		return fail("sch_prio", err)
	}
	defer func() {
		if derr := cn.delQdisc(root); derr != nil && err == nil {
			err = fmt.Errorf("tc: probe: remove root qdisc: %w", derr)
		}
	}()
	steps := []struct {
		feature string
		add     func() error
	}{
		{"sch_netem", func() error {
			return cn.addQdisc(netemQdisc(idx, handle(MajorRoot, 1), handle(MajorNetem, 0), Config{Delay: time.Millisecond}, nil))
		}},
		{"cls_u32", func() error {
			return cn.addFilter(u32Filter(idx, RootHandle, prioAllow, netip.MustParsePrefix("192.0.2.0/24"), matchDst, handle(MajorRoot, 3)))
		}},
		{"cls_flow", func() error { return cn.addFilter(flowFilter(idx, MajorRoot, 1)) }},
	}
	for _, s := range steps {
		if err := s.add(); err != nil {
			return fail(s.feature, err)
		}
	}
	if throwaway {
		// The ifb device works (it is the probe device); skip the second one.
		return probeIngress(cn, idx, idx, fail)
	}
	ifb := "fkprobe0"
	ifbIdx, err := cn.addIfb(ifb)
	if err != nil {
		return fail("ifb", err)
	}
	defer func() {
		if derr := cn.delLink(ifb, "ifb"); derr != nil && err == nil {
			err = fmt.Errorf("tc: probe: remove %s: %w", ifb, derr)
		}
	}()
	return probeIngress(cn, idx, ifbIdx, fail)
}

func probeIngress(cn conn, idx, ifbIdx uint32, fail func(string, error) error) (err error) {
	iq := ingressQdisc(idx)
	if err := cn.addQdisc(iq); err != nil {
		return fail("sch_ingress", err)
	}
	defer func() {
		if derr := cn.delQdisc(iq); derr != nil && err == nil {
			err = fmt.Errorf("tc: probe: remove ingress qdisc: %w", derr)
		}
	}()
	if err := cn.addFilter(redirectFilter(idx, ifbIdx)); err != nil {
		return fail("act_mirred", err)
	}
	return nil
}
