//! Process-wide HTTP server counters for `gmp_http::debug`: responses by status class
//! and open connections, summed over every [`Server`](crate::Server) of the process.
//!
//! A response is counted with one Relaxed `fetch_add` on one of [`SHARDS`] cache-line
//! sized counter sets, picked by the connection's registry slot, so connections served
//! on different threads rarely share a line; a connection is counted with one
//! `fetch_add` when it registers and one `fetch_sub` when it leaves. Nothing else reads
//! or orders by these: they are statistics, summed on demand.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Counter sets. 16 spreads the connections of a 16-thread server over distinct lines.
const SHARDS: usize = 16;

/// Status classes: `0` for a status outside 100..=599, else the first digit.
pub(crate) const CLASSES: usize = 6;

#[repr(align(128))]
struct Shard([AtomicU64; CLASSES]);

static BY_CLASS: [Shard; SHARDS] =
    [const { Shard([const { AtomicU64::new(0) }; CLASSES]) }; SHARDS];

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts a response with `status` for the connection in registry slot `slot` (any
/// number that stays the same for one connection will do).
#[inline]
pub(crate) fn response(slot: usize, status: u16) {
    let class = match status {
        100..=599 => (status / 100) as usize,
        _ => 0,
    };
    // Relaxed: a statistic, see the module doc.
    BY_CLASS[slot % SHARDS].0[class].fetch_add(1, Relaxed);
}

/// A connection registered with a server.
pub(crate) fn opened() {
    // Relaxed: a statistic.
    OPEN.fetch_add(1, Relaxed);
}

/// A connection left its server's registry.
pub(crate) fn closed() {
    // Relaxed: a statistic.
    OPEN.fetch_sub(1, Relaxed);
}

/// Responses so far by class: index 1 to 5 for `1xx` to `5xx`, 0 for anything else.
pub(crate) fn responses() -> [u64; CLASSES] {
    let mut out = [0u64; CLASSES];
    for s in &BY_CLASS {
        for (o, c) in out.iter_mut().zip(&s.0) {
            // Relaxed: a statistic.
            *o += c.load(Relaxed);
        }
    }
    out
}

/// Connections registered with a server of this process and not yet closed.
pub(crate) fn open_connections() -> usize {
    // Relaxed: a statistic.
    OPEN.load(Relaxed)
}
