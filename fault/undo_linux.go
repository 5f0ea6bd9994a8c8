package fault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/faultkit/faultkit/fault/internal/nlraw"
	"golang.org/x/sys/unix"
)

// UndoKill sends SIGKILL to a helper process, if a process with that PID
// and the same start time still exists. It reads the start time now.
func UndoKill(pid int) (Undo, error) {
	st, err := procStartTime(pid)
	if err != nil {
		return Undo{}, err
	}
	return Undo{Op: "kill", PID: pid, Start: st}, nil
}

// Apply removes the object, if it still exists and is faultkit's.
func (u Undo) Apply(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := u.apply()
	if errors.Is(err, errNetNSGone) {
		return nil // the namespace, and everything in it, is gone
	}
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	return nil
}

func (u Undo) apply() error {
	switch u.Op {
	case "remove-dir":
		return removeOwnedDir(u.Path)
	case "qdisc":
		return u.netns().Do(func() error { return delQdisc(u.Link, u.Parent, u.Handle, u.Kind) })
	case "link":
		if !strings.HasPrefix(u.Link, LinkPrefix) {
			return fmt.Errorf("refusing to delete link %q: not named %s*", u.Link, LinkPrefix)
		}
		return u.netns().Do(func() error { return delLink(u.Link, u.Kind) })
	case "netns":
		return removeNamedNetNS(u.Path)
	case "nft-table":
		if !strings.HasPrefix(u.Table, OwnerPrefix) {
			return fmt.Errorf("refusing to delete table %q: not named %s*", u.Table, OwnerPrefix)
		}
		return u.netns().Do(func() error { return delTable(u.Family, u.Table) })
	case "strip-lines":
		if !strings.Contains(u.Marker, OwnerPrefix) {
			return fmt.Errorf("refusing to strip lines: marker %q lacks %q", u.Marker, OwnerPrefix)
		}
		return stripLines(u.Path, u.Marker)
	case "kill":
		return killIfSame(u.PID, u.Start)
	}
	return fmt.Errorf("unknown undo op %q", u.Op)
}

func removeOwnedDir(path string) error {
	if _, err := os.Lstat(filepath.Join(path, OwnerMarker)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Lstat(path); errors.Is(derr, os.ErrNotExist) {
				return nil // already gone
			}
			// The directory exists without our marker: either creation was
			// interrupted before the marker was written (then it is empty)
			// or it is not ours. Remove it only if empty.
			if rerr := os.Remove(path); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("refusing to remove %s: no %s marker", path, OwnerMarker)
		}
		return err
	}
	return os.RemoveAll(path)
}

func removeNamedNetNS(path string) error {
	dir, name := filepath.Split(filepath.Clean(path))
	if (dir != "/run/netns/" && dir != "/var/run/netns/") || !strings.HasPrefix(name, LinkPrefix) {
		return fmt.Errorf("refusing to remove network namespace %s: not /run/netns/%s*", path, LinkPrefix)
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return Permission(err) // EINVAL: not a mount point (creation was interrupted)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func delQdisc(link string, parent, handle uint32, kind string) error {
	c, err := nlraw.Dial(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.LinkByName(link)
	if errors.Is(err, unix.ENODEV) {
		return nil // link gone, qdiscs with it
	}
	if err != nil {
		return err
	}
	qs, err := c.Qdiscs(l.Index)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Handle != handle || q.Parent != parent {
			continue
		}
		if q.Kind != kind {
			return fmt.Errorf("refusing to delete qdisc %s: kind %q, faultkit made %q", tcHandle(handle), q.Kind, kind)
		}
		err := c.DelQdisc(l.Index, parent, handle)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
			return nil
		}
		return Permission(err)
	}
	return nil
}

func delLink(name, kind string) error {
	c, err := nlraw.Dial(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.LinkByName(name)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.Kind != kind {
		return fmt.Errorf("refusing to delete link %s: kind %q, faultkit made %q", name, l.Kind, kind)
	}
	if err := c.DelLink(l.Index); err != nil && !errors.Is(err, unix.ENODEV) {
		return Permission(err)
	}
	return nil
}

func delTable(family uint8, name string) error {
	c, err := nlraw.Dial(unix.NETLINK_NETFILTER)
	if err != nil {
		return err
	}
	defer c.Close()
	err = c.DelTable(family, name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return Permission(err)
}

func stripLines(path, marker string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	changed := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			changed = true
			continue
		}
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !changed {
		return nil
	}
	// Rewrite in place (not rename): /etc/hosts is often a bind mount.
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// procStartTime reads field 22 (starttime) of /proc/PID/stat.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

func killIfSame(pid int, start uint64) error {
	st, err := procStartTime(pid)
	if err != nil {
		return nil // gone
	}
	if st != start {
		return nil // PID reused by another process: not ours
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return Permission(err)
	}
	return nil
}
