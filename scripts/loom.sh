#!/usr/bin/env bash
# Model-checks the words of gmp-core/src/words/ with loom: the join word, a PollDesc
# direction, the claim word, P sections (`section`: the owner word and section count,
# Dekker against sysmon's membarrier), locked Ms (`locked`: the list, its count and
# the M's note) and the note's own futex handshake (`note`: a wake that comes while its
# M spins or sleeps), in a build with --cfg loom (its own target directory, so the normal
# build is not rebuilt). Prints how many interleavings each model explored. The two
# `section` models named `..._is_caught` are expected to fail (#[should_panic]): loom
# prints their panic, and the test passes.
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
