#!/usr/bin/env bash
# Model-checks the wake-up words (gmp-core/src/words/) with loom: every model of the
# join word, a PollDesc direction and the claim word, in a build with --cfg loom (its
# own target directory, so the normal build is not rebuilt). Prints how many
# interleavings each model explored.
# Usage: scripts/loom.sh [FILTER]     (a test-name filter, e.g. `poll`; default: all)
# LOOM_MAX_PREEMPTIONS bounds the preemptions per interleaving (default here 3: a
# bounded search, as loom's documentation recommends; unbounded, the claim-word models
# do not finish in minutes). Raise it for a deeper run.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
export CARGO_TARGET_DIR=${LOOM_TARGET_DIR:-target/loom}
cargo test --release -p gmp-core --lib -- --nocapture --test-threads=1 "words::${1:-}" 2>&1 |
    grep -E '^loom model|^test |test result|panicked|error|FAILED' 
