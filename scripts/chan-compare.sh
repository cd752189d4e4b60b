#!/usr/bin/env bash
# Issue 4's figures, gmp and Go in turn, ROUNDS times (default 3): channel ping-pong,
# buffered 4x4, mutex, and gmp::blocking. Prints every round; quote medians of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
GO=/tmp/gmp-peers/go-micro
[ -x "$GO" ] || bash ../shared/bench/build-peers.sh
cargo bench --no-run --bench chan --bench sync --bench sched >/dev/null 2>&1
for r in $(seq "$ROUNDS"); do
    echo "== round $r"
    cargo bench -q --bench chan 2>/dev/null | sed 's/^/gmp /'
    cargo bench -q --bench sync -- "mutex uncontended" 2>/dev/null | sed 's/^/gmp /'
    cargo bench -q --bench sched -- "blocking round trip" 2>/dev/null | sed 's/^/gmp /'
    "$GO" 2>&1 | grep -E "chan|mutex" | sed 's/^/go  /'
done
