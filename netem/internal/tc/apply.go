package tc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"

	gotc "github.com/florianl/go-tc"

	"github.com/faultkit/faultkit/fault"
)

// Applied is an impairment Apply installed. Its methods are safe for
// concurrent use.
type Applied struct {
	eng       engine
	ns        fault.NetNS
	link      string
	ifindex   uint32 // the link's index
	dir       Direction
	kind      string
	treeIndex uint32 // index of the device carrying the netem tree (treeDev)

	mu       sync.Mutex
	entries  []fault.Entry // journal entries, in recording order
	reverted bool
	// what this Applied created (all true after a successful Apply); a
	// rollback removes only these
	createdIfb, createdRoot, createdIngress bool
}

// ifb names the ingress ifb device ("" for egress).
func (a *Applied) ifb() string {
	if a.dir == Ingress {
		return ifbName(a.ifindex)
	}
	return ""
}

// treeDev names the device carrying the netem tree: the link, or the ifb.
func (a *Applied) treeDev() string {
	if a.dir == Ingress {
		return a.ifb()
	}
	return a.link
}

// Link returns the interface name the impairment is on.
func (a *Applied) Link() string { return a.link }

// Direction returns Egress or Ingress.
func (a *Applied) Direction() Direction { return a.dir }

// Kind returns "latency", "loss" or "impair" (see Active).
func (a *Applied) Kind() string { return a.kind }

// Apply installs the impairment c describes on one link, all or nothing:
// when any step fails, what was created is removed again and the error is
// returned. Before creating a root or ingress qdisc or an ifb device it
// records its removal in j (fault.UndoQdisc, fault.UndoLink), so the
// journal's guardian removes it if the process dies; Revert releases the
// entries. j may be nil.
//
// Apply never replaces or deletes qdiscs it did not create. It returns an
// error wrapping fault.ErrConflict when the link's root qdisc (Egress) or
// ingress qdisc (Ingress) is already faultkit's, or is any other
// non-default qdisc; fault.ErrNotFound when the link does not exist;
// *fault.UnsupportedError when the kernel lacks a qdisc, classifier,
// action or link kind; *fault.ParamError for an invalid Config.
func Apply(ctx context.Context, j *fault.Journal, c Config) (*Applied, error) {
	return defaultEngine().apply(ctx, j, c)
}

func opErr(op, object string, err error) error {
	return &fault.OpError{Op: op, Fault: "tc", Object: object, Err: err}
}

// unsupported maps "the kernel does not know this kind" errors to
// fault.Unsupported(feature).
func unsupported(feature string, err error) error {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) && feature == "ifb" {
		return fault.Unsupported(feature, err)
	}
	return err
}

// feature names the kernel module an object needs.
func feature(o *gotc.Object) string {
	switch o.Kind {
	case "netem", "prio", "ingress":
		return "sch_" + o.Kind
	case "u32", "flow":
		if o.U32 != nil && o.U32.Actions != nil {
			return "act_mirred"
		}
		return "cls_" + o.Kind
	}
	return o.Kind
}

func describe(o *gotc.Object, dev string) string {
	if o.Kind == "u32" || o.Kind == "flow" {
		return fmt.Sprintf("filter %s parent %s prio %d dev %s", o.Kind, hexHandle(o.Parent), o.Info>>16, dev)
	}
	return fmt.Sprintf("qdisc %s %s parent %s dev %s", o.Kind, hexHandle(o.Handle), hexHandle(o.Parent), dev)
}

func (e engine) apply(ctx context.Context, j *fault.Journal, c Config) (a *Applied, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cn, err := e.dial(c.NetNS)
	if err != nil {
		return nil, opErr("apply", "netns", err)
	}
	defer cn.close()
	idx, _, err := cn.linkByName(c.Link)
	if err != nil {
		return nil, opErr("apply", "link "+c.Link, err)
	}
	a = &Applied{eng: e, ns: c.NetNS, link: c.Link, ifindex: idx, dir: c.Direction, kind: c.kind(), treeIndex: idx}
	m := matchDst
	if c.Direction == Ingress {
		m = matchSrc
	}
	if err := a.checkConflict(cn); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if rerr := a.revert(cn); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
			a = nil
		}
	}()
	if c.Direction == Ingress {
		if err := a.record(j, fault.UndoLink(c.NetNS, a.ifb(), "ifb")); err != nil {
			return a, err
		}
		ifbIdx, err := cn.addIfb(a.ifb())
		if errors.Is(err, syscall.EEXIST) {
			return a, opErr("apply", "ifb link "+a.ifb(), fmt.Errorf("%w: %w", fault.ErrConflict, err))
		}
		if err != nil {
			return a, opErr("apply", "ifb link "+a.ifb(), unsupported("ifb", err))
		}
		a.createdIfb = true
		a.treeIndex = ifbIdx
	}
	objs := tree(a.treeIndex, c, m, distTable(c.Distribution))
	for i, o := range objs {
		if err := ctx.Err(); err != nil {
			return a, err
		}
		if i == 0 {
			// The root: its deletion removes everything below it.
			if err := a.record(j, fault.UndoQdisc(c.NetNS, a.treeDev(), o.Parent, o.Handle, o.Kind)); err != nil {
				return a, err
			}
		}
		if err := a.add(cn, o, a.treeDev()); err != nil {
			return a, err
		}
		if i == 0 {
			a.createdRoot = true
		}
	}
	if c.Direction == Ingress {
		iq := ingressQdisc(idx)
		if err := a.record(j, fault.UndoQdisc(c.NetNS, c.Link, iq.Parent, iq.Handle, iq.Kind)); err != nil {
			return a, err
		}
		if err := a.add(cn, iq, c.Link); err != nil {
			return a, err
		}
		a.createdIngress = true
		if err := a.add(cn, redirectFilter(idx, a.treeIndex), c.Link); err != nil {
			return a, err
		}
	}
	return a, nil
}

func (a *Applied) record(j *fault.Journal, u fault.Undo) error {
	e, err := j.Record(u)
	if err != nil {
		return fmt.Errorf("tc: journal: %w", err)
	}
	a.mu.Lock()
	a.entries = append(a.entries, e)
	a.mu.Unlock()
	return nil
}

func (a *Applied) add(cn conn, o *gotc.Object, dev string) error {
	var err error
	if o.Kind == "u32" || o.Kind == "flow" {
		err = cn.addFilter(o)
	} else {
		err = cn.addQdisc(o)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EEXIST) {
		err = fmt.Errorf("%w: %w", fault.ErrConflict, err)
	} else {
		err = unsupported(feature(o), err)
	}
	return opErr("apply", describe(o, dev), err)
}

// checkConflict refuses to touch a link that already carries a faultkit
// tree or a foreign non-default qdisc in the place Apply needs.
func (a *Applied) checkConflict(cn conn) error {
	qs, err := cn.qdiscs(a.ifindex)
	if err != nil {
		return opErr("apply", "list qdiscs dev "+a.link, err)
	}
	for _, q := range qs {
		switch {
		case a.dir == Egress && q.Parent == gotc.HandleRoot && q.Handle == RootHandle:
			return opErr("apply", describe(&q, a.link), fmt.Errorf("%w: a faultkit egress impairment is already active", fault.ErrConflict))
		case a.dir == Egress && q.Parent == gotc.HandleRoot && q.Handle>>16 != 0:
			return opErr("apply", describe(&q, a.link), fmt.Errorf("%w: the link has a non-default root qdisc (%s); faultkit does not replace it", fault.ErrConflict, q.Kind))
		case a.dir == Ingress && q.Parent == gotc.HandleIngress:
			return opErr("apply", describe(&q, a.link), fmt.Errorf("%w: the link already has an %s qdisc", fault.ErrConflict, q.Kind))
		}
	}
	if a.dir == Ingress {
		if _, _, err := cn.linkByName(a.ifb()); err == nil {
			return opErr("apply", "ifb link "+a.ifb(), fmt.Errorf("%w: a faultkit ingress impairment is already active", fault.ErrConflict))
		} else if !errors.Is(err, fault.ErrNotFound) {
			return opErr("apply", "ifb link "+a.ifb(), err)
		}
	}
	return nil
}

// Revert removes what Apply created and releases its journal entries. It
// is idempotent and converges from any partial state: objects already gone
// (or a link or namespace that disappeared) count as removed. It removes
// only faultkit's objects: the root qdisc with faultkit's handle, the
// ingress qdisc whose filter redirects to faultkit's ifb, the ifb device.
// It runs to the end even when ctx is already canceled, as it is when a
// caller reverts because its context ended: leaving an impairment behind
// is worse than a few milliseconds of netlink requests.
func (a *Applied) Revert(_ context.Context) error {
	a.mu.Lock()
	done := a.reverted
	a.mu.Unlock()
	if done {
		return nil
	}
	cn, err := a.eng.dial(a.ns)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) || isNetNSGone(err) {
			return a.release() // the namespace and everything in it is gone
		}
		return opErr("revert", "netns", err)
	}
	defer cn.close()
	return a.revert(cn)
}

// isNetNSGone recognises fault.NetNS.Open's "no longer exists" error
// (its sentinel is not exported): the namespace and every object in it
// are gone.
func isNetNSGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), "network namespace no longer exists")
}

// revert does not stop for a canceled context: leaving an impairment
// behind is worse than finishing a few netlink requests.
func (a *Applied) revert(cn conn) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reverted {
		return nil
	}
	var errs []error
	if a.dir == Ingress {
		// Stop the redirect first, then remove the device it points to
		// (the tree on it goes with it).
		if a.createdIngress {
			if err := a.delIngress(cn); err != nil {
				errs = append(errs, err)
			}
		}
		if a.createdIfb && len(errs) == 0 {
			if err := cn.delLink(a.ifb(), "ifb"); err != nil {
				errs = append(errs, opErr("revert", "ifb link "+a.ifb(), err))
			}
		}
	} else if a.createdRoot {
		if err := a.delRoot(cn, a.ifindex, a.link); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	a.reverted = true
	return a.releaseLocked()
}

func (a *Applied) release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reverted = true
	return a.releaseLocked()
}

func (a *Applied) releaseLocked() error {
	var errs []error
	for i := len(a.entries) - 1; i >= 0; i-- {
		errs = append(errs, a.entries[i].Release())
	}
	a.entries = nil
	return errors.Join(errs...)
}

// gone reports errors meaning "the object is not there (any more)".
func gone(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV) ||
		errors.Is(err, fault.ErrNotFound)
}

func (a *Applied) delRoot(cn conn, ifindex uint32, dev string) error {
	qs, err := cn.qdiscs(ifindex)
	if gone(err) {
		return nil
	}
	if err != nil {
		return opErr("revert", "list qdiscs dev "+dev, err)
	}
	for _, q := range qs {
		if q.Parent != gotc.HandleRoot || q.Handle != RootHandle {
			continue
		}
		if q.Kind != "prio" {
			return opErr("revert", describe(&q, dev), errors.New("root qdisc has faultkit's handle but not its kind; leaving it"))
		}
		o := prioQdisc(ifindex, gotc.HandleRoot, RootHandle, rootBands, 0)
		if err := cn.delQdisc(o); err != nil && !gone(err) && !errors.Is(err, syscall.EINVAL) {
			return opErr("revert", describe(o, dev), err)
		}
	}
	return nil
}

func (a *Applied) delIngress(cn conn) error {
	qs, err := cn.qdiscs(a.ifindex)
	if gone(err) {
		return nil
	}
	if err != nil {
		return opErr("revert", "list qdiscs dev "+a.link, err)
	}
	for _, q := range qs {
		if q.Parent != gotc.HandleIngress || q.Kind != "ingress" {
			continue
		}
		if a.treeIndex != a.ifindex {
			owned, err := a.redirectsToIfb(cn)
			if err != nil {
				return opErr("revert", "list ingress filters dev "+a.link, err)
			}
			if !owned {
				return nil // not the one faultkit made
			}
		}
		o := ingressQdisc(a.ifindex)
		if err := cn.delQdisc(o); err != nil && !gone(err) && !errors.Is(err, syscall.EINVAL) {
			return opErr("revert", describe(o, a.link), err)
		}
	}
	return nil
}

// redirectsToIfb reports whether the link's ingress qdisc holds faultkit's
// mirred redirect to the ifb device, or no filter at all (Apply failed
// before adding it).
func (a *Applied) redirectsToIfb(cn conn) (bool, error) {
	fs, err := cn.filters(a.ifindex, ingressHandle)
	if err != nil {
		return false, err
	}
	n := 0
	for _, f := range fs {
		if f.U32 == nil {
			continue
		}
		n++
		if f.U32.Actions == nil {
			continue
		}
		for _, act := range *f.U32.Actions {
			if act != nil && act.Mirred != nil && act.Mirred.Parms != nil && act.Mirred.Parms.IfIndex == a.treeIndex {
				return true, nil
			}
		}
	}
	return n == 0, nil
}

// Stats returns the packets netem passed on and dropped, summed over the
// tree's netem qdiscs.
func (a *Applied) Stats() (sent, dropped uint64, err error) {
	cn, err := a.eng.dial(a.ns)
	if err != nil {
		return 0, 0, opErr("stats", "netns", err)
	}
	defer cn.close()
	idx := a.treeIndex
	if a.dir == Ingress {
		i, _, err := cn.linkByName(a.ifb())
		if err != nil {
			return 0, 0, opErr("stats", "ifb link "+a.ifb(), err)
		}
		idx = i
	}
	qs, err := cn.qdiscs(idx)
	if err != nil {
		return 0, 0, opErr("stats", "list qdiscs dev "+a.treeDev(), err)
	}
	for _, q := range qs {
		if q.Kind == "netem" && isNetemHandle(q.Handle) && q.Stats != nil {
			sent += uint64(q.Stats.Packets)
			dropped += uint64(q.Stats.Drops)
		}
	}
	return sent, dropped, nil
}
