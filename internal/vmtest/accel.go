package vmtest

import (
	"bytes"
	"os"
	"path/filepath"
)

// kvmUsable reports whether QEMU can use KVM for a stock kernel, looking
// at the files below root ("/" on a real host), and why not. /dev/kvm must
// open read-write, the CPU must advertise hardware virtualisation (vmx or
// svm, also true under nested virtualisation), and the KVM module must not
// be kvm_pvm: that paravirtual hypervisor only runs PVM-enabled guest
// kernels, and a stock kernel hangs on it without printing anything.
func kvmUsable(root string) (bool, string) {
	f, err := os.OpenFile(filepath.Join(root, "dev", "kvm"), os.O_RDWR, 0)
	if err != nil {
		return false, "/dev/kvm is not usable: " + err.Error()
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "sys", "module", "kvm_pvm")); err == nil {
		return false, "/dev/kvm is kvm_pvm (paravirtual), which cannot run a stock kernel"
	}
	info, err := os.ReadFile(filepath.Join(root, "proc", "cpuinfo"))
	if err != nil {
		return false, "cannot read /proc/cpuinfo: " + err.Error()
	}
	for _, line := range bytes.Split(info, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(bytes.TrimSpace(k)) != "flags" {
			continue
		}
		for _, fl := range bytes.Fields(v) {
			if string(fl) == "vmx" || string(fl) == "svm" {
				return true, "KVM with hardware virtualisation"
			}
		}
	}
	return false, "the CPU advertises neither vmx nor svm"
}
