//go:build unix

package ssmreg

import "syscall"

// agentSysProcAttr puts the agent in its own process group, so a terminal's
// Ctrl-C reaches only the supervisor, which deregisters before it stops the
// agent (the order FIS cleanup needs).
func agentSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
