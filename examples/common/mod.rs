//! What the example servers share: logging and the listen address argument.

/// Sends `tracing` logs to stderr with an env filter (`RUST_LOG`, default `info`), and
/// returns the first command-line argument that is not a `--flag`, or `default`, as the
/// address to listen on.
pub fn setup(default: &str) -> String {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| default.into())
}
