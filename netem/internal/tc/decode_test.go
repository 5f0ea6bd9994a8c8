package tc

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	gotc "github.com/florianl/go-tc"
	"github.com/mdlayher/netlink"

	"github.com/faultkit/faultkit/fault"
)

func encode(t *testing.T, fn func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func u32le(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.NativeEndian.PutUint32(b[4*i:], v)
	}
	return b
}

// TestDecodeQdisc feeds the decoder a netem qdisc as the kernel dumps it
// (qopt struct, then nested attributes; stats in TCA_STATS2), plus an
// attribute it does not know, which must be skipped.
func TestDecodeQdisc(t *testing.T) {
	lat := make([]byte, 8)
	binary.NativeEndian.PutUint64(lat, uint64(50*time.Millisecond))
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.String(tcaKind, "netem")
		opts := u32le(781250, 1000, 0x33333333, 0, 0, 0) // latency ticks, limit, loss, gap, dup, jitter
		opts = append(opts, encode(t, func(n *netlink.AttributeEncoder) {
			n.Bytes(tcaNetemLatency64, lat)
			n.Bytes(tcaNetemCorrupt, u32le(0, 0))
			n.Bytes(99, []byte{1, 2, 3}) // unknown
		})...)
		ae.Bytes(tcaOptions, opts)
		ae.Bytes(tcaStats2, encode(t, func(s *netlink.AttributeEncoder) {
			s.Bytes(tcaStatsBasic, append(u32le(1500, 0, 42), 0, 0, 0, 0)) // bytes u64, packets u32, pad
			s.Bytes(tcaStatsQueue, u32le(0, 0, 7, 0, 0))
		}))
		ae.Bytes(200, []byte("future attribute"))
	})
	var o gotc.Object
	decodeQdisc(b, &o)
	if o.Kind != "netem" || o.Stats == nil || o.Stats.Packets != 42 || o.Stats.Drops != 7 || o.Netem == nil {
		t.Fatalf("decoded %+v stats %+v", o.Attribute, o.Stats)
	}
	if l, j := netemDelay(o.Netem); l != int64(50*time.Millisecond) || j != 0 {
		t.Errorf("delay %d jitter %d", l, j)
	}
	if k := netemKind(o.Netem); k != KindImpair { // delay and loss together
		t.Errorf("kind %q, want impair", k)
	}
	decodeQdisc([]byte{1, 2}, &o) // garbage must not panic
}

// TestDecodeFilter checks the u32 decoder on what go-tc cannot parse: the
// kernel's TCA_U32_PCNT struct next to a mirred action.
func TestDecodeFilter(t *testing.T) {
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.String(tcaKind, "u32")
		ae.Bytes(tcaOptions, encode(t, func(u *netlink.AttributeEncoder) {
			u.Uint32(tcaU32ClassID, handle(MajorRoot, 1))
			u.Bytes(9, make([]byte, 24)) // TCA_U32_PCNT: struct tc_u32_pcnt + counters
			u.Bytes(tcaU32Act, encode(t, func(acts *netlink.AttributeEncoder) {
				acts.Bytes(1, encode(t, func(a *netlink.AttributeEncoder) {
					a.String(tcaActKind, "mirred")
					a.Bytes(tcaActOptions, encode(t, func(m *netlink.AttributeEncoder) {
						m.Bytes(1, make([]byte, 32)) // TCA_MIRRED_TM
						m.Bytes(tcaMirredParms, u32le(1, 0, tcActStolen, 1, 1, tcaEgressRed, 9))
					}))
				}))
			}))
		}))
	})
	var o gotc.Object
	decodeFilter(b, &o)
	if o.Kind != "u32" || o.U32 == nil || o.U32.ClassID == nil || *o.U32.ClassID != handle(MajorRoot, 1) {
		t.Fatalf("decoded %+v", o.U32)
	}
	acts := *o.U32.Actions
	if len(acts) != 1 || acts[0].Kind != "mirred" || acts[0].Mirred.Parms.IfIndex != 9 ||
		acts[0].Mirred.Parms.Eaction != tcaEgressRed || acts[0].Mirred.Parms.Action != tcActStolen {
		t.Fatalf("actions %+v", acts[0].Mirred.Parms)
	}
}

// TestRemove removes trees found by Status without the Applied that made
// them (a restarted process), in both directions.
func TestRemove(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []Direction{Egress, Ingress} {
		r := newRecorder()
		if _, err := r.engine().apply(ctx, nil, Config{Link: "eth0", Direction: dir, LossPercent: 5, FlowsPercent: 20}); err != nil {
			t.Fatal(err)
		}
		n := len(r.log)
		if err := r.engine().remove(ctx, fault.NetNS{}, "eth0", dir); err != nil {
			t.Fatal(err)
		}
		if len(r.qdiscs_) != 0 || len(r.filts) != 0 || len(r.links) != 2 {
			t.Fatalf("%s: left %v\n%s", dir, r.qdiscs_, strings.Join(r.log[n:], "\n"))
		}
		if err := r.engine().remove(ctx, fault.NetNS{}, "eth0", dir); err != nil {
			t.Fatalf("%s: second Remove: %v", dir, err)
		}
	}
	// A foreign root is not faultkit's: Remove leaves it.
	r := newRecorder()
	r.qdiscs_ = append(r.qdiscs_, gotc.Object{Msg: gotc.Msg{Ifindex: 2, Parent: gotc.HandleRoot, Handle: 0x10000}, Attribute: gotc.Attribute{Kind: "htb"}})
	if err := r.engine().remove(ctx, fault.NetNS{}, "eth0", Egress); err != nil || len(r.qdiscs_) != 1 {
		t.Fatalf("foreign root: %v, %v", err, r.qdiscs_)
	}
	// A missing link means nothing is left to remove.
	if err := r.engine().remove(ctx, fault.NetNS{}, "gone0", Egress); err != nil {
		t.Fatal(err)
	}
}
