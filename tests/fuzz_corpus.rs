//! The fuzz targets' properties (fuzz/src, included here) over the committed seed corpus
//! and every input the fuzzer ever crashed on (fuzz/corpus/TARGET, fuzz/crashes/TARGET):
//! CI keeps the properties green without the fuzzing engine.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_props;

use std::path::Path;

/// Every file under `fuzz/DIR/TARGET`, for each target.
fn inputs(dir: &str) -> Vec<(&'static str, std::path::PathBuf)> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut out = Vec::new();
    for target in fuzz_props::TARGETS {
        let Ok(entries) = std::fs::read_dir(base.join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.expect("a directory entry").path();
            if path.is_file() {
                out.push((target, path));
            }
        }
    }
    out.sort();
    out
}

fn replay(dir: &str) -> usize {
    let all = inputs(dir);
    for (target, path) in &all {
        let data = std::fs::read(path).expect("readable input");
        let r = std::panic::catch_unwind(|| fuzz_props::check(target, &data));
        assert!(
            r.is_ok(),
            "{target}: a property fails on {}",
            path.display()
        );
    }
    all.len()
}

#[test]
fn seed_corpus_holds_every_property() {
    let n = replay("corpus");
    // Every target has seeds.
    for target in fuzz_props::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let seeds = std::fs::read_dir(&dir).map_or(0, |d| d.count());
        assert!(seeds > 0, "no seeds in {}", dir.display());
    }
    assert!(n >= fuzz_props::TARGETS.len());
}

#[test]
fn every_crash_found_stays_fixed() {
    replay("crashes");
}

/// The request head target's properties over mutants of its seeds: the parser's fast
/// paths (request line, header section) answer only in the common case and leave the
/// rest to the general parser, and a mutation a byte or two away from a common head is
/// where a fast path could take something the general one would refuse, or read it
/// differently. Deterministic (xorshift), so a failure replays.
#[test]
fn request_head_mutants_hold_every_property() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/request_head");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the request_head seeds")
        .map(|e| std::fs::read(e.expect("an entry").path()).expect("a readable seed"))
        .collect();
    seeds.sort();
    // The bytes the fast paths decide on.
    let alphabet = b"\r\n \t:\x00\x1f\x7f\x80\xff/?aZ0-,;";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let mut m = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next() % 3 {
            let at = if m.len() > 1 {
                1 + (next() % (m.len() as u64 - 1)) as usize
            } else {
                m.len()
            };
            let b = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 4 {
                0 if at < m.len() => m[at] = b,
                1 => m.insert(at, b),
                2 if at < m.len() => {
                    m.remove(at);
                }
                _ => m.truncate(at),
            }
        }
        let r = std::panic::catch_unwind(|| fuzz_props::check("request_head", &m));
        assert!(
            r.is_ok(),
            "request_head: a property fails on {:?}",
            String::from_utf8_lossy(&m)
        );
    }
}
