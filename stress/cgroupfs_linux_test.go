package stress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hybridMountinfo = `25 30 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
40 30 0:30 / /mnt/with\040space rw - ext4 /dev/vda rw
`

// A container without a cgroup namespace: the hierarchy's subtree
// /docker/abc is mounted at /sys/fs/cgroup/cpu.
const containerMountinfo = `50 40 0:28 /docker/abc /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup rw,cpu,cpuacct
51 40 0:29 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
`

func TestParseMountinfoAndCgroup(t *testing.T) {
	ms, err := parseMountinfo(strings.NewReader(hybridMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("got %d cgroup mounts, want 4: %+v", len(ms), ms)
	}
	pc, err := parseProcCgroup(strings.NewReader("12:memory:/ecs/t1\n4:cpu,cpuacct:/ecs/t1/c1\n1:name=systemd:/x\n0::/ecs.slice\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := cgroupView{mounts: ms, procs: pc}
	for _, tc := range []struct{ ctrl, dir, stop string }{
		{"cpu", "/sys/fs/cgroup/cpu,cpuacct/ecs/t1/c1", "/sys/fs/cgroup/cpu,cpuacct"},
		{"cpuacct", "/sys/fs/cgroup/cpu,cpuacct/ecs/t1/c1", "/sys/fs/cgroup/cpu,cpuacct"},
		{"memory", "/sys/fs/cgroup/memory/ecs/t1", "/sys/fs/cgroup/memory"},
		{"", "/sys/fs/cgroup/unified/ecs.slice", "/sys/fs/cgroup/unified"},
	} {
		dir, stop, ok := v.dir(tc.ctrl)
		if !ok || dir != tc.dir || stop != tc.stop {
			t.Errorf("dir(%q) = %q, %q, %v; want %q, %q", tc.ctrl, dir, stop, ok, tc.dir, tc.stop)
		}
	}
	if _, _, ok := v.dir("pids"); ok {
		t.Error("pids is not mounted, dir found anyway")
	}
	if mp, ok := v.v2Mount(); !ok || mp != "/sys/fs/cgroup/unified" {
		t.Errorf("v2Mount = %q %v", mp, ok)
	}

	cm, _ := parseMountinfo(strings.NewReader(containerMountinfo))
	pc, _ = parseProcCgroup(strings.NewReader("4:cpu,cpuacct:/docker/abc\n5:memory:/docker/abc\n"))
	v = cgroupView{mounts: cm, procs: pc}
	if dir, _, _ := v.dir("cpu"); dir != "/sys/fs/cgroup/cpu" {
		t.Errorf("container dir(cpu) = %q, want the mount point itself", dir)
	}
	if got := unescapeOctal(`/mnt/with\040space`); got != "/mnt/with space" {
		t.Errorf("unescape: %q", got)
	}
}

func TestParseQuota(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cpus float64
		ok   bool
		bad  bool
	}{
		{"max 100000", 0, false, false},
		{"50000 100000", 0.5, true, false},
		{"250000 100000", 2.5, true, false},
		{"150000", 1.5, true, false},
		{"", 0, false, true},
		{"x 100000", 0, false, true},
		{"1000 0", 0, false, true},
	} {
		c, ok, err := parseCPUMax(tc.in)
		if (err != nil) != tc.bad || ok != tc.ok || c != tc.cpus {
			t.Errorf("parseCPUMax(%q) = %v, %v, %v", tc.in, c, ok, err)
		}
	}
	if c, ok, err := parseCFSQuota("-1", "100000"); ok || err != nil || c != 0 {
		t.Errorf("no quota: %v %v %v", c, ok, err)
	}
	if c, ok, err := parseCFSQuota("50000", "100000"); !ok || err != nil || c != 0.5 {
		t.Errorf("half: %v %v %v", c, ok, err)
	}
	if _, _, err := parseCFSQuota("50000", "0"); err == nil {
		t.Error("zero period accepted")
	}
}

// TestQuotaAndMemoryLimitFromFiles builds a fake v1 hierarchy on disk:
// the tightest limit of a cgroup and its ancestors applies.
func TestQuotaAndMemoryLimitFromFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu/cpu.cfs_quota_us", "-1")
	write("cpu/cpu.cfs_period_us", "100000")
	write("cpu/ecs/cpu.cfs_quota_us", "150000")
	write("cpu/ecs/cpu.cfs_period_us", "100000")
	write("cpu/ecs/task/cpu.cfs_quota_us", "-1")
	write("cpu/ecs/task/cpu.cfs_period_us", "100000")
	write("memory/memory.limit_in_bytes", "9223372036854771712")
	write("memory/memory.usage_in_bytes", "5000000000")
	write("memory/ecs/memory.limit_in_bytes", "1073741824")
	write("memory/ecs/memory.usage_in_bytes", "104857600")
	write("memory/ecs/task/memory.limit_in_bytes", "536870912")
	write("memory/ecs/task/memory.usage_in_bytes", "104857600")
	v := cgroupView{
		mounts: []cgMount{
			{root: "/", point: filepath.Join(root, "cpu"), ctrls: []string{"cpu", "cpuacct"}},
			{root: "/", point: filepath.Join(root, "memory"), ctrls: []string{"memory"}},
		},
		procs: procCgroup{v1: map[string]string{"cpu": "/ecs/task", "cpuacct": "/ecs/task", "memory": "/ecs/task"}},
	}
	c, ok, err := v.cpuQuota()
	if err != nil || !ok || c != 1.5 {
		t.Errorf("cpuQuota = %v, %v, %v; want the parent's 1.5", c, ok, err)
	}
	limit, usage, ok := v.memoryLimit()
	if !ok || limit != 536870912 || usage != 104857600 {
		t.Errorf("memoryLimit = %d, %d, %v; want the task's 512 MiB", limit, usage, ok)
	}

	// v2 only.
	write("u/cpu.max", "max 100000")
	write("u/a/cpu.max", "50000 100000")
	write("u/a/b/cpu.max", "max 100000")
	write("u/a/b/memory.max", "max")
	write("u/a/memory.max", "268435456")
	write("u/a/memory.current", "1048576")
	v = cgroupView{mounts: []cgMount{{root: "/", point: filepath.Join(root, "u"), v2: true}},
		procs: procCgroup{v1: map[string]string{}, v2: "/a/b", h2: true}}
	if c, ok, err := v.cpuQuota(); err != nil || !ok || c != 0.5 {
		t.Errorf("v2 cpuQuota = %v, %v, %v", c, ok, err)
	}
	if limit, usage, ok := v.memoryLimit(); !ok || limit != 268435456 || usage != 1048576 {
		t.Errorf("v2 memoryLimit = %d, %d, %v", limit, usage, ok)
	}
}

func TestAvailableCPUsHere(t *testing.T) {
	n, err := AvailableCPUs()
	if err != nil || n < 1 {
		t.Fatalf("AvailableCPUs = %d, %v", n, err)
	}
}
