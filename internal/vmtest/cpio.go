package vmtest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// The Linux initramfs unpacker reads the "newc" cpio format
// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte
// ASCII header of "070701" and thirteen 8-digit hex fields, the NUL-terminated
// name padded to a multiple of four bytes, then the data padded the same way.
// It does not create missing parent directories, so cpioWriter emits them.

const (
	cpioMagic   = "070701"
	cpioTrailer = "TRAILER!!!"

	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
)

// cpioWriter writes an uncompressed newc archive with every entry owned by
// root (uid 0, gid 0), mtime 0 and nlink 1, so that archives are reproducible
// and concatenated archives never look like hard links of each other.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool // directories already in this archive
	seen map[string]bool // every path written, to refuse duplicates
	err  error
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{".": true}, seen: map[string]bool{}}
}

// cleanName turns "/a/b" or "a/b/" into the archive name "a/b".
func cleanName(name string) (string, error) {
	n := path.Clean("/" + name)
	if n == "/" {
		return "", fmt.Errorf("cpio: empty entry name %q", name)
	}
	return strings.TrimPrefix(n, "/"), nil
}

func (c *cpioWriter) header(name string, mode uint32, size int) error {
	if c.err != nil {
		return c.err
	}
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	ino := c.ino
	c.ino++
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		cpioMagic, ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+4)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	_, c.err = c.w.Write(buf)
	return c.err
}

func pad4(n int) int { return (4 - n%4) % 4 }

// unixPerm returns the permission bits of m as a Unix mode: rwx bits plus
// setuid, setgid and sticky, given either as os.Mode* flags or as the raw
// octal bits (0o1777).
func unixPerm(m os.FileMode) uint32 {
	p := uint32(m & 0o7777)
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// parents emits the missing parent directories of name.
func (c *cpioWriter) parents(name string) error {
	dir := path.Dir(name)
	if c.dirs[dir] {
		return nil
	}
	if err := c.parents(dir); err != nil {
		return err
	}
	c.dirs[dir] = true
	c.seen[dir] = true
	return c.header(dir, modeDir|0o755, 0)
}

func (c *cpioWriter) claim(name string) (string, error) {
	n, err := cleanName(name)
	if err != nil {
		return "", err
	}
	if c.seen[n] {
		return "", fmt.Errorf("cpio: duplicate entry %q", n)
	}
	if err := c.parents(n); err != nil {
		return "", err
	}
	c.seen[n] = true
	return n, nil
}

// Dir adds a directory. Adding a directory that was already created as a
// parent is a no-op.
func (c *cpioWriter) Dir(name string, perm os.FileMode) error {
	n, err := cleanName(name)
	if err != nil {
		return err
	}
	if c.dirs[n] {
		return nil
	}
	if n, err = c.claim(n); err != nil {
		return err
	}
	c.dirs[n] = true
	return c.header(n, modeDir|unixPerm(perm), 0)
}

// Symlink adds a symbolic link name -> target.
func (c *cpioWriter) Symlink(name, target string) error {
	n, err := c.claim(name)
	if err != nil {
		return err
	}
	if err := c.header(n, modeSymlink|0o777, len(target)); err != nil {
		return err
	}
	return c.data(strings.NewReader(target), int64(len(target)))
}

// Bytes adds a regular file with the given content.
func (c *cpioWriter) Bytes(name string, perm os.FileMode, data []byte) error {
	return c.Reader(name, perm, int64(len(data)), strings.NewReader(string(data)))
}

// Reader adds a regular file of exactly size bytes read from r.
func (c *cpioWriter) Reader(name string, perm os.FileMode, size int64, r io.Reader) error {
	if size < 0 || size > 0xffffffff {
		return fmt.Errorf("cpio: %s: size %d does not fit the newc format", name, size)
	}
	n, err := c.claim(name)
	if err != nil {
		return err
	}
	if err := c.header(n, modeFile|unixPerm(perm), int(size)); err != nil {
		return err
	}
	return c.data(r, size)
}

// HostFile adds the host file src (symbolic links followed) as name. perm 0
// keeps the source's permission bits.
func (c *cpioWriter) HostFile(name, src string, perm os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("cpio: %s is not a regular file", src)
	}
	if perm == 0 {
		perm = st.Mode().Perm()
	}
	return c.Reader(name, perm, st.Size(), f)
}

// Has reports whether name is already in the archive.
func (c *cpioWriter) Has(name string) bool {
	n, err := cleanName(name)
	return err == nil && c.seen[n]
}

func (c *cpioWriter) data(r io.Reader, size int64) error {
	if c.err != nil {
		return c.err
	}
	n, err := io.CopyN(c.w, r, size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("cpio: short file: %d of %d bytes", n, size)
		}
		c.err = err
		return err
	}
	if p := pad4(int(size % 4)); p > 0 {
		_, c.err = c.w.Write(make([]byte, p))
	}
	return c.err
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if err := c.header(cpioTrailer, 0, 0); err != nil {
		return err
	}
	return c.err
}
