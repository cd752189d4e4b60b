//! What the Rust floors (tls-floor, http-parse-floor) share of bench/floor/http-floor.c's
//! loop, with libc called directly: a nonblocking listening socket (backlog 4096), an
//! edge-triggered epoll set, the wait, and a connection accepted nonblocking, with
//! TCP_NODELAY, and registered. Each floor keeps its own loop around them, as
//! http-floor.c's, so that what it costs per request is its own code's.

use std::io;

/// A nonblocking listening socket on `addr` (IPv4 HOST:PORT); `who` names the program in
/// a panic.
pub fn listen(addr: &str, who: &str) -> i32 {
    let sa: std::net::SocketAddrV4 = addr
        .parse()
        .unwrap_or_else(|e| panic!("{who}: bad address {addr}: {e}"));
    // SAFETY: plain socket calls on a socket made here, with a sockaddr_in built in full.
    unsafe {
        let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
        let one: libc::c_int = 1;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            l,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const i32).cast(),
            size,
        );
        let mut s: libc::sockaddr_in = std::mem::zeroed();
        s.sin_family = libc::AF_INET as libc::sa_family_t;
        s.sin_port = sa.port().to_be();
        s.sin_addr.s_addr = u32::from_ne_bytes(sa.ip().octets());
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(l, (&s as *const libc::sockaddr_in).cast(), len) != 0
            || libc::listen(l, 4096) != 0
        {
            panic!("{who}: bind {addr}: {}", io::Error::last_os_error());
        }
        l
    }
}

/// An epoll set with `l` in it, edge-triggered for reading.
pub fn epoll(l: i32) -> i32 {
    // SAFETY: epoll calls on descriptors made here.
    unsafe {
        let ep = libc::epoll_create1(0);
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: l as u64,
        };
        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, l, &mut ev);
        ep
    }
}

/// Waits for events on `ep` and returns them, each one's descriptor in its `u64`.
pub fn wait(ep: i32, evs: &mut [libc::epoll_event]) -> &[libc::epoll_event] {
    // SAFETY: `evs` is valid for its length.
    let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, -1) };
    &evs[..n.max(0) as usize]
}

/// Accepts one pending connection on `l`, if there is one: nonblocking, TCP_NODELAY,
/// registered with `ep` for `interest | EPOLLET`.
pub fn accept(l: i32, ep: i32, interest: i32) -> Option<i32> {
    // SAFETY: accept on the listening socket, addresses not wanted.
    let s = unsafe {
        libc::accept4(
            l,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK,
        )
    };
    if s < 0 {
        return None;
    }
    let one: libc::c_int = 1;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let mut e = libc::epoll_event {
        events: (interest | libc::EPOLLET) as u32,
        u64: s as u64,
    };
    // SAFETY: options and registration of the socket just accepted.
    unsafe {
        libc::setsockopt(
            s,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const i32).cast(),
            size,
        );
        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s, &mut e);
    }
    Some(s)
}

/// Stores a connection's state at its descriptor in `conns`, the floors' table of
/// connections by descriptor, growing the table to reach it.
pub fn put<T>(conns: &mut Vec<Option<Box<T>>>, fd: i32, c: T) {
    let i = fd as usize;
    if conns.len() <= i {
        conns.resize_with(i + 1, || None);
    }
    conns[i] = Some(Box::new(c));
}
