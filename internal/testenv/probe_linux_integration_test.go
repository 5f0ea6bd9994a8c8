//go:build linux

package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func nsIno(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestUnshareNetNS(t *testing.T) {
	RequireRoot(t)
	before := nsIno(t, "/proc/self/ns/net")
	f, err := UnshareNetNS()
	Require(t, NetNS, err)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Ino == before {
		t.Fatalf("new netns has the inode of the current one (%d)", before)
	}
	// Neither the process's main thread nor this goroutine moved.
	if got := nsIno(t, "/proc/self/ns/net"); got != before {
		t.Errorf("process netns changed from %d to %d", before, got)
	}
	if got := nsIno(t, fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())); got != before {
		t.Errorf("this thread's netns is %d, want %d", got, before)
	}
}

func TestProbes(t *testing.T) {
	RequireRoot(t)
	for _, f := range []string{Root, NetNS, NFTables, Cgroup, Cgroup1, Cgroup2, QEMU} {
		t.Run(f, func(t *testing.T) {
			RequireFeature(t, f)
		})
	}
}

func TestProbeCgroupLeavesNothing(t *testing.T) {
	RequireRoot(t)
	RequireFeature(t, Cgroup)
	for _, fstype := range []string{"cgroup", "cgroup2"} {
		mounts, err := mountPoints(fstype)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mounts {
			left, _ := filepath.Glob(filepath.Join(m, fmt.Sprintf("faultkit-probe-%d", os.Getpid())))
			if len(left) > 0 {
				t.Errorf("probe left %v behind", left)
			}
		}
	}
}
