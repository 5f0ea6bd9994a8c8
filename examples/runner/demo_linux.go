package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
)

// The demo network (--demo-netns): two fresh network namespaces joined by
// a veth pair, the first with a default route through the second, an
// echo service in the second and a prober in the first that sends one
// UDP datagram every demoProbeEvery and counts the echoes. The experiment
// targets the first namespace, so the probe measures what the network
// faults do. Everything is removed at exit; namespaces left by a runner
// that was SIGKILLed are removed by the next --demo-netns run (the fault
// journal has no undo for a namespace).
const (
	demoPrefix     = "fkdemo-"
	demoPort       = 7007
	demoProbeEvery = 20 * time.Millisecond
	demoBaseline   = time.Second // probed before the experiment starts and after it ends
	netnsDir       = "/run/netns"
)

var errDemo = errors.New("demo network")

type probeRecord struct {
	sent    time.Time
	replied bool
}

type demoNet struct {
	nameA, nameB string
	pathA        string
	addrA, addrB netip.Addr
	echo         netip.AddrPort

	echoConn, probeConn *net.UDPConn

	mu     sync.Mutex
	probes []probeRecord

	entries []fault.Entry // journal entries of the two namespaces

	stop chan struct{}
	wg   sync.WaitGroup
}

// newDemoNet records the namespaces' removal in j (which may be nil)
// before creating them, so a runner killed with SIGKILL leaves nothing.
func newDemoNet(j *fault.Journal) (_ *demoNet, err error) {
	removeStaleDemos()
	pid := strconv.Itoa(os.Getpid())
	d := &demoNet{
		nameA: demoPrefix + pid + "-a", nameB: demoPrefix + pid + "-b",
		addrA: netip.MustParseAddr("10.250.0.1"), addrB: netip.MustParseAddr("10.250.0.2"),
		stop: make(chan struct{}),
	}
	d.pathA = filepath.Join(netnsDir, d.nameA)
	for _, n := range []string{d.nameA, d.nameB} {
		e, err := j.Record(fault.UndoNetNS(filepath.Join(netnsDir, n)))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errDemo, err)
		}
		d.entries = append(d.entries, e)
	}
	d.echo = netip.AddrPortFrom(d.addrB, demoPort)
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if err := d.create(); err != nil {
		return nil, fmt.Errorf("%w: %v", errDemo, err)
	}
	nsA, err := fault.NetNSFromPath(d.pathA)
	if err != nil {
		return nil, err
	}
	nsB, err := fault.NetNSFromPath(filepath.Join(netnsDir, d.nameB))
	if err != nil {
		return nil, err
	}
	if err := nsB.Do(func() (err error) {
		d.echoConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(d.echo))
		return err
	}); err != nil {
		return nil, fmt.Errorf("%w: echo service: %v", errDemo, err)
	}
	if err := nsA.Do(func() (err error) {
		d.probeConn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(d.echo))
		return err
	}); err != nil {
		return nil, fmt.Errorf("%w: prober: %v", errDemo, err)
	}
	d.wg.Add(1)
	go d.serveEcho()
	return d, nil
}

// create makes the namespaces and the link, on a thread of its own that
// is thrown away if it cannot be switched back.
func (d *demoNet) create() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		hA, errA := netns.NewNamed(d.nameA)
		var hB netns.NsHandle = -1
		var errB error
		if errA == nil {
			hB, errB = netns.NewNamed(d.nameB)
		}
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("switch back: %w", err) // keep the thread locked: it dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		if err := errors.Join(errA, errB); err != nil {
			errc <- err
			return
		}
		defer hA.Close()
		defer hB.Close()
		errc <- d.configure(hA, hB)
	}()
	return <-errc
}

func (d *demoNet) configure(hA, hB netns.NsHandle) error {
	la, err := netlink.NewHandleAt(hA)
	if err != nil {
		return err
	}
	defer la.Close()
	lb, err := netlink.NewHandleAt(hB)
	if err != nil {
		return err
	}
	defer lb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fkdemo0"}, PeerName: "fkdemo1", PeerNamespace: netlink.NsFd(int(hB))}
	if err := la.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth: %w", err)
	}
	setup := func(h *netlink.Handle, name string, addr netip.Addr) error {
		for _, n := range []string{"lo", name} {
			l, err := h.LinkByName(n)
			if err != nil {
				return err
			}
			if err := h.LinkSetUp(l); err != nil {
				return err
			}
		}
		l, _ := h.LinkByName(name)
		a, err := netlink.ParseAddr(addr.String() + "/24")
		if err != nil {
			return err
		}
		return h.AddrAdd(l, a)
	}
	if err := setup(la, "fkdemo0", d.addrA); err != nil {
		return fmt.Errorf("%s: %w", d.nameA, err)
	}
	if err := setup(lb, "fkdemo1", d.addrB); err != nil {
		return fmt.Errorf("%s: %w", d.nameB, err)
	}
	l, err := la.LinkByName("fkdemo0")
	if err != nil {
		return err
	}
	if err := la.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(d.addrB.AsSlice())}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// removeStaleDemos deletes demo namespaces whose runner is gone.
func removeStaleDemos() {
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, demoPrefix) {
			continue
		}
		pidS, _, _ := strings.Cut(strings.TrimPrefix(name, demoPrefix), "-")
		pid, err := strconv.Atoi(pidS)
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue
		}
		_ = netns.DeleteNamed(name)
	}
}

// Target is the experiment's target: the first namespace.
func (d *demoNet) Target() experiment.Target {
	return experiment.Target{Kind: experiment.KindNetNS, Name: "netns:" + d.pathA, NetNS: d.pathA}
}

func (d *demoNet) serveEcho() {
	defer d.wg.Done()
	buf := make([]byte, 64)
	for {
		n, from, err := d.echoConn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, _ = d.echoConn.WriteToUDPAddrPort(buf[:n], from)
	}
}

func (d *demoNet) startProbe() {
	d.wg.Add(2)
	go func() { // sender
		defer d.wg.Done()
		t := time.NewTicker(demoProbeEvery)
		defer t.Stop()
		var buf [8]byte
		for seq := uint64(0); ; seq++ {
			select {
			case <-d.stop:
				return
			case <-t.C:
			}
			d.mu.Lock()
			d.probes = append(d.probes, probeRecord{sent: time.Now()})
			d.mu.Unlock()
			binary.BigEndian.PutUint64(buf[:], seq)
			_, _ = d.probeConn.Write(buf[:]) // a blackhole makes this fail with EPERM: counted as lost
		}
	}()
	go func() { // receiver
		defer d.wg.Done()
		buf := make([]byte, 64)
		for {
			n, err := d.probeConn.Read(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
					return
				}
				continue // ICMP errors surface here; keep reading
			}
			if n < 8 {
				continue
			}
			seq := binary.BigEndian.Uint64(buf[:8])
			d.mu.Lock()
			if seq < uint64(len(d.probes)) {
				d.probes[seq].replied = true
			}
			d.mu.Unlock()
		}
	}()
}

func (d *demoNet) stopProbe() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
}

// loss counts the probes sent in [from, to) and those without an echo.
func (d *demoNet) loss(from, to time.Time) (sent, lost int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.probes {
		if p.sent.Before(from) || !p.sent.Before(to) {
			continue
		}
		sent++
		if !p.replied {
			lost++
		}
	}
	return sent, lost
}

func lossText(sent, lost int) string {
	if sent == 0 {
		return "no probes"
	}
	return fmt.Sprintf("%d/%d lost (%.0f%%)", lost, sent, 100*float64(lost)/float64(sent))
}

// recent describes the second before the last half second (echoes have
// had time to come back).
func (d *demoNet) recent() string {
	now := time.Now()
	return lossText(d.loss(now.Add(-1500*time.Millisecond), now.Add(-500*time.Millisecond)))
}

// summary prints the probe's loss before the experiment and during each
// action that ran, trimming 200 ms at each edge of an action.
func (d *demoNet) summary(w io.Writer, rep *experiment.Report) {
	d.stopProbe()
	fmt.Fprintln(w, "\nDemo probe, UDP echo across the demo link:")
	if !rep.StartTime.IsZero() {
		first := time.Now()
		for _, a := range rep.Actions {
			if !a.StartTime.IsZero() && a.StartTime.Before(first) {
				first = a.StartTime
			}
		}
		fmt.Fprintf(w, "  %-14s %s\n", "before", lossText(d.loss(time.Time{}, first)))
	}
	const edge = 200 * time.Millisecond
	var last time.Time
	for _, a := range rep.Actions {
		if a.StartTime.IsZero() || a.EndTime.IsZero() || a.State.Status == experiment.ActionSkipped {
			continue
		}
		fmt.Fprintf(w, "  %-14s %s\n", a.Name, lossText(d.loss(a.StartTime.Add(edge), a.EndTime.Add(-edge))))
		if a.EndTime.After(last) {
			last = a.EndTime
		}
	}
	if !last.IsZero() {
		// Probes of the last half second may still be in flight.
		fmt.Fprintf(w, "  %-14s %s\n", "after", lossText(d.loss(last.Add(edge), time.Now().Add(-500*time.Millisecond))))
	}
}

// Close stops the probe and removes the namespaces.
func (d *demoNet) Close() error {
	d.stopProbe()
	if d.echoConn != nil {
		d.echoConn.Close()
	}
	if d.probeConn != nil {
		d.probeConn.Close()
	}
	d.wg.Wait()
	var errs []error
	for _, n := range []string{d.nameA, d.nameB} {
		if _, err := os.Stat(filepath.Join(netnsDir, n)); err != nil {
			continue
		}
		if err := netns.DeleteNamed(n); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", n, err))
		}
	}
	if len(errs) == 0 {
		for _, e := range d.entries {
			errs = append(errs, e.Release())
		}
	}
	return errors.Join(errs...)
}
