//! Middleware gmp-http ships: request logging through `tracing` ([`log_requests`]) and a
//! per-request deadline ([`timeout`]).
//!
//! The timeout's invariant: exactly one of the handler's response and the watchdog's
//! 503 reaches the socket. The response's first socket write and the watchdog each try
//! to move the request's guard word out of RUNNING (`Response::claim`, the watchdog's
//! CAS); the loser writes nothing. The watchdog uses the connection's descriptor only
//! between winning that CAS and its own exit, and the middleware joins it before it
//! returns, so the descriptor is never used after the connection could close it.

use crate::handler::{Handler, Next};
use crate::request::Request;
use crate::response::{write_error, Response, DONE, RUNNING, SENDING, TIMED_OUT};
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Middleware that logs every request through `tracing` once it is answered, at INFO
/// under the target `gmp_http::access`: method, path, the status the client received
/// (a handler error or panic is logged as the 500 it became, a broken request body as
/// its 4xx), body bytes, duration in microseconds and the client's address.
///
/// ```no_run
/// let mut app = gmp_http::Router::new();
/// app.handle("GET /", |_req, res| {
///     res.body("hi");
///     Ok(())
/// });
/// let app = app.with(gmp_http::log_requests);
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve_handler(app)
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub fn log_requests(
    req: &mut Request<'_>,
    res: &mut Response<'_>,
    next: Next<'_>,
) -> io::Result<()> {
    let started = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| next.call(req, res)));
    let micros = started.elapsed().as_micros() as u64;
    // What the server does next decides what the client sees: an error or a panic with
    // nothing sent yet becomes the body's 4xx or a 500; after the head went out the
    // status stands and the connection closes.
    let (status, outcome) = match &r {
        Ok(Ok(())) => (res.status_code(), "ok"),
        _ if res.abandoned => (503, "timeout"),
        Ok(Err(_)) if !res.flushed => (req.broken.as_ref().map_or(500, |b| b.status()), "error"),
        Ok(Err(_)) => (res.status_code(), "error"),
        Err(_) if !res.flushed => (500, "panic"),
        Err(_) => (res.status_code(), "panic"),
    };
    let bytes = if outcome == "ok" { res.body_bytes() } else { 0 };
    tracing::info!(
        target: "gmp_http::access",
        method = req.method(),
        path = req.path(),
        status,
        bytes,
        micros,
        remote = %req.remote_addr(),
        outcome,
        "{} {} {status}",
        req.method(),
        req.path(),
    );
    match r {
        Ok(r) => r,
        Err(panic) => resume_unwind(panic),
    }
}

/// `handler` with a deadline: if it has sent nothing `dur` after the request reached
/// it, the client gets a `503 Service Unavailable` and the connection closes. The
/// handler is not stopped (a goroutine cannot be), but every later write of its response
/// fails with `TimedOut`, as do its socket reads, so it returns soon after; nothing
/// outlives the request (the watchdog goroutine is joined before the response ends).
/// Once the handler has sent part of its response, the deadline no longer applies (the
/// server's write timeout covers a client that stops reading).
///
/// Earlier pipelined responses on the connection are sent before the handler starts, so
/// the 503 never overtakes them. A closure needs its argument types written out here
/// (or use a named `fn`): Rust infers them only for `Fn`-bound parameters.
///
/// ```no_run
/// use std::time::Duration;
/// fn slow(_: &mut gmp_http::Request<'_>, res: &mut gmp_http::Response<'_>) -> std::io::Result<()> {
///     gmp::sleep(Duration::from_secs(5));
///     res.body("done");
///     Ok(())
/// }
/// let mut app = gmp_http::Router::new();
/// app.mount("GET /slow", gmp_http::timeout(Duration::from_secs(1), slow));
/// # extern crate gmp_core as gmp;
/// ```
///
/// # Panics
/// If `dur` is zero.
pub fn timeout<H: Handler>(dur: Duration, handler: H) -> Timeout<H> {
    assert!(!dur.is_zero(), "gmp-http: timeout must be positive");
    Timeout {
        dur,
        inner: handler,
    }
}

/// A handler with a deadline: see [`timeout`].
pub struct Timeout<H> {
    dur: Duration,
    inner: H,
}

impl<H> std::fmt::Debug for Timeout<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("dur", &self.dur)
            .finish_non_exhaustive()
    }
}

/// Ends the watchdog however the handler ends (a return or a panic): wakes it and waits
/// for it, so that it never touches the connection afterwards.
struct Watchdog {
    wake: Option<gmp_core::chan::Sender<()>>,
    done: Option<gmp_core::JoinHandle<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(h) = self.done.take() {
            let _ = h.join();
        }
    }
}

impl<H: Handler> Handler for Timeout<H> {
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        res.flush_earlier()?;
        let guard = Arc::new(AtomicU8::new(RUNNING));
        res.set_guard(Some(guard.clone()));
        let (wake, wait) = gmp_core::chan::bounded::<()>(0);
        let (fd, plain) = res.raw_fd();
        let (dur, is_head) = (self.dur, res.is_head());
        let g = guard.clone();
        let done = gmp_core::Builder::new()
            .name("gmp-http timeout")
            .spawn(move || {
                // Woken (or disconnected) when the handler ends; a timeout means it has
                // not.
                if wait.recv_timeout(dur) != Err(gmp_core::chan::RecvTimeoutError::Timeout) {
                    return;
                }
                if g.compare_exchange(RUNNING, TIMED_OUT, SeqCst, SeqCst)
                    .is_ok()
                {
                    answer_503(fd, is_head, plain);
                }
            })?;
        let watchdog = Watchdog {
            wake: Some(wake),
            done: Some(done),
        };
        let r = catch_unwind(AssertUnwindSafe(|| self.inner.call(req, res)));
        drop(watchdog);
        res.set_guard(None);
        // Who answered: the handler (it claimed the socket, or it returned first), or the
        // watchdog.
        match guard.compare_exchange(RUNNING, DONE, SeqCst, SeqCst) {
            Ok(_) | Err(SENDING) => match r {
                Ok(r) => r,
                Err(panic) => resume_unwind(panic),
            },
            Err(_) => {
                res.abandon();
                tracing::warn!(
                    method = req.method(),
                    path = req.path(),
                    remote = %req.remote_addr(),
                    "gmp-http: handler timed out after {dur:?}; answered 503"
                );
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("gmp-http: the handler did not answer within {dur:?}"),
                ))
            }
        }
    }
}

/// The watchdog's answer, straight to the socket, then the connection is shut down.
/// Over TLS the session belongs to the handler's goroutine: the connection is only shut
/// down.
fn answer_503(fd: std::os::fd::RawFd, is_head: bool, plain: bool) {
    let mut msg = Vec::new();
    if plain {
        write_error(&mut msg, 503, "the handler did not answer in time", is_head);
    }
    // SAFETY: `fd` is the connection's socket, open until the connection's goroutine
    // returns from the handler chain, which joins this watchdog first (see the module's
    // invariant). `send` with MSG_DONTWAIT never blocks (a client that does not read
    // just misses the 503) and MSG_NOSIGNAL turns a closed peer into an error.
    unsafe {
        if !msg.is_empty() {
            libc::send(
                fd,
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            );
        }
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}
