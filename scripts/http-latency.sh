#!/usr/bin/env bash
# wrk's latency percentiles at 100 connections (not pipelined) for examples/hello and
# the peers, each server pinned to CPU 0 and wrk to CPU 1, in turn, ROUNDS times.
# compare.py reports throughput only; this reports p50/p99 per round and the median p99.
# Usage: scripts/http-latency.sh [ROUNDS] (default 3).
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${GMP_PEERS:-/tmp/gmp-peers}
[ -x "$peers/hyper-hello" ] || bash "$here/../shared/bench/build-peers.sh"
cd "$here"
cargo build -q --release --example hello
declare -A cmd=([gmp]="target/release/examples/hello" [hyper]="$peers/hyper-hello"
                [may]="$peers/may-hello")
names=(gmp hyper may)
declare -A p99s
for r in $(seq "$rounds"); do
    for n in "${names[@]}"; do
        port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
        taskset -c 0 ${cmd[$n]} "127.0.0.1:$port" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            python3 -c "import socket;socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && break
            sleep 0.05
        done
        out=$(taskset -c 1 wrk -t1 -c100 -d5s --latency "http://127.0.0.1:$port/plaintext")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        p50=$(awk '$1=="50%"{print $2}' <<<"$out")
        p99=$(awk '$1=="99%"{print $2}' <<<"$out")
        rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
        echo "round $r: $n p50 $p50 p99 $p99 req/s $rps"
        p99s[$n]+="$p99 "
    done
done
for n in "${names[@]}"; do
    # wrk prints units (us/ms); normalise to microseconds for the median.
    med=$(for v in ${p99s[$n]}; do
        case $v in *us) echo "${v%us}";; *ms) awk -v x="${v%ms}" 'BEGIN{print x*1000}';; *s) awk -v x="${v%s}" 'BEGIN{print x*1000000}';; esac
    done | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    echo "$n median p99 ${med} us"
done
