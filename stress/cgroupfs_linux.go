package stress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgMount is one cgroup file system from /proc/self/mountinfo.
type cgMount struct {
	root   string   // the cgroup path mounted (field 4), "/" unless the mount is a subtree
	point  string   // where it is mounted
	v2     bool     // cgroup2
	ctrls  []string // v1 controllers (super options), e.g. "cpu", "cpuacct", "name=systemd"
	source string
}

// parseMountinfo returns the cgroup and cgroup2 mounts listed in a
// /proc/PID/mountinfo stream.
func parseMountinfo(r io.Reader) ([]cgMount, error) {
	var out []cgMount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := cgMount{root: unescapeOctal(f[3]), point: unescapeOctal(f[4]), v2: fstype == "cgroup2", source: f[sep+2]}
		if !m.v2 {
			for _, o := range strings.Split(f[sep+3], ",") {
				if o != "rw" && o != "ro" {
					m.ctrls = append(m.ctrls, o)
				}
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescapeOctal undoes mountinfo's \NNN escapes (spaces in mount points).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroup is a process's membership from /proc/PID/cgroup.
type procCgroup struct {
	v1 map[string]string // controller -> path, e.g. "cpu" -> "/ecs/abc"
	v2 string            // the unified path, "" if none
	h2 bool              // whether a "0::" line exists
}

// parseProcCgroup parses /proc/PID/cgroup.
func parseProcCgroup(r io.Reader) (procCgroup, error) {
	pc := procCgroup{v1: map[string]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			pc.v2, pc.h2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			pc.v1[c] = parts[2]
		}
	}
	return pc, sc.Err()
}

// cgroupView locates a process's cgroup directories.
type cgroupView struct {
	mounts []cgMount
	procs  procCgroup
}

func readCgroupView(pid string) (cgroupView, error) {
	mi, err := os.Open("/proc/" + pid + "/mountinfo")
	if err != nil {
		return cgroupView{}, err
	}
	defer mi.Close()
	mounts, err := parseMountinfo(mi)
	if err != nil {
		return cgroupView{}, err
	}
	pcf, err := os.Open("/proc/" + pid + "/cgroup")
	if err != nil {
		return cgroupView{}, err
	}
	defer pcf.Close()
	pc, err := parseProcCgroup(pcf)
	if err != nil {
		return cgroupView{}, err
	}
	return cgroupView{mounts: mounts, procs: pc}, nil
}

// dir returns the directory of the process's cgroup for a v1 controller,
// or for the unified hierarchy when ctrl is "", and the mount point it
// lies under. ok is false when the controller is not mounted.
func (v cgroupView) dir(ctrl string) (dir, mountPoint string, ok bool) {
	for _, m := range v.mounts {
		var p string
		switch {
		case ctrl == "" && m.v2 && v.procs.h2:
			p = v.procs.v2
		case ctrl != "" && !m.v2 && slices.Contains(m.ctrls, ctrl):
			var in bool
			if p, in = v.procs.v1[ctrl]; !in {
				continue
			}
		default:
			continue
		}
		// A mount of a subtree (a container without cgroup namespace):
		// the process's path starts with the mounted root.
		rel := p
		if m.root != "/" {
			rel = strings.TrimPrefix(p, m.root)
		}
		return filepath.Join(m.point, rel), m.point, true
	}
	return "", "", false
}

// v2Mount returns the mount point of the unified hierarchy.
func (v cgroupView) v2Mount() (string, bool) {
	for _, m := range v.mounts {
		if m.v2 {
			return m.point, true
		}
	}
	return "", false
}

// v1Mount returns the mount point of the v1 hierarchy holding ctrl.
func (v cgroupView) v1Mount(ctrl string) (string, bool) {
	for _, m := range v.mounts {
		if !m.v2 && slices.Contains(m.ctrls, ctrl) {
			return m.point, true
		}
	}
	return "", false
}

// walkUp calls fn for dir and each ancestor up to and including stop.
func walkUp(dir, stop string, fn func(dir string)) {
	for {
		fn(dir)
		if dir == stop || !strings.HasPrefix(dir, stop) {
			return
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
}

func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// parseCPUMax parses cgroup v2 cpu.max ("max 100000" or "50000 100000")
// into a number of CPUs; ok is false when there is no quota.
func parseCPUMax(s string) (cpus float64, ok bool, err error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return 0, false, fmt.Errorf("malformed cpu.max %q", s)
	}
	if f[0] == "max" {
		return 0, false, nil
	}
	quota, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, false, fmt.Errorf("malformed cpu.max %q", s)
	}
	period := 100000.0
	if len(f) == 2 {
		if period, err = strconv.ParseFloat(f[1], 64); err != nil || period <= 0 {
			return 0, false, fmt.Errorf("malformed cpu.max %q", s)
		}
	}
	return quota / period, true, nil
}

// parseCFSQuota reads cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us
// values into a number of CPUs; ok is false when there is no quota (-1).
func parseCFSQuota(quota, period string) (cpus float64, ok bool, err error) {
	q, err := strconv.ParseInt(quota, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("malformed cpu.cfs_quota_us %q", quota)
	}
	if q < 0 {
		return 0, false, nil
	}
	p, err := strconv.ParseInt(period, 10, 64)
	if err != nil || p <= 0 {
		return 0, false, fmt.Errorf("malformed cpu.cfs_period_us %q", period)
	}
	return float64(q) / float64(p), true, nil
}

// CPUQuota returns the CPU bandwidth limit of the calling process's
// cgroup, in CPUs (0.5 for "50000 100000"), taking the tightest limit of
// the cgroup and its ancestors, in cgroup v1 (cpu.cfs_quota_us) or v2
// (cpu.max). ok is false when no quota applies.
func CPUQuota() (cpus float64, ok bool, err error) {
	v, err := readCgroupView("self")
	if err != nil {
		return 0, false, err
	}
	return v.cpuQuota()
}

func (v cgroupView) cpuQuota() (cpus float64, ok bool, err error) {
	best := math.Inf(1)
	var errs []error
	if dir, stop, found := v.dir("cpu"); found {
		walkUp(dir, stop, func(d string) {
			q, qerr := readTrim(filepath.Join(d, "cpu.cfs_quota_us"))
			p, perr := readTrim(filepath.Join(d, "cpu.cfs_period_us"))
			if qerr != nil || perr != nil {
				return // the root cgroup has no quota files on some kernels
			}
			c, has, perr2 := parseCFSQuota(q, p)
			if perr2 != nil {
				errs = append(errs, perr2)
			} else if has {
				best = min(best, c)
			}
		})
	} else if dir, stop, found := v.dir(""); found {
		walkUp(dir, stop, func(d string) {
			s, rerr := readTrim(filepath.Join(d, "cpu.max"))
			if rerr != nil {
				return // no cpu controller here (the root, or not enabled)
			}
			c, has, perr := parseCPUMax(s)
			if perr != nil {
				errs = append(errs, perr)
			} else if has {
				best = min(best, c)
			}
		})
	}
	if math.IsInf(best, 1) {
		return 0, false, errors.Join(errs...)
	}
	return best, true, errors.Join(errs...)
}

// AvailableCPUs returns how many CPUs the calling process may use: the
// CPUs in its affinity mask, capped by its cgroup's CPU quota rounded up
// (a task limited to 0.5 vCPU gets 1; one limited to 2.5 gets 3). It is
// what workers = 0 means, as in FIS ("all").
func AvailableCPUs() (int, error) {
	var set unix.CPUSet
	n := runtime.NumCPU()
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		n = set.Count()
	}
	q, ok, err := CPUQuota()
	if err != nil && !ok {
		// An unreadable quota does not stop the stress: fall back on the
		// affinity mask, which the kernel enforces anyway.
		return max(n, 1), nil
	}
	if ok {
		n = min(n, int(math.Ceil(q-1e-9)))
	}
	return max(n, 1), nil
}

// memoryLimit returns the memory limit and current usage of the calling
// process's cgroup (the tightest limit of it and its ancestors, with the
// usage of the cgroup that sets it), v1 or v2. ok is false when no limit
// applies.
func (v cgroupView) memoryLimit() (limit, usage uint64, ok bool) {
	consider := func(limFile, useFile string) func(string) {
		return func(d string) {
			ls, err := readTrim(filepath.Join(d, limFile))
			if err != nil || ls == "max" {
				return
			}
			l, err := strconv.ParseUint(ls, 10, 64)
			// v1 writes "unlimited" as a huge page-rounded number.
			if err != nil || l >= 1<<62 {
				return
			}
			us, err := readTrim(filepath.Join(d, useFile))
			if err != nil {
				return
			}
			u, err := strconv.ParseUint(us, 10, 64)
			if err != nil {
				return
			}
			if !ok || l-min(u, l) < limit-min(usage, limit) {
				limit, usage, ok = l, u, true
			}
		}
	}
	if dir, stop, found := v.dir("memory"); found {
		walkUp(dir, stop, consider("memory.limit_in_bytes", "memory.usage_in_bytes"))
	} else if dir, stop, found := v.dir(""); found {
		walkUp(dir, stop, consider("memory.max", "memory.current"))
	}
	return limit, usage, ok
}
