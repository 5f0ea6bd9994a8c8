package testenv

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup`:      "/sys/fs/cgroup",
		`/mnt/a\040b`:         "/mnt/a b",
		`/x\134y`:             `/x\y`,
		`/trailing\04`:        `/trailing\04`,
		`/bad\999`:            `/bad\999`,
		`/tab\011and\012nl\`:  "/tab\tand\nnl\\",
		`\040leading`:         " leading",
		`/sys/fs/cgroup/unif`: "/sys/fs/cgroup/unif",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
