#!/usr/bin/env bash
# Is `compare.py http` measuring the server or wrk? Runs examples/hello, hyper and
# may_minihttp beside scripts/floor/http-floor.c, a C server that makes only the syscalls
# (one thread, epoll, a canned response, no parsing), in the same pinned rounds. A
# server can only beat its peers by as much as the floor beats them.
# Usage: scripts/http-floor.sh [ROUNDS] (default 5). Needs cc (any Rust toolchain on
# Linux links with it) and wrk.
set -euo pipefail
rounds=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${GMP_PEERS:-/tmp/gmp-peers}
[ -x "$peers/hyper-hello" ] && [ -x "$peers/may-hello" ] || bash "$here/../shared/bench/build-peers.sh"
command -v wrk >/dev/null || { echo "http-floor: needs wrk (apt-get install wrk)" >&2; exit 1; }
cd "$here"
cargo build -q --release --example hello
mkdir -p target/floor
cc -O2 -Wall -o target/floor/http-floor scripts/floor/http-floor.c
cmp="python3 ../shared/bench/compare.py"
servers=(gmp="target/release/examples/hello {addr}" floor="target/floor/http-floor {addr}"
         hyper="$peers/hyper-hello {addr}" may="$peers/may-hello {addr}")
$cmp http --rounds "$rounds" "${servers[@]}"
$cmp http16 --rounds "$rounds" "${servers[@]}"
