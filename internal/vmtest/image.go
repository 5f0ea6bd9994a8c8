package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// base builds the base initramfs at dst: busybox, the kernel modules with
// their dependency closure and a guest-side modules.dep, the host's network
// tools with their libraries, a minimal /etc and /init. The archive is
// written directly from the host files: no staging tree of busybox links
// exists on disk that a careless copy could follow into the host's /bin.
func (b *builder) base(ctx context.Context, release, dst string) error {
	tree, err := b.kernelTree(ctx)
	if err != nil {
		return err
	}
	mods, err := b.modules(ctx, tree, release)
	if err != nil {
		return err
	}
	btree, err := b.unpack(ctx, b.bdeb)
	if err != nil {
		return err
	}

	f, err := os.Create(dst + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(dst + ".tmp")
	bw := bufio.NewWriterSize(f, 1<<20)
	w := newCPIOWriter(bw)
	steps := []func() error{
		func() error { return skeleton(w) },
		func() error { return mods.write(w) },
		func() error { return b.tools(ctx, w) },
		func() error { return b.busybox(ctx, w, btree) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}

// skeleton writes the directories, /etc files and /init.
func skeleton(w *cpioWriter) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "root", "mnt/host", "var/tmp", "vmtest", "etc/vmtest"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := w.Dir("tmp", 0o1777); err != nil {
		return err
	}
	// /var/run/netns is where `ip netns` and netns.NewNamed put names.
	if err := w.Symlink("var/run", "../run"); err != nil {
		return err
	}
	etc := map[string]string{
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":         "root:x:0:\nnogroup:x:65534:\n",
		"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
		"etc/hostname":      "faultkit-lab\n",
	}
	names := make([]string, 0, len(etc))
	for n := range etc {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := w.Bytes(n, 0o644, []byte(etc[n])); err != nil {
			return err
		}
	}
	for _, p := range []string{"/etc/protocols", "/etc/services"} {
		if _, err := os.Stat(p); err == nil {
			if err := w.HostFile(p, p, 0o644); err != nil {
				return err
			}
		}
	}
	// busybox sh runs its own applets before searching PATH, so the
	// interactive shell (vmtest shell) would get busybox's cut-down ip and
	// tc; functions win over applets.
	profile := "PS1='lab# '\n"
	for _, t := range hostTools() {
		if strings.Contains(t, "-") { // not a valid function name; no applet anyway
			continue
		}
		profile += fmt.Sprintf("[ -x /usr/sbin/%[1]s ] && %[1]s() { /usr/sbin/%[1]s \"$@\"; }\n", t)
	}
	if err := w.Bytes("etc/profile", 0o644, []byte(profile)); err != nil {
		return err
	}
	return w.Bytes("init", 0o755, []byte(initScript))
}

// moduleSet is the closure of kernel modules for the image.
type moduleSet struct {
	stage   string // staging tree holding lib/modules/<release> only
	release string
	preload []string // guest paths, load order
}

var showDependsWarning = regexp.MustCompile(`Module (\S+) not found`)

// showDepends returns the .ko files (dependencies first, kmod softdeps
// included) that loading mods needs, and the modules kmod did not find.
// -C /dev/null keeps the host's /etc/modprobe.d (e.g. "options ifb
// numifbs=0") out of the answer.
func showDepends(ctx context.Context, tree, release string, mods []string) (kos, missing []string, err error) {
	args := append([]string{"-C", "/dev/null", "-d", tree, "-S", release, "--show-depends", "-a"}, mods...)
	mp, err := lookPath("modprobe")
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, mp, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	for _, m := range showDependsWarning.FindAllStringSubmatch(stderr.String(), -1) {
		missing = append(missing, m[1])
	}
	if runErr != nil && len(missing) == 0 {
		return nil, nil, fmt.Errorf("modprobe --show-depends: %w: %s", runErr, strings.TrimSpace(stderr.String()))
	}
	seen := map[string]bool{}
	for _, line := range readLines(stdout.Bytes()) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "insmod" && !seen[f[1]] {
			seen[f[1]] = true
			kos = append(kos, f[1])
		}
	}
	return kos, missing, nil
}

// modules computes the module closure and stages it with its own depmod
// output (modules.dep, modules.alias, ...), so that busybox modprobe in the
// guest can autoload what was not preloaded.
func (b *builder) modules(ctx context.Context, tree, release string) (*moduleSet, error) {
	mdir := filepath.Join(tree, "lib", "modules", release)
	// The .deb does not ship modules.dep: its postinst runs depmod.
	if _, err := os.Stat(filepath.Join(mdir, "modules.dep")); err != nil {
		if _, err := run(ctx, "", mustLook("depmod"), "-b", tree, release); err != nil {
			return nil, err
		}
	}
	want := map[string]bool{}
	for _, d := range moduleDirs() {
		files, err := walkFiles(filepath.Join(mdir, "kernel", d))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".ko") {
				want[strings.TrimSuffix(filepath.Base(f), ".ko")] = true
			}
		}
	}
	for _, m := range append(append(DefaultModules(), b.cfg.ExtraModules...), b.cfg.Preload...) {
		want[m] = true
	}
	names := make([]string, 0, len(want))
	for m := range want {
		names = append(names, m)
	}
	sort.Strings(names)
	kos, missing, err := showDepends(ctx, tree, release, names)
	if err != nil {
		return nil, err
	}
	explicit := append(append([]string(nil), b.cfg.ExtraModules...), b.cfg.Preload...)
	for _, m := range missing {
		for _, e := range explicit {
			if strings.ReplaceAll(e, "-", "_") == strings.ReplaceAll(m, "-", "_") {
				return nil, fmt.Errorf("module %s is not in kernel %s", m, release)
			}
		}
		b.cfg.Log.Debug("module not in this kernel, skipped", "module", m)
	}

	stage, err := os.MkdirTemp(b.cfg.CacheDir, ".stage-")
	if err != nil {
		return nil, err
	}
	b.tmp = append(b.tmp, stage)
	sdir := filepath.Join(stage, "lib", "modules", release)
	for _, ko := range kos {
		rel, err := filepath.Rel(tree, ko)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("module %s outside the kernel tree", ko)
		}
		dst := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(ko, dst); err != nil {
			if err := copyFile(ko, dst, 0o644); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		if err := copyFile(filepath.Join(mdir, f), filepath.Join(sdir, f), 0o644); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	if _, err := run(ctx, "", mustLook("depmod"), "-b", stage, release); err != nil {
		return nil, err
	}
	pre, _, err := showDepends(ctx, tree, release, b.cfg.Preload)
	if err != nil {
		return nil, err
	}
	ms := &moduleSet{stage: stage, release: release}
	for _, ko := range pre {
		rel, _ := filepath.Rel(tree, ko)
		ms.preload = append(ms.preload, "/"+rel)
	}
	b.cfg.Log.Debug("modules staged", "count", len(kos), "preload", len(ms.preload))
	return ms, nil
}

func mustLook(prog string) string {
	if p, err := lookPath(prog); err == nil {
		return p
	}
	return prog
}

func (ms *moduleSet) write(w *cpioWriter) error {
	root := filepath.Join(ms.stage, "lib", "modules", ms.release)
	files, err := walkFiles(root)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := w.HostFile(filepath.Join("lib/modules", ms.release, f), filepath.Join(root, f), 0o644); err != nil {
			return err
		}
	}
	return w.Bytes("etc/vmtest/preload", 0o644, []byte(strings.Join(ms.preload, "\n")+"\n"))
}

// busybox writes /bin/busybox and its applet links, leaving out applets
// that a host tool replaces (busybox's ip and tc lack netem and friends).
func (b *builder) busybox(ctx context.Context, w *cpioWriter, btree string) error {
	bb := filepath.Join(btree, "bin", "busybox")
	if err := w.HostFile("bin/busybox", bb, 0o755); err != nil {
		return err
	}
	out, err := run(ctx, "", bb, "--list-full")
	if err != nil {
		return err
	}
	for _, p := range readLines(out) {
		if p == "bin/busybox" || p == "linuxrc" || w.Has(p) || w.Has("usr/sbin/"+filepath.Base(p)) {
			continue
		}
		if err := w.Symlink(p, "/bin/busybox"); err != nil {
			return err
		}
	}
	return nil
}

// tools copies the host's network tools, their plugins and shared
// libraries (as ldd resolves them, ld.so included).
func (b *builder) tools(ctx context.Context, w *cpioWriter) error {
	if b.cfg.NoHostTools {
		return nil
	}
	var elfs []string
	for _, t := range hostTools() {
		p, err := lookPath(t)
		if err != nil {
			b.cfg.Log.Warn("host tool missing, not in the guest", "tool", t)
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if err := w.HostFile("usr/sbin/"+t, real, 0o755); err != nil {
			return err
		}
		elfs = append(elfs, real)
	}
	links := map[string]string{
		"xtables-nft-multi":    "iptables ip6tables iptables-nft ip6tables-nft iptables-save iptables-restore",
		"xtables-legacy-multi": "iptables-legacy ip6tables-legacy",
	}
	for target, names := range links {
		if !w.Has("usr/sbin/" + target) {
			continue
		}
		for _, n := range strings.Fields(names) {
			if err := w.Symlink("usr/sbin/"+n, target); err != nil {
				return err
			}
		}
	}
	// dlopen()ed plugins (iptables extensions, tc's m_xt) and the netem
	// distribution tables; iproute2's configuration.
	dirs, _ := filepath.Glob("/usr/lib/*/xtables")
	more, _ := filepath.Glob("/usr/lib/*/tc")
	dirs = append(append(dirs, more...), "/usr/lib/tc", "/usr/lib64/tc", "/usr/share/iproute2", "/etc/iproute2")
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case de.IsDir():
				return w.Dir(p, 0o755)
			case de.Type()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				return w.Symlink(p, t)
			case de.Type().IsRegular():
				if strings.HasSuffix(p, ".so") {
					elfs = append(elfs, p)
				}
				return w.HostFile(p, p, 0)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return addLibraries(ctx, w, elfs)
}

// sharedLibraries returns the libraries (and the dynamic loader) ldd lists
// for the ELF file p; none for a static binary.
func sharedLibraries(ctx context.Context, p string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", p).Output()
	if err != nil {
		// "not a dynamic executable": static, nothing to add
		return nil, nil
	}
	var libs []string
	for _, line := range readLines(out) {
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: %s", p, line)
		}
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
				break
			}
		}
	}
	return libs, nil
}

// addLibraries adds the shared libraries of elfs that w does not have yet,
// each at the path ldd names, with the content of the file it resolves to.
func addLibraries(ctx context.Context, w *cpioWriter, elfs []string) error {
	for _, e := range elfs {
		libs, err := sharedLibraries(ctx, e)
		if err != nil {
			return err
		}
		for _, l := range libs {
			if w.Has(l) {
				continue
			}
			real, err := filepath.EvalSymlinks(l)
			if err != nil {
				return err
			}
			if err := w.HostFile(l, real, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}
