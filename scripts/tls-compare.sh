#!/usr/bin/env bash
# Issue 14's HTTPS benchmark: the HTTP server over TLS (examples/hello --tls) against
# hyper over tokio-rustls (the same rustls and ring provider) and Go's net/http TLS,
# all three on one certificate made here (ECDSA P-256, as rcgen and most CAs issue
# today; the key type sets what a handshake costs), with bench/compare.py:
#   https       wrk, 100 keep-alive connections, one request at a time
#   https16     wrk, 16 requests pipelined per write
#   handshakes  new TLS connections per second: h2load, 100 clients, each request on a
#               new connection with a full handshake (no session resumption)
#   idle-https  memory per idle keep-alive TLS connection at 10,000 (one round)
# Usage: scripts/tls-compare.sh [ROUNDS] [--secs S] [--quota PCT]
#   ROUNDS (default 5) and S (seconds of load per round, default 5) as in compare.py;
#   --quota PCT caps each server at PCT% of one CPU (a cgroup v1 cpu quota, needs root).
#   Give it for figures about the servers: uncapped, the one CPU that wrk or h2load
#   runs on is the bottleneck (an h2load handshake costs the client about as much CPU
#   as the server).
# Peers, wrk, h2load and openssl come from bench/build-peers.sh, run here when one is
# missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/tls-compare.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk h2load openssl hyper-tls-hello go-hello conn-hold
cd "$root"
cargo build -q --profile fat --example hello

certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
tls_pair "$certs"
pair="$certs/cert.pem $certs/key.pem"

servers=(gmp="target/fat/examples/hello {addr} --tls $pair"
         hyper="$peers/hyper-tls-hello {addr} $pair"
         go="$peers/go-hello -addr {addr} -tls $pair")
"${compare[@]}" https --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" https16 --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" handshakes --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" idle-https --rounds 1 "${opts[@]}" "${servers[@]}"
