package tc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readDist parses an iproute2 .dist file: comment lines start with '#'.
func readDist(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no iproute2 table to compare with: %v", err)
	}
	var out []int16
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, f := range strings.Fields(line) {
			v, err := strconv.ParseInt(f, 10, 16)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, int16(v))
		}
	}
	return out
}

func findDist(name string) string {
	for _, d := range []string{"/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc", "/usr/lib64/tc", "/usr/share/tc"} {
		p := filepath.Join(d, name+".dist")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("/usr/lib/tc", name+".dist")
}

func TestDistTablesMatchIproute2(t *testing.T) {
	for _, name := range []string{"normal", "pareto", "paretonormal"} {
		t.Run(name, func(t *testing.T) {
			want := readDist(t, findDist(name))
			got := distTable(name)
			if len(got) != len(want) {
				t.Fatalf("len = %d, iproute2 has %d", len(got), len(want))
			}
			diff := 0
			for i := range got {
				if got[i] != want[i] {
					if diff < 5 {
						t.Errorf("[%d] = %d, iproute2 has %d", i, got[i], want[i])
					}
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d entries differ", diff, len(got))
			}
		})
	}
}

func TestDistTableShape(t *testing.T) {
	// Independent of iproute2: a normal table is an increasing inverse CDF,
	// symmetric around 0, with about 68% of entries within ±1σ (±8192).
	n := distTable("normal")
	if len(n) != 4096 {
		t.Fatalf("normal: %d entries, want 4096", len(n))
	}
	within := 0
	for i, v := range n {
		if i > 0 && v < n[i-1] {
			t.Fatalf("normal table not sorted at %d: %d < %d", i, v, n[i-1])
		}
		if v >= -distScale && v <= distScale {
			within++
		}
	}
	if frac := float64(within) / float64(len(n)); frac < 0.66 || frac > 0.70 {
		t.Errorf("normal: %.3f of entries within ±1σ, want ≈0.683", frac)
	}
	if distTable("uniform") != nil || distTable("") != nil {
		t.Error("uniform must use netem's built-in distribution (no table)")
	}
}
