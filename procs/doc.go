// Package procs finds processes by name and signals them: the
// aws:ecs:task-kill-process fault, done natively instead of by running
// killall inside the task.
//
//	res, err := procs.Kill(ctx, "nginx", syscall.SIGTERM, procs.Wait(10*time.Second))
//	if err != nil {
//		return err // errors.Is(err, fault.ErrNotFound): "No process matching nginx found"
//	}
//	fmt.Println(res.PIDs(), res.Signalled[0].ExitAfter)
//
// Names are matched as psmisc killall 23.6 matches them (MatchName): the
// 15-byte comm of /proc/PID/stat, and for longer names the full name found
// in the command line. Find lists matches without signalling; WithMatch
// selects exact-name (killall -e), executable-path or command-line-regexp
// matching instead.
//
// Kill never signals the calling process, nor PID 1 of the namespace
// unless AllowPID1 is given; both appear in Result.Skipped. Each process is
// read and signalled through a descriptor of its /proc/PID directory,
// which pidfd_send_signal accepts as a pidfd: the descriptor is bound to
// the process, so one that exits and whose PID is reused between the scan
// and the signal is never signalled by mistake. Kernels without
// pidfd_send_signal fall back to kill(2) after a re-check, and
// Result.Method says so.
//
// KillFault is the same operation as a fault.Fault, and Actions registers
// it for aws:ecs:task-kill-process. A kill cannot be undone: its Handle has
// already ended when Inject returns, and Revert does nothing.
package procs
