#!/usr/bin/env bash
# Where an echo server's CPU goes, per 64-byte round trip, in counts that machine noise
# does not move (unlike compare.py's cpu/rt): syscalls by kind (perf tracepoints),
# context switches, and user vs system CPU. Server on CPU 0, echo-load (50 conns) on
# CPU 1, as compare.py does. Needs perf with access to syscall tracepoints (root);
# perf and the peers come from bench/build-peers.sh, run here when one is missing.
# Usage: scripts/echo-syscalls.sh [SECS] [NAME=COMMAND ...]   ({addr} as in compare.py)
# Default: gmp and tokio for 4 s.
set -euo pipefail
secs=${1:-4}
shift || true
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
need perf echo-load tokio-echo
cd "$root"
if [ $# -eq 0 ]; then
    cargo build -q --profile fat --example echo
    set -- gmp="target/fat/examples/echo {addr}" tokio="$peers/tokio-echo {addr}"
fi
kinds="recvfrom sendto read write readv writev epoll_wait epoll_pwait epoll_ctl futex sched_yield membarrier"
events=$(for k in $kinds; do printf 'syscalls:sys_enter_%s,' "$k"; done)context-switches
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for spec in "$@"; do
    name=${spec%%=*}
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cmd=${spec#*=}
    cmd=${cmd//\{addr\}/127.0.0.1:$port}
    # shellcheck disable=SC2086 # the command line is split on purpose
    taskset -c 0 $cmd >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
    taskset -c 1 "$peers/echo-load" "127.0.0.1:$port" 50 64 1 >/dev/null # warm-up
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    perf stat -x, -e "$events" -p "$pid" -o "$out" -- sleep "$secs" &
    stat=$!
    load=$(taskset -c 1 "$peers/echo-load" "127.0.0.1:$port" 50 64 "$secs")
    wait "$stat"
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rt=$(awk '{print $2 * '"$secs"'}' <<<"$load")
    hz=$(getconf CLK_TCK)
    echo "$name: $load"
    awk -F, -v rt="$rt" -v hz="$hz" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) '
        $1 ~ /^[0-9]+$/ && $1 > 0 { sub(/syscalls:sys_enter_/, "", $3); printf "  %-16s %7.3f per round trip\n", $3, $1 / rt }
        END { printf "  %-16s %7.2f us user + %.2f us system per round trip\n", "cpu", du * 1e6 / hz / rt, ds * 1e6 / hz / rt }
    ' "$out"
done
