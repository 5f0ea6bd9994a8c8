package vmtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/faultkit/faultkit/internal/vmtest"
)

// Prepare fills the cache once; Run boots a fresh VM per program and
// reports the program's exit status. ExitStatus folds lab problems into
// 124 (timeout) and 125 (no result), so callers can tell them apart from a
// failed test.
func ExampleLab_Run() {
	ctx := context.Background()
	lab, err := vmtest.Prepare(ctx, vmtest.ConfigFromEnv())
	if err != nil {
		fmt.Println(err) // wraps vmtest.ErrLab
		return
	}
	res, err := lab.Run(ctx, vmtest.RunOptions{
		Binary:  "netem.test", // CGO_ENABLED=0 go test -c ./netem
		Args:    []string{"-test.v", "-test.run=Latency"},
		Env:     []string{"FAULTKIT_REQUIRE=" + vmtest.DefaultRequire},
		Console: os.Stdout,
	})
	os.Exit(vmtest.ExitStatus(res, err))
}

func ExampleExitStatus() {
	fmt.Println(vmtest.ExitStatus(vmtest.Result{ExitCode: 1}, nil))
	fmt.Println(vmtest.ExitStatus(vmtest.Result{}, fmt.Errorf("%w: killed after 10m", vmtest.ErrTimeout)))
	fmt.Println(vmtest.ExitStatus(vmtest.Result{}, fmt.Errorf("%w: no exit marker", vmtest.ErrLab)))
	fmt.Println(errors.Is(fmt.Errorf("%w: no exit marker", vmtest.ErrLab), vmtest.ErrLab))
	// Output:
	// 1
	// 124
	// 125
	// true
}
