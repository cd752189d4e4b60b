#!/usr/bin/env bash
# Issue 4's figures, gmp and Go in turn, ROUNDS times (default 3): channel ping-pong,
# buffered 4x4, mutex, and gmp::blocking. Prints every round; quote medians of one run.
# Usage: scripts/chan-compare.sh [ROUNDS]. go-micro comes from bench/build-peers.sh, run
# here when it is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
ROUNDS=${1:-3}
GO=$peers/go-micro
need go-micro
cd "$root"
cargo bench --no-run --bench chan --bench sync --bench sched >/dev/null 2>&1
for r in $(seq "$ROUNDS"); do
    echo "== round $r"
    cargo bench -q --bench chan 2>/dev/null | sed 's/^/gmp /'
    cargo bench -q --bench sync -- "mutex uncontended" 2>/dev/null | sed 's/^/gmp /'
    cargo bench -q --bench sched -- "blocking round trip" 2>/dev/null | sed 's/^/gmp /'
    "$GO" 2>&1 | grep -E "chan|mutex" | sed 's/^/go  /'
done
