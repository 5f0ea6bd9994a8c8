//go:build linux

// Command nft-bench compares faultkit's nftables engine with the command
// sequences FIS's tooling execs, in the same run, in a throwaway network
// namespace:
//
//   - faultkit: netem.BlackholeFault Inject + Revert (egress tcp/8080,
//     with the protected endpoints allowed: 2 IPv4 and 1 IPv6 accept
//     rules, one drop rule, IPv4 and IPv6 in one inet table);
//   - iptables: the ECS agent's sequence for the same blackhole, for
//     iptables and ip6tables: -N, one -A ACCEPT per allowed address, -A
//     DROP, -I OUTPUT to apply; -F, -D OUTPUT, -X to revert (each with -w 5);
//   - nft: the same ruleset as one `nft -f` script, and `nft delete table`,
//     which is the best an exec-based tool can do.
//
// For each it prints the median and mean time of apply and of revert and
// the number of nf_tables transactions the kernel committed for each,
// counted from the NFT_MSG_NEWGEN notifications the kernel multicasts on
// NFNLGRP_NFTABLES after every commit. Then the ratios. Run as root:
//
//	go run ./bench/nft -n 50
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/netem"
	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 50, "apply+revert rounds per tool")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "nft-bench:", err)
		os.Exit(1)
	}
}

// result is what one tool did over the rounds.
type result struct {
	name                 string
	apply, revert        []time.Duration
	applyTxns, revertTxn []int
}

func (r *result) total() time.Duration { return median(r.apply) + median(r.revert) }

func run(rounds int) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, nftables)")
	}
	nsFile, err := newNetNS()
	if err != nil {
		return err
	}
	defer nsFile.Close()
	nsPath := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), nsFile.Fd())
	ns, err := fault.NetNSFromPath(nsPath)
	if err != nil {
		return err
	}
	mon, err := newGenMonitor(ns)
	if err != nil {
		return fmt.Errorf("transaction monitor: %w", err)
	}
	defer mon.close()

	const port = 8080
	allow4 := []string{"169.254.169.254", "169.254.170.2"}
	allow6 := []string{"fd00:ec2::254"}
	chain := fmt.Sprintf("egress-tcp-%d", port)
	ctx := context.Background()

	tools := []struct {
		name          string
		apply, revert func() error
	}{
		{"faultkit (netlink, one inet table)", nil, nil},
		{"iptables + ip6tables (exec, ECS agent sequence)", func() error {
			for _, tool := range []struct {
				bin   string
				allow []string
			}{{"iptables", allow4}, {"ip6tables", allow6}} {
				cmds := [][]string{{"-N", chain}}
				for _, a := range tool.allow {
					cmds = append(cmds, []string{"-A", chain, "-p", "tcp", "-d", a, "--dport", fmt.Sprint(port), "-j", "ACCEPT"})
				}
				any := "0.0.0.0/0"
				if tool.bin == "ip6tables" {
					any = "::/0"
				}
				cmds = append(cmds, []string{"-A", chain, "-p", "tcp", "-d", any, "--dport", fmt.Sprint(port), "-j", "DROP"},
					[]string{"-I", "OUTPUT", "-j", chain})
				if err := execAll(ns, tool.bin, cmds); err != nil {
					return err
				}
			}
			return nil
		}, func() error {
			for _, bin := range []string{"iptables", "ip6tables"} {
				if err := execAll(ns, bin, [][]string{{"-F", chain}, {"-D", "OUTPUT", "-j", chain}, {"-X", chain}}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"nft -f (exec, one script)", func() error {
			script := fmt.Sprintf(`table inet fkbench {
  chain egress {
    type filter hook output priority -10; policy accept;
    ip daddr { %s } accept
    ip6 daddr { %s } accept
    meta l4proto tcp th dport %d counter drop
  }
}
`, strings.Join(allow4, ", "), strings.Join(allow6, ", "), port)
			return execIn(ns, script, "nft", "-f", "-")
		}, func() error {
			return execIn(ns, "", "nft", "delete", "table", "inet", "fkbench")
		}},
	}
	var h fault.Handle
	tools[0].apply = func() error {
		f, err := netem.NewBlackhole(port, "tcp", netem.WithNetNS(nsPath))
		if err != nil {
			return err
		}
		h, err = f.Inject(ctx, nil)
		return err
	}
	tools[0].revert = func() error { return h.Revert(ctx) }

	var results []*result
	for _, t := range tools {
		if t.name != tools[0].name {
			bin := strings.Fields(t.name)[0]
			if _, err := exec.LookPath(bin); err != nil {
				fmt.Printf("skipping %s: %v\n", t.name, err)
				continue
			}
		}
		r := &result{name: t.name}
		// One untimed round warms caches and loads modules.
		if err := t.apply(); err != nil {
			return fmt.Errorf("%s: apply: %w", t.name, err)
		}
		if err := t.revert(); err != nil {
			return fmt.Errorf("%s: revert: %w", t.name, err)
		}
		for i := 0; i < rounds; i++ {
			mon.drain()
			start := time.Now()
			if err := t.apply(); err != nil {
				return fmt.Errorf("%s: apply: %w", t.name, err)
			}
			r.apply = append(r.apply, time.Since(start))
			r.applyTxns = append(r.applyTxns, mon.count())
			start = time.Now()
			if err := t.revert(); err != nil {
				return fmt.Errorf("%s: revert: %w", t.name, err)
			}
			r.revert = append(r.revert, time.Since(start))
			r.revertTxn = append(r.revertTxn, mon.count())
		}
		results = append(results, r)
	}

	fmt.Printf("nft-bench: blackhole egress tcp/%d with %d+%d allowed addresses, %d rounds, %s, %d CPUs\n\n",
		port, len(allow4), len(allow6), rounds, kernel(), runtime.NumCPU())
	fmt.Printf("%-48s %12s %12s %12s %12s %10s %10s\n", "tool", "apply p50", "apply mean", "revert p50", "revert mean", "txn/apply", "txn/revert")
	for _, r := range results {
		fmt.Printf("%-48s %12v %12v %12v %12v %10s %10s\n", r.name, median(r.apply), mean(r.apply),
			median(r.revert), mean(r.revert), txns(r.applyTxns), txns(r.revertTxn))
	}
	fmt.Println()
	base := results[0]
	for _, r := range results[1:] {
		fmt.Printf("%s / faultkit (apply+revert, medians): %.1fx\n", r.name, float64(r.total())/float64(base.total()))
	}
	return nil
}

func txns(counts []int) string {
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Microsecond)
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return (sum / time.Duration(len(ds))).Round(time.Microsecond)
}

func kernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "Linux"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}

// newNetNS creates an anonymous network namespace and returns a file that
// keeps it alive; the calling thread's namespace does not change.
func newNetNS() (*os.File, error) {
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		ch <- res{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

func execAll(ns fault.NetNS, bin string, cmds [][]string) error {
	for _, c := range cmds {
		if err := execIn(ns, "", bin, append([]string{"-w", "5"}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

// execIn runs a command in ns: forked from a thread that entered ns, the
// child starts there (no nsenter in between).
func execIn(ns fault.NetNS, stdin, bin string, args ...string) error {
	return ns.Do(func() error {
		cmd := exec.Command(bin, args...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, out)
		}
		return nil
	})
}

// genMonitor counts committed nf_tables transactions: the kernel sends one
// NFT_MSG_NEWGEN to the NFNLGRP_NFTABLES group after each commit.
type genMonitor struct{ fd int }

func newGenMonitor(ns fault.NetNS) (*genMonitor, error) {
	m := &genMonitor{fd: -1}
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		m.fd = fd
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.NFNLGRP_NFTABLES - 1)})
	})
	if err != nil {
		m.close()
		return nil, err
	}
	_ = unix.SetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	return m, nil
}

func (m *genMonitor) close() {
	if m.fd >= 0 {
		unix.Close(m.fd)
	}
}

// count returns the transactions committed since the last call. A
// commit's notifications are queued before the committing call returns.
func (m *genMonitor) count() int {
	n := 0
	buf := make([]byte, 1<<16)
	for {
		k, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return n
		}
		for b := buf[:k]; len(b) >= 16; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			typ := binary.NativeEndian.Uint16(b[4:6])
			if l < 16 || l > len(b) {
				break
			}
			if typ == unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWGEN {
				n++
			}
			b = b[min(len(b), (l+3)&^3):]
		}
	}
}

func (m *genMonitor) drain() { m.count() }
