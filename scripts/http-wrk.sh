#!/usr/bin/env bash
# wrk against examples/hello and the peers, one server at a time (server pinned to CPU 0,
# wrk to CPU 1), ROUNDS times: requests/s, wrk's p50/p99 latency, and the CPU both sides
# used. compare.py reports throughput only; this shows latency, and whether the server
# or wrk is the bottleneck (a single wrk thread saturates its CPU first at 100
# connections), with server CPU time per request as the server-side cost.
# Usage: scripts/http-wrk.sh [ROUNDS] [PIPELINE] (default 3 rounds, 1 = not pipelined).
# The peers and wrk come from bench/build-peers.sh, run here when one is missing.
set -euo pipefail
rounds=${1:-3}
depth=${2:-1}
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
need wrk hyper-hello may-hello
cd "$root"
cargo build -q --profile fat --example hello
declare -A cmd=([gmp]="target/fat/examples/hello" [hyper]="$peers/hyper-hello"
                [may]="$peers/may-hello")
names=(gmp hyper may)
script=()
[ "$depth" -gt 1 ] && script=(-s bench/pipeline.lua)
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
declare -A p99s cpus
for r in $(seq "$rounds"); do
    for n in "${names[@]}"; do
        port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
        taskset -c 0 ${cmd[$n]} "127.0.0.1:$port" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            python3 -c "import socket;socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && break
            sleep 0.05
        done
        args=(-t1 -c100 -d6s --latency "${script[@]}" "http://127.0.0.1:$port/plaintext")
        [ "$depth" -gt 1 ] && args+=(-- "$depth")
        taskset -c 1 wrk "${args[@]}" >/tmp/http-wrk.$$ &
        wpid=$!
        sleep 1
        s0=$(cpu "$pid"); w0=$(cpu "$wpid"); t0=$(date +%s.%N)
        sleep 4
        s1=$(cpu "$pid"); w1=$(cpu "$wpid"); t1=$(date +%s.%N)
        wait "$wpid"
        kill "$pid"; wait "$pid" 2>/dev/null || true
        out=$(cat /tmp/http-wrk.$$); rm -f /tmp/http-wrk.$$
        rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
        p50=$(awk '$1=="50%"{print $2}' <<<"$out")
        p99=$(awk '$1=="99%"{print $2}' <<<"$out")
        read -r scpu wcpu us <<<"$(awk -v s=$((s1 - s0)) -v w=$((w1 - w0)) -v t0="$t0" -v t1="$t1" -v k="$ticks" -v r="$rps" \
            'BEGIN{t=t1-t0; printf "%.0f %.0f %.2f", 100*s/k/t, 100*w/k/t, 1e6*(s/k/t)/r}')"
        echo "round $r: $n req/s $rps p50 $p50 p99 $p99 server_cpu ${scpu}% wrk_cpu ${wcpu}% server_us/req $us"
        p99s[$n]+="$p99 "
        cpus[$n]+="$us "
    done
done
to_us() { case $1 in *us) echo "${1%us}";; *ms) awk -v x="${1%ms}" 'BEGIN{print x*1000}';; *s) awk -v x="${1%s}" 'BEGIN{print x*1000000}';; esac; }
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
# Ratios are taken round by round (this round's peer figure over this round's gmp
# figure) and then their median, as compare.py does, so a drift in the machine's speed
# between rounds cancels out.
# wrk reports some pipelined rounds' p99 as 0.00us (its latency is per batch there):
# rounds with a zero on either side are left out, and "n/a" printed if none is left.
ratio() {
    local r
    r=$(paste -d' ' <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '$1 > 0 && $2 > 0 {printf "%.3f\n", $1/$2}' | median)
    echo "${r:-n/a}"
}
gp=$(for v in ${p99s[gmp]}; do to_us "$v"; done)
for n in "${names[@]}"; do
    np=$(for v in ${p99s[$n]}; do to_us "$v"; done)
    p=$(awk '$1 > 0' <<<"$np" | median)
    p=${p:-n/a}
    c=$(for v in ${cpus[$n]}; do echo "$v"; done | median)
    echo "$n median p99 ${p} us (ratio to gmp $(ratio "$np" "$gp")), median server CPU ${c} us/request (ratio to gmp $(ratio "${cpus[$n]}" "${cpus[gmp]}"))"
done
