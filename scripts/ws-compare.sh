#!/usr/bin/env bash
# Issue 15's WebSocket benchmark: examples/ws_echo (gmp::http::ws::accept, then each
# message back; those that came together in one write) against tokio-tungstenite (the
# tungstenite gmp uses, its default configuration, StreamExt::forward, which does the
# same) and gorilla/websocket on Go's net/http (ReadMessage, WriteMessage: a write per
# message), with bench/compare.py:
#   ws       ws-load, 100 connections, each with one 64-byte binary message in flight
#            (it sends the next when the echo is back): messages/s, server CPU per message
#   ws       the same with 8 messages in flight per connection
#   idle-ws  memory per idle WebSocket at 10,000 connections, each upgraded and used for
#            one echo (one round)
# Usage: scripts/ws-compare.sh [ROUNDS] [--secs S] [--quota PCT]
#   ROUNDS (default 5) and S (seconds of load per round, default 5) as in compare.py;
#   --quota PCT caps each server at PCT% of one CPU (a cgroup v1 cpu quota, needs root).
#   Give it for figures about the servers: uncapped, the servers and ws-load share the
#   work of a message about evenly, and ws-load's CPU can be the limit (compare.py
#   prints its CPU share as "load cpu").
# Runs bench/build-peers.sh first, which builds what changed (conn-hold's ws mode is
# newer than conn-hold) and installs the tools, Go and gorilla/websocket where missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/ws-compare.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
bash "$root/bench/build-peers.sh" >/dev/null
cd "$root"
cargo build -q --profile fat --features websocket --example ws_echo

servers=(gmp="target/fat/examples/ws_echo {addr}"
         tokio-tungstenite="$peers/tokio-ws-echo {addr}"
         gorilla="$peers/go-ws-echo -addr {addr}")
"${compare[@]}" ws --rounds "$rounds" --window 1 "${opts[@]}" "${servers[@]}"
"${compare[@]}" ws --rounds "$rounds" --window 8 "${opts[@]}" "${servers[@]}"
"${compare[@]}" idle-ws --rounds 1 "${opts[@]}" "${servers[@]}"
