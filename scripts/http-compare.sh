#!/usr/bin/env bash
# The HTTP server (examples/hello) against the peers (hyper, may_minihttp, Go net/http)
# with bench/compare.py: wrk at 100 connections one request at a time and 16 pipelined,
# pinned and unpinned, and memory per idle keep-alive connection at 10,000.
# Usage: scripts/http-compare.sh [ROUNDS] [--secs S] [--quota PCT]
#   ROUNDS (default 5) and S (seconds of load per round, default 5) as in compare.py;
#   --quota PCT caps each server at PCT% of one CPU (a cgroup v1 cpu quota, needs root),
#   so that the server, not wrk, is the bottleneck.
# Peers and wrk come from bench/build-peers.sh, run here when one is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/http-compare.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk hyper-hello may-hello go-hello
cd "$root"
cargo build -q --profile fat --example hello
servers=(gmp="target/fat/examples/hello {addr}" hyper="$peers/hyper-hello {addr}"
         may="$peers/may-hello {addr}" go="$peers/go-hello -addr {addr}")
"${compare[@]}" http --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" http16 --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" http --no-pin --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" http16 --no-pin --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" idle-http --rounds 1 "${opts[@]}" "${servers[@]}"
