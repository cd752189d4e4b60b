#!/usr/bin/env bash
# valgrind memcheck over examples/echo and examples/hello under a short load (issue 19).
# Builds both (release, with debug info), starts each under memcheck on 127.0.0.1:0,
# drives it (echo: scripts/lib/echo_check.py, every byte checked; hello: curl GETs and
# POSTs, keep-alive, then wrk for a few seconds), stops it with SIGTERM, and prints
# memcheck's error count. Exits non-zero if any run reports an error or its load fails.
#
# The runtime registers every goroutine stack with valgrind (gmp-core/src/valgrind.rs),
# so memcheck sees goroutine switches as stack switches. No suppression file is used.
# Usage: scripts/memcheck.sh [WRK_SECONDS]   (default 3)
set -euo pipefail
secs=${1:-3}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is not installed" >&2; exit 2; }
cargo build -q --release --example echo --example hello
logs=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$logs"
}
trap cleanup EXIT
status=0

# Starts `$@` under memcheck, waits for its "listening on ADDR" line; sets pid and addr.
start() {
    local name=$1
    shift
    valgrind --tool=memcheck --error-exitcode=0 --leak-check=no \
        --log-file="$logs/$name.vg" "$@" >"$logs/$name.out" 2>"$logs/$name.err" &
    pid=$!
    addr=
    for _ in $(seq 600); do
        addr=$(sed -n 's/.*listening on \(https\?:\/\/\)\?\([0-9.:]*\).*/\2/p' "$logs/$name.out" | head -1)
        [ -n "$addr" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "memcheck.sh: $name did not start under valgrind:" >&2
    cat "$logs/$name.out" "$logs/$name.err" "$logs/$name.vg" >&2
    exit 1
}

# Stops the server with SIGTERM (not SIGINT, which a background job of a script
# ignores); its default action ends the server, and valgrind then writes its summary.
# Prints the error count.
stop() {
    local name=$1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    local errors
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$logs/$name.vg" | tail -1 | tr -d ,)
    if [ -z "$errors" ]; then
        echo "memcheck.sh: no ERROR SUMMARY from $name" >&2
        cat "$logs/$name.vg" >&2
        status=1
        return
    fi
    echo "$name: memcheck errors: $errors ($(grep -c 'switching stacks' "$logs/$name.vg" || true) 'client switching stacks' warnings)"
    if [ "$errors" != 0 ]; then
        grep -v '^--' "$logs/$name.vg" | sed -n '/^==[0-9]*== [A-Z]/,$p' | head -80 >&2
        status=1
    fi
}

start echo target/release/examples/echo 127.0.0.1:0
python3 scripts/lib/echo_check.py "$addr" 8 100 || status=1
stop echo

start hello target/release/examples/hello 127.0.0.1:0
for i in $(seq 20); do
    curl -sS --fail "http://$addr/" -o /dev/null
    curl -sS --fail "http://$addr/" "http://$addr/plaintext" -o /dev/null -o /dev/null
    body=$(head -c $((i * 3000)) /dev/urandom | base64 -w0)
    got=$(curl -sS --fail --data-binary "$body" "http://$addr/echo")
    [ "$got" = "$body" ] || { echo "memcheck.sh: POST /echo came back wrong" >&2; status=1; }
done
if command -v wrk >/dev/null; then
    wrk -t1 -c16 -d"${secs}s" "http://$addr/" | grep -E 'Requests/sec|requests in|Non-2xx|Socket errors' || true
else
    echo "note: wrk is not installed; hello's load is the curl requests alone"
fi
stop hello
exit $status
