//! [`Spare`]: appends the pieces of a message head to a `Vec<u8>` with the vector's
//! pointer, length and capacity held in registers, so each piece costs one compare and a
//! copy instead of `extend_from_slice`'s reload of the vector and its capacity check (a
//! piece of constant length is copied with a few moves).
//!
//! Invariant: `ptr[..len]` is initialised and `len <= cap == vector's capacity`; the
//! vector's own length is set to `len` when the `Spare` is dropped (also on unwinding),
//! so the vector never counts a byte that was not written.

/// A writer into a vector's spare capacity. Growing is allowed (a piece larger than
/// what is left reserves more), so a wrong size estimate costs speed, never safety.
pub(crate) struct Spare<'v> {
    v: &'v mut Vec<u8>,
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

impl<'v> Spare<'v> {
    /// Reserves room for `room` more bytes (a guess: more are allowed) and starts
    /// writing at the vector's end.
    #[inline(always)]
    pub(crate) fn new(v: &'v mut Vec<u8>, room: usize) -> Spare<'v> {
        v.reserve(room);
        Spare {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
            v,
        }
    }

    /// Where the next `n` bytes go: at least `n` bytes of the vector's buffer, past
    /// `len`, which no borrowed slice can overlap (the vector is borrowed mutably by
    /// `self`).
    #[inline(always)]
    fn room(&mut self, n: usize) -> *mut u8 {
        if n > self.cap - self.len {
            self.grow(n);
        }
        // `ptr` is the vector's buffer of `cap` bytes (set by `new` or `grow`, and the
        // vector is not touched otherwise while `self` borrows it), and the check above
        // leaves at least `n` bytes past `len`: in bounds.
        self.ptr.wrapping_add(self.len)
    }

    /// Appends `b`.
    #[inline(always)]
    pub(crate) fn put(&mut self, b: &[u8]) {
        let dst = self.room(b.len());
        // SAFETY: `dst` has room for `b.len()` bytes that `b` cannot overlap (`room`).
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), dst, b.len()) };
        self.len += b.len();
    }

    /// Appends `b`, a piece whose length is not known at compile time (a handler's
    /// header lines, a small body): up to 32 bytes are copied with two loads and two
    /// stores that may overlap, instead of a call to `memcpy`, which a constant length
    /// never makes but a variable one always does (`http16`: `memmove` was 1.8% of the
    /// server's samples, for a 26-byte header line and a 13-byte body per response).
    #[inline(always)]
    pub(crate) fn put_var(&mut self, b: &[u8]) {
        let n = b.len();
        let (src, dst) = (b.as_ptr(), self.room(n));
        // SAFETY: `dst` has room for `n` bytes that `b` cannot overlap (`room`).
        // Each branch reads and writes only inside `[0, n)` of each: two pieces of `k`
        // bytes at `0` and `n - k`, with `k <= n` (and `n <= 2k`, so they cover it).
        unsafe {
            if (16..=32).contains(&n) {
                copy_ends::<16>(src, dst, n);
            } else if (8..16).contains(&n) {
                copy_ends::<8>(src, dst, n);
            } else if (4..8).contains(&n) {
                copy_ends::<4>(src, dst, n);
            } else if n > 0 && n < 4 {
                // One to three bytes: the first, the middle and the last.
                *dst = *src;
                *dst.add(n / 2) = *src.add(n / 2);
                *dst.add(n - 1) = *src.add(n - 1);
            } else {
                std::ptr::copy_nonoverlapping(src, dst, n);
            }
        }
        self.len += n;
    }

    /// Appends `n` in decimal.
    #[inline(always)]
    pub(crate) fn put_u64(&mut self, n: u64) {
        if n < 10 {
            self.put(&[b'0' + n as u8]);
        } else if n < 100 {
            // Most bodies a server answers with from memory are this short or one digit
            // longer; skip the general loop.
            self.put(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
        } else {
            self.put_long(n);
        }
    }

    #[inline(never)]
    fn put_long(&mut self, mut n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&tmp[i..]);
    }

    /// Makes room for `n` more bytes.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        // SAFETY: `ptr[..len]` is initialised (the invariant): the vector may count it
        // before `reserve` moves it.
        unsafe { self.v.set_len(self.len) };
        self.v.reserve(n);
        self.ptr = self.v.as_mut_ptr();
        self.cap = self.v.capacity();
    }
}

/// Copies `n` bytes, `K <= n <= 2 * K`, from `src` to `dst` as two `K`-byte pieces, at
/// `0` and at `n - K`.
///
/// # Safety
/// `src[..n]` readable, `dst[..n]` writable, the two not overlapping.
#[inline(always)]
unsafe fn copy_ends<const K: usize>(src: *const u8, dst: *mut u8, n: usize) {
    debug_assert!(K <= n && n <= 2 * K);
    // SAFETY: both pieces lie inside `[0, n)` of each buffer (the caller's bounds).
    unsafe {
        let head = std::ptr::read_unaligned(src as *const [u8; K]);
        let tail = std::ptr::read_unaligned(src.add(n - K) as *const [u8; K]);
        std::ptr::write_unaligned(dst as *mut [u8; K], head);
        std::ptr::write_unaligned(dst.add(n - K) as *mut [u8; K], tail);
    }
}

impl Drop for Spare<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `ptr[..len]` is initialised and `len <= cap` (the invariant).
        unsafe { self.v.set_len(self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::Spare;

    #[test]
    fn pieces_land_in_order_and_growth_keeps_them() {
        let mut v = b"ab".to_vec();
        {
            // Far too little room reserved: every piece past it grows the vector.
            let mut w = Spare::new(&mut v, 1);
            for i in 0..300u64 {
                w.put(b"-");
                w.put_u64(i * 37);
            }
            w.put(&[b'x'; 5000]);
            w.put(b"");
        }
        let mut want = b"ab".to_vec();
        for i in 0..300u64 {
            want.extend_from_slice(format!("-{}", i * 37).as_bytes());
        }
        want.extend_from_slice(&[b'x'; 5000]);
        assert_eq!(v, want);
    }

    #[test]
    fn pieces_of_every_small_length() {
        // Each length up to past the inline copies, at every offset in the vector: the
        // overlapping pieces must write exactly the piece's bytes and nothing past it.
        let src: Vec<u8> = (0..80u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(1))
            .collect();
        for at in 0..20 {
            for n in 0..=40 {
                let mut v = vec![0xee; at];
                v.reserve(100);
                {
                    let mut w = Spare::new(&mut v, 0);
                    w.put_var(&src[3..3 + n]);
                    w.put(b"|");
                }
                let mut want = vec![0xee; at];
                want.extend_from_slice(&src[3..3 + n]);
                want.push(b'|');
                assert_eq!(v, want, "at {at}, {n} bytes");
            }
        }
        // Growth from no room, for each size class.
        for n in [1, 3, 5, 9, 17, 33] {
            let mut v = Vec::new();
            Spare::new(&mut v, 0).put_var(&src[..n]);
            assert_eq!(v, &src[..n]);
        }
    }

    #[test]
    fn numbers() {
        for n in [0, 9, 10, 99, 100, 12_345, u64::MAX] {
            let mut v = Vec::new();
            Spare::new(&mut v, 0).put_u64(n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }
}
