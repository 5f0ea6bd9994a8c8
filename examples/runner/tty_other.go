//go:build !linux

package main

import "io"

// isTerminal reports false: the live view is for Linux terminals.
func isTerminal(io.Writer) bool { return false }
