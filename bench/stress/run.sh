#!/usr/bin/env bash
# Side-by-side benchmark of faultkit's native stress against stress-ng (as
# FIS runs it): CPU load accuracy (error in percentage points and ratio per
# case, mean absolute error) and I/O throughput with the space cap checked.
# Needs stress-ng (apt-get install stress-ng); run as root for the
# cpu.shares boost that shields both tools from other load.
# Extra arguments go to the program, e.g.:
#   ./bench/stress/run.sh -window 10s -rounds 3
#   ./bench/stress/run.sh -io=false
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/stress-bench" ./bench/stress
"$bin/stress-bench" "$@"
