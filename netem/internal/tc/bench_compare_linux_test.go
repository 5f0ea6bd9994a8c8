//go:build linux

package tc

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/internal/nettest"
	"github.com/faultkit/faultkit/internal/testenv"
)

var benchSourceCounts = []int{1, 10, 100}

const benchDelay = 100 * time.Millisecond

func benchSources(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i / 250), byte(1 + i%250)}), 32)
	}
	return out
}

// setup returns a namespace with a veth end to impair, or skips.
func benchSetup(tb testing.TB) (*nettest.Pair, string) {
	tb.Helper()
	testenv.RequireRoot(tb)
	p := nettest.NewPair(tb)
	testenv.RequireUnsupported(tb, Probe(p.A.NetNS()))
	tcPath, err := exec.LookPath("tc")
	if err != nil {
		tb.Skipf("no tc binary to compare with: %v", err)
	}
	return p, tcPath
}

// This file is the benchmark bench/tc/run.sh runs in the kernel lab. It
// lives here because it drives the engine directly, which is internal to
// package netem.

// engineOp applies and reverts the fault through the netlink engine.
func engineOp(p *nettest.Pair, n int) error {
	ctx := context.Background()
	a, err := Apply(ctx, nil, Config{NetNS: p.A.NetNS(), Link: p.AIf, Delay: benchDelay, Sources: benchSources(n)})
	if err != nil {
		return err
	}
	return a.Revert(ctx)
}

// execCommands is the tc command sequence of the same fault (the SSM
// document's layout: root prio, netem on band 1, one u32 filter per
// source), followed by its removal.
func execCommands(ns, dev string, n int) [][]string {
	pm := strings.Fields(strings.Repeat("2 ", 16))
	cmds := [][]string{
		append([]string{"-n", ns, "qdisc", "add", "dev", dev, "root", "handle", "1:", "prio", "priomap"}, pm...),
		{"-n", ns, "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "netem", "delay", "100ms"},
	}
	for _, s := range benchSources(n) {
		cmds = append(cmds, []string{"-n", ns, "filter", "add", "dev", dev, "protocol", "ip", "parent", "1:0", "prio", "1",
			"u32", "match", "ip", "dst", s.String(), "flowid", "1:1"})
	}
	return append(cmds, []string{"-n", ns, "qdisc", "del", "dev", dev, "root"})
}

func execOp(tcPath string, cmds [][]string) error {
	for _, c := range cmds {
		if out, err := exec.Command(tcPath, c...).CombinedOutput(); err != nil {
			return fmt.Errorf("tc %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

func medianDuration(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func measure(iters int, op func() error) (time.Duration, time.Duration, error) {
	if err := op(); err != nil { // warm-up: module loading, page cache
		return 0, 0, err
	}
	var ds []time.Duration
	for range iters {
		start := time.Now()
		if err := op(); err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(start))
	}
	return medianDuration(ds), slices.Min(ds), nil
}

// TestCompareExec prints, for 1, 10 and 100 sources, the median time of
// one apply+revert through the engine and through exec'd tc commands, and
// their ratio. It reports, it does not assert: timings depend on the
// machine (the lab is usually emulated).
func TestCompareExec(t *testing.T) {
	if os.Getenv("FAULTKIT_BENCH") != "1" {
		t.Skip("benchmark; set FAULTKIT_BENCH=1 (bench/tc/run.sh does)")
	}
	p, tcPath := benchSetup(t)
	ns := p.A.Name()
	// The exec sequence must build what the engine builds: check once.
	if err := execOp(tcPath, execCommands(ns, p.AIf, 1)[:3]); err != nil {
		t.Fatal(err)
	}
	if act, err := Status(p.A.NetNS(), p.AIf); err != nil || len(act) != 0 {
		t.Fatalf("tc's tree must not look like faultkit's (other handles): %+v %v", act, err)
	}
	if err := execOp(tcPath, [][]string{{"-n", ns, "qdisc", "del", "dev", p.AIf, "root"}}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%-8s %7s %14s %14s %14s %14s %12s %9s\n", "sources", "tc cmds", "engine median", "engine min", "exec median", "exec min", "median ratio", "min ratio")
	for _, n := range benchSourceCounts {
		cmds := execCommands(ns, p.AIf, n)
		engIters, execIters := 30, 5
		if n == 100 {
			engIters, execIters = 15, 3
		}
		em, emin, err := measure(engIters, func() error { return engineOp(p, n) })
		if err != nil {
			t.Fatal(err)
		}
		xm, xmin, err := measure(execIters, func() error { return execOp(tcPath, cmds) })
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%-8d %7d %14v %14v %14v %14v %11.1fx %8.1fx\n", n, len(cmds), em.Round(time.Microsecond), emin.Round(time.Microsecond),
			xm.Round(time.Microsecond), xmin.Round(time.Microsecond), float64(xm)/float64(em), float64(xmin)/float64(emin))
	}
}

// BenchmarkApplyRevert is the same comparison as go benchmarks.
func BenchmarkApplyRevert(b *testing.B) {
	p, tcPath := benchSetup(b)
	for _, n := range benchSourceCounts {
		b.Run(fmt.Sprintf("engine/sources=%d", n), func(b *testing.B) {
			for range b.N {
				if err := engineOp(p, n); err != nil {
					b.Fatal(err)
				}
			}
		})
		cmds := execCommands(p.A.Name(), p.AIf, n)
		b.Run(fmt.Sprintf("exec/sources=%d", n), func(b *testing.B) {
			for range b.N {
				if err := execOp(tcPath, cmds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
