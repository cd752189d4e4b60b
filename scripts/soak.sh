#!/usr/bin/env bash
# The soak under faults (issue 19) for MINUTES minutes: examples/soak, release build with
# every feature (TLS, WebSocket, and the hook for its std::net client), prints the
# resource curve (RSS, fds, goroutines, threads, requests) as it goes and the totals at
# the end, and exits non-zero if any answer was wrong or lost, a client hung, goroutines
# or fds did not return to their level before the load, or RSS ended more than 10 % over
# its level after the first minute. tests/soak.rs runs the same for 20 seconds.
# Usage: scripts/soak.sh MINUTES [SEED]   (the curve is sampled every 10 s from 2 minutes)
set -euo pipefail
minutes=${1:?usage: scripts/soak.sh MINUTES [SEED]}
seed=${2:-1}
case $minutes in
    '' | *[!0-9]* | 0) echo "soak.sh: MINUTES must be a positive whole number, not '$minutes'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
cargo build -q --release --all-features --example soak
echo "soak.sh: $minutes min on $(git rev-parse --short HEAD), seed $seed, $(nproc) cores"
exec target/release/examples/soak --secs $((minutes * 60)) --seed "$seed"
