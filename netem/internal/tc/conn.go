package tc

import (
	gotc "github.com/florianl/go-tc"

	"github.com/faultkit/faultkit/fault"
)

// conn is the engine's only way to the kernel: the handful of rtnetlink
// operations it needs. The real one (conn_linux.go) is go-tc for qdiscs
// and filters plus vishvananda/netlink for links, both bound to the
// target namespace; tests substitute a recorder (golden tests) or a
// wrapper that fails on purpose.
type conn interface {
	// linkByName returns the index and kind ("" for physical devices) of
	// a link; a missing link gives an error wrapping fault.ErrNotFound.
	linkByName(name string) (index uint32, kind string, err error)
	// addIfb creates an ifb device and sets it up, returning its index.
	addIfb(name string) (uint32, error)
	// delLink deletes a link by name, if it exists and has the given kind.
	delLink(name, kind string) error
	qdiscs(ifindex uint32) ([]gotc.Object, error)
	filters(ifindex, parent uint32) ([]gotc.Object, error)
	addQdisc(o *gotc.Object) error // NLM_F_CREATE|NLM_F_EXCL, never replace
	delQdisc(o *gotc.Object) error
	addFilter(o *gotc.Object) error // NLM_F_CREATE|NLM_F_EXCL
	close() error
}

// dialer opens a conn inside a namespace.
type dialer func(ns fault.NetNS) (conn, error)

// engine is the Apply/Status machinery with an injectable dialer. The
// package-level functions use a fresh engine with the real dialer, so the
// package holds no state.
type engine struct {
	dial dialer
}

func defaultEngine() engine { return engine{dial: dialNetlink} }
