//! The atomics of the words (`words/`), and the mutex of the locked-M list: std's in
//! every normal build, loom's in a build with `RUSTFLAGS="--cfg loom"` (`scripts/loom.sh`), so the
//! model checker drives the same code the runtime runs. Nothing else in the crate uses
//! this facade: in a loom build only the word types are loom's, and only their loom
//! tests may run (a loom atomic outside `loom::model` panics).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
