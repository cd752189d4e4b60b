#!/usr/bin/env bash
# Is `compare.py http` measuring the server or wrk? Runs examples/hello, hyper and
# may_minihttp beside bench/floor/http-floor.c, a C server that makes only the syscalls
# (one thread, epoll, a canned response, no parsing), in the same pinned rounds. A
# server can only beat its peers by as much as the floor beats them. Beside them too,
# `pfloor` (bench/rust/src/bin/http-parse-floor.rs): the same loop with each request
# head parsed by httparse, the floor of a server that parses what it answers.
# Usage: scripts/http-floor.sh [ROUNDS] [--secs S] [--quota PCT]   (as http-compare.sh)
# The floor, the peers and wrk come from bench/build-peers.sh, run here when one is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/http-floor.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk http-floor http-parse-floor hyper-hello may-hello
cd "$root"
cargo build -q --profile fat --example hello
servers=(gmp="target/fat/examples/hello {addr}" floor="$peers/http-floor {addr}"
         pfloor="$peers/http-parse-floor {addr}" hyper="$peers/hyper-hello {addr}"
         may="$peers/may-hello {addr}")
"${compare[@]}" http --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" http16 --rounds "$rounds" "${opts[@]}" "${servers[@]}"
