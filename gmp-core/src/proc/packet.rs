//! Join packets: the memory a goroutine's result travels through to its `JoinHandle`,
//! and the two references to it (the handle's and the G header's).
//!
//! A spawn needs one packet per handle, and a program may hold a million handles at
//! once (the `spawn+join` benchmark does), so malloc's per-thread caches do not help:
//! in callgrind a packet cost about 370 instructions of malloc and free per spawn+join.
//! Packets that fit a 64-byte block come instead from a cache per thread, refilled in
//! batches from a process-wide list, which is refilled by carving 4 KiB chunks. Blocks
//! are never handed back to libc: after a burst the process keeps 64 bytes per packet
//! that was alive at its peak, next to at least one 4 KiB stack page per goroutine.
//! Larger packets use the global allocator.
//!
//! The invariant: a packet is freed exactly once, by whichever of its two references
//! is dropped last (a hand-rolled count, as `Arc`'s, but without its allocation and
//! weak count), and a block is on at most one free list at a time.
//!
//! The per-thread cache is reached only through `#[inline(never)]` functions that do not
//! switch goroutines: a goroutine may resume on another thread after any switch, and a
//! thread-local address cached across one would be another thread's (lib.rs).

use super::spawn::JoinState;
use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::mem::{align_of, size_of};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

/// The state, the result slot and the runtime id a goroutine's join needs.
#[repr(C)]
pub(super) struct Packet<T> {
    pub(super) join: JoinState,
    /// References alive: 2 when made, one each for the handle and the G header.
    refs: AtomicUsize,
    /// Id of the runtime whose goroutine fills it: only a goroutine of that runtime may
    /// park in `join` (another runtime could end while it waits, leaving its waiter
    /// on an unmapped stack, and could not see the waker when it checks for deadlock).
    pub(super) rt: u64,
    pub(super) result: UnsafeCell<Option<thread::Result<T>>>,
}

/// One counted reference to a [`Packet`]; the last one dropped frees it.
pub(super) struct PacketRef<T>(NonNull<Packet<T>>);

// SAFETY: `result` is written once by the finishing side before the final state is
// published (Release) and read only after observing it (Acquire); the count is atomic.
unsafe impl<T: Send> Send for PacketRef<T> {}
// SAFETY: as above; shared access only reads the state word and the runtime id.
unsafe impl<T: Send> Sync for PacketRef<T> {}

impl<T: Send> PacketRef<T> {
    /// A new packet of runtime `rt` and its two references.
    pub(super) fn new(rt: u64) -> (PacketRef<T>, PacketRef<T>) {
        let p = Packet {
            join: JoinState::new(),
            refs: AtomicUsize::new(2),
            rt,
            result: UnsafeCell::new(None),
        };
        let at = if pooled::<T>() {
            alloc_block().cast::<Packet<T>>()
        } else {
            let layout = Layout::new::<Packet<T>>();
            // SAFETY: `Packet` is never zero-sized (it holds two words).
            let raw = unsafe { alloc::alloc(layout) };
            NonNull::new(raw)
                .unwrap_or_else(|| alloc::handle_alloc_error(layout))
                .cast()
        };
        // SAFETY: a fresh block (or allocation) of the right size and alignment.
        unsafe { at.as_ptr().write(p) };
        (PacketRef(at), PacketRef(at))
    }

    /// Gives this reference to a G header: the G's entry takes it back with
    /// [`from_erased`](Self::from_erased) when the G finishes, the shutdown sweep drops it
    /// through [`Erased::cancel`]. (Dropping the `Erased` itself would leak the packet.)
    pub(super) fn into_erased(self) -> Erased {
        let e = Erased {
            ptr: self.0.cast(),
            cancel: cancel_erased::<T>,
        };
        std::mem::forget(self);
        e
    }

    /// Takes back a reference given away by [`into_erased`](Self::into_erased).
    ///
    /// # Safety
    /// `e` came from `PacketRef::<T>::into_erased`.
    pub(super) unsafe fn from_erased(e: Erased) -> PacketRef<T> {
        PacketRef(e.ptr.cast())
    }
}

impl<T> Deref for PacketRef<T> {
    type Target = Packet<T>;
    fn deref(&self) -> &Packet<T> {
        // SAFETY: this reference keeps the packet alive.
        unsafe { self.0.as_ref() }
    }
}

impl<T> Drop for PacketRef<T> {
    fn drop(&mut self) {
        // Release: this side's writes (the result, the state) happen before the free;
        // the last side's Acquire fence pairs with the other side's Release.
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: the last reference: nobody else reads the packet any more.
        unsafe {
            self.0.as_ptr().drop_in_place();
            if pooled::<T>() {
                free_block(self.0.cast());
            } else {
                alloc::dealloc(self.0.as_ptr().cast(), Layout::new::<Packet<T>>());
            }
        }
    }
}

/// A G header's reference to its packet, without the result type.
pub(super) struct Erased {
    ptr: NonNull<u8>,
    cancel: unsafe fn(NonNull<u8>),
}

impl Erased {
    /// The G will never finish (its runtime shut down): the joiner gets an error, and
    /// this reference is dropped.
    pub(super) fn cancel(self) {
        // SAFETY: `cancel` is `cancel_erased::<T>` for the `T` that made `ptr`.
        unsafe { (self.cancel)(self.ptr) }
    }
}

unsafe fn cancel_erased<T: Send>(ptr: NonNull<u8>) {
    // SAFETY: per `Erased::cancel`.
    let p = unsafe {
        PacketRef::<T>::from_erased(Erased {
            ptr,
            cancel: cancel_erased::<T>,
        })
    };
    p.join.finish(crate::words::join::CANCELLED);
}

/// Whether `Packet<T>` lives in a pooled block.
const fn pooled<T>() -> bool {
    size_of::<Packet<T>>() <= BLOCK && align_of::<Packet<T>>() <= BLOCK
}

// ---- the block pool -------------------------------------------------------------------

/// A packet block: one cache line, so two packets never share one (their state words
/// are written by goroutines on different CPUs).
const BLOCK: usize = 64;
/// Blocks carved per allocation from the global allocator.
const CHUNK: usize = 64;
/// Blocks a thread takes from, or gives to, the shared list at once.
const BATCH: usize = 32;
/// Blocks a thread's cache holds before it gives `BATCH` back.
const CACHE_MAX: usize = 2 * BATCH;

#[repr(C, align(64))]
struct Block([u8; BLOCK]);

/// A free block's address (a usize, so the lists are `Send`).
type Free = usize;

static SHARED: Mutex<Vec<Free>> = Mutex::new(Vec::new());

struct Cache(UnsafeCell<Vec<Free>>);

impl Drop for Cache {
    fn drop(&mut self) {
        let mine = self.0.get_mut();
        if !mine.is_empty() {
            shared().append(mine);
        }
    }
}

thread_local! {
    static CACHE: Cache = const { Cache(UnsafeCell::new(Vec::new())) };
}

fn shared() -> std::sync::MutexGuard<'static, Vec<Free>> {
    // A panic under this lock leaves the list consistent (pushes and pops only).
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A free block: from this thread's cache, refilled from the shared list or a new chunk.
#[inline(never)]
fn alloc_block() -> NonNull<Block> {
    let got = CACHE.try_with(|c| {
        // SAFETY: only this thread touches its cache, and nothing here re-enters it.
        let mine = unsafe { &mut *c.0.get() };
        if mine.is_empty() {
            refill(mine);
        }
        mine.pop()
    });
    match got {
        Ok(Some(b)) => NonNull::new(b as *mut Block).expect("free blocks are not null"),
        // This thread's cache is gone (a thread-local destructor spawns).
        _ => {
            let mut one = Vec::new();
            refill(&mut one);
            let b = one.pop().expect("refill yields blocks");
            shared().append(&mut one);
            NonNull::new(b as *mut Block).expect("free blocks are not null")
        }
    }
}

/// Fills an empty `mine` with a batch from the shared list, or carves a chunk.
fn refill(mine: &mut Vec<Free>) {
    {
        let mut sh = shared();
        let n = sh.len().min(BATCH);
        if n > 0 {
            let at = sh.len() - n;
            mine.extend(sh.drain(at..));
            return;
        }
    }
    let layout = Layout::new::<[Block; CHUNK]>();
    // SAFETY: the layout is not zero-sized.
    let chunk = unsafe { alloc::alloc(layout) };
    if chunk.is_null() {
        alloc::handle_alloc_error(layout);
    }
    mine.extend((0..CHUNK).map(|i| chunk as usize + i * BLOCK));
}

/// Puts a block back on this thread's cache, giving a batch to the shared list when
/// the cache is full.
///
/// # Safety
/// `b` came from `alloc_block` and nothing uses it any more.
#[inline(never)]
unsafe fn free_block(b: NonNull<Block>) {
    let b = b.as_ptr() as Free;
    let kept = CACHE.try_with(|c| {
        // SAFETY: only this thread touches its cache, and nothing here re-enters it.
        let mine = unsafe { &mut *c.0.get() };
        mine.push(b);
        if mine.len() > CACHE_MAX {
            let at = mine.len() - BATCH;
            shared().extend(mine.drain(at..));
        }
    });
    if kept.is_err() {
        shared().push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Blocks go round between threads (allocated on one, freed on another, as a
    /// spawner's packets freed by the thief that ran a detached G) and none is handed
    /// out twice while in use.
    #[test]
    fn blocks_cross_threads_and_are_never_shared() {
        const N: usize = 20_000;
        let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let (tx, rx) = std::sync::mpsc::sync_channel::<usize>(1024);
        let freer = thread::spawn(move || {
            for b in rx {
                // SAFETY: each block came from `alloc_block` and is used by no one.
                unsafe { free_block(NonNull::new(b as *mut Block).unwrap()) };
            }
        });
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let seen = seen.clone();
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..N {
                        let b = alloc_block();
                        assert_eq!(b.as_ptr() as usize % BLOCK, 0);
                        assert!(seen.lock().unwrap().insert(b.as_ptr() as usize));
                        // Write the whole block, as a packet would.
                        // SAFETY: the block is ours until it is freed below.
                        unsafe { b.as_ptr().write(Block([i as u8; BLOCK])) };
                        assert!(seen.lock().unwrap().remove(&(b.as_ptr() as usize)));
                        if i % 2 == 0 {
                            tx.send(b.as_ptr() as usize).unwrap();
                        } else {
                            // SAFETY: as above.
                            unsafe { free_block(b) };
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for w in workers {
            w.join().unwrap();
        }
        freer.join().unwrap();
    }

    /// The last reference frees the packet and drops an untaken result, whichever side
    /// drops last; both sides race from two threads.
    #[test]
    fn last_reference_drops_the_result_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        const N: usize = 20_000;
        for i in 0..N {
            let (a, b) = PacketRef::<Counted>::new(7);
            // SAFETY: only `b`'s owner writes the result, before finishing.
            unsafe { *b.result.get() = Some(Ok(Counted(drops.clone()))) };
            b.join.finish(crate::words::join::DONE);
            let t = thread::spawn(move || drop(b));
            if i % 2 == 0 {
                drop(a);
                t.join().unwrap();
            } else {
                t.join().unwrap();
                assert!(a.join.is_final());
                drop(a);
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), N);
    }
}
