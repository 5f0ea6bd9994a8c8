package tc

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gotc "github.com/florianl/go-tc"

	"github.com/faultkit/faultkit/fault"
)

// goldens are embedded so the test binary also checks them where testdata/
// is not at hand (the kernel lab runs the binary without the source tree).
//
//go:embed testdata/*.golden
var goldens embed.FS

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, v := range s {
		out[i] = netip.MustParsePrefix(v)
	}
	return out
}

var goldenCases = []struct {
	name string
	cfg  Config
}{
	{"latency_v4_one_source", Config{Link: "eth0", Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond,
		Sources: prefixes("10.99.0.3/32")}},
	{"sources_v4_v6", Config{Link: "eth0", Delay: 50 * time.Millisecond,
		Sources: prefixes("10.99.0.3/32", "10.99.0.0/24", "172.16.0.0/20", "fd00:99::3/128", "fd00:99::/64", "2001:db8:8000::/33", "::ffff:192.0.2.0/120")}},
	{"allow_list_all_traffic", Config{Link: "eth0", Delay: 200 * time.Millisecond, Jitter: 10 * time.Millisecond, Distribution: "normal",
		Allow: prefixes("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128")}},
	{"allow_list_with_sources", Config{Link: "eth0", LossPercent: 7,
		Sources: prefixes("10.0.0.0/8"), Allow: prefixes("10.0.0.2/32")}},
	{"flows_percent_30", Config{Link: "eth0", Delay: 200 * time.Millisecond, Jitter: 10 * time.Millisecond, FlowsPercent: 30,
		Sources: prefixes("10.99.0.3/32", "fd00:99::3/128")}},
	{"ingress_ifb_mirred", Config{Link: "eth0", Direction: Ingress, Delay: 50 * time.Millisecond,
		Sources: prefixes("10.99.0.3/32", "fd00:99::3/128")}},
	{"loss", Config{Link: "eth0", LossPercent: 20, LossCorrelation: 25}},
	{"impair_everything", Config{Link: "eth0", Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, DelayCorrelation: 10,
		Distribution: "pareto", LossPercent: 1.5, CorruptPercent: 0.1, DuplicatePercent: 2, ReorderPercent: 25,
		RateBytesPerSec: 5 << 32, Limit: 5000, Sources: prefixes("0.0.0.0/0", "::/0")}},
}

// TestGolden applies every case through the recorder, reverts it twice,
// and compares the request log with testdata/<name>.golden.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			ctx := context.Background()
			a, err := r.engine().apply(ctx, nil, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r.log = append(r.log, "# status: "+statusLine(t, r))
			r.log = append(r.log, "# revert")
			if err := a.Revert(ctx); err != nil {
				t.Fatal(err)
			}
			r.log = append(r.log, "# revert again (nothing to do)")
			if err := a.Revert(ctx); err != nil {
				t.Fatal(err)
			}
			r.log = append(r.log, "# status: "+statusLine(t, r))
			if len(r.qdiscs_) != 0 || len(r.filts) != 0 || len(r.links) != 2 {
				t.Errorf("left behind: qdiscs %d filters %d links %v", len(r.qdiscs_), len(r.filts), r.links)
			}
			compareGolden(t, filepath.Join("testdata", tc.name+".golden"), strings.Join(r.log, "\n")+"\n")
		})
	}
}

func statusLine(t *testing.T, r *recorder) string {
	t.Helper()
	act, err := r.engine().status(fault.NetNS{}, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if len(act) == 0 {
		return "none"
	}
	var s []string
	for _, a := range act {
		s = append(s, fmt.Sprintf("%s %s %s handle %s", a.Link, a.Direction, a.Kind, hexHandle(a.Handle)))
	}
	return strings.Join(s, "; ")
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := goldens.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// TestU32KeysNetworkOrder pins the u32 key bytes independently of the
// golden files: the kernel compares the raw key words with packet bytes,
// so 10.99.0.3 must reach it as 0a 63 00 03 on any host.
func TestU32KeysNetworkOrder(t *testing.T) {
	type key struct {
		val, mask string
		off       int32
	}
	cases := []struct {
		prefix string
		m      match
		want   []key
	}{
		{"10.99.0.3/32", matchDst, []key{{"40000000", "f0000000", 0}, {"0a630003", "ffffffff", 16}}},
		{"10.99.0.3/32", matchSrc, []key{{"40000000", "f0000000", 0}, {"0a630003", "ffffffff", 12}}},
		{"10.99.0.77/24", matchDst, []key{{"40000000", "f0000000", 0}, {"0a630000", "ffffff00", 16}}},
		{"172.16.0.0/12", matchDst, []key{{"40000000", "f0000000", 0}, {"ac100000", "fff00000", 16}}},
		{"0.0.0.0/0", matchDst, []key{{"40000000", "f0000000", 0}}},
		{"fd00:99::3/128", matchDst, []key{{"60000000", "f0000000", 0},
			{"fd000099", "ffffffff", 24}, {"00000000", "ffffffff", 28}, {"00000000", "ffffffff", 32}, {"00000003", "ffffffff", 36}}},
		{"fd00:99::3/128", matchSrc, []key{{"60000000", "f0000000", 0},
			{"fd000099", "ffffffff", 8}, {"00000000", "ffffffff", 12}, {"00000000", "ffffffff", 16}, {"00000003", "ffffffff", 20}}},
		{"fd00:99::/64", matchDst, []key{{"60000000", "f0000000", 0}, {"fd000099", "ffffffff", 24}, {"00000000", "ffffffff", 28}}},
		{"2001:db8:ffff::/33", matchDst, []key{{"60000000", "f0000000", 0}, {"20010db8", "ffffffff", 24}, {"80000000", "80000000", 28}}},
		{"::ffff:192.0.2.9/120", matchDst, []key{{"40000000", "f0000000", 0}, {"c0000200", "ffffff00", 16}}},
	}
	for _, c := range cases {
		keys := prefixKeys(netip.MustParsePrefix(c.prefix), c.m)
		var got []key
		for _, k := range keys {
			got = append(got, key{wire(k.Val), wire(k.Mask), int32(k.Off)})
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s (match %d):\n got %v\nwant %v", c.prefix, c.m, got, c.want)
		}
	}
}

func TestConflict(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Link: "eth0", Delay: time.Millisecond}
	t.Run("faultkit root", func(t *testing.T) {
		r := newRecorder()
		first, err := r.engine().apply(ctx, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		n := len(r.log)
		_, err = r.engine().apply(ctx, nil, cfg)
		if !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("second Apply: %v, want ErrConflict", err)
		}
		if len(r.log) != n {
			t.Fatalf("second Apply sent requests: %v", r.log[n:])
		}
		act, _ := r.engine().status(fault.NetNS{}, "eth0")
		if len(act) != 1 || act[0].Kind != KindLatency {
			t.Fatalf("first fault not intact: %+v", act)
		}
		if err := first.Revert(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("foreign root", func(t *testing.T) {
		r := newRecorder()
		r.qdiscs_ = append(r.qdiscs_, gotc.Object{Msg: gotc.Msg{Ifindex: 2, Parent: gotc.HandleRoot, Handle: 0x10000}, Attribute: gotc.Attribute{Kind: "htb"}})
		_, err := r.engine().apply(ctx, nil, cfg)
		if !errors.Is(err, fault.ErrConflict) || len(r.log) != 0 {
			t.Fatalf("Apply over a foreign htb root: %v, requests %v", err, r.log)
		}
		if len(r.qdiscs_) != 1 {
			t.Fatal("foreign root touched")
		}
	})
	t.Run("default root is fine", func(t *testing.T) {
		r := newRecorder()
		r.qdiscs_ = append(r.qdiscs_, gotc.Object{Msg: gotc.Msg{Ifindex: 2, Parent: gotc.HandleRoot, Handle: 0}, Attribute: gotc.Attribute{Kind: "noqueue"}})
		if _, err := r.engine().apply(ctx, nil, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("foreign ingress", func(t *testing.T) {
		r := newRecorder()
		r.qdiscs_ = append(r.qdiscs_, gotc.Object{Msg: gotc.Msg{Ifindex: 2, Parent: gotc.HandleIngress, Handle: ingressHandle}, Attribute: gotc.Attribute{Kind: "clsact"}})
		c := cfg
		c.Direction = Ingress
		_, err := r.engine().apply(ctx, nil, c)
		if !errors.Is(err, fault.ErrConflict) || len(r.log) != 0 {
			t.Fatalf("Apply over a foreign clsact: %v, requests %v", err, r.log)
		}
	})
	t.Run("kernel says EEXIST", func(t *testing.T) {
		// A root created between the check and the add (a race) is not
		// ours: the rollback must not delete it.
		r := newRecorder()
		r.failAt, r.failErr = 1, syscall.EEXIST
		_, err := r.engine().apply(ctx, nil, cfg)
		if !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		for _, l := range r.log[1:] {
			if strings.Contains(l, " del ") {
				t.Fatalf("rollback deleted something it did not create: %v", r.log)
			}
		}
	})
}

// journalState reads a journal file and returns the undos still active.
func journalState(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	active := map[float64]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		switch l["t"] {
		case "add":
			b, _ := json.Marshal(l["undo"])
			active[l["id"].(float64)] = string(b)
		case "release":
			delete(active, l["id"].(float64))
		}
	}
	var out []string
	for _, v := range active {
		out = append(out, v)
	}
	return out
}

// TestRollback fails every mutating request of Apply in turn and checks
// that nothing is left (all-or-nothing) and the journal is clean.
func TestRollback(t *testing.T) {
	ctx := context.Background()
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			clean := newRecorder()
			if _, err := clean.engine().apply(ctx, nil, gc.cfg); err != nil {
				t.Fatal(err)
			}
			steps := clean.calls
			for n := 1; n <= steps; n++ {
				r := newRecorder()
				r.failAt, r.failErr = n, syscall.ENOMEM
				j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir(), NoGuardian: true})
				if err != nil {
					t.Fatal(err)
				}
				a, err := r.engine().apply(ctx, j, gc.cfg)
				_ = a
				if err == nil || a != nil {
					t.Fatalf("step %d: Apply succeeded despite the failure", n)
				}
				if !errors.Is(err, syscall.ENOMEM) {
					t.Errorf("step %d: error %v does not wrap the cause", n, err)
				}
				if len(r.qdiscs_) != 0 || len(r.filts) != 0 || len(r.links) != 2 {
					t.Fatalf("step %d: left behind qdiscs %v filters %d links %v\n%s", n, r.qdiscs_, len(r.filts), r.links, strings.Join(r.log, "\n"))
				}
				if act := journalState(t, j.Path()); len(act) != 0 {
					t.Fatalf("step %d: journal entries not released: %v", n, act)
				}
				j.Close()
			}
		})
	}
}

// TestJournalBeforeCreate checks that each root/ingress qdisc and ifb link
// is journaled before the request that creates it.
func TestJournalBeforeCreate(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []Direction{Egress, Ingress} {
		r := newRecorder()
		j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir(), NoGuardian: true})
		if err != nil {
			t.Fatal(err)
		}
		// Fail the very first creation: its undo must already be recorded
		// (and then released by the rollback).
		r.failAt, r.failErr = 1, syscall.ENOMEM
		var recorded []string
		_, _ = r.engine().apply(ctx, j, Config{Link: "eth0", Direction: dir, Delay: time.Millisecond})
		b, _ := os.ReadFile(j.Path())
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"t":"add"`) {
				recorded = append(recorded, l)
			}
		}
		if len(recorded) != 1 {
			t.Fatalf("%s: journal adds before the first creation: %v", dir, recorded)
		}
		want := `"op":"qdisc"`
		if dir == Ingress {
			want = `"op":"link"`
		}
		if !strings.Contains(recorded[0], want) {
			t.Errorf("%s: first journal entry %s, want %s", dir, recorded[0], want)
		}
		j.Close()
	}
}

func TestUnsupportedKind(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		failAt  int
		cfg     Config
		feature string
	}{
		{1, Config{Link: "eth0", Delay: time.Millisecond}, "sch_prio"},
		{2, Config{Link: "eth0", Delay: time.Millisecond}, "sch_netem"},
		{3, Config{Link: "eth0", Delay: time.Millisecond, Sources: prefixes("10.0.0.0/8")}, "cls_u32"},
		{1, Config{Link: "eth0", Direction: Ingress, Delay: time.Millisecond}, "ifb"},
	}
	for _, c := range cases {
		r := newRecorder()
		r.failAt, r.failErr = c.failAt, syscall.ENOENT
		if c.feature == "ifb" {
			r.failErr = syscall.EOPNOTSUPP
		}
		_, err := r.engine().apply(ctx, nil, c.cfg)
		var ue *fault.UnsupportedError
		if !errors.As(err, &ue) || ue.Feature != c.feature {
			t.Errorf("fail at %d: %v, want unsupported %s", c.failAt, err, c.feature)
		}
	}
	// flow classifier and mirred action
	r := newRecorder()
	r.failAt, r.failErr = 1+1+10+5+1, syscall.ENOENT // root, spread, 10 leaves, 5 netem, first flow filter
	_, err := r.engine().apply(ctx, nil, Config{Link: "eth0", Delay: time.Millisecond, FlowsPercent: 5})
	var ue *fault.UnsupportedError
	if !errors.As(err, &ue) || ue.Feature != "cls_flow" {
		t.Errorf("flow: %v\n%s", err, strings.Join(r.log, "\n"))
	}
	r = newRecorder()
	r.failAt, r.failErr = 5, syscall.ENOENT // ifb, root, netem, ingress, redirect
	_, err = r.engine().apply(ctx, nil, Config{Link: "eth0", Direction: Ingress, Delay: time.Millisecond})
	if !errors.As(err, &ue) || ue.Feature != "act_mirred" {
		t.Errorf("mirred: %v\n%s", err, strings.Join(r.log, "\n"))
	}
}

func TestMissingLink(t *testing.T) {
	r := newRecorder()
	_, err := r.engine().apply(context.Background(), nil, Config{Link: "nope0", Delay: time.Millisecond})
	if !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestCanceledContextRollsBack(t *testing.T) {
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	// cancel once the root exists
	eng := engine{dial: func(fault.NetNS) (conn, error) { return cancelAfter{r, cancel}, nil }}
	_, err := eng.apply(ctx, nil, Config{Link: "eth0", Delay: time.Millisecond, FlowsPercent: 50})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// The rollback itself runs with the canceled ctx: it must still clean up.
	if len(r.qdiscs_) != 0 {
		t.Fatalf("left behind %d qdiscs:\n%s", len(r.qdiscs_), strings.Join(r.log, "\n"))
	}
}

type cancelAfter struct {
	*recorder
	cancel func()
}

func (c cancelAfter) addQdisc(o *gotc.Object) error {
	err := c.recorder.addQdisc(o)
	c.cancel()
	return err
}
