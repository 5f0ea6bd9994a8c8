package procs

import (
	"fmt"
	"regexp"
	"strings"
)

// CommLen is the longest process name the kernel keeps: the comm field of
// /proc/PID/stat holds at most 15 bytes (TASK_COMM_LEN - 1). Longer
// executable names are cut to their first 15 bytes.
const CommLen = 15

// Match selects how Find and Kill compare a name with a process.
type Match int

// Matching modes.
const (
	// MatchName matches as psmisc killall 23.6 does without options (the
	// default, and what aws:ecs:task-kill-process uses):
	//
	//   - A name is compared with the process's comm, exactly.
	//   - When comm fills all 15 bytes and the name is 15 bytes or longer,
	//     the process's full name is looked up in its command line: the base
	//     name of the first argument that starts with comm. If there is one,
	//     the name must equal it exactly ("abcdefghijklmno" does not match
	//     a running "abcdefghijklmnopqrst"). If there is none (argv[0] was
	//     changed, or the command line is empty as for zombies and kernel
	//     threads), the first 15 bytes of the name are compared with comm.
	//
	// Scripts started through their #! line are matched by the script's
	// name, because the kernel sets comm to it ("./job.sh" has comm
	// "job.sh", and a longer script name is found as /bin/sh's first
	// argument). A script started as "sh job.sh" has comm "sh" and is not
	// matched by "job.sh", as with killall.
	MatchName Match = iota
	// MatchExactName is killall -e: as MatchName, but a process whose comm
	// fills 15 bytes and whose full name cannot be found in its command
	// line does not match a name of 15 bytes or more.
	MatchExactName
	// MatchExe takes the name as a file path and matches the processes
	// executing that file (same device and inode, so links and other paths
	// to the file match too), as killall does for names containing '/'.
	MatchExe
	// MatchCmdline takes the name as a Go regular expression (RE2 syntax)
	// and matches it against the command line, arguments joined by single
	// spaces, like pkill -f. Processes with an empty command line (zombies,
	// kernel threads) are matched by their comm.
	MatchCmdline
)

func (m Match) String() string {
	switch m {
	case MatchName:
		return "name"
	case MatchExactName:
		return "exact-name"
	case MatchExe:
		return "exe"
	case MatchCmdline:
		return "cmdline"
	}
	return fmt.Sprintf("Match(%d)", int(m))
}

// LongName returns the full name psmisc killall uses for a process whose
// comm fills all 15 bytes: the base name of the first command-line argument
// that starts with comm. ok is false when comm is shorter than 15 bytes or
// no argument qualifies.
func LongName(comm string, args []string) (name string, ok bool) {
	if len(comm) != CommLen {
		return "", false
	}
	for _, a := range args {
		b := a[strings.LastIndexByte(a, '/')+1:]
		if strings.HasPrefix(b, comm) {
			return b, true
		}
	}
	return "", false
}

// needsLongName reports whether matching name against a process with this
// comm needs the process's command line.
func needsLongName(name, comm string) bool {
	return len(comm) == CommLen && len(name) >= CommLen
}

// matchName applies killall's name rule (see MatchName). args is called
// only when the command line is needed.
func matchName(name, comm string, exact bool, args func() []string) bool {
	if !needsLongName(name, comm) {
		return name == comm
	}
	if long, ok := LongName(comm, args()); ok {
		return name == long
	}
	if exact {
		return false
	}
	return name[:CommLen] == comm
}

// cmdlineRegexp compiles the pattern of a MatchCmdline search.
func cmdlineRegexp(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, paramError("name", pattern, "not a valid regular expression: "+err.Error())
	}
	return re, nil
}

// matchCmdline applies a MatchCmdline pattern to a command line.
func matchCmdline(re *regexp.Regexp, comm string, args []string) bool {
	if len(args) == 0 {
		return re.MatchString(comm)
	}
	return re.MatchString(strings.Join(args, " "))
}
