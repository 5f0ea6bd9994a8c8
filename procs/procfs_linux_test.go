package procs

import (
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	// comm with spaces and parentheses, as a process may name itself.
	line := "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0 987654 5844992 205 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "a) b (c)" || st.state != 'S' || st.ppid != 17 || st.start != 987654 {
		t.Errorf("parseStat = %+v", st)
	}
	for _, bad := range []string{"", "12 noparen S 1", "12 (x) S 1 2 3", "12 (x) SS 1 " + strings.Repeat("0 ", 20), "12 (x) S z " + strings.Repeat("0 ", 20)} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}
