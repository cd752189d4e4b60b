#!/usr/bin/env bash
# Issue 13's client benchmark: gmp's HTTP client beside Go's net/http client, reqwest
# (tokio) and ureq, each with 50 requesters looping keep-alive GETs against
# bench/floor/http-floor.c (a server that only makes the syscalls, pinned to CPU 0, so
# the server is not the bottleneck), the client pinned to CPU 1. Interleaved rounds
# (bench/client-compare.py); per client: requests/s, client CPU per request (the whole
# process's user+system time over its requests), connections the server accepted (50
# when every connection was kept alive), and the server's CPU; medians and ratios to gmp.
#   gmp      examples/http-load: 50 goroutines sharing one gmp::http::Client, 1 P
#   go       bench/go/client-load: 50 goroutines sharing one http.Client, GOMAXPROCS=1;
#            its Transport keeps 50 idle connections per host (MaxIdleConnsPerHost;
#            Go's default of 2 would make 48 goroutines redial after every response)
#   reqwest  bench/rust reqwest-load: 50 tasks on a current-thread tokio runtime
#   ureq     bench/rust ureq-load: 50 OS threads sharing one ureq 3 Agent (50 idle
#            connections per host; its default of 3 would redial too)
# Every client keeps 50 idle connections per host, checks that each response is a 200
# with the 13-byte body, and counts anything else as an error.
# Usage: scripts/client-compare.sh [ROUNDS] [--secs S]   (default 5 rounds of 5 s)
# The peers and the floor come from bench/build-peers.sh, run here when one is missing.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../bench/common.sh"
usage="scripts/client-compare.sh [ROUNDS] [--secs S]"
compare_args "$usage" "$@"
if [[ " ${opts[*]} " == *" --quota "* ]]; then
    echo "client-compare: --quota does not apply (the server is the floor); usage: $usage" >&2
    exit 2
fi
need http-floor go-client-load reqwest-load ureq-load
cd "$root"
cargo build -q --profile fat --example http-load
clients=(gmp="target/fat/examples/http-load {url} --conns {conns} --secs {secs} --procs 1"
         go="env GOMAXPROCS=1 $peers/go-client-load {url} --conns {conns} --secs {secs}"
         reqwest="$peers/reqwest-load {url} --conns {conns} --secs {secs}"
         ureq="$peers/ureq-load {url} --conns {conns} --secs {secs}")
python3 "$root/bench/client-compare.py" --rounds "$rounds" --conns 50 "${opts[@]}" "${clients[@]}"
