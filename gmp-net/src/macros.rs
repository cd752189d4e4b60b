//! Method and trait blocks that every socket type shares, written once.

/// `AsRawFd`, `AsFd` and `Debug` through the inner std socket.
macro_rules! fd_impls {
    ($t:ty) => {
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.sock.get().as_raw_fd()
            }
        }
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.sock.get().as_fd()
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.sock.get(), f)
            }
        }
    };
}

/// `TryFrom` both ways between a gmp-net type and its std counterpart.
macro_rules! std_conversions {
    ($ours:ty, $std:ty) => {
        impl TryFrom<$std> for $ours {
            type Error = io::Error;
            fn try_from(s: $std) -> io::Result<$ours> {
                <$ours>::from_std(s)
            }
        }
        impl TryFrom<$ours> for $std {
            type Error = io::Error;
            fn try_from(s: $ours) -> io::Result<$std> {
                s.into_std()
            }
        }
    };
}

/// The four timeout methods, as associated items inside an `impl` block.
macro_rules! timeout_methods {
    () => {
        /// An operation that waits longer than `dur` fails with `TimedOut`; `None` waits
        /// forever. A zero duration is an error, as in std.
        pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.sock
                .set_timeout(gmp_core::__private::netpoll::Mode::Read, dur)
        }
        /// A write that waits longer than `dur` fails with `TimedOut`; `None` waits
        /// forever. A zero duration is an error, as in std.
        pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.sock
                .set_timeout(gmp_core::__private::netpoll::Mode::Write, dur)
        }
        /// The read timeout set by `set_read_timeout`.
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.sock.timeout(gmp_core::__private::netpoll::Mode::Read))
        }
        /// The write timeout set by `set_write_timeout`.
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.sock.timeout(gmp_core::__private::netpoll::Mode::Write))
        }
    };
}

/// `Read` and `Write` for a stream type and for shared references to it. Reads go
/// through `Sock::read` (the drained-socket rule), writes through `Sock::io`; the
/// syscalls are `sys.rs`'s.
macro_rules! stream_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let want = buf.len();
                self.sock
                    .read(want, |s| $crate::sys::recv(s.as_raw_fd(), buf))
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let want = bufs.iter().map(|b| b.len()).sum();
                self.sock
                    .read(want, |s| $crate::sys::readv(s.as_raw_fd(), bufs))
            }
        }
        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock
                    .io(gmp_core::__private::netpoll::Mode::Write, |s| {
                        $crate::sys::send(s.as_raw_fd(), buf)
                    })
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.sock
                    .io(gmp_core::__private::netpoll::Mode::Write, |s| {
                        $crate::sys::sendv(s.as_raw_fd(), bufs)
                    })
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }
        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
