#!/usr/bin/env bash
# How far is the HTTPS hello from the least any server can cost? Runs examples/hello
# --tls and hyper over tokio-rustls beside bench/rust/src/bin/tls-floor.rs, a server that
# does only the syscalls and the rustls (ring) work (one thread, epoll, a canned response,
# no parsing), in the same rounds, on one certificate made here (ECDSA P-256, as
# scripts/tls-compare.sh). A server can only beat its peers by as much as the floor beats
# them: issue 14's target (gmp >= 1.1 x hyper+rustls) is within reach only if the floor
# is well above 1.1 x hyper.
# Usage: scripts/tls-floor.sh [ROUNDS] [--secs S] [--quota PCT]   (as tls-compare.sh)
#   Give --quota for figures about the servers: uncapped, the CPU wrk runs on is the
#   bottleneck.
# The floor, the peers, wrk and openssl come from bench/build-peers.sh, run here when one
# is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
compare_args "scripts/tls-floor.sh [ROUNDS] [--secs S] [--quota PCT]" "$@"
need wrk openssl hyper-tls-hello tls-floor
cd "$root"
cargo build -q --profile fat --example hello

certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
tls_pair "$certs"
pair="$certs/cert.pem $certs/key.pem"

servers=(gmp="target/fat/examples/hello {addr} --tls $pair"
         floor="$peers/tls-floor {addr} $pair"
         hyper="$peers/hyper-tls-hello {addr} $pair")
"${compare[@]}" https --rounds "$rounds" "${opts[@]}" "${servers[@]}"
"${compare[@]}" https16 --rounds "$rounds" "${opts[@]}" "${servers[@]}"
