package fault

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// guardianEnv carries the journal path to a re-executed guardian process.
const guardianEnv = "FAULTKIT_GUARDIAN_JOURNAL"

// journalSuffix ends the name of every journal file.
const journalSuffix = ".journal"

// DefaultStateDir returns the directory journals live in by default:
// $FAULTKIT_STATE_DIR when set, /run/faultkit for root, otherwise
// $XDG_RUNTIME_DIR/faultkit or a per-user directory under os.TempDir.
func DefaultStateDir() string {
	if d := os.Getenv("FAULTKIT_STATE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/faultkit"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "faultkit")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("faultkit-%d", os.Getuid()))
}

// JournalConfig configures OpenJournal. The zero value is ready to use.
type JournalConfig struct {
	// Dir is the state directory (created with mode 0700). Empty means
	// DefaultStateDir().
	Dir string
	// NoGuardian disables the guardian process. Entries are then replayed
	// only by Close or by a later Recover, not when the process dies.
	NoGuardian bool
	// Logger receives journal and guardian events. Nil discards them.
	Logger *slog.Logger
}

// Journal records, before a fault touches the system, how to undo what it
// is about to create. It is the basis of faultkit's crash safety:
//
//   - At the first Record, the journal starts a guardian: the current
//     binary re-executed (package fault's init hook recognises it), holding
//     the read end of a pipe. When the owning process dies for any reason,
//     SIGKILL included, the pipe reaches EOF and the guardian applies every
//     entry that was not released, then removes the journal.
//   - Recover applies the journals of dead processes, for a restarted
//     sidecar or after a machine-wide crash of both processes.
//
// Entries are appended as JSON lines and fsync'ed; a file lock held by the
// owner tells a live journal from an abandoned one. A nil *Journal is valid
// and records nothing. Journal methods are safe for concurrent use.
type Journal struct {
	mu       sync.Mutex
	log      *slog.Logger
	path     string
	f        *os.File
	next     uint64
	active   map[uint64]Undo
	guardOff bool
	guardW   *os.File
	guardErr chan error
	closed   bool
}

// Entry is a recorded undo. Release it once the object has been removed.
type Entry struct {
	j  *Journal
	id uint64
}

type journalLine struct {
	T     string `json:"t"` // "owner", "add", "release", "close"
	ID    uint64 `json:"id,omitempty"`
	Undo  *Undo  `json:"undo,omitempty"`
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
}

// OpenJournal creates a new journal file in the state directory.
func OpenJournal(cfg JournalConfig) (*Journal, error) {
	dir := cfg.Dir
	if dir == "" {
		dir = DefaultStateDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fault: journal: %w", Permission(err))
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	path := filepath.Join(dir, fmt.Sprintf("%d-%s%s", os.Getpid(), hex.EncodeToString(rnd[:]), journalSuffix))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fault: journal: %w", Permission(err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("fault: journal: lock %s: %w", path, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &Journal{log: log, path: path, f: f, active: map[uint64]Undo{}, guardOff: cfg.NoGuardian}
	start, _ := procStartTime(os.Getpid())
	if err := j.write(journalLine{T: "owner", PID: os.Getpid(), Start: start}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return j, nil
}

// Path returns the journal file's path.
func (j *Journal) Path() string {
	if j == nil {
		return ""
	}
	return j.path
}

func (j *Journal) write(l journalLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("fault: journal: write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("fault: journal: sync: %w", err)
	}
	return nil
}

// Record appends u to the journal, durably, and starts the guardian if it
// is not running yet. Call it before creating the object u removes.
func (j *Journal) Record(u Undo) (Entry, error) {
	if j == nil {
		return Entry{}, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return Entry{}, errors.New("fault: journal: record after Close")
	}
	if !j.guardOff && j.guardW == nil {
		if err := j.startGuardian(); err != nil {
			return Entry{}, err
		}
	}
	j.next++
	id := j.next
	if err := j.write(journalLine{T: "add", ID: id, Undo: &u}); err != nil {
		return Entry{}, err
	}
	j.active[id] = u
	j.log.Debug("journal record", "id", id, "undo", u.String())
	return Entry{j: j, id: id}, nil
}

// Release marks the entry's object as removed. Releasing twice, or
// releasing the zero Entry, does nothing.
func (e Entry) Release() error {
	j := e.j
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.active[e.id]; !ok || j.closed {
		return nil
	}
	delete(j.active, e.id)
	return j.write(journalLine{T: "release", ID: e.id})
}

// CreateDir creates a uniquely named directory under parent, marked as
// faultkit's (OwnerMarker), recording its removal first. With a nil
// journal it only creates the directory.
func (j *Journal) CreateDir(parent, prefix string) (string, Entry, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	path := filepath.Join(parent, prefix+hex.EncodeToString(rnd[:]))
	e, err := j.Record(UndoRemoveDir(path))
	if err != nil {
		return "", Entry{}, err
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		_ = e.Release()
		return "", Entry{}, Permission(err)
	}
	if err := os.WriteFile(filepath.Join(path, OwnerMarker), []byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0o600); err != nil {
		os.RemoveAll(path)
		_ = e.Release()
		return "", Entry{}, err
	}
	return path, e, nil
}

// Close ends the journal. Entries still active are applied (by the
// guardian when there is one, otherwise here), and the file is removed.
// Close waits for that to finish, at most 30 seconds.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	werr := j.write(journalLine{T: "close"})
	active := j.sortedActive()
	j.f.Close() // releases the lock the guardian waits for
	if j.guardW != nil {
		j.guardW.Close()
		select {
		case err := <-j.guardErr:
			return errors.Join(werr, err)
		case <-time.After(30 * time.Second):
			return errors.Join(werr, errors.New("fault: journal: guardian did not finish within 30s"))
		}
	}
	var errs []error
	for i := len(active) - 1; i >= 0; i-- {
		errs = append(errs, active[i].Apply(context.Background()))
	}
	errs = append(errs, os.Remove(j.path))
	return errors.Join(append(errs, werr)...)
}

func (j *Journal) sortedActive() []Undo {
	out := make([]Undo, 0, len(j.active))
	for id := uint64(1); id <= j.next; id++ {
		if u, ok := j.active[id]; ok {
			out = append(out, u)
		}
	}
	return out
}

func (j *Journal) startGuardian() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("fault: journal: guardian pipe: %w", err)
	}
	// /proc/self/exe works even when the binary was deleted after start.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"faultkit-guardian"}
	cmd.Env = append(os.Environ(), guardianEnv+"="+j.path)
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stderr = os.Stderr
	// Own process group: a terminal's Ctrl-C must not reach the guardian.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("fault: journal: start guardian: %w", err)
	}
	r.Close()
	j.guardW = w
	j.guardErr = make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("fault: journal guardian: %w", err)
		}
		j.guardErr <- err
	}()
	j.log.Debug("journal guardian started", "pid", cmd.Process.Pid, "journal", j.path)
	return nil
}

func init() {
	// The guardian is this binary re-executed by Journal.startGuardian. It
	// must run before main (and before a test binary's flag parsing), so
	// it is the one init-time hook in faultkit.
	if path := os.Getenv(guardianEnv); path != "" {
		os.Exit(runGuardian(path))
	}
}

// runGuardian waits for the owner to go away, then replays the journal.
func runGuardian(path string) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "faultkit-guardian", "journal", path)
	pipe := os.NewFile(3, "guardian-pipe")
	buf := make([]byte, 64)
	for {
		if _, err := pipe.Read(buf); err != nil {
			break // EOF: the owner closed the journal or died
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		log.Error("open journal", "err", err)
		return 1
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		log.Error("lock journal", "err", err)
		return 1
	}
	undos, closed, err := readJournal(f)
	if err != nil {
		log.Error("read journal", "err", err)
		return 1
	}
	if len(undos) > 0 && !closed {
		log.Warn("journal owner died; reverting", "entries", len(undos))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := 0
	for i := len(undos) - 1; i >= 0; i-- {
		if err := undos[i].Apply(ctx); err != nil {
			log.Error("revert failed", "undo", undos[i].String(), "err", err)
			rc = 1
		} else if !closed {
			log.Info("reverted", "undo", undos[i].String())
		}
	}
	if rc == 0 {
		os.Remove(path)
	}
	return rc
}

// readJournal returns the unreleased entries in recording order, and
// whether the owner closed the journal. A torn last line is ignored.
func readJournal(f *os.File) ([]Undo, bool, error) {
	if _, err := f.Seek(0, 0); err != nil {
		return nil, false, err
	}
	active := map[uint64]Undo{}
	var order []uint64
	closed := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.T {
		case "add":
			if l.Undo != nil {
				active[l.ID] = *l.Undo
				order = append(order, l.ID)
			}
		case "release":
			delete(active, l.ID)
		case "close":
			closed = true
		}
	}
	var out []Undo
	for _, id := range order {
		if u, ok := active[id]; ok {
			out = append(out, u)
		}
	}
	return out, closed, sc.Err()
}

// RecoverResult says what Recover did.
type RecoverResult struct {
	Journals int    // abandoned journals found and replayed
	Live     int    // journals skipped because their owner is alive
	Reverted []Undo // entries applied
}

// Recover replays every abandoned journal in dir ("" = DefaultStateDir):
// journals whose owner is gone and whose guardian did not finish (both
// killed, or the machine crashed). Journals of live processes are left
// alone. Each entry is applied only if its object is still faultkit's (see
// Undo). Errors of individual entries are joined; the journal of an entry
// that failed is kept for a later attempt.
func Recover(ctx context.Context, dir string) (RecoverResult, error) {
	if dir == "" {
		dir = DefaultStateDir()
	}
	var res RecoverResult
	names, err := filepath.Glob(filepath.Join(dir, "*"+journalSuffix))
	if err != nil {
		return res, err
	}
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			res.Live++
			continue
		}
		undos, _, err := readJournal(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			f.Close()
			continue
		}
		res.Journals++
		failed := false
		for i := len(undos) - 1; i >= 0; i-- {
			if err := undos[i].Apply(ctx); err != nil {
				errs = append(errs, err)
				failed = true
				continue
			}
			res.Reverted = append(res.Reverted, undos[i])
		}
		if !failed && !strings.HasPrefix(filepath.Base(name), ".") {
			os.Remove(name)
		}
		f.Close()
	}
	return res, errors.Join(errs...)
}
