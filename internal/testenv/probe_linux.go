package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

var errNoProbe = errors.New("testenv: no generic probe for this feature")

// Probe checks one of the generic features (Root, NetNS, NFTables, Cgroup,
// Cgroup1, Cgroup2, QEMU) and returns nil when it is usable. For any other
// name it returns an error wrapping a "no generic probe" error, which
// RequireFeature turns into a test failure.
func Probe(feature string) error {
	switch Canonical(feature) {
	case Root:
		return ProbeRoot()
	case NetNS:
		return ProbeNetNS()
	case NFTables:
		return ProbeNFTables()
	case Cgroup:
		return ProbeCgroup()
	case Cgroup1:
		return ProbeCgroup1()
	case Cgroup2:
		return ProbeCgroup2()
	case QEMU:
		return ProbeQEMU()
	}
	return fmt.Errorf("%w: %q", errNoProbe, feature)
}

// ProbeRoot returns nil when the effective uid is 0.
func ProbeRoot() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("needs root (uid %d)", uid)
	}
	return nil
}

// ProbeNetNS returns nil when the process can create a network namespace
// and switch its thread back.
func ProbeNetNS() error {
	f, err := UnshareNetNS()
	if err != nil {
		return err
	}
	return f.Close()
}

// ProbeNFTables returns nil when nf_tables answers over nfnetlink: it lists
// the tables of a throwaway network namespace, so the host's ruleset is
// neither read nor touched.
func ProbeNFTables() error {
	ns, err := UnshareNetNS()
	if err != nil {
		return fmt.Errorf("nftables probe needs a netns: %w", err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		return fmt.Errorf("nftables: open nfnetlink: %w", err)
	}
	if _, err := c.ListTables(); err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	return nil
}

// ProbeCgroup returns nil when a cgroup v2 or a cgroup v1 hierarchy is
// mounted and writable.
func ProbeCgroup() error {
	err2 := ProbeCgroup2()
	if err2 == nil {
		return nil
	}
	err1 := ProbeCgroup1()
	if err1 == nil {
		return nil
	}
	return errors.Join(err2, err1)
}

// ProbeCgroup2 returns nil when a cgroup2 file system is mounted and a
// child cgroup can be created (and is removed again) in it.
func ProbeCgroup2() error {
	return probeCgroupFS("cgroup2")
}

// ProbeCgroup1 returns nil when a cgroup v1 hierarchy is mounted and a
// child cgroup can be created (and is removed again) in it.
func ProbeCgroup1() error {
	return probeCgroupFS("cgroup")
}

func probeCgroupFS(fstype string) error {
	mounts, err := mountPoints(fstype)
	if err != nil {
		return err
	}
	if len(mounts) == 0 {
		return fmt.Errorf("no %s file system mounted", fstype)
	}
	var errs []error
	for _, m := range mounts {
		dir := filepath.Join(m, fmt.Sprintf("faultkit-probe-%d", os.Getpid()))
		if err := os.Mkdir(dir, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("%s not writable: %w", fstype, err))
			continue
		}
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("remove probe cgroup: %w", err)
		}
		return nil
	}
	return errors.Join(errs...)
}

// mountPoints lists where file systems of type fstype are mounted.
func mountPoints(fstype string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 || qf[0] != fstype {
			continue
		}
		out = append(out, unescapeMount(pf[4]))
	}
	return out, s.Err()
}

// unescapeMount undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ProbeQEMU returns nil when qemu-system-x86_64 is on PATH.
func ProbeQEMU() error {
	_, err := exec.LookPath("qemu-system-x86_64")
	return err
}

// UnshareNetNS creates a new, anonymous network namespace and returns an
// open file for it; the namespace lives as long as the file (or a bind
// mount of it) does. The calling goroutine's namespace does not change: the
// work happens on a separate locked OS thread, which is switched back, or
// retired by the Go runtime when switching back fails.
func UnshareNetNS() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: os.NewSyscallError("unshare(CLONE_NEWNET)", err)}
			return
		}
		created, openErr := os.Open(self)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime retires it when this
			// goroutine exits, so no goroutine ever runs in the wrong netns.
			if created != nil {
				created.Close()
			}
			ch <- result{err: os.NewSyscallError("setns back to the original netns", err)}
			return
		}
		runtime.UnlockOSThread()
		if openErr != nil {
			ch <- result{err: fmt.Errorf("open new netns: %w", openErr)}
			return
		}
		ch <- result{f: created}
	}()
	r := <-ch
	return r.f, r.err
}
