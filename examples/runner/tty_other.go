//go:build !linux

package main

import "io"

// isTerminal reports false: the live view is for Linux terminals.
func isTerminal(io.Writer) bool { return false }

func terminalWidth(io.Writer) int { return 0 }
