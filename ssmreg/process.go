package ssmreg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// taskCommLen is the kernel's limit on /proc/<pid>/comm, including the NUL.
const taskCommLen = 16

// FindProcess scans procDir (normally "/proc") for a live process, other
// than the caller, whose executable base name or comm is name. It returns
// the first PID found, or 0. comm is compared after truncating name to the
// kernel's 15 characters; zombies are skipped. This is the FIS sidecar
// script's "SSM agent is already running" rule, done without pgrep.
// Processes that vanish during the scan are ignored.
func FindProcess(procDir, name string) (int, error) {
	if name == "" {
		return 0, fmt.Errorf("%w: empty process name", ErrInvalidOptions)
	}
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return 0, fmt.Errorf("ssmreg: scan processes: %w", err)
	}
	comm := name
	if len(comm) > taskCommLen-1 {
		comm = comm[:taskCommLen-1]
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || pid == self {
			continue
		}
		dir := filepath.Join(procDir, e.Name())
		if zombie(dir) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil && strings.TrimSuffix(string(b), "\n") == comm {
			return pid, nil
		}
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil &&
			filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == name {
			return pid, nil
		}
	}
	return 0, nil
}

// zombie reports whether /proc/<pid>/stat shows state Z (or X). A process
// that cannot be read counts as not a zombie.
func zombie(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return errors.Is(err, os.ErrNotExist) // gone: nothing to match
	}
	// The state follows the parenthesised comm, which may itself hold ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}
