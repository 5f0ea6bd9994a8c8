// Package fault is faultkit's shared vocabulary: what a fault is, how it is
// injected and reverted, the registry that maps AWS FIS action IDs to
// faults, and the journal that makes revert survive a crash.
//
// A Fault is a configured value that does nothing until injected. Inject
// returns a Handle whose Revert is idempotent and safe from any goroutine.
// Run holds a fault for a duration and always reverts:
//
//	f := &stress.CPUFault{Load: 80}                 // any fault.Fault
//	rep, err := fault.Run(ctx, f, 30*time.Second,    // inject, hold, revert
//		fault.WithSignals())                         // also on SIGINT/SIGTERM
//	if err != nil { return err }
//	fmt.Println(rep.Metrics)                        // achieved figures
//
// # Conventions
//
// Each engine package (stress, netem, procs) exports one struct type per
// fault, named <X>Fault, and front-door functions that act: they take ctx
// first, inject, hold until ctx ends (or the fault completes, as a kill
// does), revert and return the Report. Build the struct yourself to control
// timing with Run, During or Inject.
//
// # Registry
//
// Parameter specs are data (ECSTaskActionSpecs: FIS's names, defaults and
// ranges); constructors are code. Engines export both as []Action and the
// caller composes them explicitly, with no global registry:
//
//	reg, err := fault.NewRegistry(stress.Actions(), netem.Actions(), procs.Actions())
//	f, d, err := reg.New("aws:ecs:task-cpu-stress", map[string]string{"duration": "PT5M", "percent": "80"})
//
// The template validator checks parameters with the same specs, through
// ActionSpec.Resolve, without loading any engine.
//
// # Crash safety
//
// Before a fault creates anything that could outlive the process (a qdisc,
// an ifb link, an nftables table, a directory of stress files, a pinned
// /etc/hosts line, a helper process) it records an Undo in a Journal. At
// the first record the journal starts a guardian: the running binary
// re-executed, recognised by this package's init function, which holds
// one end of a pipe. When the owner dies, SIGKILL included, the guardian
// sees end-of-file and applies every unreleased Undo (measured at under
// 100 ms here), then removes the journal. Recover replays journals whose
// owner and guardian both died. Undo refuses to touch objects faultkit did
// not make: tables and links must carry faultkit's name prefix, qdiscs
// must still have the recorded handle and kind, directories must hold the
// OwnerMarker file, and processes must have the recorded start time.
//
// The journal lives in DefaultStateDir (/run/faultkit for root, mode 0700,
// or $FAULTKIT_STATE_DIR).
//
// # Errors
//
// Errors wrap the sentinels ErrInvalidParameter, ErrConflict,
// ErrUnsupported, ErrPermission, ErrUnknownAction and ErrNotFound, and
// carry detail in *ParamError, *UnsupportedError and *OpError. HTTPStatus
// maps them to status codes, as the ECS agent's fault endpoints answer.
//
// Package fault depends on the standard library and golang.org/x/sys only.
// Its pure parts (specs, registry, durations, sources) build on every
// platform, so templates validate anywhere; injection is Linux only.
package fault
