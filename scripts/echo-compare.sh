#!/usr/bin/env bash
# The echo server (examples/echo) against the peers (Go, tokio, may) and
# bench/floor/echo-floor.c (one thread, epoll, one recv and one send per message: the
# floor for CPU per round trip) with bench/compare.py: 64-byte round trips at 50 and
# 1,000 connections pinned, 50 unpinned, and memory per idle connection at 10,000.
# Usage: scripts/echo-compare.sh [ROUNDS] [--secs S] [--quota PCT]
#   ROUNDS (default 5) and S (seconds of load per round, default 5) as in compare.py;
#   --quota PCT caps each server at PCT% of one CPU (a cgroup v1 cpu quota, needs root),
#   so that the server, not echo-load, is the bottleneck.
# Peers come from bench/build-peers.sh, run here when one is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/echo-compare.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need go-echo tokio-echo may-echo echo-floor echo-load conn-hold
cd "$root"
cargo build -q --profile fat --example echo
servers=(gmp="target/fat/examples/echo {addr}" go="$peers/go-echo -addr {addr}"
         tokio="$peers/tokio-echo {addr}" may="$peers/may-echo {addr}"
         floor="$peers/echo-floor {addr}")
"${compare[@]}" echo --rounds "$rounds" --conns 50 "${opts[@]}" "${servers[@]}"
"${compare[@]}" echo --rounds "$rounds" --conns 1000 "${opts[@]}" "${servers[@]}"
"${compare[@]}" echo --no-pin --rounds "$rounds" --conns 50 "${opts[@]}" "${servers[@]}"
"${compare[@]}" idle --rounds 1 --conns 10000 "${opts[@]}" "${servers[@]}"
