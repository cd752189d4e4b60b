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
