//! `Server::shutdown_on_signals`: SIGINT or SIGTERM starts the graceful shutdown, a
//! second one exits the process at once.
//!
//! The signals arrive through `gmp_net::signal::Signals` (a self-pipe in the netpoller:
//! no runtime code runs in a signal handler); one goroutine per server waits on them.
//! Each server that asked has its own `Signals`, so one signal stops them all. When
//! `serve` returns, the `Signals` is stopped: the goroutine ends and the signals get
//! back their previous disposition (for SIGINT and SIGTERM usually: end the process).

use super::ShutdownHandle;
use gmp_net::signal::Signals;
use std::io;
use std::sync::Arc;

/// Starts the goroutine that turns the first SIGINT/SIGTERM into `handle.shutdown()`
/// and the second into `exit(128 + signal)` (130 for SIGINT, 143 for SIGTERM, what a
/// shell reports for a process the signal killed). The caller stops the returned
/// `Signals` when `serve` returns.
pub(super) fn watch(handle: ShutdownHandle) -> io::Result<Arc<Signals>> {
    let signals = Arc::new(Signals::new(&[libc::SIGINT, libc::SIGTERM])?);
    let s = signals.clone();
    gmp_core::spawn(move || {
        let Ok(first) = s.recv() else {
            return; // `serve` returned first
        };
        tracing::info!(
            "gmp-http: {}: shutting down gracefully (send it again to exit at once)",
            name(first)
        );
        handle.shutdown();
        let Ok(second) = s.recv() else {
            return;
        };
        tracing::warn!(
            "gmp-http: {} during shutdown: exiting at once",
            name(second)
        );
        std::process::exit(128 + second);
    });
    Ok(signals)
}

fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
