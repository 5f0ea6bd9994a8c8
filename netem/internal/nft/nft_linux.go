//go:build linux

package nft

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/faultkit/faultkit/fault"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Direction is the direction of the traffic a rule acts on.
type Direction int

// Directions.
const (
	Egress  Direction = iota // packets the namespace sends (hook output)
	Ingress                  // packets the namespace receives (hook input)
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// Kind is what a fault does.
type Kind int

// Kinds.
const (
	KindBlackhole Kind = iota + 1 // drop one port of one protocol
	KindLoss                      // drop a random share of packets
)

func (k Kind) String() string {
	switch k {
	case KindBlackhole:
		return "blackhole"
	case KindLoss:
		return "loss"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Config describes one nftables fault.
type Config struct {
	NetNS     fault.NetNS // zero: the caller's namespace
	Kind      Kind
	Direction Direction
	// Interfaces restricts the fault to these links. Blackhole: empty
	// means every interface, loopback included (as FIS's iptables rules).
	// Loss: required; each interface gets its own table.
	Interfaces []string

	Protocol uint8  // blackhole: unix.IPPROTO_TCP or unix.IPPROTO_UDP
	Port     uint16 // blackhole: destination port, 1-65535

	LossPercent  float64        // loss: (0, 100], resolution 0.01
	FlowsPercent int            // loss: 1-100 of flows impaired; 0 means 100
	Sources      []netip.Prefix // loss: remote addresses impaired; empty = all
	Seed         uint32         // loss: flow-hash seed; 0 = random per Apply

	// Allow lists remote addresses that are never impaired: destinations
	// for egress, sources for ingress. It wins over Sources.
	Allow []netip.Prefix
}

func (c Config) flows() int {
	if c.FlowsPercent <= 0 || c.FlowsPercent > 100 {
		return 100
	}
	return c.FlowsPercent
}

// Validate checks c without touching the kernel.
func (c Config) Validate() error {
	switch c.Kind {
	case KindBlackhole:
		if c.Protocol != unix.IPPROTO_TCP && c.Protocol != unix.IPPROTO_UDP {
			return fmt.Errorf("nft: protocol %d: must be tcp (6) or udp (17)", c.Protocol)
		}
		if c.Port == 0 {
			return errors.New("nft: port 0: must be 1-65535")
		}
	case KindLoss:
		if !(c.LossPercent > 0 && c.LossPercent <= 100) || lossThreshold(c.LossPercent) == 0 {
			return fmt.Errorf("nft: loss percent %v: must be in (0, 100] with 0.01 resolution", c.LossPercent)
		}
		if c.FlowsPercent < 0 || c.FlowsPercent > 100 {
			return fmt.Errorf("nft: flows percent %d: must be 1-100", c.FlowsPercent)
		}
		if len(c.Interfaces) == 0 {
			return errors.New("nft: loss needs at least one interface")
		}
	default:
		return fmt.Errorf("nft: unknown kind %v", c.Kind)
	}
	if c.Direction != Egress && c.Direction != Ingress {
		return fmt.Errorf("nft: unknown direction %d", c.Direction)
	}
	seen := map[string]bool{}
	for _, n := range c.Interfaces {
		if n == "" || len(n) >= unix.IFNAMSIZ || strings.ContainsAny(n, "/ \t\n") || n == "." || n == ".." {
			return fmt.Errorf("nft: interface name %q is not valid", n)
		}
		if seen[n] {
			return fmt.Errorf("nft: interface %q given twice", n)
		}
		seen[n] = true
	}
	for _, p := range append(append([]netip.Prefix(nil), c.Sources...), c.Allow...) {
		if !p.IsValid() {
			return fmt.Errorf("nft: invalid prefix %v", p)
		}
	}
	return nil
}

// Table name parts.
const (
	tablePrefix     = fault.OwnerPrefix + "_"
	blackholePrefix = tablePrefix + "blackhole_"
	lossPrefix      = tablePrefix + "loss_"
)

// TableName returns the table of a blackhole:
// faultkit_blackhole_<direction>_<protocol>_<port>.
func TableName(c Config) string {
	return fmt.Sprintf("%s%s_%s_%d", blackholePrefix, c.Direction, protoName(c.Protocol), c.Port)
}

// LossTable returns the table of a loss fault on link: faultkit_loss_<link>.
func LossTable(link string) string { return lossPrefix + link }

func protoName(p uint8) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	}
	return strconv.Itoa(int(p))
}

func (c Config) plans() []plan {
	if c.Kind == KindBlackhole {
		return []plan{blackholePlan(c)}
	}
	ps := make([]plan, 0, len(c.Interfaces))
	for _, l := range c.Interfaces {
		ps = append(ps, lossPlan(c, l))
	}
	return ps
}

// Messages returns the netlink messages Apply sends for c, in one batch,
// without the batch begin and end markers: for tests and documentation.
func Messages(c Config) ([]netlink.Message, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return messages(c.plans(), tableFlagOwner)
}

// Applied is an active nftables fault.
type Applied struct {
	mu      sync.Mutex
	ns      fault.NetNS
	tr      transport
	tables  []string
	entries []fault.Entry
	owned   bool
	done    bool
}

// Tables returns the names of the fault's tables.
func (a *Applied) Tables() []string { return append([]string(nil), a.tables...) }

// Owned reports whether the kernel ties the tables to this process (owner
// flag); false on kernels before 5.12, where only the journal protects.
func (a *Applied) Owned() bool { return a.owned }

// Apply creates the fault's tables in one kernel transaction. The undo of
// every table is recorded in j (which may be nil) first. On error nothing
// remains; an existing table of the same name gives fault.ErrConflict.
func Apply(ctx context.Context, j *fault.Journal, c Config) (*Applied, error) {
	return apply(ctx, j, c, func(ns fault.NetNS) (transport, error) {
		s, err := dialSock(ns)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

func apply(ctx context.Context, j *fault.Journal, c Config, dial func(fault.NetNS) (transport, error)) (_ *Applied, err error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", fault.ErrInvalidParameter, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Kind == KindLoss && c.Seed == 0 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Seed = binary.NativeEndian.Uint32(b[:]) | 1
	}
	ns := c.NetNS
	if ns.IsZero() {
		if ns, err = fault.CurrentNetNS(); err != nil {
			return nil, err
		}
	}
	plans := c.plans()
	a := &Applied{ns: ns}
	for _, p := range plans {
		a.tables = append(a.tables, p.table)
	}
	tr, err := dial(c.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nft: open nf_tables socket in %s: %w", ns, err)
	}
	a.tr = tr
	defer func() {
		if err != nil {
			_ = tr.close()
			for _, e := range a.entries {
				_ = e.Release()
			}
		}
	}()
	for _, t := range a.tables {
		e, err := j.Record(fault.UndoNFTable(ns, unix.NFPROTO_INET, t))
		if err != nil {
			return nil, fmt.Errorf("nft: journal: %w", err)
		}
		a.entries = append(a.entries, e)
	}
	msgs, err := messages(plans, tableFlagOwner)
	if err != nil {
		return nil, fmt.Errorf("nft: build rules: %w", err)
	}
	a.owned = true
	err = tr.exec(msgs)
	if err != nil && refused(err, unix.NFT_MSG_NEWTABLE, unix.EOPNOTSUPP) {
		// Kernel before 5.12: no owner flag. Plain tables; the journal
		// is what removes them after a crash.
		if msgs, err = messages(plans, 0); err != nil {
			return nil, fmt.Errorf("nft: build rules: %w", err)
		}
		a.owned = false
		err = tr.exec(msgs)
	}
	if err != nil {
		return nil, classify(err, a.tables)
	}
	return a, nil
}

// refused reports whether err holds the kernel's errno for a message of
// type msgType.
func refused(err error, msgType int, errno unix.Errno) bool {
	for _, be := range batchErrors(err) {
		if be.Type == netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|msgType) && be.Errno == errno {
			return true
		}
	}
	return false
}

func batchErrors(err error) []*batchError {
	var out []*batchError
	var walk func(error)
	walk = func(e error) {
		if be, ok := e.(*batchError); ok {
			out = append(out, be)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// classify turns kernel refusals into faultkit's sentinels.
func classify(err error, tables []string) error {
	// EEXIST: a plain table of that name exists. EPERM on the table (not
	// on the batch): it exists and another socket owns it (owner flag).
	if refused(err, unix.NFT_MSG_NEWTABLE, unix.EEXIST) || refused(err, unix.NFT_MSG_NEWTABLE, unix.EPERM) {
		return fmt.Errorf("%w: nftables table %s already exists (a faultkit fault is active): %w",
			fault.ErrConflict, strings.Join(tables, " or "), err)
	}
	if refused(err, unix.NFT_MSG_NEWRULE, unix.ENOENT) || refused(err, unix.NFT_MSG_NEWRULE, unix.EOPNOTSUPP) {
		return fault.Unsupported("nftables expressions (nft_numgen, nft_hash, nft_counter)", err)
	}
	var be *batchError
	if errors.As(err, &be) && be.Index < 0 && (be.Errno == unix.ENOENT || be.Errno == unix.EPROTONOSUPPORT || be.Errno == unix.EINVAL) {
		return fault.Unsupported("nf_tables", err)
	}
	return fmt.Errorf("nft: apply: %w", err)
}

// Revert deletes the fault's tables in one kernel transaction and releases
// the journal entries. It is idempotent; tables already gone are fine.
func (a *Applied) Revert(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	msgs := make([]netlink.Message, 0, len(a.tables))
	for _, t := range a.tables {
		msgs = append(msgs, delTableMsg(t))
	}
	err := a.tr.exec(msgs)
	if err != nil && allErrno(err, unix.ENOENT) {
		err = nil // already gone
	}
	if err != nil && a.owned {
		// Closing the owning socket makes the kernel delete the tables.
		_ = a.tr.close()
		left, lerr := a.present()
		if lerr == nil && len(left) == 0 {
			err = nil
		} else {
			err = errors.Join(err, lerr)
		}
	}
	if err != nil {
		return fmt.Errorf("nft: revert %s: %w", strings.Join(a.tables, ", "), err)
	}
	_ = a.tr.close()
	var rerr error
	for _, e := range a.entries {
		rerr = errors.Join(rerr, e.Release())
	}
	a.done = true
	return rerr
}

func allErrno(err error, errno unix.Errno) bool {
	bes := batchErrors(err)
	if len(bes) == 0 {
		return false
	}
	for _, be := range bes {
		if be.Errno != errno {
			return false
		}
	}
	return true
}

// present returns which of the fault's tables still exist.
func (a *Applied) present() ([]string, error) {
	var left []string
	err := withConn(a.ns, func(c *nftables.Conn) error {
		ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, t := range ts {
			for _, mine := range a.tables {
				if t.Name == mine {
					left = append(left, mine)
				}
			}
		}
		return nil
	})
	return left, err
}

// Dropped returns the packets the fault's drop rules have dropped so far.
func (a *Applied) Dropped() (uint64, error) {
	var n uint64
	err := withConn(a.ns, func(c *nftables.Conn) error {
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if !contains(a.tables, ch.Table.Name) {
				continue
			}
			rules, err := c.GetRules(ch.Table, ch)
			if err != nil {
				return err
			}
			for _, r := range rules {
				for _, e := range r.Exprs {
					if ctr, ok := e.(*expr.Counter); ok {
						n += ctr.Packets
					}
				}
			}
		}
		return nil
	})
	return n, err
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// withConn runs fn with a short-lived (not owning) nftables connection in ns.
func withConn(ns fault.NetNS, fn func(*nftables.Conn) error) error {
	var opts []nftables.ConnOption
	if !ns.IsZero() {
		f, err := ns.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return err
	}
	return fault.Permission(fn(c))
}

// Active is a faultkit nftables fault found in the kernel.
type Active struct {
	Table     string
	Kind      Kind
	Direction Direction
	Link      string // loss: the interface
	Protocol  uint8  // blackhole
	Port      uint16 // blackhole
	Owned     bool   // the table has the owner flag: it dies with its process
}

// Status lists faultkit's nftables faults in ns, read from the kernel.
func Status(ns fault.NetNS) ([]Active, error) {
	var out []Active
	err := withConn(ns, func(c *nftables.Conn) error {
		ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) {
				return nil // no nf_tables: nothing active
			}
			return err
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, t := range ts {
			act, ok := parseTable(t.Name)
			if !ok {
				continue
			}
			act.Owned = t.Flags&tableFlagOwner != 0
			for _, ch := range chains {
				if ch.Table.Name == t.Name && ch.Name == chainIngress {
					act.Direction = Ingress
				}
			}
			out = append(out, act)
		}
		return nil
	})
	return out, err
}

func parseTable(name string) (Active, bool) {
	switch {
	case strings.HasPrefix(name, lossPrefix):
		return Active{Table: name, Kind: KindLoss, Link: strings.TrimPrefix(name, lossPrefix)}, true
	case strings.HasPrefix(name, blackholePrefix):
		parts := strings.Split(strings.TrimPrefix(name, blackholePrefix), "_")
		if len(parts) != 3 {
			return Active{}, false
		}
		a := Active{Table: name, Kind: KindBlackhole}
		if parts[0] == "ingress" {
			a.Direction = Ingress
		}
		switch parts[1] {
		case "tcp":
			a.Protocol = unix.IPPROTO_TCP
		case "udp":
			a.Protocol = unix.IPPROTO_UDP
		default:
			return Active{}, false
		}
		p, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil {
			return Active{}, false
		}
		a.Port = uint16(p)
		return a, true
	}
	return Active{}, false
}

// Probe checks, by doing, that ns supports what the engine needs: one
// batch creates a table with a chain and rules using every expression the
// engine uses, and deletes it again, so the kernel commits nothing. It
// returns nil, or a fault.Unsupported error naming what is missing.
func Probe(ns fault.NetNS) error {
	s, err := dialSock(ns)
	if err != nil {
		return err
	}
	defer s.close()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%sprobe_%x", tablePrefix, rnd)
	for _, flags := range []uint32{tableFlagOwner, 0} {
		msgs, features, err := probeMessages(name, flags)
		if err != nil {
			return err
		}
		err = s.exec(msgs)
		if err == nil {
			return nil
		}
		if refused(err, unix.NFT_MSG_NEWTABLE, unix.EOPNOTSUPP) {
			continue // no owner flag: the engine falls back to plain tables
		}
		for _, be := range batchErrors(err) {
			if be.Index < 0 {
				return fault.Unsupported("nf_tables", err)
			}
			if be.Index < len(features) && features[be.Index] != "" {
				return fault.Unsupported(features[be.Index], err)
			}
		}
		return fault.Permission(fmt.Errorf("nft: probe: %w", err))
	}
	return fault.Unsupported("nf_tables", errors.New("inet table refused"))
}

// probeMessages builds the probe batch and, for each message, the kernel
// feature its failure would reveal.
func probeMessages(name string, flags uint32) ([]netlink.Message, []string, error) {
	b, err := newBuilder()
	if err != nil {
		return nil, nil, err
	}
	msgs := []netlink.Message{newTableMsg(name, flags)}
	features := []string{"nf_tables inet family"}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	c := b.conn.AddChain(chainFor(t, chainEgress, Egress))
	steps := []struct {
		feature string
		add     func() error
	}{
		{"nft_chain_filter (inet output hook)", func() error { return nil }},
		{"nft_numgen", func() error {
			b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
				&expr.Numgen{Register: reg1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
				&expr.Byteorder{SourceRegister: reg1, DestRegister: reg1, Op: expr.ByteorderHton, Len: 4, Size: 4}}})
			return nil
		}},
		{"nft_hash", func() error {
			b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: flowHash(unix.NFPROTO_IPV6, 1)})
			return nil
		}},
		{"nft_counter", func() error {
			b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{&expr.Counter{}}})
			return nil
		}},
		{"nft_set_rbtree (interval sets)", func() error {
			_, err := b.addSet(t, "probe4", nftables.TypeIPAddr, true,
				intervalElements([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}))
			return err
		}},
		{"nft_lookup", func() error {
			s := &nftables.Set{Name: "probe4", ID: b.setID}
			b.conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: append(nfproto(unix.NFPROTO_IPV4),
				loadAddr(unix.NFPROTO_IPV4, Egress, reg1), lookup(s, reg1, false), verdict(expr.VerdictAccept))})
			return nil
		}},
	}
	for _, st := range steps {
		if err := st.add(); err != nil {
			return nil, nil, err
		}
		m, err := b.finish()
		if err != nil {
			return nil, nil, err
		}
		for range m {
			features = append(features, st.feature)
		}
		msgs = append(msgs, m...)
	}
	msgs = append(msgs, delTableMsg(name))
	features = append(features, "")
	return msgs, features, nil
}
