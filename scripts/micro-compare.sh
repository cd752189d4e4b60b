#!/usr/bin/env bash
# Runs gmp's scheduler micro-benchmarks and the peers' (Go, may, the corosensei switch
# floor) round after round in one run, and prints each line's median over the rounds.
# Usage: scripts/micro-compare.sh [ROUNDS]   (default 5)
# Peers come from bench/build-peers.sh, run here when one is missing from $GMP_PEERS.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
rounds=${1:-5}
need go-micro may-micro switch-floor
cd "$root"
cargo bench --bench sched --no-run -q 2>/dev/null
bench=$(cargo bench --bench sched --no-run --message-format=json -q 2>/dev/null |
    python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("executable") and m.get("target",{}).get("name")=="sched": print(m["executable"])')
out=$(mktemp)
for _ in $(seq "$rounds"); do
    "$bench" | sed 's/^/gmp /' >>"$out"
    "$peers/go-micro" | grep -v GOMAXPROCS | sed 's/^/go /' >>"$out"
    "$peers/may-micro" | sed 's/^/may /' >>"$out"
    "$peers/switch-floor" | sed 's/^/floor /' >>"$out"
done
python3 - "$out" "$rounds" <<'PY'
import re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\S+)\s+(.+?)\s{2,}\s*([0-9.]+) (\S+)', line)
    if m:
        rows.setdefault((m.group(1), m.group(2).strip(), m.group(4)), []).append(float(m.group(3)))
print(f"medians over {sys.argv[2]} rounds (one line: runtime, benchmark, median, unit, all values)")
for (who, name, unit), vals in rows.items():
    print(f"{who:6} {name:22} {statistics.median(vals):10.1f} {unit:8} {' '.join(f'{v:.1f}' for v in vals)}")
PY
rm -f "$out"
