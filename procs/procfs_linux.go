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

// procFS reads processes from one proc mount. It is not safe for
// concurrent use: it reuses one read buffer.
type procFS struct {
	root string
	buf  []byte
}

func newProcFS(root string) *procFS { return &procFS{root: root, buf: make([]byte, 4096)} }

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

// read reads a whole /proc file into fs.buf, growing it as needed, and
// returns the bytes read. The slice is valid until the next read.
func (fs *procFS) read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
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

func (fs *procFS) pidPath(pid int, file string) string {
	return fs.root + "/" + strconv.Itoa(pid) + "/" + file
}

// stat reads /proc/PID/stat. A process that is gone gives an error that
// wraps ENOENT or ESRCH.
func (fs *procFS) stat(pid int) (statInfo, error) {
	b, err := fs.read(fs.pidPath(pid, "stat"))
	if err != nil {
		return statInfo{}, err
	}
	return parseStat(b)
}

// cmdline reads /proc/PID/cmdline: NUL-separated arguments, empty for
// zombies and kernel threads.
func (fs *procFS) cmdline(pid int) []string {
	b, err := fs.read(fs.pidPath(pid, "cmdline"))
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

func (fs *procFS) exe(pid int) string {
	p, err := os.Readlink(fs.pidPath(pid, "exe"))
	if err != nil {
		return ""
	}
	return p
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

// candidate is a process that matched during the scan.
type candidate struct {
	pid  int
	st   statInfo
	args []string // set when matching read the command line
}

// match tests one process. It reads the command line or the executable
// only when the mode and the name need them.
func (m *matcher) match(fs *procFS, c *candidate) bool {
	switch m.mode {
	case MatchName, MatchExactName:
		return matchName(m.name, c.st.comm, m.mode == MatchExactName, func() []string {
			c.args = fs.cmdline(c.pid)
			return c.args
		})
	case MatchCmdline:
		c.args = fs.cmdline(c.pid)
		return matchCmdline(m.re, c.st.comm, c.args)
	case MatchExe:
		var st unix.Stat_t
		if err := unix.Stat(fs.pidPath(c.pid, "exe"), &st); err != nil {
			return false
		}
		return st.Dev == m.dev && st.Ino == m.ino
	}
	return false
}

// scan lists the processes of the proc mount that match.
func (fs *procFS) scan(ctx context.Context, m *matcher) ([]candidate, error) {
	d, err := os.Open(fs.root)
	if err != nil {
		return nil, fault.Unsupported("proc file system at "+fs.root, err)
	}
	defer d.Close()
	var out []candidate
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			pid, ok := atoiPID(n)
			if !ok {
				continue
			}
			st, serr := fs.stat(pid)
			if serr != nil {
				continue // exited while we listed
			}
			c := candidate{pid: pid, st: st}
			if m.match(fs, &c) {
				out = append(out, c)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("procs: list %s: %w", fs.root, err)
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

// process turns a candidate into the exported form, reading what Find
// reports beyond the scan.
func (fs *procFS) process(c *candidate, full bool) Process {
	p := Process{PID: c.pid, PPID: c.st.ppid, Name: c.st.comm, State: string(c.st.state),
		StartTime: c.st.start, Cmdline: c.args}
	if full {
		if p.Cmdline == nil {
			p.Cmdline = fs.cmdline(c.pid)
		}
		p.Exe = fs.exe(c.pid)
	}
	if p.Cmdline != nil {
		p.LongName, _ = LongName(p.Name, p.Cmdline)
	}
	return p
}
