//! `getaddrinfo` runs off the P: glibc's resolver blocks in its own `poll`/`recvfrom`
//! (internal calls the hook cannot see), so a goroutine's lookup goes through
//! `gmp::blocking`, where its thread may block while the P runs other goroutines.
//! The real function is found once with `dlsym(RTLD_NEXT)`.

use crate::sys::set_errno;
use libc::{addrinfo, c_char, c_int};
use std::sync::atomic::{AtomicUsize, Ordering::*};

type Getaddrinfo = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// libc's `getaddrinfo`, 0 until looked up.
static REAL: AtomicUsize = AtomicUsize::new(0);

fn real() -> Option<Getaddrinfo> {
    // Relaxed: the address is the same whichever thread looked it up; dlsym is safe to
    // call twice.
    let mut p = REAL.load(Relaxed);
    if p == 0 {
        // SAFETY: dlsym with a NUL-terminated name.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) } as usize;
        REAL.store(p, Relaxed);
    }
    // SAFETY: a non-null address dlsym gave for `getaddrinfo` is that function.
    (p != 0).then(|| unsafe { std::mem::transmute::<usize, Getaddrinfo>(p) })
}

/// `getaddrinfo(3)`: on a goroutine it runs through `gmp::blocking`.
///
/// # Safety
/// libc's contract for `getaddrinfo`.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(f) = real() else {
        set_errno(libc::ENOSYS);
        return libc::EAI_SYSTEM;
    };
    if !crate::can_park() {
        // SAFETY: the caller's arguments, as given.
        return unsafe { f(node, service, hints, res) };
    }
    // SAFETY: as above, on this goroutine's thread with its P handed off.
    gmp_core::blocking(|| unsafe { f(node, service, hints, res) })
}
