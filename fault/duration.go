package fault

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxActionDuration is FIS's quota for one action's duration (12 hours).
const MaxActionDuration = 12 * time.Hour

// ParseDuration parses an ISO-8601 duration as FIS writes them: "PT5M",
// "PT1H30M", "PT0.5S", "P1D", "P1DT2H". Designators must appear in order
// (D before T, then H, M, S), each at most once; only the last one given may
// carry a fraction. Years, months and weeks are rejected because their
// length is ambiguous. Negative and empty durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid ISO-8601 duration %q: %s (want e.g. PT30S, PT5M, PT1H30M)", s, why)
	}
	if len(s) < 3 || (s[0] != 'P' && s[0] != 'p') {
		return bad("must start with P and give at least one value")
	}
	rest := strings.ToUpper(s[1:])
	var total float64
	inTime := false
	order := "D" // allowed designators, in order, for the current part
	seen := false
	fraction := false
	for len(rest) > 0 {
		if rest[0] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime = true
			order = "HMS"
			rest = rest[1:]
			if rest == "" {
				return bad("T must be followed by a value")
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad("expected a number followed by a designator")
		}
		if fraction {
			return bad("only the last value may have a fraction")
		}
		num := strings.ReplaceAll(rest[:i], ",", ".")
		unit := rest[i]
		rest = rest[i+1:]
		pos := strings.IndexByte(order, unit)
		if pos < 0 {
			if !inTime && strings.IndexByte("YMW", unit) >= 0 {
				return bad("years, months and weeks are not supported")
			}
			if !inTime && strings.IndexByte("HS", unit) >= 0 {
				return bad("hours, minutes and seconds need a T before them")
			}
			return bad(fmt.Sprintf("unexpected or out-of-order designator %q", unit))
		}
		order = order[pos+1:]
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return bad("malformed number " + strconv.Quote(num))
		}
		if strings.Contains(num, ".") {
			fraction = true
		}
		var unitDur float64
		switch {
		case !inTime && unit == 'D':
			unitDur = float64(24 * time.Hour)
		case unit == 'H':
			unitDur = float64(time.Hour)
		case unit == 'M':
			unitDur = float64(time.Minute)
		default:
			unitDur = float64(time.Second)
		}
		total += v * unitDur
		seen = true
	}
	if !seen {
		return bad("no value given")
	}
	if total > math.MaxInt64 {
		return bad("too long")
	}
	return time.Duration(math.Round(total)), nil
}

// FormatDuration renders d the way FIS does, e.g. "PT1H30M" or "PT0.5S".
// Durations of zero or less render as "PT0S".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
		b.WriteString("S")
	}
	return b.String()
}
