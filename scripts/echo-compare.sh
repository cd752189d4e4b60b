#!/usr/bin/env bash
# The echo server against the peers (Go, tokio, may) with ../shared/bench/compare.py:
# 64-byte round trips at 50 and 1,000 connections pinned, 50 unpinned, and memory per
# idle connection at 10,000. Usage: scripts/echo-compare.sh [ROUNDS] (default 5).
set -euo pipefail
rounds=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${GMP_PEERS:-/tmp/gmp-peers}
[ -x "$peers/go-echo" ] && [ -x "$peers/echo-load" ] || bash "$here/../shared/bench/build-peers.sh"
cd "$here"
cargo build -q --release --example echo
cmp="python3 ../shared/bench/compare.py"
servers=(gmp="target/release/examples/echo {addr}" go="$peers/go-echo -addr {addr}"
         tokio="$peers/tokio-echo {addr}" may="$peers/may-echo {addr}")
$cmp echo --rounds "$rounds" --conns 50 "${servers[@]}"
$cmp echo --rounds "$rounds" --conns 1000 "${servers[@]}"
$cmp echo --no-pin --rounds "$rounds" --conns 50 "${servers[@]}"
$cmp idle --rounds 1 --conns 10000 "${servers[@]}"
