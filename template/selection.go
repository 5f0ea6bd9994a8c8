package template

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SelectionKind is the kind of a target's selection mode.
type SelectionKind int

// Selection kinds.
const (
	SelectAll     SelectionKind = iota + 1 // ALL
	SelectCount                            // COUNT(n)
	SelectPercent                          // PERCENT(n)
)

// SelectionMode is a parsed target selectionMode: ALL, COUNT(n) or
// PERCENT(n).
type SelectionMode struct {
	Kind SelectionKind
	N    int // the count or percentage; 0 for ALL
}

// ErrSelectionMode is wrapped by every error ParseSelectionMode returns.
var ErrSelectionMode = errors.New("invalid selection mode")

// maxSelectionModeLen is FIS's limit on the selectionMode string.
const maxSelectionModeLen = 64

// ParseSelectionMode parses FIS's selection-mode grammar: "ALL",
// "COUNT(n)" with n >= 1, or "PERCENT(n)" with n from 1 to 100. Keywords
// are upper case and no spaces are allowed, as FIS writes them.
func ParseSelectionMode(s string) (SelectionMode, error) {
	bad := func(why string) (SelectionMode, error) {
		return SelectionMode{}, fmt.Errorf("%w %q: %s (want ALL, COUNT(n) or PERCENT(n))", ErrSelectionMode, s, why)
	}
	if len(s) > maxSelectionModeLen {
		return bad(fmt.Sprintf("longer than %d characters", maxSelectionModeLen))
	}
	if s == "ALL" {
		return SelectionMode{Kind: SelectAll}, nil
	}
	var kind SelectionKind
	var arg string
	switch {
	case strings.HasPrefix(s, "COUNT(") && strings.HasSuffix(s, ")"):
		kind, arg = SelectCount, s[len("COUNT("):len(s)-1]
	case strings.HasPrefix(s, "PERCENT(") && strings.HasSuffix(s, ")"):
		kind, arg = SelectPercent, s[len("PERCENT("):len(s)-1]
	case strings.EqualFold(s, "ALL") || hasPrefixFold(s, "COUNT(") || hasPrefixFold(s, "PERCENT("):
		return bad("keywords are upper case")
	default:
		return bad("unknown mode")
	}
	if arg == "" || strings.Trim(arg, "0123456789") != "" {
		return bad("the argument must be a whole number")
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		return bad("the argument is too large")
	}
	switch {
	case kind == SelectCount && n < 1:
		return bad("COUNT needs at least 1")
	case kind == SelectPercent && (n < 1 || n > 100):
		return bad("PERCENT must be from 1 to 100")
	}
	return SelectionMode{Kind: kind, N: n}, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// String renders the mode as FIS writes it.
func (m SelectionMode) String() string {
	switch m.Kind {
	case SelectCount:
		return fmt.Sprintf("COUNT(%d)", m.N)
	case SelectPercent:
		return fmt.Sprintf("PERCENT(%d)", m.N)
	}
	return "ALL"
}

// Select returns how many of total resources the mode picks. As in FIS,
// percentages round down, so PERCENT(50) of 5 is 2 and a share smaller than
// one resource selects none.
func (m SelectionMode) Select(total int) int {
	if total <= 0 {
		return 0
	}
	switch m.Kind {
	case SelectCount:
		return min(m.N, total)
	case SelectPercent:
		return total * m.N / 100
	}
	return total
}
