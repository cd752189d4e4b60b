# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Sourced by scripts/*.sh. Sets `root` (the repository), `peers` ($GMP_PEERS, default
# /tmp/gmp-peers, exported for compare.py) and `compare` (the side-by-side runner), and
# defines `need` and `compare_args`.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers=${GMP_PEERS:-/tmp/gmp-peers}
export GMP_PEERS=$peers
compare=(python3 "$root/bench/compare.py")

# need NAME...: runs bench/build-peers.sh (which installs the tools and builds the peers)
# unless each NAME is a program in $peers or a command on the PATH.
need() {
    local n
    for n in "$@"; do
        if [ ! -x "$peers/$n" ] && ! command -v "$n" >/dev/null; then
            bash "$root/bench/build-peers.sh"
            return
        fi
    done
}

# compare_args USAGE "$@": [ROUNDS] [--secs S] [--quota PCT]. Sets `rounds` (default 5)
# and `opts`, the options every compare.py run of the script gets. --quota PCT caps the
# server at PCT% of one CPU (compare.py's cgroup v1 cpu quota) so that the server, not
# the load generator, is the bottleneck.
compare_args() {
    local usage=$1
    shift
    rounds=5
    opts=()
    if [ $# -gt 0 ] && [[ $1 != -* ]]; then
        rounds=$1
        shift
    fi
    while [ $# -gt 0 ]; do
        case $1 in
        --secs | --quota)
            [ $# -ge 2 ] || { echo "usage: $usage" >&2; exit 2; }
            opts+=("$1" "$2")
            shift 2
            ;;
        *)
            echo "usage: $usage" >&2
            exit 2
            ;;
        esac
    done
}

# tls_pair DIR: a self-signed P-256 certificate for localhost and 127.0.0.1, valid two
# days, as DIR/cert.pem and DIR/key.pem (the HTTPS benchmarks give every server this
# pair).
tls_pair() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}
