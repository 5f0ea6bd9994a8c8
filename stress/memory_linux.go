package stress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/faultkit/faultkit/fault"
	"golang.org/x/sys/unix"
)

// retouchEvery is how often a memory worker rewrites its pages.
const retouchEvery = 2 * time.Second

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("malformed MemAvailable %q", v)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

type memRun struct {
	maps    [][]byte
	target  uint64
	touched atomic.Int64 // pages written, all passes
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once

	mu       sync.Mutex // guards the mappings against use after unmap
	unmapped bool
}

// Inject implements fault.Fault.
func (f MemoryFault) Inject(ctx context.Context, _ *fault.Journal) (fault.Handle, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	workers := max(f.Workers, 1)
	opErr := func(obj string, err error) error {
		return &fault.OpError{Op: "inject", Fault: f.Name(), Object: obj, Err: err}
	}
	avail, err := memAvailable()
	if err != nil {
		return nil, opErr("/proc/meminfo", err)
	}
	var limit, usage uint64
	var limited bool
	if view, err := readCgroupView("self"); err == nil {
		limit, usage, limited = view.memoryLimit()
	}
	per, err := planMemory(avail, limit, usage, limited, f.Percent, workers)
	if err != nil {
		return nil, opErr("memory", err)
	}
	r := &memRun{target: per * uint64(workers), done: make(chan struct{})}
	for range workers {
		// Anonymous memory is released with the process: nothing to journal.
		m, err := unix.Mmap(-1, 0, int(per), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			r.unmap()
			return nil, opErr(fmt.Sprintf("mmap %d bytes", per), err)
		}
		r.maps = append(r.maps, m)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	var wg sync.WaitGroup
	for _, m := range r.maps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.hold(wctx, m)
		}()
	}
	go func() {
		wg.Wait()
		close(r.done)
	}()
	return fault.NewControl(r.stop, r.metrics), nil
}

// hold writes every page of m, then rewrites them every retouchEvery so
// that they stay resident, until ctx ends.
func (r *memRun) hold(ctx context.Context, m []byte) {
	t := time.NewTicker(retouchEvery)
	defer t.Stop()
	for pass := byte(1); ; pass++ {
		for p := 0; p < len(m); p += pageSize {
			m[p] = pass
			if p&(1<<20-1) == 0 && ctx.Err() != nil {
				return
			}
		}
		r.touched.Add(int64(len(m) / pageSize))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *memRun) stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("stress: memory workers did not stop: %w", ctx.Err())
	}
	r.unmap()
	return nil
}

func (r *memRun) unmap() {
	r.once.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range r.maps {
			_ = unix.Munmap(m)
		}
		r.unmapped = true
	})
}

// resident counts the pages of the mappings that are in memory (mincore).
func (r *memRun) resident() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unmapped {
		return 0
	}
	var n uint64
	for _, m := range r.maps {
		vec := make([]byte, (len(m)+pageSize-1)/pageSize)
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)),
			uintptr(unsafe.Pointer(&vec[0])))
		if errno != 0 {
			continue
		}
		for _, v := range vec {
			n += uint64(v & 1)
		}
	}
	return n * pageSize
}

func (r *memRun) metrics() []fault.Metric {
	return []fault.Metric{
		{Name: "resident_bytes", Value: float64(r.resident()), Unit: "bytes"},
		{Name: "target_bytes", Value: float64(r.target), Unit: "bytes"},
		{Name: "pages_touched", Value: float64(r.touched.Load()), Unit: "pages"},
		{Name: "workers", Value: float64(len(r.maps)), Unit: "workers"},
	}
}
