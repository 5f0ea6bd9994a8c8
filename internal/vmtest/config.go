package vmtest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Defaults. DefaultKernelPackage is the ABI the lab was measured with; when
// the Debian archive has moved past it, Prepare resolves the current one from
// linux-image-amd64 (see Config.KernelPackage).
const (
	DefaultKernelPackage  = "linux-image-6.1.0-56-amd64"
	DefaultBusyboxPackage = "busybox-static"
	DefaultMachine        = "q35"
	DefaultMemoryMiB      = 1024
	DefaultCPUs           = 2
	// DefaultRequire is FAULTKIT_REQUIRE inside the guest unless the caller
	// chooses otherwise: a lab run in which these features are missing
	// fails instead of skipping.
	DefaultRequire = "root,netns,netem,prio,u32,flow,ifb,mirred,ingress,nftables"
)

// Environment variables read by ConfigFromEnv (flags of cmd/vmtest take
// precedence over them).
const (
	EnvCache         = "FAULTKIT_LAB_CACHE"         // cache directory
	EnvKernelPackage = "FAULTKIT_LAB_KERNEL_PKG"    // e.g. linux-image-6.1.0-57-amd64
	EnvKernelDeb     = "FAULTKIT_LAB_KERNEL_DEB"    // path or URL of a linux-image .deb
	EnvKernelSHA256  = "FAULTKIT_LAB_KERNEL_SHA256" // expected sha256 of that .deb
	EnvBusyboxDeb    = "FAULTKIT_LAB_BUSYBOX_DEB"   // path or URL of a busybox-static .deb
	EnvAccel         = "FAULTKIT_LAB_ACCEL"         // auto, kvm or tcg
	EnvExtraModules  = "FAULTKIT_LAB_EXTRA_MODULES" // comma or space separated module names
	EnvVerbose       = "FAULTKIT_LAB_VERBOSE"       // 1: kernel messages on the console
	InGuestEnv       = "FAULTKIT_LAB"               // set to "1" for every program run in the guest
	cacheDirName     = "faultkit-lab"
)

// Config describes the lab: where its cache lives, which kernel and
// busybox to use and how QEMU runs them. The zero value is usable: every
// empty field takes its default.
type Config struct {
	// CacheDir holds the downloaded .debs, the extracted kernel and the
	// base initramfs (about 250 MB). Default: DefaultCacheDir().
	CacheDir string
	// KernelPackage is the Debian linux-image package fetched with
	// apt-get download. Default DefaultKernelPackage; if apt does not know
	// it, the package linux-image-amd64 currently depends on is used.
	KernelPackage string
	// KernelDeb, if set, is a path or http(s) URL of the linux-image .deb
	// to use instead of apt-get download (non-Debian hosts, pinning).
	KernelDeb string
	// KernelSHA256, if set, is the hex sha256 the kernel .deb must have.
	KernelSHA256 string
	// BusyboxDeb, if set, is a path or URL of the busybox-static .deb.
	BusyboxDeb string

	// Accel is "auto" (default), "kvm" or "tcg". Auto uses KVM only when
	// /dev/kvm is usable with hardware virtualisation and is not kvm_pvm.
	Accel string
	// Machine is the QEMU machine type: "q35" (default) or "pc".
	Machine string
	// MemoryMiB and CPUs size the guest (defaults 1024 and 2).
	MemoryMiB int
	CPUs      int
	// QEMU is the emulator binary (default qemu-system-x86_64 from PATH).
	QEMU string

	// Preload lists modules loaded at boot, dependencies first; nil means
	// DefaultPreload(). Other modules in the image load on demand.
	Preload []string
	// ExtraModules are added (with their dependencies) to the modules
	// DefaultModules() puts into the image.
	ExtraModules []string
	// NoHostTools leaves the host's ip, tc, nft and iptables out of the
	// guest (busybox only).
	NoHostTools bool
	// BootBzImage boots the compressed bzImage instead of the extracted ELF
	// vmlinux (PVH). About 8 s slower under TCG; for debugging only.
	BootBzImage bool
	// KernelArgs are appended to the kernel command line.
	KernelArgs []string
	// Verbose shows kernel messages on the console.
	Verbose bool

	// Log receives progress messages (downloads, builds, boots). Default:
	// discard.
	Log *slog.Logger
}

// DefaultCacheDir returns os.UserCacheDir()/faultkit-lab, or
// $TMPDIR/faultkit-lab-<uid> when there is no user cache directory.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, cacheDirName)
	}
	return filepath.Join(os.TempDir(), cacheDirName+"-"+strconv.Itoa(os.Getuid()))
}

// DefaultPreload returns the modules loaded at boot: those the netem tests
// and their feature checks expect to be present before the first netlink
// request. Everything else is autoloaded by the guest kernel.
func DefaultPreload() []string {
	return []string{
		"veth", "ifb", "dummy",
		"sch_netem", "sch_prio", "sch_ingress",
		"cls_u32", "cls_flow", "cls_matchall",
		"act_mirred", "act_gact",
		"nf_tables",
	}
}

// DefaultModules returns the module set of the image besides whole
// directories (see moduleDirs): devices, the 9p share and tun.
func DefaultModules() []string {
	return []string{
		"veth", "ifb", "dummy", "tun",
		"virtio_pci", "virtio_rng", "9pnet_virtio", "9p",
		"crc32c_generic",
	}
}

// moduleDirs are directories below lib/modules/<release>/kernel whose
// every module goes into the image: all qdiscs, classifiers and actions,
// and all of netfilter (nftables, iptables, conntrack).
func moduleDirs() []string {
	return []string{"net/sched", "net/netfilter", "net/ipv4/netfilter", "net/ipv6/netfilter"}
}

// hostTools are copied from the host into /usr/sbin of the guest when
// present, with their shared libraries and plugins.
func hostTools() []string {
	return []string{"ip", "tc", "nft", "ss", "xtables-nft-multi", "xtables-legacy-multi"}
}

var moduleName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ConfigFromEnv returns a Config filled from the FAULTKIT_LAB_* variables.
func ConfigFromEnv() Config {
	c := Config{
		CacheDir:      os.Getenv(EnvCache),
		KernelPackage: os.Getenv(EnvKernelPackage),
		KernelDeb:     os.Getenv(EnvKernelDeb),
		KernelSHA256:  os.Getenv(EnvKernelSHA256),
		BusyboxDeb:    os.Getenv(EnvBusyboxDeb),
		Accel:         os.Getenv(EnvAccel),
		ExtraModules:  SplitList(os.Getenv(EnvExtraModules)),
	}
	c.Verbose, _ = strconv.ParseBool(os.Getenv(EnvVerbose))
	return c
}

// SplitList splits a comma or space separated list, dropping empty items.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	abs, err := filepath.Abs(c.CacheDir)
	if err != nil {
		return c, fmt.Errorf("config: cache dir %q: %w", c.CacheDir, err)
	}
	c.CacheDir = abs
	if c.KernelPackage == "" {
		c.KernelPackage = DefaultKernelPackage
	}
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`).MatchString(c.KernelPackage) {
		return c, fmt.Errorf("config: kernel package %q is not a Debian package name", c.KernelPackage)
	}
	if c.KernelSHA256 != "" && !regexp.MustCompile(`^[0-9a-fA-F]{64}$`).MatchString(c.KernelSHA256) {
		return c, fmt.Errorf("config: kernel sha256 %q is not 64 hex digits", c.KernelSHA256)
	}
	switch c.Accel {
	case "":
		c.Accel = "auto"
	case "auto", "kvm", "tcg":
	default:
		return c, fmt.Errorf("config: accel %q: want auto, kvm or tcg", c.Accel)
	}
	switch c.Machine {
	case "":
		c.Machine = DefaultMachine
	case "q35", "pc":
	default:
		// microvm hangs under TCG (no HPET/PM timer to calibrate the TSC).
		return c, fmt.Errorf("config: machine %q: want q35 or pc", c.Machine)
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = DefaultMemoryMiB
	}
	if c.MemoryMiB < 256 || c.MemoryMiB > 65536 {
		return c, fmt.Errorf("config: memory %d MiB: want 256..65536", c.MemoryMiB)
	}
	if c.CPUs == 0 {
		c.CPUs = DefaultCPUs
	}
	if c.CPUs < 1 || c.CPUs > 64 {
		return c, fmt.Errorf("config: cpus %d: want 1..64", c.CPUs)
	}
	if c.QEMU == "" {
		c.QEMU = "qemu-system-x86_64"
	}
	if c.Preload == nil {
		c.Preload = DefaultPreload()
	}
	for _, m := range append(append([]string(nil), c.Preload...), c.ExtraModules...) {
		if !moduleName.MatchString(m) {
			return c, fmt.Errorf("config: module name %q is invalid", m)
		}
	}
	for _, a := range c.KernelArgs {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			return c, fmt.Errorf("config: kernel argument %q must be one non-empty word", a)
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}
