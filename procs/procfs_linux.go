package procs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/faultkit/faultkit/fault"
)

// procFS reads processes from one proc mount. Every process is read
// through a file descriptor of its /proc/PID directory, opened once: the
// descriptor stays bound to that process even if it exits and its PID is
// reused (reads then fail with ESRCH), and it is also a pidfd that
// pidfd_send_signal accepts (Linux 5.1+). So what was read and what is
// signalled are always the same process. psmisc killall 23.6 works the
// same way. procFS is not safe for concurrent use: it reuses its buffers;
// parallel scans give each worker a clone.
type procFS struct {
	root string
	dir  int // fd of root while scanning, else -1
	buf  []byte
	path [24]byte // NUL-terminated PID for openat without allocating
}

func newProcFS(root string) *procFS { return &procFS{root: root, dir: -1, buf: make([]byte, 4096)} }

// statInfo is what Find and Kill need from /proc/PID/stat.
type statInfo struct {
	comm  string
	state byte
	ppid  int
	start uint64
}

// parseStat parses the contents of /proc/PID/stat.
func parseStat(b []byte) (statInfo, error) {
	comm, closing, err := splitStat(b)
	if err != nil {
		return statInfo{}, err
	}
	return parseStatRest(b, closing, string(comm))
}

// splitStat finds comm (field 2) in a stat line. comm is enclosed in
// parentheses and may itself contain spaces and parentheses, so it ends at
// the last ')', whose index is returned for parseStatRest.
func splitStat(b []byte) (comm []byte, closing int, err error) {
	open := bytes.IndexByte(b, '(')
	closing = bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open || closing+2 > len(b) {
		return nil, 0, fmt.Errorf("procs: malformed stat %q", truncate(b))
	}
	return b[open+1 : closing], closing, nil
}

// parseStatRest parses the fields after comm: state (3), ppid (4) and
// starttime (22).
func parseStatRest(b []byte, closing int, comm string) (statInfo, error) {
	st := statInfo{comm: comm}
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
			n, ok := parseUint(f)
			if !ok || n > 1<<31 {
				return statInfo{}, fmt.Errorf("procs: malformed stat ppid %q", f)
			}
			st.ppid = int(n)
		case 22:
			n, ok := parseUint(f)
			if !ok {
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

// parseUint parses a non-empty decimal without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
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
	return fs.readFD(fd)
}

// statName is "stat" NUL-terminated, for openat without allocating.
const statName = "stat\x00"

// readStat reads the stat file of the process directory dfd, like
// readAt(dfd, "stat") but without allocating: it is the one file read for
// every process of a scan.
func (fs *procFS) readStat(dfd int) ([]byte, error) {
	fd, err := openatRaw(dfd, unsafe.StringData(statName), unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer closeRaw(fd)
	// The stat line is generated whole by the first read when the buffer
	// can hold it, and ends in a newline: skip the read that would only
	// confirm the end of the file.
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&fs.buf[0])), uintptr(len(fs.buf)))
	if e != 0 {
		return nil, e
	}
	if n := int(r); n > 0 && n < len(fs.buf) && fs.buf[n-1] == '\n' {
		return fs.buf[:n], nil
	}
	if _, serr := unix.Seek(fd, 0, 0); serr != nil {
		return nil, serr
	}
	return fs.readFD(fd)
}

// The per-process system calls of a scan (openat of /proc/PID and of its
// stat file, read, close) go through RawSyscall: they work on the proc
// file system's in-memory files and do not block, and skipping the
// scheduler's bookkeeping of a blocking call cuts the user CPU time of a
// scan of 5000 processes by about a tenth, which is what brings it to
// killall's level.

// openatRaw is openat(2) on a NUL-terminated path, without the allocation
// unix.Openat makes to terminate a Go string.
func openatRaw(dirfd int, path *byte, flags int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func closeRaw(fd int) { unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// readFD reads fd to its end into fs.buf.
func (fs *procFS) readFD(fd int) ([]byte, error) {
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
// during a scan, or by path otherwise.
func (fs *procFS) openPID(pid int) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if fs.dir < 0 {
		return unix.Open(fs.root+"/"+strconv.Itoa(pid), flags, 0)
	}
	b := strconv.AppendInt(fs.path[:0], int64(pid), 10)
	b = append(b, 0)
	return openatRaw(fs.dir, &b[0], flags)
}

// stat reads the stat file of the process directory dfd. A process that
// has been reaped gives an error wrapping ESRCH.
func (fs *procFS) stat(dfd int) (statInfo, error) {
	b, err := fs.readStat(dfd)
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

// quick rejects, from the raw comm bytes and without allocating, the
// processes that cannot match; most processes of a scan end here.
func (m *matcher) quick(comm []byte) bool {
	switch m.mode {
	case MatchName, MatchExactName:
		if len(comm) == CommLen && len(m.name) >= CommLen {
			return string(comm) == m.name[:CommLen] // full name checked by match
		}
		return string(comm) == m.name
	}
	return true
}

// intern returns comm as a string, sharing the name's storage when equal.
func (m *matcher) intern(comm []byte) string {
	if string(comm) == m.name {
		return m.name
	}
	return string(comm)
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

// listPIDs returns the PIDs of the process directories in the open proc
// root, in directory order (ascending PIDs).
func listPIDs(dir int) ([]int, error) {
	buf := make([]byte, 32<<10)
	pids := make([]int, 0, 1024)
	for {
		n, err := unix.Getdents(dir, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 20 || off+reclen > n {
				return nil, fmt.Errorf("procs: malformed directory entry")
			}
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if pid, ok := atoiPID(name); ok {
				pids = append(pids, pid)
			}
			off += reclen
		}
	}
}

// scanShard is how many processes justify one more scan worker.
const scanShard = 512

// scan calls visit for every process of fs's proc mount that matches, while
// the process's directory is open (c.dfd); visit must not keep c.dfd
// unless it returns true, which hands the descriptor over. Large process
// tables are split into contiguous shards scanned in parallel, one per
// CPU up to 8: visit gets the worker's own accumulator and procFS. scan
// returns the accumulators in shard order, so concatenating their
// contents gives /proc order.
func scan[T any](ctx context.Context, fs *procFS, m *matcher, shard int, visit func(acc *T, fs *procFS, c *candidate) (keep bool)) ([]T, error) {
	d, err := unix.Open(fs.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fault.Unsupported("proc file system at "+fs.root, err)
	}
	defer unix.Close(d)
	pids, err := listPIDs(d)
	if err != nil {
		return nil, fmt.Errorf("procs: list %s: %w", fs.root, err)
	}
	if shard <= 0 {
		shard = scanShard
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), 8, len(pids)/shard))
	accs := make([]T, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(pids)/workers, (w+1)*len(pids)/workers
		wfs := &procFS{root: fs.root, dir: d, buf: make([]byte, 4096)}
		if w == 0 {
			wfs = fs
			fs.dir = d
			defer func() { fs.dir = -1 }()
		}
		run := func() { errs[w] = scanShardOf(ctx, wfs, m, pids[lo:hi], &accs[w], visit) }
		if w == workers-1 {
			run() // the calling goroutine takes the last shard
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return accs, err
		}
	}
	return accs, nil
}

// scanShardOf scans some PIDs; see scan.
func scanShardOf[T any](ctx context.Context, fs *procFS, m *matcher, pids []int, acc *T, visit func(*T, *procFS, *candidate) bool) error {
	for i, pid := range pids {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		dfd, err := fs.openPID(pid)
		if err != nil {
			continue // exited since the listing
		}
		if keep := examine(fs, m, pid, dfd, acc, visit); !keep {
			closeRaw(dfd)
		}
	}
	return nil
}

// examine reads and matches one open process directory and visits it if
// it matches. It returns visit's keep.
func examine[T any](fs *procFS, m *matcher, pid, dfd int, acc *T, visit func(*T, *procFS, *candidate) bool) bool {
	b, err := fs.readStat(dfd)
	if err != nil {
		return false
	}
	comm, closing, err := splitStat(b)
	if err != nil || !m.quick(comm) {
		return false
	}
	st, err := parseStatRest(b, closing, m.intern(comm))
	if err != nil {
		return false
	}
	c := candidate{pid: pid, dfd: dfd, st: st}
	if !m.match(fs, &c) {
		return false
	}
	return visit(acc, fs, &c)
}

// atoiPID parses a /proc entry name that is a positive decimal PID.
func atoiPID(s []byte) (int, bool) {
	if len(s) == 0 || len(s) > 10 {
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
