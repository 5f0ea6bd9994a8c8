#!/bin/sh
# Times faultkit's procs.Kill against psmisc killall on N = 1000 and 5000
# sleeping processes and prints the side-by-side table with the ratios.
# Needs no root: the sleepers are children of the benchmark's holder.
# Extra arguments go to the program, e.g. -n 1000 -cont-rounds 20.
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT INT TERM
go build -o "$bin/procs-bench" ./bench/procs
"$bin/procs-bench" "$@"
