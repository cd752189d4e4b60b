//! What the example servers share: logging and the listen address argument.

/// Sends `tracing` logs to stderr with an env filter (`RUST_LOG`, default `info`), and
/// returns the first command-line argument that is not a `--flag` (or a file name after
/// `--tls`), or `default`, as the address to listen on.
pub fn setup(default: &str) -> String {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    positional()
        .into_iter()
        .next()
        .unwrap_or_else(|| default.into())
}

/// The arguments that are not `--flags`, and not the files given to `--tls`.
pub fn positional() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--tls" {
            i += 1 + tls_files(&args[i + 1..]).len();
            continue;
        }
        if !args[i].starts_with("--") {
            out.push(args[i].clone());
        }
        i += 1;
    }
    out
}

/// The certificate and key files after `--tls`: the next two arguments if both end in
/// `.pem` (or `.crt`/`.key`), else none.
pub fn tls_files(after: &[String]) -> &[String] {
    let is_file = |s: &String| {
        !s.starts_with("--") && (s.ends_with(".pem") || s.ends_with(".crt") || s.ends_with(".key"))
    };
    if after.len() >= 2 && is_file(&after[0]) && is_file(&after[1]) {
        &after[..2]
    } else {
        &[]
    }
}
