// Package faultkit brings the AWS Fault Injection Service (FIS) actions for
// Amazon ECS tasks to any Linux host, container or Go test harness, as a
// typed, importable and testable library. It injects the same six faults
// FIS injects into ECS tasks, natively and without shelling out:
//
//	aws:ecs:task-cpu-stress                 stress.CPUFault
//	aws:ecs:task-io-stress                  stress.IOFault
//	aws:ecs:task-kill-process               procs.KillFault
//	aws:ecs:task-network-blackhole-port     netem.BlackholeFault
//	aws:ecs:task-network-latency            netem.LatencyFault
//	aws:ecs:task-network-packet-loss        netem.LossFault
//
// A test harness uses it in five lines:
//
//	f, err := netem.NewLatency("eth0", 100*time.Millisecond, 10*time.Millisecond, "10.0.0.0/8")
//	if err != nil { return err }
//	_, err = fault.During(ctx, f, func(ctx context.Context) error {
//		return callTheServiceUnderTest(ctx) // runs with 100 ms ± 10 ms to 10/8
//	})                                      // reverted here, even on panic or SIGKILL
//
// # Packages
//
//   - fault: the shared vocabulary. Fault, Handle, Run and During, the
//     registry of FIS action IDs, parameter specs, errors, and the journal
//     whose guardian reverts faults after a crash.
//   - stress: CPU, I/O and memory stress in native Go, cgroup-aware.
//   - netem: latency, jitter, packet loss and port blackholes over netlink
//     (tc with florianl/go-tc, nftables with google/nftables), IPv4 and IPv6.
//   - procs: find processes by name and signal them, race-free with pidfds.
//   - ecsmeta: a typed client for the ECS task metadata endpoint v4.
//   - ssmreg: the SSM hybrid-activation lifecycle of the FIS sidecar.
//   - template: parse, validate and plan FIS experiment templates offline.
//   - experiment: run a validated template locally, with FIS's states,
//     stop conditions and a report.
//   - examples/runner and examples/sidecar: binaries built from the above.
//
// This package itself contains no code.
package faultkit
