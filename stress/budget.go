package stress

import (
	"fmt"
	"math/bits"
)

// Disk-space rules of the I/O stress.
const (
	// ioBlock is the allocation unit budgets are rounded to.
	ioBlock = 4096
	// pageSize is the memory page size the workers assume for mappings.
	pageSize = 4096
	// MinMargin and MaxMargin bound the free space an I/O stress always
	// leaves on the file system: 1 % of its size, but at least MinMargin
	// and at most MaxMargin. When free space falls below the margin while
	// the stress runs (something else is filling the disk), the workers
	// shrink their files to give it back.
	MinMargin = 1 << 20
	MaxMargin = 1 << 30
	// minWorkerBytes is the smallest file a worker is given; below it the
	// stress refuses to start.
	minWorkerBytes = 64 << 10
	// metaReserve is kept out of the budget for the file system's own
	// blocks: the directory and its owner-marker file, and per worker file
	// the extent or indirect blocks that count in its st_blocks.
	metaDirReserve  = 16 << 10
	metaFileReserve = 64 << 10
)

// ioBudget is the disk-space plan of an I/O stress: how many bytes all its
// files together may occupy, and the free space to keep.
type ioBudget struct {
	cap     uint64 // percent of the free space at start (and MaxBytes): data and metadata stay below
	total   uint64 // upper bound of the data bytes the files hold, cap less the metadata reserve
	margin  uint64 // free space to leave on the file system
	workers int
}

// mulPercent returns v × p / 100 without overflow.
func mulPercent(v uint64, p int) uint64 {
	hi, lo := bits.Mul64(v, uint64(p))
	q, _ := bits.Div64(hi, lo, 100)
	return q
}

// marginFor returns the safety margin for a file system of size bytes.
func marginFor(size uint64) uint64 {
	return min(max(size/100, MinMargin), MaxMargin)
}

// planBudget sizes an I/O stress from the file system's free and total
// bytes measured at start: percent of the free space, further capped by
// maxBytes when positive, and never so much that less than the margin
// would stay free. A reserve for the file system's metadata blocks comes
// off the top, so that data and metadata together stay within the cap. It
// is split evenly between workers, in whole blocks.
func planBudget(free, size uint64, percent int, maxBytes int64, workers int) (ioBudget, error) {
	if workers < 1 {
		workers = 1
	}
	b := ioBudget{margin: marginFor(size), workers: workers}
	total := mulPercent(free, percent)
	if maxBytes > 0 {
		total = min(total, uint64(maxBytes))
	}
	b.cap = total
	if free > b.margin {
		total = min(total, free-b.margin)
	} else {
		total = 0
	}
	// The files' data plus the metadata they bring must fit the cap.
	if meta := uint64(metaDirReserve + workers*metaFileReserve); total > meta {
		total -= meta
	} else {
		total = 0
	}
	per := total / uint64(workers) / ioBlock * ioBlock
	if per < minWorkerBytes {
		return b, fmt.Errorf("not enough free space: %d bytes free, %d%% leaves %d bytes per worker for %d workers (minimum %d, keeping %d free)",
			free, percent, per, workers, minWorkerBytes, b.margin)
	}
	b.total = per * uint64(workers)
	return b, nil
}

// allowed returns how many bytes the stress may hold now, given the free
// space of the file system and the bytes its files hold: the planned total
// while free space stays above the margin, less what it takes to restore
// the margin when it does not (0 at worst), and never more than the plan.
func (b ioBudget) allowed(free, held uint64) uint64 {
	room := held + free // what the stress could hold if the rest stays put
	if room <= b.margin {
		return 0
	}
	return min(b.total, room-b.margin)
}

// perWorker splits an allowance between the workers, in whole blocks.
func (b ioBudget) perWorker(allowed uint64) uint64 {
	return allowed / uint64(b.workers) / ioBlock * ioBlock
}
