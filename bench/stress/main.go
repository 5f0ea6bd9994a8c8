//go:build linux

// Command stress-bench compares faultkit's native stress with stress-ng, as
// FIS runs it, side by side in one run.
//
// CPU: for each case (load 10, 25, 50, 75, 90, 100 with 1 worker, and 50
// with 2 workers) it runs faultkit's stress.CPU in a child process (this
// binary re-executed) and `stress-ng --cpu N --cpu-method matrixprod
// --cpu-load L`, one after the other (the order alternates by round), and
// measures the CPU each process tree really ran over the same window
// after a warm-up, from the kernel's per-thread accounting
// (/proc/PID/task/TID/schedstat: run time in ns, and the time the threads
// waited for a CPU, printed so that contention from other load is
// visible). It prints the achieved load per worker, the error in
// percentage points and the ratio to the target, then the mean absolute
// error of each tool.
//
// I/O: faultkit's stress.IO and `stress-ng --iomix N --iomix-bytes P%` on
// the same directory, the same percent and worker count: bytes per second
// written and read (from /proc/PID/io, both the syscall-level wchar/rchar
// and the storage-level write_bytes/read_bytes), and the peak bytes the
// files held on disk (sampled every 20 ms) against the cap, P % of the
// free space at start. faultkit must never exceed it.
//
// stress-ng's "finished prematurely" warnings are the bench stopping it
// (SIGTERM) once the window is measured.
//
// As root, with a cgroup v1 cpu hierarchy, the bench first moves itself
// (and so the processes it starts) into a cgroup of its own with the
// highest cpu.shares, so that other load on the machine disturbs both
// tools less; -boost=false turns that off. The cgroup is removed at exit.
//
//	go run ./bench/stress -window 5s -rounds 2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/stress"
	"golang.org/x/sys/unix"
)

// childEnv makes this binary run one faultkit stress until SIGTERM:
// "cpu:LOAD:WORKERS" or "io:PERCENT:WORKERS:DIR".
const childEnv = "FAULTKIT_BENCH_CHILD"

func main() {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	window := flag.Duration("window", 5*time.Second, "measurement window per case")
	warmup := flag.Duration("warmup", time.Second, "time between start and the window")
	rounds := flag.Int("rounds", 1, "rounds of every case (tool order alternates)")
	boost := flag.Bool("boost", true, "run in a high cpu.shares cgroup (root, cgroup v1)")
	doCPU := flag.Bool("cpu", true, "run the CPU comparison")
	doIO := flag.Bool("io", true, "run the I/O comparison")
	ioDir := flag.String("io-dir", os.TempDir(), "directory for the I/O comparison (a subdirectory is made)")
	ioPercent := flag.Int("io-percent", 1, "percent of free space for the I/O comparison")
	stressNG := flag.String("stress-ng", "stress-ng", "path of stress-ng")
	cases := flag.String("cases", "10x1,25x1,50x1,75x1,90x1,100x1,50x2", "CPU cases, LOADxWORKERS")
	flag.Parse()
	cpuCases, err := parseCases(*cases)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress-bench:", err)
		os.Exit(2)
	}
	if err := run(*window, *warmup, *rounds, *boost, *doCPU, *doIO, *ioDir, *ioPercent, *stressNG, cpuCases); err != nil {
		fmt.Fprintln(os.Stderr, "stress-bench:", err)
		os.Exit(1)
	}
}

// runChild is the faultkit side of a case, in its own process like
// stress-ng, so that both are measured the same way.
func runChild(spec string) int {
	f := strings.Split(spec, ":")
	atoi := func(i int) int {
		n, _ := strconv.Atoi(f[i])
		return n
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var rep fault.Report
	var err error
	switch {
	case f[0] == "cpu" && len(f) == 3:
		rep, err = stress.CPU(ctx, atoi(1), atoi(2), fault.WithoutJournal())
	case f[0] == "io" && len(f) == 4:
		rep, err = stress.IO(ctx, atoi(1), atoi(2), f[3])
	default:
		err = fmt.Errorf("bad %s %q", childEnv, spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultkit child:", err)
		return 1
	}
	for _, m := range rep.Metrics {
		fmt.Printf("%s=%g\n", m.Name, m.Value)
	}
	return 0
}

func parseCases(s string) ([]cpuCase, error) {
	var out []cpuCase
	for _, c := range strings.Split(s, ",") {
		l, w, ok := strings.Cut(strings.TrimSpace(c), "x")
		load, err1 := strconv.Atoi(l)
		workers, err2 := strconv.Atoi(w)
		if !ok || err1 != nil || err2 != nil || load < 1 || load > 100 || workers < 1 {
			return nil, fmt.Errorf("bad case %q: want LOADxWORKERS, load 1-100, workers >= 1", c)
		}
		out = append(out, cpuCase{load, workers})
	}
	return out, nil
}

func run(window, warmup time.Duration, rounds int, boost, doCPU, doIO bool, ioDir string, ioPercent int, stressNG string, cases []cpuCase) error {
	if _, err := exec.LookPath(stressNG); err != nil {
		return fmt.Errorf("stress-ng not found (apt-get install stress-ng): %w", err)
	}
	ver, _ := exec.Command(stressNG, "--version").Output()
	fmt.Printf("stress-ng: %s", ver)
	n, _ := stress.AvailableCPUs()
	fmt.Printf("CPUs available: %d; window %v after %v warm-up; %d round(s)\n", n, window, warmup, rounds)
	if boost {
		undo, err := boostSelf()
		if err != nil {
			fmt.Printf("boost: not used (%v)\n", err)
		} else {
			defer undo()
			fmt.Println("boost: bench and its children run in a cgroup with cpu.shares=262144")
		}
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at start: %s", l)
	}
	var errs []error
	if doCPU {
		errs = append(errs, benchCPU(cases, window, warmup, rounds, stressNG))
	}
	if doIO {
		errs = append(errs, benchIO(window, warmup, rounds, ioDir, ioPercent, stressNG))
	}
	return errors.Join(errs...)
}

// ---- process trees and their accounting ----

// tree returns pid and all its descendants.
func tree(pid int) []int {
	parent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[pp] = append(parent[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// sched maps "pid/tid" to run and wait nanoseconds.
type sched map[string][2]int64

func treeSched(pid int) sched {
	s := sched{}
	for _, p := range tree(pid) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", p, t.Name()))
			if err != nil {
				continue
			}
			f := strings.Fields(string(b))
			if len(f) < 2 {
				continue
			}
			r, _ := strconv.ParseInt(f[0], 10, 64)
			w, _ := strconv.ParseInt(f[1], 10, 64)
			s[fmt.Sprintf("%d/%s", p, t.Name())] = [2]int64{r, w}
		}
	}
	return s
}

// delta returns the run and wait time between two samples; tasks born in
// between count from zero.
func delta(a, b sched) (run, wait time.Duration) {
	for k, v := range b {
		run += time.Duration(v[0] - a[k][0])
		wait += time.Duration(v[1] - a[k][1])
	}
	return run, wait
}

// ioCounters sums /proc/PID/io over a tree: wchar, rchar, write_bytes,
// read_bytes.
func ioCounters(pid int) (c [4]int64) {
	keys := []string{"wchar: ", "rchar: ", "write_bytes: ", "read_bytes: "}
	for _, p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			for i, k := range keys {
				if v, ok := strings.CutPrefix(l, k); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					c[i] += n
				}
			}
		}
	}
	return c
}

// start runs cmd in its own process group.
func start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	return cmd.Start()
}

// stop sends SIGTERM to the group, then SIGKILL after 10 s, and waits.
func stop(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// ---- CPU ----

type cpuCase struct{ load, workers int }

type cpuResult struct {
	achieved []float64 // percent per worker, one per round
	worst1s  []float64 // largest |error| in pp of any 1 s step of the window, per round
	waited   []float64 // percent of the window the tree's threads waited, per worker
}

func (r cpuResult) mean() float64 { return meanOf(r.achieved) }

func maxOf(v []float64) (m float64) {
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func meanOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

// measureCPU starts cmd, waits warmup, and returns the achieved load per
// worker over window, the worst error of its 1 s steps against load, and
// the time its threads waited for a CPU.
func measureCPU(cmd *exec.Cmd, load, workers int, window, warmup time.Duration) (achieved, worst, waited float64, err error) {
	if err := start(cmd); err != nil {
		return 0, 0, 0, err
	}
	defer stop(cmd)
	time.Sleep(warmup)
	s0, t0 := treeSched(cmd.Process.Pid), time.Now()
	prev, tprev := s0, t0
	var s1 sched
	var t1 time.Time
	for next := t0.Add(time.Second); ; next = next.Add(time.Second) {
		if end := t0.Add(window); next.After(end) {
			next = end
		}
		time.Sleep(time.Until(next))
		s1, t1 = treeSched(cmd.Process.Pid), time.Now()
		if step := t1.Sub(tprev); step >= 900*time.Millisecond {
			r, _ := delta(prev, s1)
			worst = max(worst, math.Abs(100*float64(r)/float64(step)/float64(workers)-float64(load)))
		}
		prev, tprev = s1, t1
		if !next.Before(t0.Add(window)) {
			break
		}
	}
	run, wait := delta(s0, s1)
	w := float64(t1.Sub(t0)) * float64(workers)
	return 100 * float64(run) / w, worst, 100 * float64(wait) / w, nil
}

func benchCPU(cases []cpuCase, window, warmup time.Duration, rounds int, stressNG string) error {
	fk := make([]cpuResult, len(cases))
	ng := make([]cpuResult, len(cases))
	secs := strconv.Itoa(int((warmup + window + 30*time.Second).Seconds()))
	for r := range rounds {
		for i, c := range cases {
			tools := []string{"faultkit", "stress-ng"}
			if r%2 == 1 {
				tools[0], tools[1] = tools[1], tools[0]
			}
			for _, tool := range tools {
				var cmd *exec.Cmd
				var res *cpuResult
				if tool == "faultkit" {
					cmd = exec.Command("/proc/self/exe")
					cmd.Env = append(os.Environ(), fmt.Sprintf("%s=cpu:%d:%d", childEnv, c.load, c.workers))
					res = &fk[i]
				} else {
					cmd = exec.Command(stressNG, "--cpu", strconv.Itoa(c.workers), "--cpu-method", "matrixprod",
						"--cpu-load", strconv.Itoa(c.load), "-t", secs+"s", "--quiet")
					res = &ng[i]
				}
				a, worst, w, err := measureCPU(cmd, c.load, c.workers, window, warmup)
				if err != nil {
					return fmt.Errorf("cpu %d%% x %d, %s: %w", c.load, c.workers, tool, err)
				}
				res.achieved = append(res.achieved, a)
				res.worst1s = append(res.worst1s, worst)
				res.waited = append(res.waited, w)
				fmt.Fprintf(os.Stderr, "  round %d: %-9s load %3d%% x %d: %6.2f%% per worker, worst 1 s step off by %.2f pp (waited %.2f%%)\n",
					r+1, tool, c.load, c.workers, a, worst, w)
			}
		}
	}
	fmt.Println()
	fmt.Printf("CPU: achieved load per worker over %v (%% of one CPU), error in percentage points, ratio achieved/target,\n", window)
	fmt.Println("     worst error of any 1 s step of the window (pp), and % of the window the threads waited for a CPU")
	fmt.Printf("%-10s | %8s %7s %6s %6s | %8s %7s %6s %6s | %s\n", "case", "faultkit", "err pp", "ratio", "1s pp", "stress-ng", "err pp", "ratio", "1s pp", "waited fk/ng")
	fmt.Println(strings.Repeat("-", 96))
	var fkAbs, ngAbs, fkW, ngW []float64
	for i, c := range cases {
		fa, na := fk[i].mean(), ng[i].mean()
		fe, ne := fa-float64(c.load), na-float64(c.load)
		fkAbs, ngAbs = append(fkAbs, math.Abs(fe)), append(ngAbs, math.Abs(ne))
		fw, nw := maxOf(fk[i].worst1s), maxOf(ng[i].worst1s)
		fkW, ngW = append(fkW, fw), append(ngW, nw)
		fmt.Printf("%3d%% x %d   | %8.2f %+7.2f %6.3f %6.2f | %8.2f %+7.2f %6.3f %6.2f | %.1f / %.1f\n",
			c.load, c.workers, fa, fe, fa/float64(c.load), fw, na, ne, na/float64(c.load), nw, meanOf(fk[i].waited), meanOf(ng[i].waited))
	}
	fmt.Println(strings.Repeat("-", 96))
	fm, nm := meanOf(fkAbs), meanOf(ngAbs)
	fmt.Printf("mean absolute error: faultkit %.2f pp, stress-ng %.2f pp (faultkit/stress-ng %.2f)\n", fm, nm, fm/nm)
	fmt.Printf("mean worst 1 s error: faultkit %.2f pp, stress-ng %.2f pp\n", meanOf(fkW), meanOf(ngW))
	verdict := "PASS"
	if fm > 1 || fm > nm {
		verdict = "FAIL"
	}
	fmt.Printf("target (faultkit MAE <= 1 pp and <= stress-ng's): %s\n", verdict)
	return nil
}

// ---- I/O ----

// dirBytes returns the bytes the files under dir occupy on disk.
func dirBytes(dir string) uint64 {
	var n uint64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += uint64(st.Blocks) * 512
			}
		}
		return nil
	})
	return n
}

type ioResult struct {
	counters [4]float64 // bytes/s: wchar, rchar, write_bytes, read_bytes
	peak     uint64     // most bytes the files under the directory held (du)
	fsPeak   uint64     // most the file system's free space fell (statfs; other writers add noise)
	cap      uint64     // percent of the free space before the start
	budget   uint64     // the cap faultkit computed and reported (cap_bytes; 0 for stress-ng)
}

func measureIO(cmd *exec.Cmd, dir string, percent int, window, warmup time.Duration) (ioResult, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return ioResult{}, err
	}
	free0 := st.Bavail * uint64(st.Bsize)
	res := ioResult{cap: free0 / 100 * uint64(percent)}
	var out strings.Builder
	cmd.Stdout = &out
	if err := start(cmd); err != nil {
		return res, err
	}
	var mu sync.Mutex
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			b := dirBytes(dir)
			var fs unix.Statfs_t
			_ = unix.Statfs(dir, &fs)
			mu.Lock()
			res.peak = max(res.peak, b)
			if now := fs.Bavail * uint64(fs.Bsize); now < free0 {
				res.fsPeak = max(res.fsPeak, free0-now)
			}
			mu.Unlock()
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	time.Sleep(warmup)
	c0, t0 := ioCounters(cmd.Process.Pid), time.Now()
	time.Sleep(window)
	c1, t1 := ioCounters(cmd.Process.Pid), time.Now()
	stop(cmd)
	close(quit)
	wg.Wait()
	secs := t1.Sub(t0).Seconds()
	for i := range c0 {
		res.counters[i] = float64(c1[i]-c0[i]) / secs
	}
	if left := dirBytes(dir); left != 0 {
		return res, fmt.Errorf("%s left %d bytes in %s", cmd.Path, left, dir)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		return res, fmt.Errorf("%s left %d entries in %s", cmd.Path, len(ents), dir)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "cap_bytes="); ok {
			b, _ := strconv.ParseFloat(v, 64)
			res.budget = uint64(b)
		}
	}
	return res, nil
}

func benchIO(window, warmup time.Duration, rounds int, parent string, percent int, stressNG string) error {
	dir, err := os.MkdirTemp(parent, "faultkit-bench-io-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	secs := strconv.Itoa(int((warmup + window + 30*time.Second).Seconds()))
	type row struct {
		workers int
		fk, ng  []ioResult
	}
	rows := []*row{{workers: 1}, {workers: 2}}
	for r := range rounds {
		for _, rw := range rows {
			tools := []string{"faultkit", "stress-ng"}
			if r%2 == 1 {
				tools[0], tools[1] = tools[1], tools[0]
			}
			for _, tool := range tools {
				var cmd *exec.Cmd
				if tool == "faultkit" {
					cmd = exec.Command("/proc/self/exe")
					cmd.Env = append(os.Environ(), fmt.Sprintf("%s=io:%d:%d:%s", childEnv, percent, rw.workers, dir))
					cmd.Stdout = nil
				} else {
					cmd = exec.Command(stressNG, "--iomix", strconv.Itoa(rw.workers), "--iomix-bytes", strconv.Itoa(percent)+"%",
						"--temp-path", dir, "-t", secs+"s", "--quiet")
				}
				res, err := measureIO(cmd, dir, percent, window, warmup)
				if err != nil {
					return fmt.Errorf("io x %d, %s: %w", rw.workers, tool, err)
				}
				if tool == "faultkit" {
					rw.fk = append(rw.fk, res)
				} else {
					rw.ng = append(rw.ng, res)
				}
				fmt.Fprintf(os.Stderr, "  round %d: %-9s io x %d: write %.1f MB/s read %.1f MB/s (syscalls), peak du %d, statfs %d, cap %d, faultkit's own cap %d bytes\n",
					r+1, tool, rw.workers, res.counters[0]/1e6, res.counters[1]/1e6, res.peak, res.fsPeak, res.cap, res.budget)
			}
		}
	}
	avg := func(rs []ioResult, i int) float64 {
		s := 0.0
		for _, r := range rs {
			s += r.counters[i]
		}
		return s / float64(max(len(rs), 1)) / 1e6
	}
	peak := func(rs []ioResult) (du, fs float64) {
		for _, r := range rs {
			du = max(du, float64(r.peak)/float64(r.cap))
			fs = max(fs, float64(r.fsPeak)/float64(r.cap))
		}
		return du, fs
	}
	fmt.Println()
	fmt.Printf("I/O on %s, %d%% of free space: MB/s written and read (syscall level wchar/rchar; storage level write_bytes/read_bytes),\n", parent, percent)
	fmt.Println("     peak space used / cap (du of the stress files; statfs drop of the file system, noisy: other writers count too;")
	fmt.Println("     stress-ng unlinks its files at once, so du cannot see them)")
	fmt.Printf("%-8s %-9s | %9s %9s | %9s %9s | %8s %8s\n", "workers", "tool", "write", "read", "wr disk", "rd disk", "du/cap", "fs/cap")
	fmt.Println(strings.Repeat("-", 84))
	var errs []error
	for _, rw := range rows {
		for _, t := range []struct {
			name string
			rs   []ioResult
		}{{"faultkit", rw.fk}, {"stress-ng", rw.ng}} {
			du, fs := peak(t.rs)
			fmt.Printf("%-8d %-9s | %9.1f %9.1f | %9.1f %9.1f | %8.4f %8.4f\n", rw.workers, t.name,
				avg(t.rs, 0), avg(t.rs, 1), avg(t.rs, 2), avg(t.rs, 3), du, fs)
		}
		fmt.Printf("%-8s %-9s | %9.3f %9.3f | %9.3f %9.3f |\n", "", "ratio", avg(rw.fk, 0)/avg(rw.ng, 0), avg(rw.fk, 1)/avg(rw.ng, 1),
			avg(rw.fk, 2)/avg(rw.ng, 2), avg(rw.fk, 3)/avg(rw.ng, 3))
		for _, r := range rw.fk {
			// The stress measured free space itself, a moment after the
			// bench: its own cap is the binding figure, and the bench's a
			// cross-check (other writers move free space in between).
			if r.budget == 0 || r.peak > r.budget || float64(r.peak) > float64(r.cap)*1.001 {
				errs = append(errs, fmt.Errorf("faultkit exceeded its space cap: peak %d bytes, its cap %d, the bench's %d", r.peak, r.budget, r.cap))
			}
		}
	}
	if len(errs) == 0 {
		fmt.Println("space cap never exceeded by faultkit: PASS")
	}
	return errors.Join(errs...)
}

// ---- boost ----

// boostSelf moves this process into a new cgroup v1 cpu cgroup with the
// highest cpu.shares and returns the function that moves it back and
// removes the cgroup.
func boostSelf() (func(), error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root")
	}
	var mount, orig string
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		for i, x := range f {
			if x == "-" && i+3 < len(f) && f[i+1] == "cgroup" && strings.Contains(","+f[i+3]+",", ",cpu,") {
				mount = f[4]
			}
		}
	}
	if mount == "" {
		return nil, errors.New("no cgroup v1 cpu hierarchy")
	}
	pc, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(pc), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ",cpu,") {
			orig = filepath.Join(mount, parts[2])
		}
	}
	if orig == "" {
		return nil, errors.New("own cpu cgroup not found")
	}
	dir := filepath.Join(mount, fmt.Sprintf("faultkit-bench-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	undo := func() {
		_ = os.WriteFile(filepath.Join(orig, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
		for range 50 {
			if unix.Rmdir(dir) == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "stress-bench: could not remove", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.shares"), []byte("262144"), 0); err != nil {
		undo()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		undo()
		return nil, err
	}
	// Leave the cgroup on Ctrl-C, a hang-up or a closed output pipe too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		<-sig
		undo()
		os.Exit(130)
	}()
	return undo, nil
}
