//! The byte classes a request head is scanned for, sixteen bytes at a time with SSE2
//! (baseline on x86-64, the one architecture gmp runs on: `gmp-core/src/arch`), as
//! bitmasks with bit `k` for the byte at offset `k`: controls, the colon, letters and
//! `-`, and bytes that are not visible ASCII. [`super::head_scan`] is their one user.
//!
//! The invariant: a mask for the bytes from `at` describes `buf[at..]` exactly, and the
//! bytes past the end of `buf` are stops (a control, not visible ASCII) and nothing
//! else, so a scan that runs into the end of what has arrived stops there, finds no byte
//! and defers. A buffer of fewer than 16 bytes has no masks ([`Buf::new`] is `None`).
//!
//! Why not SWAR (eight bytes in a `u64`, portable): it was tried first (commit
//! c65c696). Its per-byte arithmetic needs 64-bit constants, which x86-64 cannot take as
//! immediates, and the registers they held pushed the scan's own state onto the stack;
//! with the same scan on these masks the head parser took 271 instructions a request
//! instead of 303 (`http`) and 429 instead of 441 (`http16`; callgrind, `examples/hello`,
//! `/tmp/cgrun3.sh` at N and 2N requests).

// Every x86-64 CPU has SSE2 and the x86-64 targets enable it, which each `unsafe` block
// around an intrinsic below relies on.
#[cfg(not(target_feature = "sse2"))]
compile_error!("gmp-http's head scan needs SSE2 (the x86-64 baseline)");

use core::arch::x86_64::{
    __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si64, _mm_loadu_si128,
    _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
};

/// A buffer of at least 16 bytes.
#[derive(Clone, Copy)]
pub(crate) struct Buf<'a> {
    buf: &'a [u8],
    /// `buf.len() - 16`: the last offset sixteen bytes can be loaded from.
    last: usize,
}

/// Sixteen bytes, and how many of them lie before the offset asked for (non-zero only
/// within 16 bytes of the end, where the load is the last 16 bytes of the buffer).
#[derive(Clone, Copy)]
struct Chunk {
    v: __m128i,
    skip: u32,
    /// The first 8 bytes from the offset asked for, the first in the low byte (zeros
    /// past the end).
    first: u64,
}

/// The classes of the bytes of a field line's start (its name and colon). A line that
/// starts with CR is told by its first byte.
#[derive(Clone, Copy)]
pub(crate) struct Line {
    /// The two masks, 16 bits each: colons, then names (see the methods). Packed with
    /// `first` into two words, a `Line` comes back from the out-of-line path in
    /// registers.
    masks: u64,
    /// The first 8 bytes, the first in the low byte (zeros past the end).
    pub first: u64,
}

impl Line {
    #[inline(always)]
    fn new(colon: u32, name: u32, first: u64) -> Line {
        let masks = u64::from(colon) | u64::from(name) << 16;
        Line { masks, first }
    }

    /// `:`.
    #[inline(always)]
    pub(crate) fn colon(self) -> u32 {
        self.masks as u32 & 0xffff
    }

    /// ASCII letters and `-` (token characters, RFC 9110 §5.6.2).
    #[inline(always)]
    pub(crate) fn name(self) -> u32 {
        (self.masks >> 16) as u32
    }
}

impl<'a> Buf<'a> {
    #[inline(always)]
    pub(crate) fn new(buf: &'a [u8]) -> Option<Self> {
        let last = buf.len().checked_sub(16)?;
        Some(Buf { buf, last })
    }

    /// The 16 bytes from `at`, which is at most `last`.
    #[inline(always)]
    fn chunk(self, at: usize) -> Chunk {
        debug_assert!(at <= self.last);
        // SAFETY: `at + 16 <= last + 16 == buf.len()`, so the sixteen bytes loaded are
        // in `buf`; `_mm_loadu_si128` takes any alignment.
        let v = unsafe { _mm_loadu_si128(self.buf.as_ptr().add(at).cast()) };
        // SAFETY: SSE2 is enabled (the compile-time check at the top).
        let first = unsafe { _mm_cvtsi128_si64(v) } as u64;
        Chunk { v, skip: 0, first }
    }

    /// The bytes from `at` within 16 bytes of the end (or past it): the last 16 bytes,
    /// of which the first `skip` lie before `at`.
    #[inline(always)]
    fn chunk_at_end(self, at: usize) -> Chunk {
        // SAFETY: `last + 16 == buf.len()`, so the sixteen bytes loaded are in `buf`.
        let v = unsafe { _mm_loadu_si128(self.buf.as_ptr().add(self.last).cast()) };
        let skip = (at.min(self.buf.len()) - self.last) as u32;
        let mut first = [0; 8];
        let rest = self.buf.get(at..).unwrap_or_default();
        let n = rest.len().min(8);
        first[..n].copy_from_slice(&rest[..n]);
        Chunk {
            v,
            skip,
            first: u64::from_le_bytes(first),
        }
    }

    /// Whether 16 bytes or more lie from `at` to the end: [`Self::line`] and
    /// [`Self::ctl`] then load them with no shift.
    #[inline(always)]
    pub(crate) fn whole(self, at: usize) -> bool {
        at <= self.last
    }

    /// The field-line classes of the 16 bytes from `at`.
    #[inline(always)]
    pub(crate) fn line(self, at: usize) -> Line {
        if at <= self.last {
            self.chunk(at).line()
        } else {
            line_at_end(self.buf, at)
        }
    }

    /// The controls (bytes under 0x20, DEL, and past the end) of the 16 bytes from `at`.
    #[inline(always)]
    pub(crate) fn ctl(self, at: usize) -> u32 {
        if at <= self.last {
            self.chunk(at).ctl()
        } else {
            ctl_at_end(self.buf, at)
        }
    }

    /// The bytes that are not visible ASCII (0x21..=0x7e), and those past the end, of
    /// the 16 bytes from `at`.
    #[inline(always)]
    pub(crate) fn not_visible(self, at: usize) -> u32 {
        if at <= self.last {
            self.chunk(at).not_visible()
        } else {
            not_visible_at_end(self.buf, at)
        }
    }
}

// Within 16 bytes of the end, out of line: the common path then keeps its masks in
// registers. (`buf` holds at least 16 bytes: these are only reached through a `Buf`.)

#[inline(never)]
fn line_at_end(buf: &[u8], at: usize) -> Line {
    Buf::new(buf).map_or(PAST_END, |b| b.chunk_at_end(at).line())
}

#[inline(never)]
fn ctl_at_end(buf: &[u8], at: usize) -> u32 {
    Buf::new(buf).map_or(0xffff, |b| b.chunk_at_end(at).ctl())
}

#[inline(never)]
fn not_visible_at_end(buf: &[u8], at: usize) -> u32 {
    Buf::new(buf).map_or(0xffff, |b| b.chunk_at_end(at).not_visible())
}

/// Sixteen bytes past the end (no colon, no name byte, a first word of zeros).
const PAST_END: Line = Line { masks: 0, first: 0 };

impl Chunk {
    #[inline(always)]
    fn line(self) -> Line {
        // SAFETY: SSE2 is enabled (the compile-time check at the top).
        let colon = unsafe { _mm_cmpeq_epi8(self.v, _mm_set1_epi8(b':' as i8)) };
        Line::new(
            self.bits(colon, false),
            self.bits(letter_or_dash(self.v), false),
            self.first,
        )
    }

    #[inline(always)]
    fn ctl(self) -> u32 {
        self.bits(ctl(self.v), true)
    }

    #[inline(always)]
    fn not_visible(self) -> u32 {
        // SAFETY: SSE2 is enabled (the compile-time check at the top).
        let not_visible = unsafe {
            let under = _mm_cmpeq_epi8(_mm_min_epu8(self.v, _mm_set1_epi8(0x20)), self.v);
            let over = _mm_cmpeq_epi8(_mm_max_epu8(self.v, _mm_set1_epi8(0x7f)), self.v);
            _mm_or_si128(under, over)
        };
        self.bits(not_visible, true)
    }

    /// The mask of the bytes of `class` (0xff in a byte for yes) from the offset asked
    /// for; those past the end of the buffer are `past`.
    #[inline(always)]
    fn bits(self, class: __m128i, past: bool) -> u32 {
        // SAFETY: SSE2 is enabled (the compile-time check at the top).
        let m = unsafe { _mm_movemask_epi8(class) } as u32;
        if self.skip == 0 {
            m
        } else if past {
            // The top `skip` of the 16 bits are past the end.
            (m >> self.skip) | ((0xffff << (16 - self.skip)) & 0xffff)
        } else {
            m >> self.skip
        }
    }
}

/// 0xff in each byte under 0x20 or DEL.
#[inline(always)]
fn ctl(v: __m128i) -> __m128i {
    // SAFETY: SSE2 is enabled (the compile-time check at the top).
    unsafe {
        let under = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_or_si128(under, del)
    }
}

/// 0xff in each byte that is an ASCII letter or `-`. In lowercase (`| 0x20`, which maps
/// only the uppercase letters onto the lowercase ones) and moved by `0x80 - b'a'`, the
/// letters are the 26 smallest signed bytes.
#[inline(always)]
fn letter_or_dash(v: __m128i) -> __m128i {
    // SAFETY: SSE2 is enabled (the compile-time check at the top).
    unsafe {
        let lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
        let moved = _mm_add_epi8(lower, _mm_set1_epi8((0x80 - b'a') as i8));
        let letter = _mm_cmplt_epi8(moved, _mm_set1_epi8((0x80 + 26u8) as i8));
        let dash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
        _mm_or_si128(letter, dash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every offset, and every offset near the end: each mask says
    /// what the byte is, and past the end only the stops are set.
    #[test]
    fn classes_are_exact() {
        let is_ctl = |b: u8| b < 0x20 || b == 0x7f;
        let is_name = |b: u8| b.is_ascii_alphabetic() || b == b'-';
        let not_visible = |b: u8| !(0x21..0x7f).contains(&b);
        for len in 16..40 {
            for b in 0..=255u8 {
                let pos = (b as usize * 7) % len;
                let mut buf = vec![b'a'; len];
                buf[pos] = b;
                let bytes = Buf::new(&buf).unwrap();
                for at in 0..len + 20 {
                    let want = |f: &dyn Fn(u8) -> bool, past: bool| {
                        (0..16).fold(0u32, |m, k| {
                            let yes = buf.get(at + k).map_or(past, |&b| f(b));
                            m | u32::from(yes) << k
                        })
                    };
                    let l = bytes.line(at);
                    let ctx = format!("byte {b:#x} at {pos} of {len}, from {at}");
                    assert_eq!(bytes.ctl(at), want(&is_ctl, true), "{ctx}");
                    assert_eq!(l.colon(), want(&|b| b == b':', false), "{ctx}");
                    assert_eq!(l.name(), want(&is_name, false), "{ctx}");
                    let first: [u8; 8] = std::array::from_fn(|k| *buf.get(at + k).unwrap_or(&0));
                    assert_eq!(l.first, u64::from_le_bytes(first), "{ctx}");
                    assert_eq!(bytes.not_visible(at), want(&not_visible, true), "{ctx}");
                    assert_eq!(bytes.whole(at), at + 16 <= len);
                }
            }
        }
        assert!(Buf::new(&[0; 15]).is_none());
    }
}
