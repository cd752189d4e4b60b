#!/usr/bin/env bash
# Issue 19's fuzzing: runs one coverage-guided target of fuzz/ under AFL++ (cargo afl,
# which runs on the stable toolchain) for SECONDS, at the lowest CPU priority.
# Usage: scripts/fuzz.sh TARGET SECONDS
#        scripts/fuzz.sh --list
# - Installs cargo-afl when it is missing and builds AFL++ and the targets when needed
#   (`cargo afl build --release` in fuzz/, its own workspace).
# - Starts from the committed seeds (fuzz/corpus/TARGET) the first time and resumes the
#   queue of earlier runs after that (fuzz/out/TARGET, not committed), so run after run
#   adds up.
# - Copies each crash input to fuzz/crashes/TARGET/ (committed with its fix:
#   tests/fuzz_corpus.rs replays them) and prints the command that shows the failed
#   property.
# - Ends with `name value unit` lines: this run's executions, seconds, new crashes and
#   hangs; the executions and seconds over every run of the target, the crash inputs
#   kept in fuzz/crashes, the queue's size and the edges covered.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
targets=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' "$fuzz/Cargo.toml" | grep -v '^gmp-fuzz$')

if [ "${1:-}" = "--list" ]; then
    echo "$targets"
    exit 0
fi
if [ $# -ne 2 ] || ! grep -qx -- "$1" <<<"$targets" || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh TARGET SECONDS   (targets: $(echo $targets))" >&2
    echo "       scripts/fuzz.sh --list" >&2
    exit 2
fi
target=$1
seconds=$2

if ! cargo afl --version >/dev/null 2>&1; then
    echo "==> installing cargo-afl" >&2
    nice -n 19 cargo install --locked cargo-afl >&2
fi
# Builds AFL++ for this toolchain once (`--build` refuses to run twice; that is fine).
nice -n 19 cargo afl config --build >/dev/null 2>&1 || true
(cd "$fuzz" && nice -n 19 cargo afl build --release --bin "$target" >&2)

out="$fuzz/out/$target"
stats="$out/default/fuzzer_stats"
stat() { sed -n "s/^$1 *: *//p" "$stats" 2>/dev/null || true; }
num() { local v; v=$(stat "$1"); echo "${v:-0}"; }
# Inputs AFL saved in a directory of its output (its README aside).
saved() { { find "$out/default/$1" -name 'id:*' 2>/dev/null || true; } | wc -l; }
before_execs=$(num execs_done)
before_hangs=$(saved hangs)
if [ -d "$out/default/queue" ]; then
    input=-   # resume the earlier runs' queue
else
    input="$fuzz/corpus/$target"
fi
mkdir -p "$out"
# AFL_NO_UI: a log instead of the screen UI; AFL_SKIP_CPUFREQ and AFL_NO_AFFINITY: the
# machine is shared, so no governor check and no CPU of its own;
# AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES: core dumps may go to a helper here.
# A dictionary of the target's words (fuzz/dict), when it has one.
dict=()
case $target in
    request_head | chunked | response_head | ws_handshake) dict=(-x "$fuzz/dict/http.dict") ;;
    router | paths) dict=(-x "$fuzz/dict/$target.dict") ;;
esac
start=$(date +%s)
AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_AUTORESUME=1 AFL_SKIP_CRASHES=1 \
    nice -n 19 cargo afl fuzz -V "$seconds" "${dict[@]}" -i "$input" -o "$out" -- \
    "$fuzz/target/release/$target" >"$out/afl.log" 2>&1 || {
    echo "afl-fuzz failed; the end of its log ($out/afl.log):" >&2
    tail -20 "$out/afl.log" >&2
    exit 1
}
elapsed=$(($(date +%s) - start))

crashes=0
mkdir -p "$fuzz/crashes/$target"
for f in "$out"/default/crashes/id:*; do
    [ -e "$f" ] || continue
    sum=$(sha1sum "$f" | cut -c1-16)
    if [ ! -e "$fuzz/crashes/$target/$sum" ]; then
        cp "$f" "$fuzz/crashes/$target/$sum"
        crashes=$((crashes + 1))
        echo "crash: fuzz/crashes/$target/$sum (cargo test --release --test fuzz_corpus shows the property)" >&2
    fi
done
rmdir "$fuzz/crashes/$target" 2>/dev/null || true
after_hangs=$(saved hangs)

echo "fuzz_${target}_execs $(($(num execs_done) - before_execs)) execs"
echo "fuzz_${target}_seconds $elapsed s"
echo "fuzz_${target}_new_crashes $crashes inputs"
echo "fuzz_${target}_new_hangs $((after_hangs - before_hangs)) inputs"
echo "fuzz_${target}_total_execs $(num execs_done) execs"
echo "fuzz_${target}_total_run_time $(num run_time) s"
echo "fuzz_${target}_crash_inputs_kept $({ find "$fuzz/crashes/$target" -type f 2>/dev/null || true; } | wc -l) inputs"
echo "fuzz_${target}_corpus $(num corpus_count) inputs"
echo "fuzz_${target}_edges $(num edges_found) edges"
