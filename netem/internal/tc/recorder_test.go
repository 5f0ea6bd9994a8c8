package tc

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"syscall"

	gotc "github.com/florianl/go-tc"

	"github.com/faultkit/faultkit/fault"
)

// recorder is a conn that keeps a tiny model of one namespace (links,
// qdiscs, filters) and logs every request in a tc-like notation, so golden
// files show exactly which objects, with which attributes, the engine asks
// the kernel for. It mimics the kernel where the engine depends on it:
// EEXIST for a second root or ingress qdisc, a root deletion removes the
// tree and its filters, a link deletion removes its qdiscs.
type recorder struct {
	links   map[string]recLink
	nextIdx uint32
	qdiscs_ []gotc.Object
	filts   []gotc.Object
	log     []string

	// failAt makes the failAt-th mutating request (1-based) fail with
	// failErr; 0 never fails.
	failAt  int
	failErr error
	calls   int
}

type recLink struct {
	idx  uint32
	kind string
}

func newRecorder() *recorder {
	return &recorder{links: map[string]recLink{"lo": {1, ""}, "eth0": {2, "veth"}}, nextIdx: 7}
}

func (r *recorder) engine() engine {
	return engine{dial: func(fault.NetNS) (conn, error) { return r, nil }}
}

func (r *recorder) mutate(line string) error {
	r.calls++
	if r.failAt > 0 && r.calls == r.failAt {
		r.log = append(r.log, line+"  => FAIL "+r.failErr.Error())
		return r.failErr
	}
	r.log = append(r.log, line)
	return nil
}

func (r *recorder) linkByName(name string) (uint32, string, error) {
	l, ok := r.links[name]
	if !ok {
		return 0, "", fmt.Errorf("link %q: %w", name, fault.ErrNotFound)
	}
	return l.idx, l.kind, nil
}

func (r *recorder) addIfb(name string) (uint32, error) {
	if _, ok := r.links[name]; ok {
		return 0, syscall.EEXIST
	}
	if err := r.mutate(fmt.Sprintf("link add %s type ifb up -> ifindex %d", name, r.nextIdx)); err != nil {
		return 0, err
	}
	r.links[name] = recLink{r.nextIdx, "ifb"}
	r.nextIdx++
	return r.links[name].idx, nil
}

func (r *recorder) delLink(name, kind string) error {
	l, ok := r.links[name]
	if !ok {
		return nil
	}
	if l.kind != kind {
		return fmt.Errorf("kind %q", l.kind)
	}
	if err := r.mutate("link del " + name); err != nil {
		return err
	}
	delete(r.links, name)
	r.dropDev(l.idx, func(gotc.Object) bool { return true })
	return nil
}

func (r *recorder) dropDev(idx uint32, match func(gotc.Object) bool) {
	keep := r.qdiscs_[:0]
	for _, q := range r.qdiscs_ {
		if q.Ifindex != idx || !match(q) {
			keep = append(keep, q)
		}
	}
	r.qdiscs_ = keep
	keepF := r.filts[:0]
	for _, f := range r.filts {
		if f.Ifindex != idx || !match(f) {
			keepF = append(keepF, f)
		}
	}
	r.filts = keepF
}

func (r *recorder) qdiscs(ifindex uint32) ([]gotc.Object, error) {
	var out []gotc.Object
	for _, q := range r.qdiscs_ {
		if q.Ifindex == ifindex {
			out = append(out, q)
		}
	}
	return out, nil
}

func (r *recorder) filters(ifindex, parent uint32) ([]gotc.Object, error) {
	var out []gotc.Object
	for _, f := range r.filts {
		if f.Ifindex == ifindex && f.Parent == parent {
			out = append(out, f)
		}
	}
	return out, nil
}

func (r *recorder) addQdisc(o *gotc.Object) error {
	for i, q := range r.qdiscs_ {
		if q.Ifindex != o.Ifindex {
			continue
		}
		if q.Parent == gotc.HandleRoot && o.Parent == gotc.HandleRoot && q.Handle == 0 {
			// a default root qdisc is grafted over, as the kernel does
			r.qdiscs_ = append(r.qdiscs_[:i:i], r.qdiscs_[i+1:]...)
			break
		}
		if q.Handle == o.Handle || (q.Parent == o.Parent && (o.Parent == gotc.HandleRoot || o.Parent == gotc.HandleIngress)) {
			return syscall.EEXIST
		}
	}
	if err := r.mutate("qdisc add " + render(o)); err != nil {
		return err
	}
	r.qdiscs_ = append(r.qdiscs_, *o)
	return nil
}

func (r *recorder) delQdisc(o *gotc.Object) error {
	found := false
	for _, q := range r.qdiscs_ {
		if q.Ifindex == o.Ifindex && q.Handle == o.Handle && q.Parent == o.Parent {
			found = true
		}
	}
	if !found {
		return syscall.ENOENT
	}
	if err := r.mutate(fmt.Sprintf("qdisc del dev %d parent %s handle %s %s", o.Ifindex, hexHandle(o.Parent), hexHandle(o.Handle), o.Kind)); err != nil {
		return err
	}
	if o.Parent == gotc.HandleIngress {
		r.dropDev(o.Ifindex, func(x gotc.Object) bool {
			return x.Parent == gotc.HandleIngress || x.Parent == ingressHandle
		})
	} else {
		// the root: the whole tree and every filter in it
		r.dropDev(o.Ifindex, func(x gotc.Object) bool {
			return x.Parent != gotc.HandleIngress && x.Parent != ingressHandle
		})
	}
	return nil
}

func (r *recorder) addFilter(o *gotc.Object) error {
	if err := r.mutate("filter add " + render(o)); err != nil {
		return err
	}
	r.filts = append(r.filts, *o)
	return nil
}

func (r *recorder) close() error { return nil }

// wire returns the four bytes go-tc puts on the wire for a U32Key field
// (host-order encoding of the uint32), as hex: what `tc filter show`
// prints and what the kernel compares with the packet.
func wire(v uint32) string {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return hex.EncodeToString(b[:])
}

func ntohs(v uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}

func optU32(p *uint32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// render prints an object with every attribute the engine sets.
func render(o *gotc.Object) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dev %d parent %s handle %s", o.Ifindex, hexHandle(o.Parent), hexHandle(o.Handle))
	if o.Info != 0 {
		fmt.Fprintf(&b, " prio %d protocol 0x%04x", o.Info>>16, ntohs(uint16(o.Info)))
	}
	fmt.Fprintf(&b, " %s", o.Kind)
	switch {
	case o.Prio != nil:
		fmt.Fprintf(&b, " bands %d priomap %v", o.Prio.Bands, o.Prio.PrioMap)
	case o.Netem != nil:
		n := o.Netem
		q := n.Qopt
		fmt.Fprintf(&b, " limit %d latency %dticks jitter %dticks loss 0x%08x duplicate 0x%08x gap %d",
			q.Limit, q.Latency, q.Jitter, q.Loss, q.Duplicate, q.Gap)
		if n.Latency64 != nil {
			fmt.Fprintf(&b, " latency64 %dns", *n.Latency64)
		}
		if n.Jitter64 != nil {
			fmt.Fprintf(&b, " jitter64 %dns", *n.Jitter64)
		}
		if n.Corr != nil {
			fmt.Fprintf(&b, " corr delay 0x%08x loss 0x%08x dup 0x%08x", n.Corr.Delay, n.Corr.Loss, n.Corr.Dup)
		}
		if n.Reorder != nil {
			fmt.Fprintf(&b, " reorder 0x%08x/0x%08x", n.Reorder.Probability, n.Reorder.Correlation)
		}
		if n.Corrupt != nil {
			fmt.Fprintf(&b, " corrupt 0x%08x/0x%08x", n.Corrupt.Probability, n.Corrupt.Correlation)
		}
		if n.Rate != nil {
			fmt.Fprintf(&b, " rate %dB/s", n.Rate.Rate)
		}
		if n.Rate64 != nil {
			fmt.Fprintf(&b, " rate64 %dB/s", *n.Rate64)
		}
		if n.DelayDist != nil {
			d := *n.DelayDist
			sum := 0
			for _, v := range d {
				sum += int(v)
			}
			fmt.Fprintf(&b, " delaydist[%d] first %v last %v sum %d", len(d), d[:4], d[len(d)-4:], sum)
		}
	case o.U32 != nil:
		u := o.U32
		if u.ClassID != nil {
			fmt.Fprintf(&b, " classid %s", hexHandle(*u.ClassID))
		}
		if s := u.Sel; s != nil {
			fmt.Fprintf(&b, " flags 0x%x nkeys %d", s.Flags, s.NKeys)
			for _, k := range s.Keys {
				fmt.Fprintf(&b, " match %s/%s at %d", wire(k.Val), wire(k.Mask), int32(k.Off))
			}
		}
		if u.Actions != nil {
			for _, a := range *u.Actions {
				fmt.Fprintf(&b, " action %s", a.Kind)
				if a.Mirred != nil && a.Mirred.Parms != nil {
					p := a.Mirred.Parms
					fmt.Fprintf(&b, " eaction %d action %d ifindex %d", p.Eaction, p.Action, p.IfIndex)
				}
			}
		}
	case o.Flow != nil:
		f := o.Flow
		bc := "-"
		if f.BaseClass != nil {
			bc = hexHandle(*f.BaseClass)
		}
		fmt.Fprintf(&b, " keys 0x%s mode %s baseclass %s divisor %s", strings.TrimPrefix(fmt.Sprintf("%x", *f.Keys), "0x"), optU32(f.Mode), bc, optU32(f.Divisor))
	}
	return b.String()
}
