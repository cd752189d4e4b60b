#!/usr/bin/env bash
# The HTTP server (examples/hello) against the peers (hyper, may_minihttp, Go net/http)
# with ../shared/bench/compare.py: wrk at 100 connections one request at a time and 16
# pipelined, pinned and unpinned, and memory per idle keep-alive connection at 10,000.
# Usage: scripts/http-compare.sh [ROUNDS] (default 5).
set -euo pipefail
rounds=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${GMP_PEERS:-/tmp/gmp-peers}
[ -x "$peers/hyper-hello" ] && [ -x "$peers/may-hello" ] && [ -x "$peers/go-hello" ] ||
    bash "$here/../shared/bench/build-peers.sh"
command -v wrk >/dev/null || { echo "http-compare: needs wrk (apt-get install wrk)" >&2; exit 1; }
cd "$here"
cargo build -q --release --example hello
cmp="python3 ../shared/bench/compare.py"
servers=(gmp="target/release/examples/hello {addr}" hyper="$peers/hyper-hello {addr}"
         may="$peers/may-hello {addr}" go="$peers/go-hello -addr {addr}")
$cmp http --rounds "$rounds" "${servers[@]}"
$cmp http16 --rounds "$rounds" "${servers[@]}"
$cmp http --no-pin --rounds "$rounds" "${servers[@]}"
$cmp http16 --no-pin --rounds "$rounds" "${servers[@]}"
$cmp idle-http --rounds 1 "${servers[@]}"
