//! One connection's goroutine: read heads, run the handler, write responses, keep the
//! connection alive or close it.
//!
//! Buffers come from the thread's pool when a request starts arriving and go back when
//! the connection is idle again, so waiting for the next request costs no buffer.
//! Requests that arrive together (pipelining) are answered into one write buffer that
//! goes out before the connection next reads, or once it is large.

use super::counters::Tally;
use super::pool::{self, Bufs};
use super::registry::{Entry, Shared, BUSY, CLOSED, HEAD, IDLE};
use crate::h1::framing::Framing;
use crate::h1::request_head::{self as head, Head, Limits, MAX_TARGET};
use crate::h1::Reject;
use crate::handler::Handler;
use crate::request::{Continue, Request};
use crate::response::{write_all_two, write_error, Response, FLUSH_AT};
use crate::transport::{Owner, Transport, LINGER};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A handler may leave this much of a body unread and the connection is still reused
/// (the rest is read and dropped); more, and the connection closes.
const DRAIN_MAX: u64 = 256 << 10;
const INTERNAL: Reject = Reject {
    status: 500,
    why: "internal server error",
};

/// Serves one connection. True if a handler took it over (`Response::upgrade`): its
/// registration then went with it, and the caller must not end it.
pub(crate) fn serve_conn<F: Handler>(
    shared: &Shared,
    entry: &Arc<Entry>,
    remote: SocketAddr,
    handler: &F,
) -> bool {
    let owner: Arc<dyn Owner> = entry.clone();
    #[cfg(feature = "tls")]
    if let Some(cfg) = &shared.settings.tls {
        let Some(tls) = super::tls::handshake(shared, entry, remote, cfg) else {
            return false;
        };
        let io = Transport::tls(tls, Some(&owner));
        serve_on(shared, entry, remote, handler, &io);
        return io.upgraded();
    }
    let io = Transport::tcp(&entry.stream, Some(&owner));
    serve_on(shared, entry, remote, handler, &io);
    io.upgraded()
}

/// The connection's life on `io`, TCP or TLS.
fn serve_on<F: Handler>(
    shared: &Shared,
    entry: &Entry,
    remote: SocketAddr,
    handler: &F,
    io: &Transport<'_>,
) {
    let mut bufs = None;
    serve(shared, entry, remote, handler, io, &mut bufs);
    // However the connection ended (the client left, an error, a refusal), the buffers
    // it held go back to the pool, cut back to size, for the next connection.
    if let Some(b) = bufs {
        pool::give(b);
    }
}

/// The connection's loop; `bufs` holds the buffer set while a request is in progress.
fn serve<F: Handler>(
    shared: &Shared,
    entry: &Entry,
    remote: SocketAddr,
    handler: &F,
    stream: &Transport<'_>,
    bufs: &mut Option<Box<Bufs>>,
) {
    let s = &shared.settings;
    let limits = Limits {
        max_header_bytes: s.max_header_bytes,
        max_body_bytes: s.max_body_bytes,
    };
    // The read buffer may grow to hold a head at the limit, plus room for the body.
    let max_buf = s.max_header_bytes.max(MAX_TARGET + 1024) + 4096;
    // Unread input lies in `[start, end)` of the read buffer.
    let (mut start, mut end) = (0usize, 0usize);
    // The current request's head, written in place by `parse` and lent to the request.
    let mut head = Head::EMPTY;
    // Responses answered and not yet counted: counted by `send` before they go out,
    // and by the drop when the loop ends.
    let mut tally = Tally::new();
    loop {
        if start == end {
            // Nothing buffered: send what is pending, give the buffers back, wait.
            if let Some(mut b) = bufs.take() {
                if !b.write.is_empty() && send(stream, &mut b.write, &mut tally).is_err() {
                    return;
                }
                pool::give(b);
            }
            (start, end) = (0, 0);
            if !entry.enter(BUSY, IDLE, shared.epoch()) || shared.shutting_down() {
                return;
            }
            // `readable` may return before any byte is there (a fresh socket): the
            // connection stays IDLE (idle timeout, closed by shutdown) until one arrives.
            if stream.readable().is_err() {
                return;
            }
            *bufs = Some(pool::take());
        }
        let Some(b) = bufs.as_mut() else {
            unreachable!("buffers are taken above")
        };

        // A complete head, reading more as needed.
        loop {
            // Nothing buffered (a connection that was idle) is incomplete without asking.
            if start < end {
                match head::parse(
                    &b.read[start..end],
                    start,
                    &mut b.scratch,
                    &mut b.idx,
                    limits,
                    &mut head,
                ) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(r) => return reject(stream, b, start, end, r, &mut tally),
                }
            }
            // Answers to earlier pipelined requests go out before we wait for more.
            if !b.write.is_empty() && send(stream, &mut b.write, &mut tally).is_err() {
                return;
            }
            // Part of a head is here (behind a pipelined request, or the first bytes
            // after idling): the header timeout runs from now.
            let state = entry.state();
            if state == CLOSED {
                return; // the reaper or shutdown closed it
            }
            if start < end
                && (state == IDLE || state == BUSY)
                && !entry.enter(state, HEAD, shared.epoch())
            {
                return;
            }
            if start > 0 {
                b.read.copy_within(start..end, 0);
                (start, end) = (0, end - start);
            }
            if end == b.read.len() {
                if b.read.len() >= max_buf {
                    return reject(
                        stream,
                        b,
                        start,
                        end,
                        Reject {
                            status: 431,
                            why: "request header section too large",
                        },
                        &mut tally,
                    );
                }
                let len = (b.read.len() * 2).min(max_buf);
                b.read.resize(len, 0);
            }
            match stream.read(&mut b.read[end..]) {
                Ok(0) | Err(_) => return, // the client left, or the reaper closed it
                Ok(n) => end += n,
            }
            // Still IDLE if nothing was buffered: a head that arrived whole goes from
            // IDLE to BUSY in one step below (a locked instruction fewer per read than
            // through HEAD: 73 of 7,701 user-space samples, `http16`, fell on the one
            // after that CAS); one that did not becomes HEAD above before the next read.
        }
        let state = entry.state();
        if state != BUSY && (!matches!(state, IDLE | HEAD) || !entry.to(state, BUSY)) {
            return; // closed by the reaper or shutdown
        }

        let is_head = &b.read[head.method.0 as usize..][..head.method.1 as usize] == b"HEAD";
        let keep_alive = head.keep_alive && !shared.shutting_down();
        let body_in_buffer = match head.framing {
            Framing::Length(n) => n <= (end - start - head.len) as u64,
            Framing::Chunked => false,
        };
        if !body_in_buffer && !b.write.is_empty() {
            // The handler may wait on the socket for its body (and answer 100-continue
            // first): what is pending must not wait behind it.
            if send(stream, &mut b.write, &mut tally).is_err() {
                return;
            }
        }
        let Bufs {
            read,
            write,
            head: res_head,
            idx,
            params,
            ..
        } = &mut **b;
        let mut req = Request::new(
            stream,
            read,
            idx,
            params,
            &head,
            start,
            end,
            &remote,
            s.max_body_bytes,
            s.max_header_bytes,
            s.body_read_timeout,
        );
        let mut res = Response::new(stream, write, res_head, head.version, is_head, !keep_alive);
        let outcome = catch_unwind(AssertUnwindSafe(|| handler.call(&mut req, &mut res)));
        if stream.upgraded() {
            // The handler took the connection over; it is not ours to touch any more.
            tally.add(res.status_code());
            return;
        }
        let mut close = !keep_alive;
        let mut drain = false;
        let mut error = None;
        match outcome {
            Ok(Ok(())) => {
                if !req.body_done() {
                    if req.cont == Continue::Pending || req.broken.is_some() {
                        // The client waits for 100-continue before it sends the body (or
                        // the body is broken): the connection cannot be reused.
                        close = true;
                    } else if req.length_left().is_some_and(|n| n > DRAIN_MAX) {
                        close = true;
                    } else {
                        drain = true;
                    }
                }
                close |= req.broken.is_some() || shared.shutting_down();
                res.close |= close;
                if let Err(e) = res.finish() {
                    tracing::debug!(%remote, "gmp-http: {e}");
                    close = true;
                }
                // The response may have chosen to close: a handler's `Connection: close`,
                // or a body delimited by the close (streaming to HTTP/1.0).
                close |= res.close;
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    method = req.method(),
                    path = req.path(),
                    %remote,
                    "gmp-http: handler error: {e}; closing the connection"
                );
                close = true;
                if !res.abandoned && res.discard() {
                    error = Some(match &req.broken {
                        Some(b) => (b.status(), b.message()),
                        None => (INTERNAL.status, INTERNAL.why),
                    });
                }
            }
            Err(panic) => {
                tracing::error!(
                    method = req.method(),
                    path = req.path(),
                    %remote,
                    "gmp-http: handler panicked: {}; closing the connection",
                    panic_message(&*panic)
                );
                close = true;
                if !res.abandoned && res.discard() {
                    error = Some((INTERNAL.status, INTERNAL.why));
                }
            }
        }
        tally.add(error.map_or_else(|| res.status_code(), |e| e.0));
        if res.abandoned {
            // A timeout's watchdog answered and shut the socket down.
            return;
        }
        drop(res);
        if let Some((status, why)) = error {
            write_error(write, status, why, is_head);
        }
        // A body that broke (malformed, too large, cut short) leaves the input in an
        // unknown place: the connection cannot carry another request.
        close |= req.broken.is_some();
        if drain && !close {
            if !req.body_buffered() && !write.is_empty() && send(stream, write, &mut tally).is_err()
            {
                return;
            }
            close = !req.drain(DRAIN_MAX);
        }
        (start, end) = (req.pos, req.end);
        if close {
            if send(stream, write, &mut tally).is_ok() {
                stream.linger_close(LINGER, DRAIN_MAX as usize);
            }
            return;
        }
        if write.len() >= FLUSH_AT && send(stream, write, &mut tally).is_err() {
            return;
        }
    }
}

/// Sends what `write` holds, after counting the responses in it.
#[inline]
fn send(stream: &Transport<'_>, write: &mut Vec<u8>, tally: &mut Tally) -> std::io::Result<()> {
    tally.flush();
    write_all_two(stream, write, &[])
}

/// A panic's message, when it is a string (as `panic!` makes it).
fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-string payload)")
}

/// Answers a request the server refuses, then closes. The refused head lies in
/// `b.read[start..end]`: if its method is HEAD, the answer has no body.
fn reject(
    stream: &Transport<'_>,
    b: &mut Bufs,
    start: usize,
    end: usize,
    r: Reject,
    tally: &mut Tally,
) {
    tally.add(r.status);
    tracing::debug!("gmp-http: {} {}", r.status, r.why);
    let is_head = head::is_head_request(&b.read[start..end]);
    write_error(&mut b.write, r.status, r.why, is_head);
    if send(stream, &mut b.write, tally).is_ok() {
        stream.linger_close(LINGER, DRAIN_MAX as usize);
    }
}
