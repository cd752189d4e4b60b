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

    /// Appends `b`.
    #[inline(always)]
    pub(crate) fn put(&mut self, b: &[u8]) {
        if b.len() > self.cap - self.len {
            self.grow(b.len());
        }
        // SAFETY: `ptr` is the vector's buffer of `cap` bytes (set by `new` or `grow`,
        // and the vector is not touched otherwise while `self` borrows it), and the
        // check above leaves at least `b.len()` bytes past `len`. `b` cannot overlap
        // them: it is borrowed while `self` holds the vector mutably.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.ptr.add(self.len), b.len()) };
        self.len += b.len();
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
    fn numbers() {
        for n in [0, 9, 10, 99, 100, 12_345, u64::MAX] {
            let mut v = Vec::new();
            Spare::new(&mut v, 0).put_u64(n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }
}
