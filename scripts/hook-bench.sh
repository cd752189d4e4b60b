#!/usr/bin/env bash
# What the `hook` feature costs per socket call and buys on a Redis workload:
# benches/hook.rs built without the feature and with it, run alternately ROUNDS times
# (default 5); then each build's user-space instructions per call under callgrind
# (stable where ns are not); prints each line, then the median of each over the rounds.
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
    "$off" call_ | tee -a "$out"
    if [ "$r" -eq 1 ]; then
        "$on" | tee -a "$out"
    else
        "$on" call_ | tee -a "$out"
    fi
done
# User-space instructions per call, which the machine's noise does not move: callgrind
# inside `ping` only (1 batch: 21,000 write+read rounds, 42,000 calls).
if command -v valgrind >/dev/null; then
    for bin in "$off" "$on"; do
        tag=$([ "$bin" = "$on" ] && echo hook || echo nohook)
        for c in call_std_goroutine call_gmp_goroutine call_std_thread; do
            ir=$(GMP_HOOK_BENCH_BATCHES=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                --toggle-collect='*ping*' "$bin" "$c" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
            echo "instr_${c}_${tag} $(python3 -c "print(f'{$ir / 42000:.1f}')") instructions" | tee -a "$out"
        done
    done
else
    echo "note: valgrind is not on the PATH; no instruction counts"
fi
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
    for pre, unit in (("call", "ns"), ("instr", "instructions")):
        a, b = med.get(f"{pre}_{kind}_hook"), med.get(f"{pre}_{kind}_nohook")
        if a is not None and b is not None:
            print(f"{pre}_{kind}_added {a - b:.1f} {unit}")
PY
