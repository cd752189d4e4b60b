#!/usr/bin/env bash
# Memory after aborted large bodies (issue 22): examples/hello, then 20 clients at once
# that each POST 8 MiB to /echo and reset after 64 KiB of the answer, 4 rounds. Prints
# the server's RSS after each round, then what glibc's allocator holds (malloc_stats,
# through gdb) and the RSS after malloc_trim(0): the part gmp's buffers can account for
# is `malloc_in_use`; the rest is free memory the allocator kept.
# Usage: scripts/aborted-bodies.sh [ENV=VALUE ...]  (e.g. GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576)
# Needs python3 and gdb.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo build -q --profile fat --example hello
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
err=$(mktemp)
env "$@" target/fat/examples/hello "127.0.0.1:$port" >/dev/null 2>"$err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$err"' EXIT
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && break
    sleep 0.1
done
python3 scripts/lib/aborted_bodies.py "$port" "$pid" 20 8 4
gdb -p "$pid" -batch -ex 'call (void)malloc_stats()' -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1
awk '/^Total/ {t=1} t && /system bytes/ {printf "malloc_system %.1f MiB\n", $4/1048576} t && /in use bytes/ {printf "malloc_in_use %.2f MiB\n", $5/1048576}' "$err"
echo "rss_after_malloc_trim $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status) MiB"
