#!/usr/bin/env bash
# What routing adds to a request: examples/hello plain against the same hello behind a
# Router holding the GitHub API's 203 routes (`hello --routed`, which serves `GET /`
# through `GET /{$}`), with bench/compare.py http (wrk, 100 connections, one request at
# a time) and http16 (16 pipelined), interleaved rounds.
# Usage: scripts/router-compare.sh [ROUNDS] [--secs S] [--quota PCT]
#   --quota PCT caps each server at PCT% of one CPU (a cgroup v1 cpu quota, needs root)
#   so that the server, not wrk, is the bottleneck: without it both measure wrk.
# wrk comes from bench/build-peers.sh, run here when it is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/router-compare.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk
cd "$root"
cargo build -q --profile fat --example hello
servers=(plain="target/fat/examples/hello {addr}" routed="target/fat/examples/hello {addr} --routed")
"${compare[@]}" http --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" http16 --rounds "$rounds" "${opts[@]}" "${servers[@]}"
