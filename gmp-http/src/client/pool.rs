//! The client's pool of idle keep-alive connections, per (scheme, host, port).
//!
//! A connection enters only after its response body was read to the end with the
//! connection still able to carry a request; it leaves for its next request after a
//! check that the server has not closed it meanwhile (`Conn::looks_alive`), or when it
//! has been idle past the idle timeout. Each host keeps at most `max_per_host`, the
//! whole pool `max_total`; the most recently used connection is handed out first (its
//! server is the least likely to have timed it out).

use super::conn::{Conn, Key};
use gmp_core::sync::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) struct Pool {
    idle: Mutex<Idle>,
    max_per_host: usize,
    max_total: usize,
    idle_timeout: Option<Duration>,
}

#[derive(Default)]
struct Idle {
    by_key: HashMap<Key, Vec<Conn>>,
    total: usize,
}

impl Pool {
    pub(crate) fn new(
        max_per_host: usize,
        max_total: usize,
        idle_timeout: Option<Duration>,
    ) -> Pool {
        Pool {
            idle: Mutex::new(Idle::default()),
            max_per_host,
            max_total,
            idle_timeout,
        }
    }

    fn expired(&self, c: &Conn, now: Instant) -> bool {
        self.idle_timeout
            .is_some_and(|t| now.duration_since(c.idle_since) >= t)
    }

    /// An idle connection to `key` that still looks usable, if there is one.
    pub(crate) fn get(&self, key: &Key) -> Option<Conn> {
        let now = Instant::now();
        loop {
            let c = {
                let mut idle = self.idle.lock();
                let list = idle.by_key.get_mut(key)?;
                let c = list.pop();
                if list.is_empty() {
                    idle.by_key.remove(key);
                }
                if c.is_some() {
                    idle.total -= 1;
                }
                c?
            };
            // Checked outside the lock: the peek is a syscall.
            if !self.expired(&c, now) && c.looks_alive() {
                return Some(c);
            }
            // Closed by the server, or too old: dropped (closed) here, try the next.
        }
    }

    /// Takes back a connection whose response was read to the end.
    pub(crate) fn put(&self, mut c: Conn) {
        if self.max_per_host == 0 || self.max_total == 0 {
            return;
        }
        let now = Instant::now();
        c.reused = true;
        c.idle_since = now;
        // Connections to close are closed after the lock is released.
        let mut closing: Vec<Conn> = Vec::new();
        {
            let mut idle = self.idle.lock();
            let idle = &mut *idle;
            // Drop what has timed out on this host (the oldest are at the front).
            let list = idle.by_key.entry(c.key.clone()).or_default();
            let stale = list.iter().take_while(|o| self.expired(o, now)).count();
            closing.extend(list.drain(..stale));
            idle.total -= closing.len();
            if list.len() < self.max_per_host && idle.total < self.max_total {
                list.push(c);
                idle.total += 1;
            } else {
                closing.push(c);
            }
        }
        drop(closing);
    }

    /// Idle connections held now (for tests and stats).
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().total
    }
}
