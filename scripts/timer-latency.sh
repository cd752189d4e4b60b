#!/usr/bin/env bash
# Timer latency under load (issue 20): gmp's benches/timer_latency.rs and its Go twin
# (bench/go/timerlat), each with 2 Ps, run interleaved for R rounds; prints each line's
# median over the rounds. In every run N goroutines do loopback TCP echo round trips
# against an echo server in the same process while one goroutine sleeps 5 ms over and
# over: the lines are that sleep's overshoot (p50, p99, max, µs) and the round trips per
# second that loaded it.
# Usage: scripts/timer-latency.sh [ROUNDS] [--secs S] [N ...]
#   ROUNDS default 5; S seconds of sleeps per N and run (default 3); N default 1000 and
#   10000. Each connection takes two descriptors in one process: an N that does not fit
#   under the hard RLIMIT_NOFILE (ulimit -Hn) is lowered to the largest hundred that does
#   (the run says so), since only CAP_SYS_RESOURCE may raise the hard limit.
# Runs take /tmp/gmp-bench.lock so that no other benchmark of this project runs beside
# them. The Go twin comes from bench/build-peers.sh, run here when it is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
usage="scripts/timer-latency.sh [ROUNDS] [--secs S] [N ...]"
rounds=5
secs=3
ns=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    rounds=$1
    shift
fi
while [ $# -gt 0 ]; do
    case $1 in
    --secs)
        [ $# -ge 2 ] || { echo "usage: $usage" >&2; exit 2; }
        secs=$2
        shift 2
        ;;
    [0-9]*)
        ns+=("$1")
        shift
        ;;
    *)
        echo "usage: $usage" >&2
        exit 2
        ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer; usage: $usage" >&2; exit 2; }
[ ${#ns[@]} -gt 0 ] || ns=(1000 10000)
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ]; then
    fit=$(( (hard - 64) / 2 / 100 * 100 ))
    for i in "${!ns[@]}"; do
        if [ "${ns[$i]}" -gt "$fit" ]; then
            echo "timer-latency: N = ${ns[$i]} needs $(( 2 * ns[i] + 64 )) descriptors, the hard limit is $hard: running N = $fit" >&2
            ns[i]=$fit
        fi
    done
fi
need go-timerlat
cd "$root"
cargo build -q --profile fat --bench timer_latency
bench=$(cargo build --profile fat --bench timer_latency --message-format=json -q 2>/dev/null |
    python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("executable") and m.get("target",{}).get("name")=="timer_latency": print(m["executable"])')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$rounds"); do
    flock /tmp/gmp-bench.lock "$bench" --secs "$secs" "${ns[@]}" | sed 's/^/gmp /' >>"$out"
    flock /tmp/gmp-bench.lock "$peers/go-timerlat" -secs "$secs" "${ns[@]}" | sed 's/^/go /' >>"$out"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$rounds" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    who, name, value, unit = line.split()
    rows.setdefault((name, unit), {}).setdefault(who, []).append(float(value))
print(f"medians over {sys.argv[2]} interleaved rounds (all values after the unit)")
for (name, unit), by in rows.items():
    for who in ("gmp", "go"):
        vals = by.get(who, [])
        if vals:
            print(f"{who:4} {name:28} {statistics.median(vals):10.1f} {unit:6} "
                  + " ".join(f"{v:.1f}" for v in vals))
PY
