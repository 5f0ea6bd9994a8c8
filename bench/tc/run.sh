#!/usr/bin/env bash
# Compares faultkit's netlink tc engine with exec'd tc commands: apply and
# revert a latency fault with 1, 10 and 100 source prefixes, printing the
# median time per apply+revert and the ratio. Runs inside the kernel lab
# (internal/vmtest), because the host may lack sch_netem/sch_prio.
# Extra arguments go to the test binary, e.g. go's own benchmarks:
#   ./bench/tc/run.sh -test.bench ApplyRevert -test.benchtime 10x
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go test -c -o "$bin/tc.test" ./netem/internal/tc
go run ./internal/vmtest/cmd/vmtest run -require root,netns,netem,prio,u32 \
  -env FAULTKIT_BENCH=1 "$bin/tc.test" -test.run '^TestCompareExec$' -test.v "$@"
