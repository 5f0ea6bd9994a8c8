#!/usr/bin/env bash
# Compares faultkit's nftables engine (netem.Blackhole) with the exec'd
# iptables/ip6tables sequence of the ECS agent and with one `nft -f`
# script, in a throwaway network namespace: median apply and revert times,
# nf_tables transactions per apply and per revert (counted from the
# kernel's NEWGEN notifications), and the ratios. Needs root, iptables and
# nft (apt-get install iptables nftables). Extra arguments go to the
# program, e.g.:
#   ./bench/nft/run.sh -n 200
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/nft-bench" ./bench/nft
"$bin/nft-bench" "$@"
