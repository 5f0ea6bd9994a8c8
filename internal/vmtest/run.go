package vmtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds a Run whose RunOptions.Timeout is zero.
const DefaultTimeout = 10 * time.Minute

// RunOptions describes one program run in the lab.
type RunOptions struct {
	// Binary is the host path of the program, normally a test binary
	// built with CGO_ENABLED=0 go test -c. It runs as root as
	// /vmtest/test. A dynamically linked binary gets its host libraries.
	Binary string
	// Args are its arguments (e.g. "-test.v", "-test.run=Netem").
	Args []string
	// Env holds NAME=value pairs exported in the guest, after
	// FAULTKIT_LAB=1. Nothing else of the host environment is passed.
	Env []string
	// Share, if set, is a host directory mounted read-write over 9p at
	// /mnt/host; the program then runs there (testdata/ and output files).
	// Without it the program runs in /vmtest.
	Share string
	// Timeout kills the VM (ErrTimeout); default DefaultTimeout.
	Timeout time.Duration
	// Console receives the guest's serial console, the program's stdout
	// and stderr included, line by line as it runs. Nil discards it.
	Console io.Writer
}

// Result is the outcome of a Run that reached the end of the program.
type Result struct {
	// ExitCode is the program's exit status (128+n if killed by signal n).
	ExitCode int
	// Accel is the accelerator used: "kvm" or "tcg".
	Accel string
	// Elapsed is the wall time from starting QEMU until it exited.
	Elapsed time.Duration
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Run boots the lab, runs opts.Binary as root, streams the console to
// opts.Console and returns the program's exit status in Result. A nil
// error means the program ran to completion, whatever its status; errors
// wrap ErrTimeout or ErrLab, so ExitStatus(res, err) tells test failures
// from lab failures.
func (l *Lab) Run(ctx context.Context, opts RunOptions) (Result, error) {
	res, err := l.run(ctx, opts, false)
	if err != nil && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrLab) {
		err = fmt.Errorf("%w: %w", ErrLab, err)
	}
	return res, err
}

// Shell boots the lab with an interactive busybox shell on the terminal
// instead of a program (Ctrl-a x quits QEMU). opts.Binary, if set, is
// available as /vmtest/test.
func (l *Lab) Shell(ctx context.Context, opts RunOptions) error {
	_, err := l.run(ctx, opts, true)
	return err
}

func (l *Lab) run(ctx context.Context, opts RunOptions, shell bool) (Result, error) {
	var res Result
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}
	work, err := os.MkdirTemp("", "vmtest-run-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	initrd := filepath.Join(work, "initrd")
	if err := l.initrd(ctx, initrd, opts); err != nil {
		return res, err
	}
	res.Accel = l.cfg.Accel
	if res.Accel == "auto" {
		ok, why := kvmUsable("/")
		res.Accel = "tcg"
		if ok {
			res.Accel = "kvm"
		}
		l.cfg.Log.Debug("accelerator", "accel", res.Accel, "reason", why)
	}
	nonce, err := newNonce()
	if err != nil {
		return res, err
	}
	args, err := l.qemuArgs(res.Accel, initrd, nonce, opts.Share, shell)
	if err != nil {
		return res, err
	}
	rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, l.cfg.QEMU, args...)
	cmd.WaitDelay = 5 * time.Second
	l.cfg.Log.Info("booting", "kernel", l.Release, "accel", res.Accel, "machine", l.cfg.Machine,
		"cpus", l.cfg.CPUs, "mem_mib", l.cfg.MemoryMiB, "image", filepath.Base(l.Kernel))
	start := time.Now()
	if shell {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err := cmd.Run()
		res.Elapsed = time.Since(start)
		return res, err
	}
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("%w: start %s: %w", ErrLab, l.cfg.QEMU, err)
	}
	mk := scanConsole(stdout, opts.Console, nonce, func() {
		// Once the marker is out, the guest only powers off; do not let a
		// wedged poweroff hold the result hostage.
		time.AfterFunc(15*time.Second, func() { _ = cmd.Process.Kill() })
	})
	werr := cmd.Wait()
	res.Elapsed = time.Since(start)
	l.cfg.Log.Debug("vm exited", "elapsed", res.Elapsed, "qemu", werr, "marker", mk)
	switch {
	case mk.exit >= 0:
		res.ExitCode = mk.exit
		return res, nil
	case mk.labErr != "":
		return res, fmt.Errorf("%w: guest: %s", ErrLab, mk.labErr)
	case errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return res, fmt.Errorf("%w: VM killed after %s", ErrTimeout, opts.Timeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %w", ErrLab, ctx.Err())
	default:
		return res, fmt.Errorf("%w: no exit marker from the guest (kernel panic or /init failure; rerun with -verbose); qemu: %v %s",
			ErrLab, werr, strings.TrimSpace(stderr.String()))
	}
}

// marker is what scanConsole found: the exit status (-1 if none) or the
// guest's report of a lab failure.
type marker struct {
	exit   int
	labErr string
}

// scanConsole copies the console from r to w line by line, without
// carriage returns and without the marker line, until r ends. The marker
// carries the boot's nonce so that nothing the program prints can forge
// it. onMarker runs once when the marker appears.
func scanConsole(r io.Reader, w io.Writer, nonce string, onMarker func()) marker {
	mk := marker{exit: -1}
	prefix := "VMTEST-" + nonce + "-"
	br := bufio.NewReaderSize(r, 64<<10)
	blank := false // an empty line held back: it may precede the marker
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			text := strings.TrimRight(line, "\r\n")
			if i := strings.Index(text, prefix); i >= 0 {
				kv := text[i+len(prefix):]
				switch {
				case strings.HasPrefix(kv, "EXIT="):
					if n, perr := strconv.Atoi(kv[len("EXIT="):]); perr == nil && mk.exit < 0 && mk.labErr == "" {
						mk.exit = n
						onMarker()
					}
				case strings.HasPrefix(kv, "ERROR="):
					if mk.exit < 0 && mk.labErr == "" {
						mk.labErr = kv[len("ERROR="):]
						onMarker()
					}
				}
				text = text[:i]
				if text == "" {
					continue
				}
			} else if mk.exit >= 0 || mk.labErr != "" {
				continue // after the marker: only the kernel powering off
			}
			if text == "" && !blank {
				blank = true
				continue
			}
			if blank {
				text = "\n" + text
				blank = false
			}
			_, _ = io.WriteString(w, text+"\n")
		}
		if err != nil {
			return mk
		}
	}
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// qemuArgs returns QEMU's command line. -display none with -serial stdio
// gives a clean console (-nographic would also put SeaBIOS' own serial
// output and escape sequences on it).
func (l *Lab) qemuArgs(accel, initrd, nonce, share string, shell bool) ([]string, error) {
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	serial := "stdio"
	if shell {
		serial = "mon:stdio"
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", l.cfg.Machine + ",accel=" + accel, "-cpu", cpu,
		"-smp", strconv.Itoa(l.cfg.CPUs), "-m", strconv.Itoa(l.cfg.MemoryMiB),
		"-serial", serial, "-kernel", l.Kernel, "-initrd", initrd,
	}
	cmdline := []string{
		// panic=-1 with reboot=t: a panic resets the VM at once (triple
		// fault, no ACPI/keyboard-controller retries) and -no-reboot turns
		// the reset into QEMU's exit.
		"console=ttyS0", "panic=-1", "reboot=t", "vmtest.nonce=" + nonce,
		"cryptomgr.notests=1", "audit=0", // boot-time savers under TCG
		"i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd", // no PS/2 probing
	}
	if !l.cfg.Verbose {
		cmdline = append(cmdline, "quiet", "loglevel=3")
	}
	if shell {
		cmdline = append(cmdline, "vmtest.shell=1")
	}
	if share != "" {
		abs, err := filepath.Abs(share)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: share %q is not a directory", ErrLab, share)
		}
		args = append(args,
			"-fsdev", "local,id=vmtestfs,security_model=none,path="+strings.ReplaceAll(abs, ",", ",,"),
			"-device", "virtio-9p-pci,fsdev=vmtestfs,mount_tag=vmtestshare")
		cmdline = append(cmdline, "vmtest.share=9p")
	}
	cmdline = append(cmdline, l.cfg.KernelArgs...)
	return append(args, "-append", strings.Join(cmdline, " ")), nil
}

// initrd writes the boot's initramfs: the cached base followed by a small
// archive with the program, its arguments and environment. Both are
// uncompressed (gunzip inside a TCG guest costs seconds; a compressed
// archive would also have to come last).
func (l *Lab) initrd(ctx context.Context, dst string, opts RunOptions) error {
	for _, kv := range opts.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !envName.MatchString(name) {
			return fmt.Errorf("%w: environment entry %q: want NAME=value", ErrLab, kv)
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	base, err := os.Open(l.Base)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, base)
	base.Close()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := newCPIOWriter(bw)
	if opts.Binary != "" {
		dynamic, err := checkBinary(opts.Binary)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrLab, err)
		}
		if err := w.HostFile("vmtest/test", opts.Binary, 0o755); err != nil {
			return err
		}
		if dynamic {
			l.cfg.Log.Warn("binary is dynamically linked; adding its host libraries (build with CGO_ENABLED=0 to avoid this)", "binary", opts.Binary)
			if err := addLibraries(ctx, w, []string{opts.Binary}); err != nil {
				return err
			}
		}
	}
	if err := w.Bytes("vmtest/args.sh", 0o644, []byte(shellSet(opts.Args))); err != nil {
		return err
	}
	if err := w.Bytes("vmtest/env.sh", 0o644, []byte(shellExports(opts.Env))); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

// checkBinary makes sure p is an x86-64 Linux ELF executable and reports
// whether it is dynamically linked.
func checkBinary(p string) (dynamic bool, err error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, fmt.Errorf("binary %s: %w", p, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return false, fmt.Errorf("binary %s is for %s, the lab runs x86-64", p, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}

// shQuote quotes s for the guest's sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellSet(args []string) string {
	var b strings.Builder
	b.WriteString("set --")
	for _, a := range args {
		b.WriteString(" " + shQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

func shellExports(env []string) string {
	var b strings.Builder
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", name, shQuote(val))
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
