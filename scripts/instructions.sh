#!/usr/bin/env bash
# User-space instructions per HTTP request: examples/hello, hyper, may_minihttp, the C
# floor (bench/floor/http-floor.c) and the parsing floor (pfloor:
# bench/rust/src/bin/http-parse-floor.rs), each on one thread / P, counted by callgrind:
# it counts every thread of the process exactly, and needs no hardware counters (`perf
# stat -e instructions:u` says "not supported" on machines without them, such as this
# project's VMs).
#
# A server starts under callgrind (server on CPU 0, GMP_MAXPROCS=1, TOKIO_WORKER_THREADS=1,
# MAY_WORKERS=1), bench/http-count.py (CPU 1) sends it exactly N requests of wrk's shape
# over C keep-alive connections, and the server is stopped; callgrind's total covers start-up,
# the connections and the N requests. The same again with 2N requests, and
# (total(2N) - total(N)) / N is what one more request costs: start-up, accept and
# shut-down cancel. Each shape runs R such pairs. Noise only adds instructions (now and
# then gmp's idle M spins in find_runnable for some 2 million instructions before it
# blocks in the poller, depending on timing), so the figure is taken from the least total
# of the R runs of each size; every pair's own figure is printed beside it to show how
# well the runs repeat.
#   http    one request at a time per connection, N = --requests (default 5,000)
#   http16  16 requests pipelined per write, N = 4 x --requests (default 20,000)
# Usage: scripts/instructions.sh [--tls] [--requests N] [--conns C] [--repeat R] [NAME ...]
#   NAME: gmp hyper may floor pfloor (default all); C default 1 (every request then goes
#   through the poller: read, answer, wait for the next); R default 3.
#   --tls: the same over TLS (shapes https, https16): examples/hello --tls, hyper-tls-hello
#   and the TLS floor (bench/rust/src/bin/tls-floor.rs) on one certificate made here (as
#   scripts/tls-compare.sh makes it); may and pfloor have no TLS. Each connection's
#   handshake is in both runs of a pair, so it cancels out as start-up does.
# valgrind, the peers and the floors come from bench/build-peers.sh, run here when one is
# missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
usage="scripts/instructions.sh [--tls] [--requests N] [--conns C] [--repeat R] [gmp|hyper|may|floor|pfloor ...]"
tls=""
requests=5000
conns=1
repeat=3
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --tls)
        tls=1
        shift
        ;;
    --requests | --conns | --repeat)
        [ $# -ge 2 ] || { echo "usage: $usage" >&2; exit 2; }
        declare "${1#--}=$2"
        shift 2
        ;;
    gmp | hyper | may | floor | pfloor)
        names+=("$1")
        shift
        ;;
    *)
        echo "usage: $usage" >&2
        exit 2
        ;;
    esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# cmd: each server's program; args: what follows its address; shapes: the two runs.
declare -A cmd args
if [ -z "$tls" ]; then
    [ ${#names[@]} -gt 0 ] || names=(gmp hyper may floor pfloor)
    need valgrind http-floor http-parse-floor hyper-hello may-hello
    cmd=([gmp]="target/fat/examples/hello" [hyper]="$peers/hyper-hello"
         [may]="$peers/may-hello" [floor]="$peers/http-floor" [pfloor]="$peers/http-parse-floor")
    shapes=(http http16)
else
    [ ${#names[@]} -gt 0 ] || names=(gmp hyper floor)
    for name in "${names[@]}"; do
        case $name in may | pfloor) echo "instructions: $name has no TLS" >&2; exit 2 ;; esac
    done
    need valgrind openssl hyper-tls-hello tls-floor
    tls_pair "$work"
    cmd=([gmp]="target/fat/examples/hello" [hyper]="$peers/hyper-tls-hello"
         [floor]="$peers/tls-floor")
    args=([gmp]="--tls $work/cert.pem $work/key.pem" [hyper]="$work/cert.pem $work/key.pem"
          [floor]="$work/cert.pem $work/key.pem")
    shapes=(https https16)
fi
cd "$root"
cargo build -q --profile fat --example hello

# total NAME REQUESTS DEPTH: callgrind's instruction total for one run of the server.
total() {
    local port pid
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    rm -f "$work/cg.out"
    # shellcheck disable=SC2086 # args[NAME] is a list of words (paths without spaces)
    GMP_MAXPROCS=1 TOKIO_WORKER_THREADS=1 MAY_WORKERS=1 taskset -c 0 \
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --log-file="$work/vg.log" \
        "${cmd[$1]}" "127.0.0.1:$port" ${args[$1]:-} >"$work/server.log" 2>&1 &
    pid=$!
    if ! taskset -c 1 python3 bench/http-count.py ${tls:+--tls} "127.0.0.1:$port" "$2" "$3" "$conns" >"$work/load.log" 2>&1; then
        kill -KILL "$pid" 2>/dev/null || true
        echo "instructions: $1 did not answer $2 requests:" >&2
        cat "$work/load.log" "$work/server.log" >&2
        exit 1
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    awk '/^totals:/ { print $2; found = 1 } END { exit !found }' "$work/cg.out" || {
        echo "instructions: no callgrind total for $1:" >&2
        cat "$work/vg.log" >&2
        exit 1
    }
}

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD || commit="$commit with uncommitted changes"
echo "user-space instructions per request (callgrind, whole process), server on one thread/P;"
echo "commit $commit, $(valgrind --version), $conns connection(s), $repeat runs of N and of 2N requests;"
echo "per request = (least total of the 2N runs - least total of the N runs) / N"
printf '%-6s %-7s %7s %12s   %s\n' server shape N "per request" "each pair's (total(2N) - total(N)) / N"
declare -A fig
for shape in "${shapes[@]}"; do
    if [ "$shape" = "${shapes[0]}" ]; then depth=1; n=$requests; else depth=16; n=$((4 * requests)); fi
    n=$((n - n % (depth * conns)))
    for name in "${names[@]}"; do
        per=()
        least_a=""
        least_b=""
        for _ in $(seq "$repeat"); do
            a=$(total "$name" "$n" "$depth")
            b=$(total "$name" $((2 * n)) "$depth")
            per+=("$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')")
            if [ -z "$least_a" ] || [ "$a" -lt "$least_a" ]; then least_a=$a; fi
            if [ -z "$least_b" ] || [ "$b" -lt "$least_b" ]; then least_b=$b; fi
        done
        fig[$name.$shape]=$(awk -v a="$least_a" -v b="$least_b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
        printf '%-6s %-7s %7d %12s   %s\n' "$name" "$shape" "$n" "${fig[$name.$shape]}" "${per[*]}"
        # A pair more than 2% from the figure had a disturbed run; with one run of each size,
        # or few requests, that can be the figure too.
        printf '%s\n' "${per[@]}" | awk -v f="${fig[$name.$shape]}" -v w="$name $shape" '
            { d = ($1 - f) / f; if (d < 0) d = -d; if (d > m) m = d }
            END { if (m > 0.02) printf "note: a pair of %s is %.0f%% off the figure; a run was disturbed (more --repeat, more --requests)\n", w, 100 * m }' >&2
    done
done
one=${shapes[0]}
two=${shapes[1]}
if [ -n "${fig[gmp.$one]:-}" ]; then
    echo "ratio to gmp:"
    for name in "${names[@]}"; do
        awk -v n="$name" -v a="${fig[$name.$one]}" -v b="${fig[$name.$two]}" -v ga="${fig[gmp.$one]}" -v gb="${fig[gmp.$two]}" \
            -v s1="$one" -v s2="$two" 'BEGIN { printf "%-6s %s %.3f  %s %.3f\n", n, s1, a / ga, s2, b / gb }'
    done
fi
