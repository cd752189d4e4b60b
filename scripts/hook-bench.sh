#!/usr/bin/env bash
# What the `hook` feature costs per socket call and buys on a Redis workload:
# benches/hook.rs built without the feature and with it, run alternately ROUNDS times
# (default 5); prints each run's lines, then the median of each line over the rounds.
# The Redis workload (with the feature only) needs redis-server on the PATH
# (Debian: apt-get install redis-server).
# Usage: scripts/hook-bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo bench --no-run -q --bench hook
off=$(cargo bench --no-run --bench hook 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
cargo bench --no-run -q --bench hook --features hook
on=$(cargo bench --no-run --bench hook --features hook 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
    echo "# round $r"
    "$off" call | tee -a "$out"
    if [ "$r" -eq 1 ]; then
        "$on" | tee -a "$out"
    else
        "$on" call | tee -a "$out"
    fi
done
echo "# medians over $rounds rounds (the redis lines: one run of 3 alternating rounds)"
python3 - "$out" <<'PY'
import sys, statistics, collections
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, value, unit = line.split()
    runs.setdefault((name, unit), []).append(float(value))
for (name, unit), vs in runs.items():
    print(f"{name} {statistics.median(vs):.1f} {unit}")
med = {n: statistics.median(v) for (n, _), v in runs.items()}
for kind in ("std_goroutine", "gmp_goroutine", "std_thread"):
    a, b = med.get(f"call_{kind}_hook"), med.get(f"call_{kind}_nohook")
    if a is not None and b is not None:
        print(f"call_{kind}_added {a - b:.1f} ns")
PY
