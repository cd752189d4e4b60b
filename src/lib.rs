//! gmp: network servers in plain blocking style on stackful goroutines, scheduled the way
//! Go's runtime does it. No `async` anywhere.
//!
//! ```
//! let answer = gmp::run(|| {
//!     let h = gmp::spawn(|| 6 * 7);
//!     h.join().unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```

pub use gmp_core::*;
