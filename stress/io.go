package stress

import (
	"context"
	"fmt"
	"strconv"

	"github.com/faultkit/faultkit/fault"
)

// IOFault stresses a file system as stress-ng --iomix N --iomix-bytes P%
// does for FIS's aws:ecs:task-io-stress: Workers goroutines each loop over
// sequential writes, random reads and writes, memory-mapped reads and
// writes, fdatasync/fsync and page-cache drops (so reads reach the device)
// on a file of their own.
//
// The files live in a new directory under Dir, created through the fault
// journal, so they are removed on Revert, when Inject fails, and by the
// journal's guardian if the process dies. Together they never hold more
// than Percent of the free space measured at start (nor MaxBytes when
// set), and never so much that less than a safety margin stays free (1 %
// of the file system, between MinMargin and MaxMargin); if something else
// fills the disk while the stress runs, the workers shrink their files
// to restore the margin.
type IOFault struct {
	// Percent is the share of the free space at start the files may use,
	// 1-100.
	Percent int
	// Workers is the number of I/O workers, 1-MaxWorkers; 0 means 1.
	Workers int
	// Dir is the directory to create the stress directory in; "" means
	// os.TempDir().
	Dir string
	// MaxBytes, when positive, further caps the bytes the files hold.
	MaxBytes int64
}

// Name implements fault.Fault.
func (f IOFault) Name() string { return "io-stress" }

func (f IOFault) validate() error {
	if f.Percent < 1 || f.Percent > 100 {
		return &fault.ParamError{Action: f.Name(), Param: "percent", Value: strconv.Itoa(f.Percent), Reason: "out of range 1-100"}
	}
	if f.Workers < 0 || f.Workers > MaxWorkers {
		return &fault.ParamError{Action: f.Name(), Param: "workers", Value: strconv.Itoa(f.Workers),
			Reason: fmt.Sprintf("out of range 1-%d", MaxWorkers)}
	}
	if f.MaxBytes < 0 {
		return &fault.ParamError{Action: f.Name(), Param: "maxBytes", Value: strconv.FormatInt(f.MaxBytes, 10),
			Reason: "must not be negative"}
	}
	return nil
}

// IO runs an I/O stress (see IOFault) with workers workers on at most
// percent of the free space under dir ("" = os.TempDir()) until ctx ends,
// then removes its files and returns the report: bytes_written,
// bytes_read, write_bytes_per_sec, read_bytes_per_sec, disk_bytes_max and
// budget_bytes among its metrics. opts are passed to fault.Run.
func IO(ctx context.Context, percent, workers int, dir string, opts ...fault.RunOption) (fault.Report, error) {
	return fault.Run(ctx, IOFault{Percent: percent, Workers: workers, Dir: dir}, 0, opts...)
}

func newIOFromParams(p fault.Params) (fault.Fault, error) {
	f := IOFault{Percent: int(p.Int("percent")), Workers: int(p.Int("workers"))}
	return f, f.validate()
}
