//! Per-thread pools of connection buffers, and the count of what they hold.
//!
//! A connection takes a [`Bufs`] when a request starts arriving and gives it back when it
//! goes idle, so an idle keep-alive connection holds no buffer at all: only its goroutine,
//! its socket and a registry entry. Thread-local pools need no lock and no shared cache
//! line; a goroutine that takes on one thread and gives back on another just moves a
//! buffer between pools.
//!
//! The bound on what gmp keeps: a set that grew during a request (a large head, a long
//! run of pipelined or streamed output, many response headers) is cut back to its
//! initial sizes when it is given back, and each pool keeps at most [`POOL_MAX`] sets,
//! freeing the rest. So once its connections are idle or gone, a thread holds at most
//! `POOL_MAX` sets of [`SET_BYTES`], whatever the traffic was.
//!
//! [`stats`] counts the bytes of every live set (pooled or in a connection). The count
//! changes only when a set is made, freed, or comes back a different size, never on the
//! take/give of every request, so it costs the hot path no shared atomic.

use crate::h1::fields::{FieldIdx, MAX_FIELDS};
use crate::request::Params;
use std::cell::RefCell;
use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Initial read buffer: a typical request head is a few hundred bytes, and 16 pipelined
/// ones fit with room to spare.
pub(crate) const READ_BUF: usize = 4096;
/// Initial write buffer, and what a larger one is cut back to.
const WRITE_BUF: usize = 4096;
/// Initial buffer for a response's own header lines.
const HEAD_BUF: usize = 256;
/// Initial header index slots.
const IDX_SLOTS: usize = 16;

/// Bytes of one set at its initial sizes (about 11.5 KiB: the 3.2 KiB of httparse slots
/// are the largest part after the two 4 KiB buffers).
const SET_BYTES: usize = READ_BUF
    + WRITE_BUF
    + HEAD_BUF
    + IDX_SLOTS * size_of::<FieldIdx>()
    + MAX_FIELDS * size_of::<httparse::Header<'static>>();

/// Buffer sets kept per thread: 64 sets are about 740 KiB.
const POOL_MAX: usize = 64;

/// Bytes of all live sets, as last accounted (exact while no request is in progress).
static BYTES: AtomicUsize = AtomicUsize::new(0);
/// Live sets.
static SETS: AtomicUsize = AtomicUsize::new(0);

/// What the connection buffers of every server in this process hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Buffer sets alive: in the per-thread pools, or lent to connections with a request
    /// in progress (an idle connection holds none).
    pub buffer_sets: usize,
    /// Their bytes of capacity (read, write and header buffers, parse slots). Exact when
    /// no request is in progress; a set that grows during a request is counted at its
    /// new size when it is given back or freed.
    pub buffer_bytes: usize,
}

/// The connection buffers' figures: see [`Stats`].
///
/// ```
/// let s = gmp_http::stats();
/// assert!(s.buffer_bytes >= s.buffer_sets);
/// ```
pub fn stats() -> Stats {
    // Relaxed: two independent counters read for a report; no memory they guard.
    Stats {
        buffer_sets: SETS.load(Relaxed),
        buffer_bytes: BYTES.load(Relaxed),
    }
}

/// Everything a connection needs while a request is in progress.
pub(crate) struct Bufs {
    /// Read buffer; always fully initialised (`len` is its capacity), the data lies in
    /// `[start, end)` as the connection tracks it.
    pub read: Vec<u8>,
    /// Response bytes not yet written to the socket.
    pub write: Vec<u8>,
    /// Where the current response's own header lines (`name: value\r\n`) wait while
    /// its head is written again (a status other than 200: see `Response`); they are
    /// appended straight to `write` otherwise.
    pub head: Vec<u8>,
    /// The current request's headers.
    pub idx: Vec<FieldIdx>,
    /// httparse's header slots, all `EMPTY_HEADER` between parses (`head::parse`
    /// resets the ones it used).
    pub scratch: Vec<httparse::Header<'static>>,
    /// Path parameters and the router's scratch.
    pub params: Params,
    /// The bytes this set is counted for in [`BYTES`].
    accounted: usize,
}

impl Bufs {
    fn new() -> Box<Bufs> {
        let scratch = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut b = Box::new(Bufs {
            read: vec![0; READ_BUF],
            write: Vec::with_capacity(WRITE_BUF),
            head: Vec::with_capacity(HEAD_BUF),
            idx: Vec::with_capacity(IDX_SLOTS),
            scratch,
            params: Params::default(),
            accounted: 0,
        });
        // Relaxed, here and below: counters for `stats`, paired with nothing.
        SETS.fetch_add(1, Relaxed);
        b.account();
        debug_assert_eq!(b.accounted, SET_BYTES);
        b
    }

    /// Bytes of capacity the set holds now.
    fn bytes(&self) -> usize {
        self.read.capacity()
            + self.write.capacity()
            + self.head.capacity()
            + self.idx.capacity() * size_of::<FieldIdx>()
            + self.scratch.capacity() * size_of::<httparse::Header<'static>>()
    }

    /// Empties the set and brings it back to its initial sizes: cuts what grew, and
    /// restores what an upgrade let go (`Response::upgrade`).
    fn reset(&mut self) {
        self.write.clear();
        self.head.clear();
        self.idx.clear();
        let mut changed = false;
        if self.read.len() != READ_BUF || self.read.capacity() != READ_BUF {
            resize_read(&mut self.read);
            changed = true;
        }
        if self.write.capacity() != WRITE_BUF
            || self.head.capacity() != HEAD_BUF
            || self.idx.capacity() != IDX_SLOTS
        {
            resize_out(self);
            changed = true;
        }
        // A set that kept its initial sizes is still counted right (the slots never
        // change size): the count is redone only after a resize, not on every request.
        if changed {
            self.account();
        }
        debug_assert_eq!(self.bytes(), self.accounted);
    }

    /// Brings [`BYTES`] up to date with this set's size, if it changed.
    fn account(&mut self) {
        let now = self.bytes();
        if now != self.accounted {
            if now > self.accounted {
                BYTES.fetch_add(now - self.accounted, Relaxed);
            } else {
                BYTES.fetch_sub(self.accounted - now, Relaxed);
            }
            self.accounted = now;
        }
    }
}

#[cold]
fn resize_read(read: &mut Vec<u8>) {
    read.resize(READ_BUF, 0);
    read.shrink_to_fit();
}

#[cold]
fn resize_out(b: &mut Bufs) {
    b.write.shrink_to(WRITE_BUF);
    b.write.reserve_exact(WRITE_BUF);
    b.head.shrink_to(HEAD_BUF);
    b.head.reserve_exact(HEAD_BUF);
    b.idx.shrink_to(IDX_SLOTS);
    b.idx.reserve_exact(IDX_SLOTS);
}

impl Drop for Bufs {
    fn drop(&mut self) {
        SETS.fetch_sub(1, Relaxed);
        BYTES.fetch_sub(self.accounted, Relaxed);
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

/// Returns a set to this thread's pool, cut back to its initial size (or frees it if the
/// pool is full).
#[inline(never)]
pub(crate) fn give(mut b: Box<Bufs>) {
    b.reset();
    // `try_with`: during thread teardown the pool may be gone; then just free.
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_that_grew_comes_back_at_its_initial_size() {
        let mut b = Bufs::new();
        assert_eq!(b.bytes(), SET_BYTES);
        b.read.resize(64 << 10, 0);
        b.write.extend_from_slice(&[1; 100 << 10]);
        b.head.extend_from_slice(&[1; 10 << 10]);
        b.idx.extend((0..100).map(|_| FieldIdx {
            name: (0, 0),
            value: (0, 0),
        }));
        b.reset();
        assert_eq!((b.read.len(), b.bytes()), (READ_BUF, SET_BYTES));
        assert!(b.write.is_empty() && b.head.is_empty() && b.idx.is_empty());
    }

    #[test]
    fn a_set_an_upgrade_let_go_of_comes_back_at_its_initial_size() {
        let mut b = Bufs::new();
        // What `Response::upgrade` leaves: the read buffer cut back to the head, the
        // response's buffers gone.
        b.read.truncate(200);
        b.read.shrink_to_fit();
        b.write = Vec::new();
        b.head = Vec::new();
        b.reset();
        assert_eq!((b.read.len(), b.bytes()), (READ_BUF, SET_BYTES));
        assert_eq!(
            (b.write.capacity(), b.head.capacity()),
            (WRITE_BUF, HEAD_BUF)
        );
    }
}
