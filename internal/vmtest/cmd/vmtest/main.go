// Command vmtest runs faultkit's kernel tests inside the lab: Debian's
// stock kernel booted in QEMU, with sch_netem, sch_prio, cls_u32, ifb and
// the rest of net/sched and netfilter as modules. See package
// internal/vmtest for how the lab is built.
//
// Usage:
//
//	vmtest test [flags] <package>... [-- test-binary-args]
//	vmtest run [flags] <binary> [args]
//	vmtest prepare [flags]
//	vmtest shell [flags] [binary]
//
// test builds each package's test binary with CGO_ENABLED=0 go test -c,
// runs each in a fresh VM with FAULTKIT_REQUIRE set (-require) and the
// package directory shared over 9p as its working directory (as go test
// does, for testdata/), streams the output, and exits with the worst status.
// go test's short flags (-v, -run X, -bench .) are accepted after "--".
//
// run runs one binary (in the current directory, shared over 9p) and fits
// go test -exec, which starts it in the package directory; hence the
// import path rather than ./internal/...:
//
//	CGO_ENABLED=0 go test -exec 'go run github.com/faultkit/faultkit/internal/vmtest/cmd/vmtest run' -run TestX ./netem
//
// prepare fills the cache (CI warm-up); shell boots an interactive shell.
//
// Exit status: the test binary's own (0 pass, 1 test failure, ...), 124
// when the VM timed out, 125 when the lab could not produce a result
// (missing tools, download, image build, boot or /init failure; also bad
// usage), 130 when interrupted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/internal/vmtest"
)

const exitInterrupted = 130

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	cfg        vmtest.Config
	timeout    time.Duration
	require    string
	env        listFlag
	pass       listFlag
	kernelArgs listFlag
	share      string
	sharePkg   bool
	tags       string
	keep       string
	preload    string
	verbose    bool
	stderr     io.Writer
}

func newFlagSet(mode string, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vmtest "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := vmtest.ConfigFromEnv()
	o.cfg = env
	fs.StringVar(&o.cfg.CacheDir, "cache", env.CacheDir, "cache directory (env "+vmtest.EnvCache+"; default "+vmtest.DefaultCacheDir()+")")
	fs.StringVar(&o.cfg.KernelPackage, "kernel-pkg", env.KernelPackage, "Debian kernel package (env "+vmtest.EnvKernelPackage+"; default "+vmtest.DefaultKernelPackage+")")
	fs.StringVar(&o.cfg.KernelDeb, "kernel-deb", env.KernelDeb, "path or URL of a linux-image .deb instead of apt-get download (env "+vmtest.EnvKernelDeb+")")
	fs.StringVar(&o.cfg.KernelSHA256, "kernel-sha256", env.KernelSHA256, "sha256 the kernel .deb must have (env "+vmtest.EnvKernelSHA256+")")
	fs.StringVar(&o.cfg.BusyboxDeb, "busybox-deb", env.BusyboxDeb, "path or URL of a busybox-static .deb (env "+vmtest.EnvBusyboxDeb+")")
	fs.StringVar(&o.cfg.Accel, "accel", env.Accel, "auto, kvm or tcg (env "+vmtest.EnvAccel+")")
	fs.StringVar(&o.cfg.Machine, "machine", vmtest.DefaultMachine, "QEMU machine: q35 or pc")
	fs.IntVar(&o.cfg.MemoryMiB, "mem", vmtest.DefaultMemoryMiB, "guest memory in MiB")
	fs.IntVar(&o.cfg.CPUs, "cpus", vmtest.DefaultCPUs, "guest CPUs")
	fs.StringVar(&o.cfg.QEMU, "qemu", "qemu-system-x86_64", "QEMU binary")
	fs.StringVar(&o.preload, "preload", strings.Join(vmtest.DefaultPreload(), ","), "modules loaded at boot (others load on demand)")
	fs.Func("extra-modules", "more modules for the image, comma separated (env "+vmtest.EnvExtraModules+")", func(s string) error {
		o.cfg.ExtraModules = vmtest.SplitList(s)
		return nil
	})
	fs.BoolVar(&o.cfg.NoHostTools, "no-tools", false, "do not copy the host's ip, tc, nft and iptables into the guest")
	fs.Var(&o.kernelArgs, "kernel-arg", "extra kernel command-line word (repeatable)")
	fs.BoolVar(&o.verbose, "verbose", env.Verbose, "show lab progress and kernel messages (env "+vmtest.EnvVerbose+"=1)")
	if mode == "prepare" {
		return fs
	}
	fs.DurationVar(&o.timeout, "timeout", 0, "kill the VM after this long (exit 124); default: the test binary's -test.timeout plus 1m, or "+vmtest.DefaultTimeout.String())
	fs.StringVar(&o.require, "require", vmtest.DefaultRequire, "FAULTKIT_REQUIRE inside the guest (the host's value is not passed)")
	fs.Var(&o.env, "env", "NAME=value exported in the guest (repeatable)")
	fs.Var(&o.pass, "pass", "host environment variable passed to the guest (repeatable)")
	switch mode {
	case "run":
		// go test -exec runs the binary in the package directory, and
		// tests read testdata/ relative to it: share it by default.
		fs.StringVar(&o.share, "share", ".", "host directory mounted over 9p at /mnt/host, the program's working directory (\"\" for none: it then runs in /vmtest)")
	case "shell":
		fs.StringVar(&o.share, "share", "", "host directory mounted over 9p at /mnt/host")
	case "test":
		fs.BoolVar(&o.sharePkg, "share-pkgdir", true, "mount each package's directory over 9p and run its tests there, as go test does (testdata/)")
		fs.StringVar(&o.tags, "tags", "", "build tags for go test -c")
		fs.StringVar(&o.keep, "o", "", "keep the built test binaries in this directory")
	}
	return fs
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  vmtest test [flags] <package>... [-- test-binary-args]
  vmtest run [flags] <binary> [args]      (also: go test -exec 'vmtest run')
  vmtest prepare [flags]
  vmtest shell [flags] [binary]
Run "vmtest <mode> -h" for the flags. Exit status: the test's own, 124 timeout, 125 lab failure.
`)
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return vmtest.ExitLabFailure
	}
	mode := args[0]
	switch mode {
	case "test", "run", "prepare", "shell":
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "vmtest: unknown mode %q\n", mode)
		usage(stderr)
		return vmtest.ExitLabFailure
	}
	o := options{stderr: stderr}
	fs := newFlagSet(mode, &o, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return vmtest.ExitLabFailure
	}
	o.cfg.Preload = vmtest.SplitList(o.preload)
	o.cfg.KernelArgs = o.kernelArgs
	o.cfg.Verbose = o.verbose
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	o.cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("prog", "vmtest")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := func() int {
		switch mode {
		case "prepare":
			return prepare(ctx, o, stdout)
		case "run":
			return runBinary(ctx, o, fs.Args(), stdout, stderr)
		case "shell":
			return shell(ctx, o, fs.Args(), stderr)
		default:
			return testPackages(ctx, o, fs.Args(), stdout, stderr)
		}
	}()
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}

func prepare(ctx context.Context, o options, stdout io.Writer) int {
	start := time.Now()
	lab, err := vmtest.Prepare(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return vmtest.ExitLabFailure
	}
	fmt.Fprintf(stdout, "kernel  %s (%s)\ninitrd  %s\nready in %s\n", lab.Kernel, lab.Release, lab.Base, time.Since(start).Round(time.Millisecond))
	return 0
}

// guestEnv is the environment of the program in the guest.
func guestEnv(o options) ([]string, error) {
	var env []string
	if o.require != "" {
		env = append(env, "FAULTKIT_REQUIRE="+o.require)
	}
	for _, name := range o.pass {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	for _, kv := range o.env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("-env %q: want NAME=value", kv)
		}
		env = append(env, kv)
	}
	return env, nil
}

func runBinary(ctx context.Context, o options, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "vmtest run: missing binary")
		return vmtest.ExitLabFailure
	}
	env, err := guestEnv(o)
	if err != nil {
		fmt.Fprintln(stderr, "vmtest run:", err)
		return vmtest.ExitLabFailure
	}
	lab, err := vmtest.Prepare(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return vmtest.ExitLabFailure
	}
	testArgs := testFlags(args[1:])
	res, err := lab.Run(ctx, vmtest.RunOptions{
		Binary: args[0], Args: testArgs, Env: env, Share: o.share,
		Timeout: vmTimeout(o.timeout, testArgs), Console: stdout,
	})
	code := vmtest.ExitStatus(res, err)
	if err != nil {
		fmt.Fprintf(stderr, "%v (exit %d)\n", err, code)
	} else {
		o.cfg.Log.Debug("guest finished", "exit", code, "elapsed", res.Elapsed.Round(time.Millisecond), "accel", res.Accel)
	}
	return code
}

func shell(ctx context.Context, o options, args []string, stderr io.Writer) int {
	env, err := guestEnv(o)
	if err != nil {
		fmt.Fprintln(stderr, "vmtest shell:", err)
		return vmtest.ExitLabFailure
	}
	lab, err := vmtest.Prepare(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return vmtest.ExitLabFailure
	}
	opts := vmtest.RunOptions{Env: env, Share: o.share, Timeout: 24 * time.Hour}
	if len(args) > 0 {
		opts.Binary = args[0]
	}
	if err := lab.Shell(ctx, opts); err != nil {
		fmt.Fprintln(stderr, "vmtest shell:", err)
		return vmtest.ExitLabFailure
	}
	return 0
}

// pkg is one package to test.
type pkg struct {
	importPath, dir string
	tests           bool
}

func listPackages(ctx context.Context, patterns []string) ([]pkg, error) {
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		pkgs = append(pkgs, pkg{importPath: f[0], dir: f[1], tests: f[2] != "0" || f[3] != "0"})
	}
	return pkgs, nil
}

// worse returns the worse of two exit statuses: lab failure, then
// timeout, then any test failure, then success.
func worse(a, b int) int {
	rank := func(c int) int {
		switch c {
		case 0:
			return 0
		case vmtest.ExitLabFailure:
			return 3
		case vmtest.ExitTimeout:
			return 2
		default:
			return 1
		}
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func testPackages(ctx context.Context, o options, args []string, stdout, stderr io.Writer) int {
	patterns, testArgs := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			patterns, testArgs = args[:i], args[i+1:]
			break
		}
	}
	if len(patterns) == 0 {
		fmt.Fprintln(stderr, "vmtest test: no packages given")
		return vmtest.ExitLabFailure
	}
	testArgs = testFlags(testArgs)
	if vmT := vmTimeout(o.timeout, testArgs); testTimeout(testArgs) == 0 && vmT > time.Minute {
		// Let the test binary time out first, with goroutine dumps,
		// instead of the VM being killed without a word.
		testArgs = append([]string{"-test.timeout=" + (vmT - 30*time.Second).String()}, testArgs...)
		if o.timeout == 0 {
			o.timeout = vmT
		}
	}
	env, err := guestEnv(o)
	if err != nil {
		fmt.Fprintln(stderr, "vmtest test:", err)
		return vmtest.ExitLabFailure
	}
	pkgs, err := listPackages(ctx, patterns)
	if err != nil {
		fmt.Fprintln(stderr, "vmtest test:", err)
		return vmtest.ExitLabFailure
	}
	bindir := o.keep
	if bindir == "" {
		if bindir, err = os.MkdirTemp("", "vmtest-bin-"); err != nil {
			fmt.Fprintln(stderr, "vmtest test:", err)
			return vmtest.ExitLabFailure
		}
		defer os.RemoveAll(bindir)
	} else if err := os.MkdirAll(bindir, 0o755); err != nil {
		fmt.Fprintln(stderr, "vmtest test:", err)
		return vmtest.ExitLabFailure
	}

	// Build first: a compile error is reported before any VM boots.
	type built struct {
		pkg
		bin string
	}
	var todo []built
	status := 0
	for _, p := range pkgs {
		if !p.tests {
			fmt.Fprintf(stdout, "?   \t%s\t[no test files]\n", p.importPath)
			continue
		}
		bin := filepath.Join(bindir, strings.ReplaceAll(p.importPath, "/", "_")+".test")
		bargs := []string{"test", "-c", "-o", bin}
		if o.tags != "" {
			bargs = append(bargs, "-tags", o.tags)
		}
		cmd := exec.CommandContext(ctx, "go", append(bargs, p.importPath)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stdout, "FAIL\t%s [build failed]\n", p.importPath)
			status = worse(status, 1)
			continue
		}
		todo = append(todo, built{p, bin})
	}
	if len(todo) == 0 {
		if status == 0 {
			fmt.Fprintln(stderr, "vmtest test: no package with tests matched", patterns)
			return vmtest.ExitLabFailure
		}
		return status
	}
	lab, err := vmtest.Prepare(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return vmtest.ExitLabFailure
	}
	for _, b := range todo {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		share := ""
		if o.sharePkg {
			share = b.dir
		}
		fmt.Fprintf(stdout, "=== vmtest %s (kernel %s)\n", b.importPath, lab.Release)
		res, err := lab.Run(ctx, vmtest.RunOptions{
			Binary: b.bin, Args: testArgs, Env: env, Share: share,
			Timeout: vmTimeout(o.timeout, testArgs), Console: stdout,
		})
		code := vmtest.ExitStatus(res, err)
		status = worse(status, code)
		secs := fmt.Sprintf("%.1fs", res.Elapsed.Seconds())
		switch {
		case err != nil:
			fmt.Fprintf(stdout, "FAIL\t%s\t%s [lab: %v] (exit %d)\n", b.importPath, secs, err, code)
		case code != 0:
			fmt.Fprintf(stdout, "FAIL\t%s\t%s (exit %d, %s)\n", b.importPath, secs, code, res.Accel)
		default:
			fmt.Fprintf(stdout, "ok  \t%s\t%s (in VM, %s)\n", b.importPath, secs, res.Accel)
		}
	}
	return status
}

// testFlag reports whether name is one of go test's test-binary flags
// that may be given without the "test." prefix, and whether it is boolean.
func testFlag(name string) (known, boolean bool) {
	switch name {
	case "benchmem", "failfast", "fullpath", "short", "v":
		return true, true
	case "bench", "benchtime", "count", "cpu", "list", "parallel", "run", "shuffle", "skip", "timeout",
		"cpuprofile", "memprofile", "blockprofile", "mutexprofile", "coverprofile", "trace", "outputdir":
		return true, false
	}
	return false, false
}

// testFlags rewrites go test's short flag names (-v, -run X, -count=1) to
// the test binary's (-test.v, -test.run X, -test.count=1). It stops at the
// first argument that is not a flag, or after "--".
func testFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		base, _, hasValue := strings.Cut(name, "=")
		base = strings.TrimPrefix(base, "test.")
		known, boolean := testFlag(base)
		if !known {
			out = append(out, a)
			continue
		}
		out = append(out, "-test."+strings.TrimPrefix(name, "test."))
		if !hasValue && !boolean && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// testTimeout returns the -test.timeout in args, or 0.
func testTimeout(args []string) time.Duration {
	for i, a := range args {
		a = "-" + strings.TrimLeft(a, "-")
		var v string
		switch {
		case strings.HasPrefix(a, "-test.timeout="):
			v = strings.TrimPrefix(a, "-test.timeout=")
		case a == "-test.timeout" && i+1 < len(args):
			v = args[i+1]
		default:
			continue
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 0
}

// vmTimeout is the VM's timeout: the -timeout flag if given, else the test
// binary's own -test.timeout plus a minute for boot and power-off (go
// test -exec passes -test.timeout=10m0s), else vmtest.DefaultTimeout.
func vmTimeout(flagTimeout time.Duration, args []string) time.Duration {
	if flagTimeout > 0 {
		return flagTimeout
	}
	if d := testTimeout(args); d > 0 {
		return d + time.Minute
	}
	return vmtest.DefaultTimeout
}
