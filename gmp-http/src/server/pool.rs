//! Per-thread pools of connection buffers.
//!
//! A connection takes a [`Bufs`] when a request starts arriving and gives it back when it
//! goes idle, so an idle keep-alive connection holds no buffer at all: only its goroutine,
//! its socket and a registry entry. Thread-local pools need no lock and no shared cache
//! line; a goroutine that takes on one thread and gives back on another just moves a
//! buffer between pools.
//!
//! Each pool keeps at most [`POOL_MAX`] sets, so a burst of connections does not leave a
//! thread hoarding memory after they go idle, and a set that grew past its usual size
//! (a large head, a large streamed write) is freed rather than pooled.

use crate::h1::fields::{FieldIdx, MAX_FIELDS};
use std::cell::RefCell;

/// Initial read buffer: a typical request head is a few hundred bytes, and 16 pipelined
/// ones fit with room to spare.
pub(crate) const READ_BUF: usize = 4096;
/// A write buffer that grew past this is not pooled.
const WRITE_KEEP: usize = 64 << 10;

/// Buffer sets kept per thread. 64 sets are about 1 MiB.
const POOL_MAX: usize = 64;

/// Everything a connection needs while a request is in progress.
pub(crate) struct Bufs {
    /// Read buffer; always fully initialised (`len` is its capacity), the data lies in
    /// `[start, end)` as the connection tracks it.
    pub read: Vec<u8>,
    /// Response bytes not yet written to the socket.
    pub write: Vec<u8>,
    /// The current response's own header lines (`name: value\r\n`).
    pub head: Vec<u8>,
    /// The current request's headers.
    pub idx: Vec<FieldIdx>,
    /// httparse's header slots, all `EMPTY_HEADER` between parses (`head::parse`
    /// resets the ones it used).
    pub scratch: Vec<httparse::Header<'static>>,
}

impl Bufs {
    fn new() -> Box<Bufs> {
        let scratch = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        Box::new(Bufs {
            read: vec![0; READ_BUF],
            write: Vec::with_capacity(READ_BUF),
            head: Vec::with_capacity(256),
            idx: Vec::with_capacity(16),
            scratch,
        })
    }

    fn worth_keeping(&self) -> bool {
        self.read.len() == READ_BUF
            && self.write.capacity() <= WRITE_KEEP
            && self.head.capacity() <= WRITE_KEEP
    }
}

thread_local! {
    // Boxed: a set moves in and out of the pool and the connection on every request,
    // and a pointer moves cheaper than five `Vec`s (callgrind: ~40 instructions less
    // per request).
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<Bufs>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer set from this thread's pool, or a new one. `#[inline(never)]` and no switch
/// inside: the thread-local is looked up afresh on each call (gmp-core's rule for
/// goroutines, which can change threads between calls).
#[inline(never)]
pub(crate) fn take() -> Box<Bufs> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(Bufs::new)
}

/// Returns a set to this thread's pool (or frees it).
#[inline(never)]
pub(crate) fn give(mut b: Box<Bufs>) {
    if !b.worth_keeping() {
        return;
    }
    b.write.clear();
    b.head.clear();
    b.idx.clear();
    // `try_with`: during thread teardown the pool may be gone; then just free.
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}
