//! Replays inputs through a target's checks without the fuzzing engine and prints, per
//! input, whether the properties hold or the message of the one that failed:
//! `cargo run --release --bin replay -- TARGET FILE...` in fuzz/.

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay TARGET FILE...");
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for path in args {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        match std::panic::catch_unwind(|| gmp_fuzz::check(&target, &data)) {
            Ok(()) => println!("{path}: ok"),
            Err(p) => {
                failed += 1;
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("{path}: FAILED: {msg}");
            }
        }
    }
    std::process::exit(i32::from(failed > 0));
}
