//go:build !unix

package ssmreg

import "syscall"

func agentSysProcAttr() *syscall.SysProcAttr { return nil }
