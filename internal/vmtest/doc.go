// Package vmtest is faultkit's kernel lab: it boots Debian's stock kernel
// in QEMU and runs a test binary in it as root, so that the tc engine's
// integration tests run against sch_netem, sch_prio, cls_u32, cls_flow, ifb,
// act_mirred and nf_tables even when the host's (or CI's) kernel lacks them.
// Nothing is installed on the host: the kernel and busybox .debs are only
// downloaded and unpacked into a cache (os.UserCacheDir()/faultkit-lab by
// default, about 250 MB).
//
//	lab, err := vmtest.Prepare(ctx, vmtest.ConfigFromEnv()) // download, build, cache
//	if err != nil { return err }                            // wraps ErrLab
//	res, err := lab.Run(ctx, vmtest.RunOptions{Binary: "netem.test",
//		Args: []string{"-test.v"}, Env: []string{"FAULTKIT_REQUIRE=" + vmtest.DefaultRequire}, Console: os.Stdout})
//	os.Exit(vmtest.ExitStatus(res, err)) // test status, 124 timeout, 125 lab failure
//
// The command internal/vmtest/cmd/vmtest wraps this: "vmtest test ./netem"
// builds the package's test binary (CGO_ENABLED=0 go test -c) and runs it
// in the lab; "vmtest run" fits go test -exec.
//
// # What a run does
//
// Prepare (once, cached, under a lock file): apt-get download the pinned
// linux-image package (DefaultKernelPackage; the current ABI from
// linux-image-amd64 when the archive has moved on) and busybox-static;
// dpkg-deb -x the kernel into a temporary directory; cut the ELF vmlinux
// out of the bzImage; compute the module closure; write the base
// initramfs. Run: append a small archive holding the program, its
// arguments and environment to a copy of the base, boot QEMU with the
// console on stdio, stream the console, and read the exit status from a
// marker line.
//
// # Pitfalls handled
//
//   - /dev/kvm may be kvm_pvm, a paravirtual hypervisor on which a stock
//     kernel hangs without a word. KVM is used only when /dev/kvm opens,
//     kvm_pvm is not loaded and the CPU shows vmx or svm; otherwise TCG.
//   - Under TCG the in-guest xz decompression of the bzImage costs about
//     7 s, so the lab boots the uncompressed ELF vmlinux through PVH. It
//     is found through the boot protocol header (payload_offset and
//     payload_length), not by searching for magic bytes.
//   - The initramfs is uncompressed: gunzip inside TCG costs seconds. The
//     kernel does not create parent directories while unpacking, so the
//     Go cpio writer emits them; the per-run archive is appended after the
//     base (concatenated newc archives unpack in order).
//   - microvm hangs under TCG (no timer to calibrate the TSC): only q35
//     and pc are offered.
//   - The kernel .deb has no modules.dep. The closure and load order come
//     from kmod (modprobe --show-depends with -C /dev/null, so the host's
//     modprobe.d options never leak in), and depmod is run on the staged
//     subset so that busybox modprobe in the guest autoloads the rest.
//   - Debian does not mount devtmpfs by itself; /init mounts it and adds
//     /dev/fd and /dev/std*. /var/run is a link to the /run tmpfs so that
//     /var/run/netns works; cgroup2 and bpffs are mounted.
//   - The image is written straight from host files into the archive, so
//     no staging tree with absolute links to /bin/busybox exists that a
//     copy could follow and overwrite the host's files.
//   - iproute2, nftables and iptables come from the host with every
//     library ldd lists and their plugins (tc's netem distribution tables
//     included); busybox's own ip and tc applets are left out.
//   - The exit marker carries a random nonce, so nothing the program
//     prints can forge a result; the guest's /init reports its own
//     failures with a distinct marker. No marker means a lab failure
//     (kernel panic, QEMU error); a timeout kills QEMU.
//   - vishvananda/netlink: open handles with unix.NETLINK_ROUTE only
//     (NETLINK_XFRM fails without xfrm_user), and give TcU32Key.Val in host
//     order (the library byte-swaps it). The guest tests do both.
//   - Under TCG netem adds about 1-1.5 ms to a configured delay and the
//     baseline RTT has rare spikes of 20 ms: assert min >= delay and
//     p50 <= delay + a margin, never exact values.
//
// # Exit status
//
// ExitStatus, and cmd/vmtest, return the program's own status when it ran
// (0 pass, 1 failed test), ExitTimeout (124) when the VM was killed at the
// timeout, and ExitLabFailure (125) when there is no test result.
package vmtest
