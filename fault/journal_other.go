//go:build !linux

package fault

import (
	"context"
	"errors"
	"log/slog"
)

// faultkit injects faults on Linux only. On other systems the pure parts of
// package fault (specs, the registry, duration and sources parsing) work, so
// templates can be validated anywhere; the journal reports ErrUnsupported.

var errNotLinux = Unsupported("linux", errors.New("faultkit injects faults on Linux only"))

// DefaultStateDir returns "" on systems other than Linux.
func DefaultStateDir() string { return "" }

// JournalConfig configures OpenJournal.
type JournalConfig struct {
	Dir        string
	NoGuardian bool
	Logger     *slog.Logger
}

// Journal is unavailable on systems other than Linux.
type Journal struct{}

// Entry is a recorded undo.
type Entry struct{}

// OpenJournal reports ErrUnsupported on systems other than Linux.
func OpenJournal(JournalConfig) (*Journal, error) { return nil, errNotLinux }

// Path returns "".
func (j *Journal) Path() string { return "" }

// Record reports ErrUnsupported unless j is nil.
func (j *Journal) Record(Undo) (Entry, error) {
	if j == nil {
		return Entry{}, nil
	}
	return Entry{}, errNotLinux
}

// CreateDir reports ErrUnsupported.
func (j *Journal) CreateDir(string, string) (string, Entry, error) { return "", Entry{}, errNotLinux }

// Close does nothing.
func (j *Journal) Close() error { return nil }

// Release does nothing.
func (Entry) Release() error { return nil }

// Apply reports ErrUnsupported.
func (u Undo) Apply(context.Context) error { return errNotLinux }

// RecoverResult says what Recover did.
type RecoverResult struct {
	Journals, Live int
	Reverted       []Undo
}

// Recover reports ErrUnsupported.
func Recover(context.Context, string) (RecoverResult, error) { return RecoverResult{}, errNotLinux }
