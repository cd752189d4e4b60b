//! The routing tree: a decision tree over host, then method, then path segments, as
//! Go's `routingNode`. Matching tries, at each segment, the literal child first, then the
//! single wildcard, then the multi wildcard, backtracking when a branch fails: since
//! conflicting patterns are refused at registration, the first match found this way is
//! the most specific pattern that matches (a pattern with a literal where another has a
//! wildcard is the more specific one, or the two are disjoint).
//!
//! Nodes live in one arena and refer to each other by index; literal children are kept
//! sorted by their (percent-decoded) bytes and found by binary search. A lookup
//! allocates nothing unless a segment holds a `%` escape.

use super::pattern::{Pattern, Segment};
use crate::url::path_unescape;

/// A wildcard's value: the byte range `start..end` of the matched path (escaped, as
/// sent).
pub(crate) type Capture = (u32, u32);

#[derive(Default, Debug)]
struct Node {
    /// The route of a pattern that ends here.
    route: Option<u32>,
    /// Literal children, sorted by key.
    lits: Vec<(Box<[u8]>, u32)>,
    /// A signature of each literal key (`sig`: its length and first two bytes), in
    /// `lits`' order: a lookup scans these and compares whole keys only where the
    /// signature matches. Measured on the GitHub API route set (benches/router.rs): a
    /// binary search over the keys, a memcmp per probe, took 2.5 x matchit's lookup
    /// time in all; first bytes alone, 1.4 x.
    sigs: Vec<u32>,
    /// The `{$}` child: the trailing slash.
    end: Option<u32>,
    /// The `{name}` child.
    wild: Option<u32>,
    /// The leaf of a `{name...}` or trailing-slash pattern, and whether it records
    /// its match (anonymous ones do not).
    multi: Option<(u32, bool)>,
}

impl Node {
    /// The literal child for (decoded) segment `seg`.
    #[inline]
    fn lit(&self, seg: &[u8]) -> Option<u32> {
        let want = sig(seg);
        for (i, &s) in self.sigs.iter().enumerate() {
            if s == want {
                let (key, child) = &self.lits[i];
                if **key == *seg {
                    return Some(*child);
                }
            }
        }
        None
    }
}

/// Where the segment starting at `from` ends (the next `/`, or the end) and whether it
/// holds a `%`: eight bytes at a time, then byte by byte. The byte-at-a-time loop was a
/// third of a lookup's instructions on the GitHub route set (benches/router.rs).
#[inline]
fn segment(bytes: &[u8], from: usize) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `w` equal to `b`. Bits above the lowest true match
    // may be false positives (a borrow); the lowest one is exact, which is all the uses
    // below read: the first slash, and whether a `%` comes before it (a false `%` bit
    // needs a true `%` below it).
    let eq = |w: u64, b: u8| {
        let x = w ^ (ONES * b as u64);
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut i = from;
    let mut escaped = false;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let (slash, pct) = (eq(w, b'/'), eq(w, b'%'));
        if slash != 0 {
            let below = (1u64 << slash.trailing_zeros()) - 1;
            return (
                i + slash.trailing_zeros() as usize / 8,
                escaped || pct & below != 0,
            );
        }
        escaped |= pct != 0;
        i += 8;
    }
    while i < bytes.len() && bytes[i] != b'/' {
        escaped |= bytes[i] == b'%';
        i += 1;
    }
    (i, escaped)
}

/// A key's length (up to 65,535) and first two bytes, in one word.
#[inline]
fn sig(key: &[u8]) -> u32 {
    let b = |i: usize| key.get(i).copied().unwrap_or(0) as u32;
    (key.len().min(0xffff) as u32) << 16 | b(0) << 8 | b(1)
}

/// The method level under one host.
#[derive(Default, Debug)]
struct Methods {
    by_method: Vec<(Box<str>, u32)>,
    any: Option<u32>,
}

/// The whole tree.
#[derive(Debug)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    hosts: Vec<(Box<str>, Methods)>,
    any_host: Methods,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            nodes: Vec::new(),
            hosts: Vec::new(),
            any_host: Methods::default(),
        }
    }

    /// Whether any pattern names a host (the request's host then has to be looked up).
    pub(crate) fn has_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(Node::default());
        (self.nodes.len() - 1) as u32
    }

    /// Adds `p` as route `route`. The caller has checked it conflicts with no pattern
    /// already in the tree, so its leaf is free.
    pub(crate) fn insert(&mut self, p: &Pattern, route: u32) {
        let host = match &p.host {
            Some(h) => match self.hosts.iter().position(|(k, _)| k == h) {
                Some(i) => Some(i),
                None => {
                    self.hosts.push((h.clone(), Methods::default()));
                    Some(self.hosts.len() - 1)
                }
            },
            None => None,
        };
        let methods = match host {
            Some(i) => &self.hosts[i].1,
            None => &self.any_host,
        };
        let existing = match &p.method {
            Some(m) => methods
                .by_method
                .iter()
                .find(|(k, _)| k == m)
                .map(|&(_, n)| n),
            None => methods.any,
        };
        let mut n = match existing {
            Some(n) => n,
            None => {
                let n = self.new_node();
                let methods = match host {
                    Some(i) => &mut self.hosts[i].1,
                    None => &mut self.any_host,
                };
                match &p.method {
                    Some(m) => methods.by_method.push((m.clone(), n)),
                    None => methods.any = Some(n),
                }
                n
            }
        };
        for seg in &p.segments {
            n = match seg {
                Segment::Lit(l) => {
                    let lits = &self.nodes[n as usize].lits;
                    match lits.binary_search_by(|(k, _)| (**k).cmp(&**l)) {
                        Ok(i) => lits[i].1,
                        Err(i) => {
                            let c = self.new_node();
                            let node = &mut self.nodes[n as usize];
                            node.lits.insert(i, (l.clone(), c));
                            node.sigs.insert(i, sig(l));
                            c
                        }
                    }
                }
                Segment::Wild(_) => match self.nodes[n as usize].wild {
                    Some(c) => c,
                    None => {
                        let c = self.new_node();
                        self.nodes[n as usize].wild = Some(c);
                        c
                    }
                },
                Segment::End => match self.nodes[n as usize].end {
                    Some(c) => c,
                    None => {
                        let c = self.new_node();
                        self.nodes[n as usize].end = Some(c);
                        c
                    }
                },
                Segment::Multi(name) => {
                    let c = self.new_node();
                    debug_assert!(self.nodes[n as usize].multi.is_none());
                    self.nodes[n as usize].multi = Some((c, name.is_some()));
                    c
                }
            };
        }
        debug_assert!(self.nodes[n as usize].route.is_none());
        self.nodes[n as usize].route = Some(route);
    }

    /// The route for (host, method, path), with its wildcards' values in `caps`.
    /// `host` is `""` when the request has none or no pattern names one. `path` is
    /// clean and starts with `/`.
    pub(crate) fn find(
        &self,
        host: &str,
        method: &str,
        path: &str,
        caps: &mut Vec<Capture>,
    ) -> Option<u32> {
        if !host.is_empty() {
            if let Some((_, m)) = self
                .hosts
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(host))
            {
                if let Some(r) = self.find_method(m, method, path, caps) {
                    return Some(r);
                }
            }
        }
        self.find_method(&self.any_host, method, path, caps)
    }

    fn find_method(
        &self,
        m: &Methods,
        method: &str,
        path: &str,
        caps: &mut Vec<Capture>,
    ) -> Option<u32> {
        let exact = m.by_method.iter().find(|(k, _)| &**k == method);
        if let Some(&(_, n)) = exact {
            if let Some(r) = self.find_path(n, path, 0, caps) {
                return Some(r);
            }
        }
        if method == "HEAD" {
            // GET patterns match HEAD requests too.
            if let Some(&(_, n)) = m.by_method.iter().find(|(k, _)| &**k == "GET") {
                if let Some(r) = self.find_path(n, path, 0, caps) {
                    return Some(r);
                }
            }
        }
        self.find_path(m.any?, path, 0, caps)
    }

    /// Matches `path[at..]` (empty, or starting with `/`) below node `n`.
    fn find_path(&self, n: u32, path: &str, at: usize, caps: &mut Vec<Capture>) -> Option<u32> {
        let node = &self.nodes[n as usize];
        let bytes = path.as_bytes();
        let rest = &bytes[at..];
        if rest.is_empty() {
            return node.route;
        }
        if rest == b"/" {
            // The trailing slash: `{$}`, or a multi wildcard's empty match.
            if let Some(c) = node.end {
                if let Some(r) = self.nodes[c as usize].route {
                    return Some(r);
                }
            }
        } else {
            // The segment, and whether it holds an escape, in one pass.
            let seg_start = at + 1;
            let (seg_end, escaped) = segment(bytes, seg_start);
            if !node.lits.is_empty() {
                let raw = &bytes[seg_start..seg_end];
                let child = if escaped {
                    node.lit(&path_unescape(raw))
                } else {
                    node.lit(raw)
                };
                if let Some(c) = child {
                    if let Some(r) = self.find_path(c, path, seg_end, caps) {
                        return Some(r);
                    }
                }
            }
            if let Some(c) = node.wild {
                caps.push((seg_start as u32, seg_end as u32));
                if let Some(r) = self.find_path(c, path, seg_end, caps) {
                    return Some(r);
                }
                caps.pop();
            }
        }
        let (c, named) = node.multi?;
        if named {
            caps.push(((at + 1) as u32, path.len() as u32));
        }
        self.nodes[c as usize].route
    }

    /// Methods with a pattern matching (host, path) under their own method name (GET
    /// adds HEAD), for a 405's `Allow`; sorted.
    pub(crate) fn allowed<'t>(&'t self, host: &str, path: &str) -> Vec<&'t str> {
        let mut out: Vec<&'t str> = Vec::new();
        let mut caps = Vec::new();
        let mut scan = |m: &'t Methods| {
            for (name, n) in &m.by_method {
                caps.clear();
                if self.find_path(*n, path, 0, &mut caps).is_some() {
                    out.push(name);
                    if &**name == "GET" {
                        out.push("HEAD");
                    }
                }
            }
        };
        if !host.is_empty() {
            if let Some((_, m)) = self
                .hosts
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(host))
            {
                scan(m);
            }
        }
        scan(&self.any_host);
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    /// The byte-at-a-time answer `segment` must give.
    fn naive(bytes: &[u8], from: usize) -> (usize, bool) {
        let mut i = from;
        let mut escaped = false;
        while i < bytes.len() && bytes[i] != b'/' {
            escaped |= bytes[i] == b'%';
            i += 1;
        }
        (i, escaped)
    }

    #[test]
    fn segment_agrees_with_the_byte_loop_at_every_offset() {
        // Every string of up to 19 bytes over an alphabet that provokes the word trick's
        // borrows ('.', '/' and '%' sit next to each other; 0x2e, 0x2f, 0x25, 0x30,
        // 0xff), from a fixed generator, at every start offset.
        let alphabet = [b'/', b'%', b'.', b'0', b'a', 0xff, 0x2e, 0x30];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 20) as usize;
            let s: Vec<u8> = (0..len)
                .map(|k| alphabet[((x >> (k * 3 % 60)) & 7) as usize])
                .collect();
            for from in 0..=len {
                assert_eq!(segment(&s, from), naive(&s, from), "{s:?} from {from}");
            }
        }
    }
}
