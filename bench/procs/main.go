//go:build linux

// Command procs-bench times finding and signalling N sleeping processes by
// name: faultkit's procs.Kill against psmisc killall, in the same run, on
// the same processes.
//
// A holder process (this program re-executed with -holder) starts N copies
// of sleep under a random name and reaps them, so neither tool shares a
// process with the children's exit notifications. Each tool is timed from
// the call until it returns: procs.Kill in-process, killall as a child
// process (its fork and exec are part of its time, as when FIS runs it;
// the output prints that start-up cost separately). Wall time is what the
// issue asks for; CPU time (user+system, from getrusage) is printed too
// because it is far less disturbed by other load on the machine.
//
// Two kinds of rounds, the order of the tools alternating between rounds:
//
//   - SIGCONT rounds signal the same N processes again and again (a sleeping
//     process ignores SIGCONT), so many rounds are cheap.
//   - SIGKILL rounds kill N fresh processes per round; the holder then
//     checks that every one of them died by SIGKILL, else the run fails.
//
// Names come in two shapes: short (9 bytes, matched by comm alone) and
// long (22 bytes, which makes both tools read every candidate's command
// line).
//
//	go run ./bench/procs -n 1000,5000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/procs"
)

func main() {
	ns := flag.String("n", "1000,5000", "comma-separated process counts")
	contRounds := flag.Int("cont-rounds", 10, "SIGCONT rounds per tool, count and name shape")
	killRounds := flag.Int("kill-rounds", 5, "SIGKILL rounds per tool, count and name shape")
	shapes := flag.String("names", "short,long", "name shapes: short (9 bytes), long (22 bytes)")
	killall := flag.String("killall", "killall", "path of psmisc killall")
	holder := flag.Int("holder", 0, "internal: run as the holder of this many sleepers")
	exe := flag.String("exe", "", "internal: the holder's sleeper executable")
	flag.Parse()
	var err error
	if *holder > 0 {
		err = hold(*exe, *holder)
	} else {
		err = run(*ns, *contRounds, *killRounds, *shapes, *killall)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "procs-bench:", err)
		os.Exit(1)
	}
}

// hold starts n sleepers, says "ready", reaps them as they die and, once
// all are gone, reports how many died by SIGKILL. When its stdin closes
// it kills the sleepers that are left.
func hold(exe string, n int) error {
	attr := &os.ProcAttr{Files: []*os.File{nil, nil, os.Stderr}}
	kids := make([]*os.Process, 0, n)
	defer func() {
		for _, p := range kids {
			_ = p.Kill()
		}
	}()
	for range n {
		p, err := os.StartProcess(exe, []string{exe, "600"}, attr)
		if err != nil {
			return err
		}
		kids = append(kids, p)
	}
	comm := filepath.Base(exe)
	comm = comm[:min(len(comm), procs.CommLen)]
	deadline := time.Now().Add(2 * time.Minute)
	for _, p := range kids {
		for {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/comm")
			if err == nil && strings.TrimSpace(string(b)) == comm {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("sleepers did not start within two minutes")
			}
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Println("ready")
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		for _, p := range kids {
			_ = p.Kill()
		}
	}()
	killed := 0
	for _, p := range kids {
		st, err := p.Wait()
		if err != nil {
			return err
		}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed++
		}
	}
	kids = nil
	fmt.Printf("killed %d\n", killed)
	return nil
}

// holder is a running holder process.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startHolder(exe string, n int) (*holder, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-holder", strconv.Itoa(n), "-exe", exe)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &holder{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !h.out.Scan() || h.out.Text() != "ready" {
		h.stop()
		return nil, fmt.Errorf("holder did not get ready: %q", h.out.Text())
	}
	return h, nil
}

// stop makes the holder kill what is left and returns how many sleepers
// died by SIGKILL in all.
func (h *holder) stop() (int, error) {
	h.stdin.Close()
	var killed int
	var err error
	if h.out.Scan() {
		_, err = fmt.Sscanf(h.out.Text(), "killed %d", &killed)
	} else {
		err = errors.New("holder ended without a report")
	}
	return killed, errors.Join(err, h.cmd.Wait())
}

// finished waits for the holder's report after all its sleepers were
// killed, and returns how many died by SIGKILL.
func (h *holder) finished() (int, error) {
	done := make(chan struct{})
	var line string
	var ok bool
	go func() { ok = h.out.Scan(); line = h.out.Text(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		h.stdin.Close()
		<-done
		_ = h.cmd.Wait()
		return 0, errors.New("sleepers still alive a minute after the kill")
	}
	h.stdin.Close()
	werr := h.cmd.Wait()
	if !ok {
		return 0, errors.Join(errors.New("holder ended without a report"), werr)
	}
	var killed int
	_, err := fmt.Sscanf(line, "killed %d", &killed)
	return killed, errors.Join(err, werr)
}

// sample is one timed run of one tool.
type sample struct{ wall, cpu time.Duration }

type row struct {
	n        int
	shape    string
	sig      string
	fk, ka   []sample
	fkMethod string
}

func run(nsFlag string, contRounds, killRounds int, shapesFlag, killallPath string) error {
	var counts []int
	for _, f := range strings.Split(nsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: bad count %q", f)
		}
		counts = append(counts, n)
	}
	if contRounds < 0 || killRounds < 0 || contRounds+killRounds == 0 {
		return errors.New("-cont-rounds and -kill-rounds must not be negative, nor both 0")
	}
	killall, err := exec.LookPath(killallPath)
	if err != nil {
		return fmt.Errorf("killall (psmisc) not found: %w", err)
	}
	version, _ := exec.Command(killall, "-V").CombinedOutput()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "faultkit-bench-procs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var rows []row
	for _, shape := range strings.Split(shapesFlag, ",") {
		tag, err := randomTag()
		if err != nil {
			return err
		}
		var name string
		switch strings.TrimSpace(shape) {
		case "short":
			name = "fkb" + tag
		case "long":
			name = "fkb" + tag + "-long-sleeper"
		default:
			return fmt.Errorf("-names: unknown shape %q", shape)
		}
		exe := filepath.Join(dir, name)
		if err := copyFile(sleep, exe); err != nil {
			return err
		}
		label := fmt.Sprintf("%s (%d B)", strings.TrimSpace(shape), len(name))
		for _, n := range counts {
			if contRounds > 0 {
				r, err := contRow(exe, name, n, contRounds, killall)
				if err != nil {
					return fmt.Errorf("SIGCONT, n=%d, %s: %w", n, label, err)
				}
				r.shape = label
				rows = append(rows, r)
			}
			if killRounds > 0 {
				r, err := killRow(exe, name, n, killRounds, killall)
				if err != nil {
					return fmt.Errorf("SIGKILL, n=%d, %s: %w", n, label, err)
				}
				r.shape = label
				rows = append(rows, r)
			}
		}
	}
	overhead := killallOverhead(killall)
	load, _ := os.ReadFile("/proc/loadavg")

	fmt.Printf("faultkit procs.Kill (in-process, %s) vs %s (child process)\n",
		rows[0].fkMethod, strings.SplitN(strings.TrimSpace(string(version)), "\n", 2)[0])
	fmt.Printf("find and signal N sleeping processes by name; median [min] of the rounds; ratio = faultkit / killall (< 1: faultkit faster)\n")
	fmt.Printf("%-5s  %-14s  %-7s  %6s  %-21s  %-21s  %-10s  %-9s  %-9s  %s\n",
		"N", "name", "signal", "rounds", "faultkit wall", "killall wall", "wall ratio", "fk CPU", "ka CPU", "CPU ratio")
	for _, r := range rows {
		fw, kw := median(r.fk, wall), median(r.ka, wall)
		fc, kc := median(r.fk, cpu), median(r.ka, cpu)
		fmt.Printf("%-5d  %-14s  %-7s  %6d  %-21s  %-21s  %-10.2f  %-9v  %-9v  %.2f\n", r.n, r.shape, r.sig, len(r.fk),
			fmt.Sprintf("%v [%v]", round3(fw), round3(minOf(r.fk, wall))),
			fmt.Sprintf("%v [%v]", round3(kw), round3(minOf(r.ka, wall))),
			float64(fw)/float64(kw), round3(fc), round3(kc), float64(fc)/float64(kc))
	}
	fmt.Printf("killall start-up alone (killall -V, median of 20): %v, included in its wall times\n", round3(overhead))
	fmt.Printf("CPUs %d, load average at the end: %s", runtime.NumCPU(), load)
	return nil
}

// contRow signals the same n sleepers with SIGCONT, rounds times per tool.
func contRow(exe, name string, n, rounds int, killall string) (row, error) {
	r := row{n: n, sig: "SIGCONT"}
	h, err := startHolder(exe, n)
	if err != nil {
		return r, err
	}
	for i := range rounds {
		for _, tool := range order(i) {
			s, method, err := timeTool(tool, name, n, syscall.SIGCONT, "CONT", killall)
			if err != nil {
				h.stop()
				return r, fmt.Errorf("%s round %d: %w", tool, i+1, err)
			}
			r.add(tool, s, method)
		}
	}
	if _, err := h.stop(); err != nil {
		return r, err
	}
	return r, nil
}

// killRow kills n fresh sleepers with SIGKILL, rounds times per tool, and
// checks that all of them died by SIGKILL.
func killRow(exe, name string, n, rounds int, killall string) (row, error) {
	r := row{n: n, sig: "SIGKILL"}
	for i := range rounds {
		for _, tool := range order(i) {
			h, err := startHolder(exe, n)
			if err != nil {
				return r, err
			}
			s, method, err := timeTool(tool, name, n, syscall.SIGKILL, "KILL", killall)
			if err != nil {
				h.stop()
				return r, fmt.Errorf("%s round %d: %w", tool, i+1, err)
			}
			killed, err := h.finished()
			if err != nil {
				return r, fmt.Errorf("%s round %d: %w", tool, i+1, err)
			}
			if killed != n {
				return r, fmt.Errorf("%s round %d: %d of %d sleepers died by SIGKILL", tool, i+1, killed, n)
			}
			r.add(tool, s, method)
		}
	}
	return r, nil
}

func order(round int) []string {
	if round%2 == 1 {
		return []string{"killall", "faultkit"}
	}
	return []string{"faultkit", "killall"}
}

func (r *row) add(tool string, s sample, method string) {
	if tool == "faultkit" {
		r.fk, r.fkMethod = append(r.fk, s), method
	} else {
		r.ka = append(r.ka, s)
	}
}

// timeTool runs one tool once and measures it.
func timeTool(tool, name string, n int, sig syscall.Signal, sigName, killall string) (sample, string, error) {
	switch tool {
	case "faultkit":
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		t0 := time.Now()
		res, err := procs.Kill(context.Background(), name, sig)
		w := time.Since(t0)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if err != nil {
			return sample{}, "", err
		}
		if len(res.Signalled) != n {
			return sample{}, "", fmt.Errorf("signalled %d of %d (failed %d, skipped %d)", len(res.Signalled), n, len(res.Failed), len(res.Skipped))
		}
		return sample{wall: w, cpu: rusageCPU(&ru1) - rusageCPU(&ru0)}, res.Method, nil
	default:
		cmd := exec.Command(killall, "-s", sigName, name)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		w := time.Since(t0)
		if err != nil {
			return sample{}, "", fmt.Errorf("%v: %s", err, out)
		}
		return sample{wall: w, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, "", nil
	}
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func killallOverhead(killall string) time.Duration {
	var ss []sample
	for range 20 {
		t0 := time.Now()
		if err := exec.Command(killall, "-V").Run(); err != nil {
			return 0
		}
		ss = append(ss, sample{wall: time.Since(t0)})
	}
	return median(ss, wall)
}

func wall(s sample) time.Duration { return s.wall }
func cpu(s sample) time.Duration  { return s.cpu }

func median(ss []sample, f func(sample) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	slices.Sort(ds)
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}

func minOf(ss []sample, f func(sample) time.Duration) time.Duration {
	m := f(ss[0])
	for _, s := range ss[1:] {
		m = min(m, f(s))
	}
	return m
}

func round3(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func randomTag() (string, error) {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
