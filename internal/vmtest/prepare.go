package vmtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed init.sh
var initScript string

// formatVersion is part of every base image's cache key; bump it when the
// layout of the image changes in a way the key does not otherwise capture.
const formatVersion = "vmtest-image-4"

// Lab is a prepared lab: a kernel and a base initramfs in the cache. Run
// boots it. A Lab is immutable and safe for concurrent Runs.
type Lab struct {
	cfg Config
	// Kernel is the image QEMU boots: the ELF vmlinux (PVH) or the bzImage.
	Kernel string
	// Release is the kernel release, e.g. "6.1.0-56-amd64".
	Release string
	// Base is the cached base initramfs (uncompressed newc cpio).
	Base string
}

// Prepare makes sure the cache holds the kernel and the base initramfs
// described by cfg, downloading and building what is missing, and returns
// the Lab. It serialises with concurrent Prepares through a lock file in the
// cache directory. Errors wrap ErrLab.
func Prepare(ctx context.Context, cfg Config) (*Lab, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLab, err)
	}
	l, err := prepare(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: prepare: %w", ErrLab, err)
	}
	return l, nil
}

func prepare(ctx context.Context, cfg Config) (*Lab, error) {
	if err := checkHostTools(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.CacheDir, "debs"), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(ctx, cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Under the lock nobody else is building: whatever temporary
	// directories exist were left by a killed run.
	for _, pat := range []string{".unpack-*", ".stage-*", "debs/.apt-*", "debs/.dl-*", "base-*.cpio.tmp"} {
		m, _ := filepath.Glob(filepath.Join(cfg.CacheDir, pat))
		for _, p := range m {
			_ = os.RemoveAll(p)
		}
	}
	debs := filepath.Join(cfg.CacheDir, "debs")

	kpkg := cfg.KernelPackage
	if cfg.KernelDeb == "" && cachedDeb(debs, kpkg) == "" && !aptKnows(ctx, kpkg) {
		cur, err := currentKernelPackage(ctx)
		if err != nil {
			return nil, fmt.Errorf("apt does not know %s and %w", kpkg, err)
		}
		cfg.Log.Warn("kernel package not in apt, using the current one", "wanted", kpkg, "using", cur)
		kpkg = cur
	}
	start := time.Now()
	kdeb, err := resolveDeb(ctx, debs, kpkg, cfg.KernelDeb)
	if err != nil {
		return nil, fmt.Errorf("kernel .deb: %w", err)
	}
	if cfg.KernelSHA256 != "" {
		sum, err := fileSHA256(kdeb)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(sum, cfg.KernelSHA256) {
			return nil, fmt.Errorf("kernel .deb %s: sha256 %s, want %s", kdeb, sum, cfg.KernelSHA256)
		}
	}
	bdeb, err := resolveDeb(ctx, debs, DefaultBusyboxPackage, cfg.BusyboxDeb)
	if err != nil {
		return nil, fmt.Errorf("busybox .deb: %w", err)
	}
	cfg.Log.Debug("debs ready", "kernel", kdeb, "busybox", bdeb, "took", time.Since(start))

	b := &builder{cfg: cfg, kdeb: kdeb, bdeb: bdeb}
	defer b.cleanup()
	kdir := filepath.Join(cfg.CacheDir, "kernel", strings.TrimSuffix(filepath.Base(kdeb), ".deb"))
	release, err := b.kernel(ctx, kdir)
	if err != nil {
		return nil, err
	}
	l := &Lab{cfg: cfg, Release: release, Kernel: filepath.Join(kdir, "vmlinux")}
	if _, err := os.Stat(l.Kernel); err != nil || cfg.BootBzImage {
		l.Kernel = filepath.Join(kdir, "vmlinuz")
	}
	key, err := b.baseKey(release)
	if err != nil {
		return nil, err
	}
	l.Base = filepath.Join(cfg.CacheDir, "base-"+release+"-"+key+".cpio")
	if _, err := os.Stat(l.Base); err == nil {
		now := time.Now()
		_ = os.Chtimes(l.Base, now, now) // most recently used: kept by pruneBases
		return l, nil
	}
	start = time.Now()
	if err := b.base(ctx, release, l.Base); err != nil {
		return nil, fmt.Errorf("base initramfs: %w", err)
	}
	st, _ := os.Stat(l.Base)
	cfg.Log.Info("built base initramfs", "path", l.Base, "bytes", st.Size(), "took", time.Since(start).Round(time.Millisecond))
	pruneBases(cfg.CacheDir, 3)
	return l, nil
}

// checkHostTools reports the host programs the lab needs and lacks, with
// the Debian packages that provide them.
func checkHostTools(cfg Config) error {
	need := map[string]string{
		cfg.QEMU: "qemu-system-x86", "dpkg-deb": "dpkg", "xz": "xz-utils",
		"depmod": "kmod", "modprobe": "kmod", "apt-get": "apt",
	}
	if cfg.KernelDeb != "" && cfg.BusyboxDeb != "" {
		delete(need, "apt-get")
	}
	var missing []string
	for prog, pkg := range need {
		if _, err := lookPath(prog); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", prog, pkg))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("missing host programs: %s", strings.Join(missing, ", "))
	}
	return nil
}

// lookPath is exec.LookPath that also searches the sbin directories, which
// are not in PATH for ordinary users on Debian.
func lookPath(prog string) (string, error) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", prog, exec.ErrNotFound)
}

// lockDir takes an exclusive flock on dir/.lock, polling so that ctx can
// cancel the wait.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pruneBases keeps the keep most recently used base images.
func pruneBases(dir string, keep int) {
	m, _ := filepath.Glob(filepath.Join(dir, "base-*.cpio"))
	type ent struct {
		p string
		t time.Time
	}
	var es []ent
	for _, p := range m {
		if st, err := os.Stat(p); err == nil {
			es = append(es, ent{p, st.ModTime()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].t.After(es[j].t) })
	for i := keep; i < len(es); i++ {
		_ = os.Remove(es[i].p)
	}
}

// builder unpacks .debs on demand into a temporary directory of the cache
// and removes it when done (the unpacked kernel is about 400 MB).
type builder struct {
	cfg        Config
	kdeb, bdeb string
	ktree      string // unpacked kernel .deb, "" until needed
	tmp        []string
}

func (b *builder) cleanup() {
	for _, d := range b.tmp {
		_ = os.RemoveAll(d)
	}
}

func (b *builder) unpack(ctx context.Context, deb string) (string, error) {
	d, err := os.MkdirTemp(b.cfg.CacheDir, ".unpack-")
	if err != nil {
		return "", err
	}
	b.tmp = append(b.tmp, d)
	start := time.Now()
	if _, err := run(ctx, "", "dpkg-deb", "-x", deb, d); err != nil {
		return "", err
	}
	b.cfg.Log.Debug("unpacked", "deb", filepath.Base(deb), "took", time.Since(start).Round(time.Millisecond))
	return d, nil
}

func (b *builder) kernelTree(ctx context.Context) (string, error) {
	if b.ktree == "" {
		d, err := b.unpack(ctx, b.kdeb)
		if err != nil {
			return "", err
		}
		b.ktree = d
	}
	return b.ktree, nil
}

// kernel makes sure kdir holds vmlinuz, vmlinux (when extractable) and the
// release name, and returns the release.
func (b *builder) kernel(ctx context.Context, kdir string) (string, error) {
	if rel, err := os.ReadFile(filepath.Join(kdir, "release")); err == nil {
		return strings.TrimSpace(string(rel)), nil
	}
	tree, err := b.kernelTree(ctx)
	if err != nil {
		return "", err
	}
	m, _ := filepath.Glob(filepath.Join(tree, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		return "", fmt.Errorf("%s: want one boot/vmlinuz-*, found %d", filepath.Base(b.kdeb), len(m))
	}
	release := strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return "", err
	}
	if err := copyFile(m[0], filepath.Join(kdir, "vmlinuz"), 0o644); err != nil {
		return "", err
	}
	start := time.Now()
	if err := extractVmlinux(ctx, m[0], filepath.Join(kdir, "vmlinux")); err != nil {
		if !errors.Is(err, errNoPayload) {
			return "", fmt.Errorf("extract vmlinux: %w", err)
		}
		b.cfg.Log.Warn("booting the bzImage (slow under TCG)", "reason", err)
	} else {
		b.cfg.Log.Debug("extracted vmlinux", "took", time.Since(start).Round(time.Millisecond))
	}
	// release last: it marks kdir complete
	return release, os.WriteFile(filepath.Join(kdir, "release"), []byte(release+"\n"), 0o644)
}

// baseKey hashes everything the base image is made of.
func (b *builder) baseKey(release string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, formatVersion, release, filepath.Base(b.kdeb), filepath.Base(b.bdeb))
	fmt.Fprintln(h, "preload", b.cfg.Preload, "extra", b.cfg.ExtraModules, "tools", !b.cfg.NoHostTools)
	fmt.Fprintln(h, initScript)
	if !b.cfg.NoHostTools {
		for _, t := range hostTools() {
			if p, err := lookPath(t); err == nil {
				if st, err := os.Stat(p); err == nil {
					fmt.Fprintln(h, t, p, st.Size(), st.ModTime().UnixNano())
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// walkFiles lists the regular files below root (sorted, relative).
func walkFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// readLines returns the non-empty lines of a command's output.
func readLines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}
