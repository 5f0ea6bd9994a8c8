// Package netem injects the three FIS network faults of ECS tasks —
// aws:ecs:task-network-latency, -packet-loss and -network-blackhole-port —
// into a Linux network namespace, programmed over netlink: it never runs
// tc, iptables or nft.
//
//	// Hold 100 ms ± 10 ms of latency towards 10.0.0.0/8 and example.com on
//	// the default-route interface of a task's namespace until ctx ends.
//	rep, err := netem.Latency(ctx, "DEFAULT", 100*time.Millisecond, 10*time.Millisecond,
//		"10.0.0.0/8,example.com", netem.WithPID(taskPID))
//	// Or build the fault and run it with fault.Run / fault.During:
//	f, err := netem.NewBlackhole(5432, "tcp", netem.WithDirection(netem.Ingress))
//
// # Engines
//
// Latency (and the extras corrupt, duplicate, reorder and rate) use the tc
// engine: a prio root qdisc whose default band is untouched, netem on the
// impaired band and u32 filters that steer only the chosen destinations to
// it, IPv4 and IPv6, as FIS and the ECS agent lay it out. Blackholes use the
// nftables engine: one inet table per fault, one atomic kernel transaction
// per apply and per revert. Packet loss uses tc where the kernel has
// sch_netem and nftables otherwise; WithEngine forces either. A missing
// kernel feature gives an error wrapping fault.ErrUnsupported that names it.
//
// # Semantics
//
// Sources follow FIS's grammar (fault.ParseSources): IPv4 and IPv6
// addresses and CIDRs, domain names (resolved at injection, optionally
// pinned in a hosts file), DYNAMODB and S3 (the Region's prefixes from AWS's
// ip-ranges JSON) and ALL. Unlike FIS, IPv6 destinations are impaired too.
// Protected endpoints — IMDS (169.254.169.254, fd00:ec2::254), the task
// metadata endpoint (169.254.170.2) and, when the Region is known, its SSM
// endpoints — are never impaired unless WithoutProtection is given.
//
// One latency or loss fault may be active per interface and namespace; a
// second gets fault.ErrConflict and leaves the first intact. Blackholes of
// different ports, protocols or directions coexist. Status reads what is
// active from the kernel. An injection that fails halfway undoes what it
// did; Revert is idempotent and removes only objects faultkit created.
// Crash safety comes from the fault journal (tc objects, hosts-file pins)
// and from the nftables owner flag, which makes the kernel delete the
// tables when the injecting process dies.
package netem
