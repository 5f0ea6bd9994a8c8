package vmtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one parsed newc record.
type cpioEntry struct {
	name  string
	mode  uint32
	nlink uint32
	data  string
}

// parseCPIO is an independent newc reader for the tests.
func parseCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	for {
		if off%4 != 0 {
			t.Fatalf("header at unaligned offset %d", off)
		}
		if len(b)-off < 110 || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(v)
		}
		mode, nlink, size, namesize := field(1), field(4), int(field(6)), int(field(11))
		name := string(b[off+110 : off+110+namesize-1])
		if b[off+110+namesize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off += 110 + namesize
		off += pad4(off)
		data := string(b[off : off+size])
		off += size
		off += pad4(off)
		if name == cpioTrailer {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, nlink, data})
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	host := filepath.Join(t.TempDir(), "host")
	if err := os.WriteFile(host, []byte("from the host"), 0o640); err != nil {
		t.Fatal(err)
	}
	steps := []error{
		w.Bytes("/etc/vmtest/preload", 0o644, []byte("a.ko\n")),
		w.Dir("etc", 0o755), // already created as a parent: no-op
		w.Symlink("var/run", "../run"),
		w.HostFile("usr/sbin/x", host, 0),
		w.Bytes("odd", 0o600, []byte("12345")), // 5 bytes: padding
		w.Dir("tmp", 0o1777),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := w.Bytes("etc/vmtest/preload", 0o644, nil); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate entry: err = %v", err)
	}
	if err := w.Bytes("/", 0o644, nil); err == nil {
		t.Error("empty name accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := parseCPIO(t, buf.Bytes())
	var names []string
	for _, e := range got {
		names = append(names, e.name)
	}
	want := []string{"etc", "etc/vmtest", "etc/vmtest/preload", "var", "var/run", "usr", "usr/sbin", "usr/sbin/x", "odd", "tmp"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("entries %v, want %v (parents first)", names, want)
	}
	check := func(i int, mode uint32, data string) {
		t.Helper()
		if got[i].mode != mode || got[i].data != data {
			t.Errorf("%s: mode %o data %q, want %o %q", got[i].name, got[i].mode, got[i].data, mode, data)
		}
	}
	check(0, modeDir|0o755, "")
	check(2, modeFile|0o644, "a.ko\n")
	check(4, modeSymlink|0o777, "../run")
	check(7, modeFile|0o640, "from the host")
	check(8, modeFile|0o600, "12345")
	check(9, modeDir|0o1777, "")

	// The host's cpio (GNU or busybox) must read it the same way.
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("no cpio on this machine to cross-check the archive")
	}
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-idm", "--quiet")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/sbin/x")); err != nil || string(b) != "from the host" {
		t.Errorf("extracted usr/sbin/x = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "var/run")); err != nil || l != "../run" {
		t.Errorf("extracted var/run -> %q, %v", l, err)
	}
}

// fakeBzImage builds a minimal image with the boot-protocol fields
// bzImagePayload reads and payload placed where they say.
func fakeBzImage(payload []byte, version uint16) []byte {
	const setupSects = 3
	img := make([]byte, (setupSects+1)*512+100)
	img[0x1f1] = setupSects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], version)
	binary.LittleEndian.PutUint32(img[0x248:], 100) // payload_offset
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)))
	img = append(img, payload...)
	return append(img, "tail"...)
}

func TestExtractVmlinux(t *testing.T) {
	elfData := append([]byte("\x7fELF"), bytes.Repeat([]byte("kernel"), 1000)...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(elfData)
	zw.Close()
	gzPayload := append(gz.Bytes(), 1, 2, 3, 4) // the build appends the size

	cases := map[string]struct {
		img     []byte
		wantErr bool
	}{
		"gzip":       {img: fakeBzImage(gzPayload, 0x20f)},
		"old-proto":  {img: fakeBzImage(gzPayload, 0x207), wantErr: true},
		"not-bz":     {img: bytes.Repeat([]byte{0}, 4096), wantErr: true},
		"unknown":    {img: fakeBzImage([]byte("BZh91AY&SY"), 0x20f), wantErr: true},
		"not-an-elf": {img: fakeBzImage(gzipOf(t, []byte("MZ not elf")), 0x20f), wantErr: true},
	}
	// XZ Utils only: busybox's xz applet (in the lab guest) cannot compress.
	if v, err := exec.Command("xz", "--version").Output(); err == nil && bytes.Contains(v, []byte("XZ Utils")) {
		cmd := exec.Command("xz", "-c", "--check=crc32")
		cmd.Stdin = bytes.NewReader(elfData)
		xzData, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		cases["xz"] = struct {
			img     []byte
			wantErr bool
		}{img: fakeBzImage(append(xzData, 1, 2, 3, 4), 0x20f)}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "vmlinux")
			if err := os.WriteFile(src, c.img, 0o644); err != nil {
				t.Fatal(err)
			}
			err := extractVmlinux(context.Background(), src, dst)
			if c.wantErr {
				if !errors.Is(err, errNoPayload) {
					t.Fatalf("err = %v, want errNoPayload", err)
				}
				if _, err := os.Stat(dst); err == nil {
					t.Error("vmlinux written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst)
			if !bytes.Equal(got, elfData) {
				t.Errorf("extracted %d bytes, want the %d-byte ELF", len(got), len(elfData))
			}
		})
	}
}

func gzipOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestKVMUsable(t *testing.T) {
	mk := func(t *testing.T, kvm, pvm bool, flags string) string {
		root := t.TempDir()
		for _, d := range []string{"dev", "proc", "sys/module"} {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		if kvm {
			os.WriteFile(filepath.Join(root, "dev/kvm"), nil, 0o666)
		}
		if pvm {
			os.MkdirAll(filepath.Join(root, "sys/module/kvm_pvm"), 0o755)
		}
		os.WriteFile(filepath.Join(root, "proc/cpuinfo"), []byte("processor\t: 0\nflags\t\t: fpu "+flags+" sse4_2\n\n"), 0o644)
		return root
	}
	cases := []struct {
		name      string
		kvm, pvm  bool
		flags     string
		want      bool
		reasonHas string
	}{
		{"real-kvm-intel", true, false, "vmx", true, "hardware"},
		{"real-kvm-amd", true, false, "svm", true, "hardware"},
		{"no-dev-kvm", false, false, "vmx", false, "/dev/kvm"},
		{"kvm-pvm", true, true, "vmx", false, "kvm_pvm"},
		{"no-vmx", true, false, "hypervisor", false, "vmx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, why := kvmUsable(mk(t, c.kvm, c.pvm, c.flags))
			if ok != c.want || !strings.Contains(why, c.reasonHas) {
				t.Errorf("kvmUsable = %v, %q; want %v with %q", ok, why, c.want, c.reasonHas)
			}
		})
	}
}

func TestScanConsole(t *testing.T) {
	const nonce = "00aa11bb22cc33dd"
	cases := []struct {
		name, in, out string
		exit          int
		labErr        string
		markers       int
	}{
		{"exit", "a\r\nb\r\n\r\nVMTEST-" + nonce + "-EXIT=1\r\n[ 4.1] reboot: Power down\r\n", "a\nb\n", 1, "", 1},
		{"partial-line", "PASS\nno newline yet\nVMTEST-" + nonce + "-EXIT=0\n", "PASS\nno newline yet\n", 0, "", 1},
		{"marker-after-text", "printed without newlineVMTEST-" + nonce + "-EXIT=7\n", "printed without newline\n", 7, "", 1},
		{"forged", "VMTEST-ffffffffffffffff-EXIT=0\n\nx\n", "VMTEST-ffffffffffffffff-EXIT=0\n\nx\n", -1, "", 0},
		{"error", "\nVMTEST-" + nonce + "-ERROR=9p mount failed\n", "", -1, "9p mount failed", 1},
		{"first-wins", "VMTEST-" + nonce + "-EXIT=2\nVMTEST-" + nonce + "-EXIT=0\n", "", 2, "", 1},
		{"panic", "Kernel panic - not syncing: No working init found\n", "Kernel panic - not syncing: No working init found\n", -1, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			n := 0
			mk := scanConsole(strings.NewReader(c.in), &out, nonce, func() { n++ })
			if out.String() != c.out || mk.exit != c.exit || mk.labErr != c.labErr || n != c.markers {
				t.Errorf("scanConsole = %q, %+v, %d callbacks; want %q, exit %d, err %q, %d",
					out.String(), mk, n, c.out, c.exit, c.labErr, c.markers)
			}
		})
	}
}

// TestShellQuoting runs the generated args.sh and env.sh through a real sh.
func TestShellQuoting(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	args := []string{"plain", "with space", "it's", `"dq"`, "$HOME", "`id`", "new\nline", "", `back\slash`, "-test.run=^A$"}
	env := []string{"A=it's $x", "B=", "C=x=y"}
	script := shellSet(args) + shellExports(env) + `for a; do printf '%s\0' "$a"; done; printf '%s\0' "$A" "$B" "$C"`
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := append(append([]string(nil), args...), "it's $x", "", "x=y")
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("through sh: %q\nwant        %q", got, want)
	}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Accel: "hvf"}, `accel "hvf"`},
		{Config{Machine: "microvm"}, `machine "microvm"`},
		{Config{MemoryMiB: 64}, "memory 64 MiB"},
		{Config{CPUs: -1}, "cpus -1"},
		{Config{Preload: []string{"sch_netem", "../evil"}}, `module name "../evil"`},
		{Config{ExtraModules: []string{"a b"}}, `module name "a b"`},
		{Config{KernelArgs: []string{"a b"}}, `kernel argument "a b"`},
		{Config{KernelPackage: "Linux Image"}, `kernel package "Linux Image"`},
		{Config{KernelSHA256: "abc"}, `kernel sha256 "abc"`},
	}
	for _, c := range cases {
		_, err := c.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%+v: err = %v, want it to name %s", c.cfg, err, c.wantErr)
		}
	}
	got, err := Config{CacheDir: "rel/dir"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(got.CacheDir) || got.Accel != "auto" || got.Machine != "q35" || got.CPUs != 2 ||
		got.MemoryMiB != 1024 || got.KernelPackage != DefaultKernelPackage || len(got.Preload) == 0 {
		t.Errorf("defaults not applied: %+v", got)
	}
	// Prepare reports bad configuration as a lab failure.
	if _, err := Prepare(context.Background(), Config{Accel: "x"}); !errors.Is(err, ErrLab) {
		t.Errorf("Prepare(bad config) = %v, want ErrLab", err)
	}
}

func TestDefaultCacheDirOutsideRepo(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/somewhere/cache")
	if got := DefaultCacheDir(); got != "/somewhere/cache/faultkit-lab" {
		t.Errorf("DefaultCacheDir = %q", got)
	}
	t.Setenv(EnvCache, "/x/y")
	t.Setenv(EnvExtraModules, "bridge, macvlan")
	c := ConfigFromEnv()
	if c.CacheDir != "/x/y" || strings.Join(c.ExtraModules, "|") != "bridge|macvlan" {
		t.Errorf("ConfigFromEnv = %+v", c)
	}
}

func TestCheckBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkBinary(self); err != nil {
		t.Errorf("checkBinary(test binary): %v", err)
	}
	txt := filepath.Join(t.TempDir(), "script")
	os.WriteFile(txt, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if _, err := checkBinary(txt); err == nil {
		t.Error("a shell script was accepted as the guest program")
	}
}

func TestInitrdRejectsBadEnv(t *testing.T) {
	l := &Lab{Base: filepath.Join(t.TempDir(), "base.cpio")}
	os.WriteFile(l.Base, nil, 0o644)
	for _, kv := range []string{"NOVALUE", "1A=x", "A-B=x", "=x"} {
		err := l.initrd(context.Background(), filepath.Join(t.TempDir(), "initrd"), RunOptions{Env: []string{kv}})
		if !errors.Is(err, ErrLab) || !strings.Contains(err.Error(), strconv.Quote(kv)) {
			t.Errorf("env %q: err = %v", kv, err)
		}
	}
}

func TestExitStatus(t *testing.T) {
	cases := []struct {
		res  Result
		err  error
		want int
	}{
		{Result{ExitCode: 0}, nil, 0},
		{Result{ExitCode: 1}, nil, 1},
		{Result{ExitCode: 125}, nil, 125}, // the program's own status wins
		{Result{}, fmt.Errorf("%w: killed", ErrTimeout), ExitTimeout},
		{Result{}, fmt.Errorf("%w: no marker", ErrLab), ExitLabFailure},
		{Result{}, errors.New("anything else"), ExitLabFailure},
	}
	for _, c := range cases {
		if got := ExitStatus(c.res, c.err); got != c.want {
			t.Errorf("ExitStatus(%+v, %v) = %d, want %d", c.res, c.err, got, c.want)
		}
	}
}
