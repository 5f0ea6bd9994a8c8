package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
)

// procFS reads processes from one proc mount. Every process is read
// through a file descriptor of its /proc/PID directory, opened once: the
// descriptor stays bound to that process even if it exits and its PID is
// reused (reads then fail with ESRCH), and it is also a pidfd that
// pidfd_send_signal accepts (Linux 5.1+). So what was read and what is
// signalled are always the same process. psmisc killall 23.6 works the
// same way. procFS is not safe for concurrent use: it reuses one buffer.
type procFS struct {
	root string
	dir  int // fd of root while scanning, else -1
	buf  []byte
}

func newProcFS(root string) *procFS { return &procFS{root: root, dir: -1, buf: make([]byte, 4096)} }

// statInfo is what Find and Kill need from /proc/PID/stat.
type statInfo struct {
	comm  string
	state byte
	ppid  int
	start uint64
}

// parseStat parses the contents of /proc/PID/stat. comm (field 2) is
// enclosed in parentheses and may itself contain spaces and parentheses,
// so the fields after it are found from the last ')'.
func parseStat(b []byte) (statInfo, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open || closing+2 > len(b) {
		return statInfo{}, fmt.Errorf("procs: malformed stat %q", truncate(b))
	}
	st := statInfo{comm: string(b[open+1 : closing])}
	// Fields from 3 (state) on; starttime is field 22.
	rest := b[closing+2:]
	field := 3
	for len(rest) > 0 && field <= 22 {
		i := bytes.IndexByte(rest, ' ')
		var f []byte
		if i < 0 {
			f, rest = bytes.TrimSpace(rest), nil
		} else {
			f, rest = rest[:i], rest[i+1:]
		}
		switch field {
		case 3:
			if len(f) != 1 {
				return statInfo{}, fmt.Errorf("procs: malformed stat state %q", f)
			}
			st.state = f[0]
		case 4:
			n, err := strconv.Atoi(string(f))
			if err != nil {
				return statInfo{}, fmt.Errorf("procs: malformed stat ppid %q", f)
			}
			st.ppid = n
		case 22:
			n, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return statInfo{}, fmt.Errorf("procs: malformed stat starttime %q", f)
			}
			st.start = n
		}
		field++
	}
	if field <= 22 {
		return statInfo{}, fmt.Errorf("procs: stat too short (%d fields)", field-1)
	}
	return st, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// readAt reads the whole file name of the process directory dfd into
// fs.buf, growing it as needed, and returns the bytes read. The slice is
// valid until the next read.
func (fs *procFS) readAt(dfd int, name string) ([]byte, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(fs.buf) {
			fs.buf = append(fs.buf, make([]byte, len(fs.buf))...)
		}
		m, err := unix.Read(fd, fs.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return fs.buf[:n], nil
		}
		n += m
	}
}

// openPID opens the /proc directory of pid, relative to the open root
// (see open), or by path when no scan is running.
func (fs *procFS) openPID(pid int) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if fs.dir >= 0 {
		return unix.Openat(fs.dir, strconv.Itoa(pid), flags, 0)
	}
	return unix.Open(fs.root+"/"+strconv.Itoa(pid), flags, 0)
}

// stat reads the stat file of the process directory dfd. A process that
// has been reaped gives an error wrapping ESRCH.
func (fs *procFS) stat(dfd int) (statInfo, error) {
	b, err := fs.readAt(dfd, "stat")
	if err != nil {
		return statInfo{}, err
	}
	return parseStat(b)
}

// cmdline reads the NUL-separated arguments of the process directory dfd,
// empty for zombies and kernel threads.
func (fs *procFS) cmdline(dfd int) []string {
	b, err := fs.readAt(dfd, "cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}

// exe returns the executable's path of the process directory dfd.
func (fs *procFS) exe(dfd int) string {
	n, err := unix.Readlinkat(dfd, "exe", fs.buf)
	if err != nil || n == len(fs.buf) {
		return ""
	}
	return string(fs.buf[:n])
}

// self returns the caller's PID as this proc mount numbers it, and checks
// that it is the caller's own pid namespace: pidfd_open and kill take PIDs
// of the caller's namespace, so PIDs read from a proc mount of another
// namespace would name the wrong processes.
func (fs *procFS) self() (int, error) {
	link, err := os.Readlink(fs.root + "/self")
	if err != nil {
		return 0, fault.Unsupported("proc file system at "+fs.root, err)
	}
	pid, err := strconv.Atoi(link)
	if err != nil {
		return 0, fault.Unsupported("proc file system at "+fs.root, fmt.Errorf("self is %q", link))
	}
	if pid != os.Getpid() {
		return 0, fault.Unsupported("proc file system of the caller's pid namespace",
			fmt.Errorf("%s shows another pid namespace: this process is pid %d there and %d here", fs.root, pid, os.Getpid()))
	}
	return pid, nil
}

// matcher decides whether a process matches a name.
type matcher struct {
	mode     Match
	name     string
	re       *regexp.Regexp
	dev, ino uint64
}

func newMatcher(name string, mode Match) (*matcher, error) {
	m := &matcher{mode: mode, name: name}
	switch mode {
	case MatchCmdline:
		re, err := cmdlineRegexp(name)
		if err != nil {
			return nil, err
		}
		m.re = re
	case MatchExe:
		var st unix.Stat_t
		if err := unix.Stat(name, &st); err != nil {
			return nil, fmt.Errorf("procs: executable %q: %w (%w)", name, fault.ErrNotFound, &os.PathError{Op: "stat", Path: name, Err: err})
		}
		m.dev, m.ino = st.Dev, st.Ino
	}
	return m, nil
}

// candidate is a process under examination during a scan.
type candidate struct {
	pid  int
	dfd  int // its /proc/PID directory: see procFS
	st   statInfo
	args []string // set when matching read the command line
}

// match tests one process. It reads the command line or the executable
// only when the mode and the name need them.
func (m *matcher) match(fs *procFS, c *candidate) bool {
	switch m.mode {
	case MatchName, MatchExactName:
		return matchName(m.name, c.st.comm, m.mode == MatchExactName, func() []string {
			c.args = fs.cmdline(c.dfd)
			return c.args
		})
	case MatchCmdline:
		c.args = fs.cmdline(c.dfd)
		return matchCmdline(m.re, c.st.comm, c.args)
	case MatchExe:
		var st unix.Stat_t
		if err := unix.Fstatat(c.dfd, "exe", &st, 0); err != nil {
			return false
		}
		return st.Dev == m.dev && st.Ino == m.ino
	}
	return false
}

// scan calls visit for every process of the proc mount that matches, in
// /proc order, while the process's directory is open (c.dfd). visit must
// not keep c.dfd: scan closes it when visit returns, unless visit returns
// true, which hands the descriptor over to visit's caller.
func (fs *procFS) scan(ctx context.Context, m *matcher, visit func(c *candidate) (keep bool)) error {
	d, err := os.Open(fs.root)
	if err != nil {
		return fault.Unsupported("proc file system at "+fs.root, err)
	}
	defer d.Close()
	// Entries are opened relative to the directory being listed;
	// openat does not disturb the listing's offset.
	fs.dir = int(d.Fd())
	defer func() { fs.dir = -1 }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		names, err := d.Readdirnames(512)
		for _, n := range names {
			pid, ok := atoiPID(n)
			if !ok {
				continue
			}
			dfd, derr := fs.openPID(pid)
			if derr != nil {
				continue // exited while we listed
			}
			c := candidate{pid: pid, dfd: dfd}
			keep := false
			if st, serr := fs.stat(dfd); serr == nil {
				c.st = st
				if m.match(fs, &c) {
					keep = visit(&c)
				}
			}
			if !keep {
				unix.Close(dfd)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("procs: list %s: %w", fs.root, err)
		}
	}
}

// atoiPID parses a /proc entry name that is a positive decimal PID.
func atoiPID(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// process turns a candidate into the exported form; with full it also
// reads the executable and the command line, as Find reports them.
func (fs *procFS) process(c *candidate, full bool) Process {
	p := Process{PID: c.pid, PPID: c.st.ppid, Name: c.st.comm, State: string(c.st.state),
		StartTime: c.st.start, Cmdline: c.args}
	if full {
		if p.Cmdline == nil {
			p.Cmdline = fs.cmdline(c.dfd)
		}
		p.Exe = fs.exe(c.dfd)
	}
	if p.Cmdline != nil {
		p.LongName, _ = LongName(p.Name, p.Cmdline)
	}
	return p
}
