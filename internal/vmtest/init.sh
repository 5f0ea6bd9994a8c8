#!/bin/busybox sh
# /init of the faultkit lab guest (PID 1), written by internal/vmtest.
# Mounts the pseudo file systems, loads the preload modules, runs
# /vmtest/test with /vmtest/args.sh and /vmtest/env.sh, prints the exit
# marker with the boot's nonce, and powers the VM off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/netns /run/lock
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
hostname faultkit-lab

nonce= share= shell=
for a in $(cat /proc/cmdline); do
	case $a in
	vmtest.nonce=*) nonce=${a#*=} ;;
	vmtest.share=*) share=${a#*=} ;;
	vmtest.shell=*) shell=${a#*=} ;;
	esac
done
# lab_error reports a failure of the lab itself (not of the test) and stops.
lab_error() {
	printf '\nVMTEST-%s-ERROR=%s\n' "$nonce" "$*"
	poweroff -f
}

while read -r ko; do
	out=$(insmod "$ko" 2>&1) || case $out in
	*"File exists"*) ;;
	*) echo "vmtest: insmod $ko: $out" ;;
	esac
done </etc/vmtest/preload
ip link set lo up || lab_error "cannot bring lo up"

workdir=/vmtest
if [ -n "$share" ]; then
	modprobe -a virtio_pci 9pnet_virtio 9p
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none vmtestshare /mnt/host ||
		lab_error "9p mount of the shared directory failed"
	workdir=/mnt/host
fi

export FAULTKIT_LAB=1
[ -f /vmtest/env.sh ] && . /vmtest/env.sh
set --
[ -f /vmtest/args.sh ] && . /vmtest/args.sh
cd "$workdir" || lab_error "cannot enter $workdir"
if [ "$shell" = 1 ]; then
	setsid cttyhack sh -l
	rc=$?
elif [ -x /vmtest/test ]; then
	/vmtest/test "$@" </dev/null
	rc=$?
else
	lab_error "/vmtest/test is missing (initramfs not unpacked?)"
fi
cd /
sync
[ -n "$share" ] && umount /mnt/host
printf '\nVMTEST-%s-EXIT=%d\n' "$nonce" "$rc"
poweroff -f
