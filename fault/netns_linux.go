package fault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNSFromPath identifies the network namespace at path: a bind mount such
// as /run/netns/NAME, or /proc/PID/ns/net for a process's namespace.
func NetNSFromPath(path string) (NetNS, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return NetNS{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return NetNS{Path: path, Dev: st.Dev, Ino: st.Ino}, nil
}

// CurrentNetNS identifies the calling thread's network namespace. Its Path
// is thread-specific and dies with the thread; undo replay finds the
// namespace again by identity (see NetNS.Open).
func CurrentNetNS() (NetNS, error) {
	return NetNSFromPath(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
}

// errNetNSGone reports a namespace that no longer exists anywhere: every
// object inside it is gone too, so an undo in it has nothing left to do.
var errNetNSGone = errors.New("network namespace no longer exists")

// Open opens the namespace. When its path no longer leads to the same
// namespace (the owning thread or process died), Open looks for it by
// identity among named namespaces (/run/netns) and the namespaces of live
// processes. If it exists nowhere, the error wraps errNetNSGone.
func (n NetNS) Open() (*os.File, error) {
	if n.IsZero() {
		return os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	}
	if f, ok := openIfSame(n.Path, n); ok {
		return f, nil
	}
	var candidates []string
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*"))
		candidates = append(candidates, m...)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	candidates = append(candidates, procs...)
	for _, c := range candidates {
		if f, ok := openIfSame(c, n); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", n, errNetNSGone)
}

func openIfSame(path string, n NetNS) (*os.File, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Dev != n.Dev || st.Ino != n.Ino {
		f.Close()
		return nil, false
	}
	return f, true
}

// Do runs fn on a locked OS thread inside the namespace and switches back.
// Sockets fn opens stay in the namespace. If the thread cannot be switched
// back, it is left locked so the Go runtime retires it.
func (n NetNS) Do(fn func() error) error {
	if n.IsZero() {
		return fn()
	}
	target, err := n.Open()
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- os.NewSyscallError("setns", Permission(err))
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, os.NewSyscallError("setns back", err))
			return // thread stays locked: the runtime discards it
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
