package template

import (
	"slices"
	"time"
)

// schedule is the earliest-start timing of an acyclic action graph.
type schedule struct {
	level      map[string]int // 0 for actions without startAfter
	start, end map[string]time.Duration
	levels     [][]string // action names by level, sorted
	length     time.Duration
	critical   []string // the longest path, first action first
}

// newSchedule orders the actions by startAfter. Unknown startAfter names
// are ignored (Validate reports them). If the graph has a cycle it returns
// the cycle, starting and ending with the same action.
func newSchedule(actions map[string]Action, durations map[string]time.Duration) (*schedule, []string) {
	s := &schedule{level: map[string]int{}, start: map[string]time.Duration{}, end: map[string]time.Duration{}}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	via := map[string]string{} // the predecessor that sets an action's start
	var stack []string
	var cycle []string
	var visit func(string) bool
	visit = func(n string) bool {
		switch state[n] {
		case done:
			return true
		case visiting:
			i := slices.Index(stack, n)
			cycle = append(slices.Clone(stack[i:]), n)
			return false
		}
		state[n] = visiting
		stack = append(stack, n)
		var start time.Duration
		level := 0
		deps := slices.Clone(actions[n].StartAfter)
		slices.Sort(deps)
		for _, d := range deps {
			if _, ok := actions[d]; !ok || d == n {
				continue
			}
			if !visit(d) {
				return false
			}
			if via[n] == "" || s.end[d] > start {
				start = s.end[d]
				via[n] = d
			}
			level = max(level, s.level[d]+1)
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		s.level[n] = level
		s.start[n] = start
		s.end[n] = start + durations[n]
		return true
	}
	for _, n := range sortedKeys(actions) {
		if !visit(n) {
			return nil, cycle
		}
	}
	var last string
	for _, n := range sortedKeys(actions) {
		l := s.level[n]
		for len(s.levels) <= l {
			s.levels = append(s.levels, nil)
		}
		s.levels[l] = append(s.levels[l], n)
		if last == "" || s.end[n] > s.length {
			s.length = s.end[n]
			last = n
		}
	}
	for n := last; n != ""; n = via[n] {
		s.critical = append(s.critical, n)
	}
	slices.Reverse(s.critical)
	return s, nil
}

// overlap reports whether two actions run during a common interval of
// non-zero length, or start at the same instant.
func (s *schedule) overlap(a, b string) bool {
	if s.start[a] == s.start[b] {
		return true
	}
	return s.start[a] < s.end[b] && s.start[b] < s.end[a]
}

// maxParallel returns the largest number of actions running at one
// instant, and the earliest such instant. An action runs during
// [start, end); an instantaneous one counts at its start.
func (s *schedule) maxParallel() (int, time.Duration) {
	var starts, ends []time.Duration
	instants := map[time.Duration]int{}
	for n, st := range s.start {
		starts = append(starts, st)
		ends = append(ends, s.end[n])
		if s.end[n] == st {
			instants[st]++
		}
	}
	slices.Sort(starts)
	slices.Sort(ends)
	atOrBefore := func(xs []time.Duration, t time.Duration) int {
		i, found := slices.BinarySearch(xs, t)
		for found && i < len(xs) && xs[i] == t {
			i++
		}
		return i
	}
	best, at := 0, time.Duration(0)
	for i, t := range starts {
		if i > 0 && starts[i-1] == t {
			continue
		}
		// The count only rises at a start.
		count := atOrBefore(starts, t) - atOrBefore(ends, t) + instants[t]
		if count > best {
			best, at = count, t
		}
	}
	return best, at
}
