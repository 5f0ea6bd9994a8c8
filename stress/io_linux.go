package stress

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultkit/faultkit/fault"
	"golang.org/x/sys/unix"
)

// I/O sizes of the workers.
const (
	seqChunk   = 256 << 10 // sequential write size
	seqPerStep = 32 << 20  // sequential bytes written per round
	randOps    = 64        // random reads and random writes per round
	randMax    = 64 << 10  // largest random read or write
	mmapMax    = 8 << 20   // largest memory-mapped window per round
)

// fsSpace returns the bytes available to unprivileged users and the size
// of the file system holding path.
func fsSpace(path string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

type ioWorker struct {
	f       *os.File
	limit   atomic.Int64 // bytes the file may hold, set by the monitor
	written atomic.Int64
	read    atomic.Int64
	syncs   atomic.Int64
	enospc  atomic.Int64
}

// held returns the bytes the file occupies on disk.
func (w *ioWorker) held() uint64 {
	var st unix.Stat_t
	if unix.Fstat(int(w.f.Fd()), &st) != nil {
		return 0
	}
	return uint64(st.Blocks) * 512
}

// run loops over the I/O mix until ctx ends. Every write stays below the
// limit, and the file is truncated to the limit whenever it shrinks.
func (w *ioWorker) run(ctx context.Context) error {
	fd := int(w.f.Fd())
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	buf := make([]byte, max(seqChunk, randMax))
	for i := 0; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], rng.Uint64()) // incompressible
	}
	var size, seqPos int64 // file extent we wrote, next sequential offset
	noSpace := func(err error) bool {
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			w.enospc.Add(1)
			return true
		}
		return false
	}
	for ctx.Err() == nil {
		lim := w.limit.Load() / ioBlock * ioBlock
		if size > lim {
			if err := w.f.Truncate(lim); err != nil {
				return fmt.Errorf("truncate: %w", err)
			}
			size = lim
		}
		if seqPos >= lim {
			seqPos = 0
		}
		if lim < ioBlock {
			// No room at all: wait for the monitor to give some back.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		// 1. Sequential writes.
		for done := int64(0); done < seqPerStep && ctx.Err() == nil; {
			lim = w.limit.Load() / ioBlock * ioBlock
			n := min(int64(seqChunk), lim-seqPos)
			if n <= 0 {
				break
			}
			m, err := w.f.WriteAt(buf[:n], seqPos)
			w.written.Add(int64(m))
			if err != nil {
				if noSpace(err) {
					break
				}
				return fmt.Errorf("write: %w", err)
			}
			seqPos += int64(m)
			done += int64(m)
			size = max(size, seqPos)
			if seqPos >= lim {
				seqPos = 0
			}
		}
		if err := unix.Fdatasync(fd); err != nil && !noSpace(err) {
			return fmt.Errorf("fdatasync: %w", err)
		}
		w.syncs.Add(1)
		// Drop the cached pages so the reads below reach the device.
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		if size < pageSize || ctx.Err() != nil {
			continue
		}
		// 2. Random reads and writes inside what the file holds.
		for i := 0; i < randOps && ctx.Err() == nil; i++ {
			n := int64(1+rng.IntN(randMax/ioBlock)) * ioBlock
			n = min(n, size)
			off := rng.Int64N(size-n+1) / ioBlock * ioBlock
			m, err := w.f.ReadAt(buf[:n], off)
			w.read.Add(int64(m))
			if err != nil && m == 0 {
				return fmt.Errorf("read: %w", err)
			}
			off = rng.Int64N(size-n+1) / ioBlock * ioBlock
			m, err = w.f.WriteAt(buf[:n], off)
			w.written.Add(int64(m))
			if err != nil && !noSpace(err) {
				return fmt.Errorf("write: %w", err)
			}
		}
		// 3. Memory-mapped reads and writes of a window of the file.
		if err := w.mmapRound(fd, size, rng); err != nil {
			return err
		}
		if err := unix.Fsync(fd); err != nil && !noSpace(err) {
			return fmt.Errorf("fsync: %w", err)
		}
		w.syncs.Add(1)
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	}
	return nil
}

func (w *ioWorker) mmapRound(fd int, size int64, rng *rand.Rand) error {
	n := min(size/pageSize*pageSize, mmapMax)
	if n < pageSize {
		return nil
	}
	off := rng.Int64N(size-n+1) / pageSize * pageSize
	mem, err := unix.Mmap(fd, off, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(mem)
	var sum byte
	for p := 0; p < len(mem); p += pageSize {
		sum += mem[p] // fault the page in (a read)
		if (p/pageSize)%4 == 0 {
			mem[p+int(sum)%pageSize]++ // dirty one page in four
			w.written.Add(pageSize)
		}
	}
	w.read.Add(int64(len(mem)))
	if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
		return fmt.Errorf("msync: %w", err)
	}
	return nil
}

// ioRun is a running I/O stress.
type ioRun struct {
	dir     string
	entry   fault.Entry
	budget  ioBudget
	workers []*ioWorker
	start   time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // set before done is closed

	mu         sync.Mutex
	held, peak uint64
	free       uint64
	shrinks    int
}

// Inject implements fault.Fault.
func (f IOFault) Inject(ctx context.Context, j *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	workers := max(f.Workers, 1)
	parent := f.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	opErr := func(obj string, err error) error {
		return &fault.OpError{Op: "inject", Fault: f.Name(), Object: obj, Err: fault.Permission(err)}
	}
	free, size, err := fsSpace(parent)
	if err != nil {
		return nil, opErr(parent, err)
	}
	budget, err := planBudget(free, size, f.Percent, f.MaxBytes, workers)
	if err != nil {
		return nil, opErr(parent, err)
	}
	dir, entry, err := j.CreateDir(parent, "faultkit-io-")
	if err != nil {
		return nil, opErr(parent, err)
	}
	r := &ioRun{dir: dir, entry: entry, budget: budget, start: time.Now(), done: make(chan struct{}), free: free}
	per := int64(budget.perWorker(budget.total))
	for i := range workers {
		file, err := os.OpenFile(filepath.Join(dir, "worker-"+strconv.Itoa(i)+".dat"), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			_ = r.cleanup()
			return nil, opErr(dir, err)
		}
		w := &ioWorker{f: file}
		w.limit.Store(per)
		r.workers = append(r.workers, w)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(wctx); err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.monitor(wctx)
	}()
	go func() {
		wg.Wait()
		r.err = errors.Join(errs...)
		close(r.done)
	}()
	c := fault.NewControl(r.stop, r.metrics)
	go func() {
		<-r.done
		c.End(r.err)
	}()
	return c, nil
}

// monitor watches free space and the files' size, and shrinks the
// workers' limits when the margin is threatened (or restores them, up to
// the plan, when space comes back).
func (r *ioRun) monitor(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		var held uint64
		for _, w := range r.workers {
			held += w.held()
		}
		free, _, err := fsSpace(r.dir)
		r.mu.Lock()
		r.held, r.peak = held, max(r.peak, held)
		if err == nil {
			r.free = free
			allowed := r.budget.allowed(free, held)
			per := int64(r.budget.perWorker(allowed))
			for _, w := range r.workers {
				if old := w.limit.Swap(per); per < old {
					r.shrinks++
				}
			}
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stop ends the workers, then removes the directory and releases the
// journal entry. It converges: a failed removal is retried next time.
func (r *ioRun) stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("stress: io workers did not stop: %w", ctx.Err())
	}
	return r.cleanup()
}

func (r *ioRun) cleanup() error {
	var held uint64
	for _, w := range r.workers {
		held += w.held()
		_ = w.f.Close()
	}
	r.mu.Lock()
	r.peak = max(r.peak, held)
	r.mu.Unlock()
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("stress: remove %s: %w", r.dir, err)
	}
	return r.entry.Release()
}

func (r *ioRun) metrics() []fault.Metric {
	var wr, rd, syncs, nospc int64
	for _, w := range r.workers {
		wr += w.written.Load()
		rd += w.read.Load()
		syncs += w.syncs.Load()
		nospc += w.enospc.Load()
	}
	secs := time.Since(r.start).Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	rate := func(b int64) float64 {
		if secs <= 0 {
			return 0
		}
		return round2(float64(b) / secs)
	}
	return []fault.Metric{
		{Name: "bytes_written", Value: float64(wr), Unit: "bytes"},
		{Name: "bytes_read", Value: float64(rd), Unit: "bytes"},
		{Name: "write_bytes_per_sec", Value: rate(wr), Unit: "bytes/s"},
		{Name: "read_bytes_per_sec", Value: rate(rd), Unit: "bytes/s"},
		{Name: "syncs", Value: float64(syncs), Unit: "calls"},
		{Name: "disk_bytes", Value: float64(r.held), Unit: "bytes"},
		{Name: "disk_bytes_max", Value: float64(r.peak), Unit: "bytes"},
		{Name: "budget_bytes", Value: float64(r.budget.total), Unit: "bytes"},
		{Name: "cap_bytes", Value: float64(r.budget.cap), Unit: "bytes"},
		{Name: "free_bytes", Value: float64(r.free), Unit: "bytes"},
		{Name: "shrinks", Value: float64(r.shrinks), Unit: "times"},
		{Name: "enospc", Value: float64(nospc), Unit: "errors"},
		{Name: "workers", Value: float64(len(r.workers)), Unit: "workers"},
	}
}
