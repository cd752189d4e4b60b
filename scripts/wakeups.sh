#!/usr/bin/env bash
# Issue 20's wake-up figures: futex calls and context switches per request (perf stat -p
# on the server over each measured load, compare.py --wakeups) with 2 Ps unpinned beside
# the load generator, on `http` (wrk, 50 connections: gmp, hyper, Go) and `echo`
# (echo-load, 50 connections: gmp, tokio, Go, the syscall-only floor). ARCHITECTURE.md,
# "Spinning and the wake-up policy", explains what they measure.
# Usage: scripts/wakeups.sh [ROUNDS] [--secs S] [--quota PCT]   (as http-compare.sh)
#   Without --quota the load generator is the bottleneck, so a faster server idles more
#   often between requests and pays more wake-ups per request for it; with --quota the
#   server is, and its Ms rarely sleep.
# Needs perf (bench/build-peers.sh installs it) and root. Peers come from
# bench/build-peers.sh, run here when one is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/wakeups.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk perf hyper-hello go-hello tokio-echo go-echo echo-floor echo-load
cd "$root"
cargo build -q --profile fat --example hello --example echo
"${compare[@]}" http --no-pin --wakeups --conns 50 --rounds "$rounds" "${opts[@]}" \
    gmp="target/fat/examples/hello {addr}" hyper="$peers/hyper-hello {addr}" \
    go="$peers/go-hello -addr {addr}"
"${compare[@]}" echo --no-pin --wakeups --conns 50 --rounds "$rounds" "${opts[@]}" \
    gmp="target/fat/examples/echo {addr}" tokio="$peers/tokio-echo {addr}" \
    go="$peers/go-echo -addr {addr}" floor="$peers/echo-floor {addr}"
