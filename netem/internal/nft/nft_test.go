//go:build linux

package nft

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/fault"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden is embedded so the test binary also runs where the source tree
// is not (the kernel lab).
//
//go:embed testdata/*.golden
var golden embed.FS

// recorder is a transport that records batches instead of sending them.
type recorder struct {
	batches [][]netlink.Message
	fail    error
	closed  bool
}

func (r *recorder) exec(msgs []netlink.Message) error {
	r.batches = append(r.batches, batch(msgs))
	return r.fail
}

func (r *recorder) close() error { r.closed = true; return nil }

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

var goldenCases = []struct {
	name string
	cfg  Config
}{
	{"blackhole_egress_tcp", Config{Kind: KindBlackhole, Protocol: unix.IPPROTO_TCP, Port: 80,
		Allow: pfx("169.254.170.2/32", "169.254.169.254/32", "fd00:ec2::254/128")}},
	{"blackhole_ingress_udp_ifaces", Config{Kind: KindBlackhole, Direction: Ingress, Protocol: unix.IPPROTO_UDP, Port: 53,
		Interfaces: []string{"eth0", "eth1"}}},
	{"loss_sources_flows", Config{Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 12.5, FlowsPercent: 30, Seed: 0x1234,
		Sources: pfx("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"), Allow: pfx("169.254.169.254/32")}},
	{"loss_all_two_links_ingress", Config{Kind: KindLoss, Direction: Ingress, Interfaces: []string{"eth0", "eth1"}, LossPercent: 100}},
	{"loss_v4_only", Config{Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 7, Sources: pfx("198.51.100.0/24")}},
}

// TestGolden compares the netlink messages of each configuration with
// testdata/<name>.golden (regenerate with -update after checking the diff).
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := Messages(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(msgs)
			path := filepath.Join("testdata", tc.name+".golden")
			var want []byte
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				want = []byte(got) // the embedded copy predates the rewrite
			} else if want, err = golden.ReadFile(path); err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("messages differ from %s:\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// TestOneTransaction checks that Apply and Revert each send exactly one
// batch, that the tables carry the owner flag and are created exclusively,
// and that Revert deletes exactly the fault's tables.
func TestOneTransaction(t *testing.T) {
	ns := fault.NetNS{Path: "/nonexistent", Dev: 1, Ino: 2}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			cfg := tc.cfg
			cfg.NetNS = ns
			a, err := apply(context.Background(), nil, cfg, func(fault.NetNS) (transport, error) { return r, nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(r.batches) != 1 {
				t.Fatalf("apply sent %d batches, want 1", len(r.batches))
			}
			b := r.batches[0]
			if msgName(b[0].Header.Type) != "BATCH_BEGIN" || msgName(b[len(b)-1].Header.Type) != "BATCH_END" {
				t.Errorf("batch not framed: %s ... %s", msgName(b[0].Header.Type), msgName(b[len(b)-1].Header.Type))
			}
			var tables []string
			for _, m := range b {
				if msgName(m.Header.Type) != "NEWTABLE" {
					continue
				}
				attrs := attrMap(t, m)
				tables = append(tables, strings.TrimRight(string(attrs[unix.NFTA_TABLE_NAME]), "\x00"))
				if f := attrs[unix.NFTA_TABLE_FLAGS]; len(f) != 4 || f[3] != tableFlagOwner {
					t.Errorf("table flags %x, want owner (0x2)", f)
				}
				if m.Header.Flags&netlink.Excl == 0 {
					t.Errorf("NEWTABLE without NLM_F_EXCL: a second fault would not conflict")
				}
			}
			if strings.Join(tables, ",") != strings.Join(a.Tables(), ",") {
				t.Errorf("created %v, Applied reports %v", tables, a.Tables())
			}
			if err := a.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := a.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(r.batches) != 2 {
				t.Fatalf("apply+revert+revert sent %d batches, want 2", len(r.batches))
			}
			var deleted []string
			for _, m := range r.batches[1][1 : len(r.batches[1])-1] {
				if msgName(m.Header.Type) != "DELTABLE" {
					t.Errorf("revert sent %s", msgName(m.Header.Type))
				}
				deleted = append(deleted, strings.TrimRight(string(attrMap(t, m)[unix.NFTA_TABLE_NAME]), "\x00"))
			}
			if strings.Join(deleted, ",") != strings.Join(tables, ",") {
				t.Errorf("revert deleted %v, want %v", deleted, tables)
			}
			if !r.closed {
				t.Errorf("owning socket not closed after revert")
			}
		})
	}
}

// TestApplyErrors maps the kernel's refusals.
func TestApplyErrors(t *testing.T) {
	ns := fault.NetNS{Path: "/nonexistent", Dev: 1, Ino: 2}
	cfg := Config{NetNS: ns, Kind: KindBlackhole, Protocol: unix.IPPROTO_TCP, Port: 443}
	newTable := netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE)
	newRule := netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"exists", &batchError{Index: 0, Type: newTable, Errno: unix.EEXIST}, fault.ErrConflict},
		{"owned by another socket", &batchError{Index: 0, Type: newTable, Errno: unix.EPERM}, fault.ErrConflict},
		{"no expression", &batchError{Index: 3, Type: newRule, Errno: unix.ENOENT}, fault.ErrUnsupported},
		{"no nf_tables", &batchError{Index: -1, Errno: unix.EINVAL}, fault.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{fail: tc.err}
			_, err := apply(context.Background(), nil, cfg, func(fault.NetNS) (transport, error) { return r, nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !r.closed {
				t.Errorf("socket left open after a failed apply")
			}
		})
	}
	t.Run("no owner flag", func(t *testing.T) {
		r := &fallbackRecorder{}
		a, err := apply(context.Background(), nil, cfg, func(fault.NetNS) (transport, error) { return r, nil })
		if err != nil {
			t.Fatal(err)
		}
		if a.Owned() || len(r.flags) != 2 || r.flags[0] != tableFlagOwner || r.flags[1] != 0 {
			t.Fatalf("owned %v, table flags tried %v; want owner then plain", a.Owned(), r.flags)
		}
	})
}

// fallbackRecorder refuses the owner flag like a kernel before 5.12.
type fallbackRecorder struct {
	recorder
	flags []byte
}

func (r *fallbackRecorder) exec(msgs []netlink.Message) error {
	for i, m := range msgs {
		if msgName(m.Header.Type) == "NEWTABLE" {
			ad, _ := netlink.NewAttributeDecoder(m.Data[4:])
			for ad.Next() {
				if ad.Type() == unix.NFTA_TABLE_FLAGS {
					f := ad.Bytes()
					r.flags = append(r.flags, f[3])
					if f[3]&tableFlagOwner != 0 {
						return &batchError{Index: i, Type: m.Header.Type, Errno: unix.EOPNOTSUPP}
					}
				}
			}
		}
	}
	return nil
}

func TestValidate(t *testing.T) {
	ok := Config{Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 5}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no kind":        {},
		"port 0":         {Kind: KindBlackhole, Protocol: unix.IPPROTO_TCP},
		"icmp":           {Kind: KindBlackhole, Protocol: unix.IPPROTO_ICMP, Port: 1},
		"loss 0":         {Kind: KindLoss, Interfaces: []string{"eth0"}},
		"loss 0.001":     {Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 0.001},
		"loss 101":       {Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 101},
		"no link":        {Kind: KindLoss, LossPercent: 5},
		"long link":      {Kind: KindLoss, Interfaces: []string{"abcdefghijklmnop"}, LossPercent: 5},
		"dup link":       {Kind: KindLoss, Interfaces: []string{"eth0", "eth0"}, LossPercent: 5},
		"flows 101":      {Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 5, FlowsPercent: 101},
		"bad direction":  {Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 5, Direction: 7},
		"invalid prefix": {Kind: KindLoss, Interfaces: []string{"eth0"}, LossPercent: 5, Sources: []netip.Prefix{{}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func TestIntervalElements(t *testing.T) {
	key := func(e nftables.SetElement) string {
		a, _ := netip.AddrFromSlice(e.Key)
		if e.IntervalEnd {
			return "end " + a.String()
		}
		return a.String()
	}
	for _, tc := range []struct {
		in   []netip.Prefix
		want string
	}{
		{pfx("10.0.0.0/8"), "10.0.0.0,end 11.0.0.0"},
		{pfx("10.1.0.0/16", "10.0.0.0/8", "192.0.2.1/32"), "10.0.0.0,end 11.0.0.0,192.0.2.1,end 192.0.2.2"},
		{pfx("10.0.0.0/9", "10.128.0.0/9"), "10.0.0.0,end 11.0.0.0"}, // adjacent ranges merge
		{pfx("255.255.255.0/24"), "255.255.255.0"},                   // no end past the top
		{pfx("0.0.0.0/0"), "0.0.0.0"},
		{pfx("2001:db8::/32", "::/0"), "::"},
		{pfx("2001:db8::1/128"), "2001:db8::1,end 2001:db8::2"},
	} {
		var got []string
		for _, e := range intervalElements(tc.in) {
			got = append(got, key(e))
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("intervalElements(%v) = %s, want %s", tc.in, g, tc.want)
		}
	}
}

func TestParseTable(t *testing.T) {
	a, ok := parseTable(TableName(Config{Direction: Ingress, Protocol: unix.IPPROTO_UDP, Port: 5353}))
	if !ok || a.Kind != KindBlackhole || a.Direction != Ingress || a.Protocol != unix.IPPROTO_UDP || a.Port != 5353 {
		t.Errorf("blackhole table parsed as %+v, %v", a, ok)
	}
	a, ok = parseTable(LossTable("eth0.100"))
	if !ok || a.Kind != KindLoss || a.Link != "eth0.100" {
		t.Errorf("loss table parsed as %+v, %v", a, ok)
	}
	for _, n := range []string{"filter", "faultkit_blackhole_egress_icmp_1", "faultkit_blackhole_x", "faultkit_probe_1"} {
		if _, ok := parseTable(n); ok {
			t.Errorf("parseTable(%q) accepted", n)
		}
	}
}

func TestLossThreshold(t *testing.T) {
	for p, want := range map[float64]uint32{0.01: 1, 7: 700, 12.5: 1250, 50: 5000, 100: 10000} {
		if got := lossThreshold(p); got != want {
			t.Errorf("lossThreshold(%v) = %d, want %d", p, got, want)
		}
	}
}

func attrMap(t *testing.T, m netlink.Message) map[uint16][]byte {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16][]byte{}
	for ad.Next() {
		out[ad.Type()] = ad.Bytes()
	}
	return out
}

// dump renders messages as text: one block per message, attributes by
// number, nested attributes indented, strings quoted, the rest in hex.
func dump(msgs []netlink.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s family=%d flags=%s\n", msgName(m.Header.Type), m.Data[0], m.Header.Flags)
		dumpAttrs(&b, m.Data[4:], 1)
	}
	return b.String()
}

func dumpAttrs(b *strings.Builder, data []byte, depth int) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		fmt.Fprintf(b, "%s! %v\n", strings.Repeat("  ", depth), err)
		return
	}
	for ad.Next() {
		ind := strings.Repeat("  ", depth)
		v := ad.Bytes()
		typ := ad.Type()
		nested := ad.TypeFlags()&netlink.Nested != 0
		switch {
		case nested:
			fmt.Fprintf(b, "%s%d {\n", ind, typ)
			dumpAttrs(b, v, depth+1)
			fmt.Fprintf(b, "%s}\n", ind)
		case printable(v):
			fmt.Fprintf(b, "%s%d %q\n", ind, typ, strings.TrimRight(string(v), "\x00"))
		default:
			fmt.Fprintf(b, "%s%d %x\n", ind, typ, v)
		}
	}
}

func printable(v []byte) bool {
	if len(v) < 2 || v[len(v)-1] != 0 {
		return false
	}
	for _, c := range v[:len(v)-1] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			if b.Len() > 2000 {
				break
			}
		}
	}
	return b.String()
}
