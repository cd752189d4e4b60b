#!/usr/bin/env bash
# Compares builds of gmp's `spawn+join` (benches/sched.rs, 2 Ps) with Go's in interleaved
# rounds: each round runs every given bench binary's `spawn+join`, then go-micro, and the
# medians over the rounds are printed, with each binary's ratio to Go's median.
# Usage: scripts/spawn-ab.sh ROUNDS BENCH_BINARY...
#   (a bench binary: target/release/deps/sched-*, copied away before rebuilding)
# Take /tmp/gmp-bench.lock around it (flock /tmp/gmp-bench.lock scripts/spawn-ab.sh ...).
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
[ $# -ge 2 ] || { echo "usage: $0 ROUNDS BENCH_BINARY..." >&2; exit 2; }
rounds=$1
shift
need go-micro
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
    for b in "$@"; do
        echo "$(basename "$b") $("$b" spawn+join | awk '{print $2}')" >>"$out"
    done
    echo "go $("$peers/go-micro" | awk '/^spawn\+join/{print $2}')" >>"$out"
done
python3 - "$out" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rows.setdefault(k, []).append(float(v))
go = statistics.median(rows["go"])
for k, vals in rows.items():
    m = statistics.median(vals)
    print(f"{k:12} median {m:7.1f} ns ({m / go:.2f} x go)  " + " ".join(f"{v:.0f}" for v in vals))
PY
