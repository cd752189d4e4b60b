//! Goroutine stacks: carved from large mappings, a guard page under each, recycled, trimmed,
//! and overflow reported by name.
//!
//! A stack pool serves one stack size. It maps *chunks* — one private anonymous
//! `MAP_NORESERVE` mapping holding many `[guard page][stack]` slots — and carves slots
//! from the newest chunk on demand. Guards are installed with
//! `madvise(MADV_GUARD_INSTALL)`, which keeps them in the page tables, so a chunk stays
//! one VMA however many guards it holds: a million guarded stacks need a few hundred
//! mappings, far under the default `vm.max_map_count` of 65530. On kernels older than
//! 6.13 the pool falls back to `mprotect(PROT_NONE)`, which splits the VMA at every guard
//! (about 32,000 stacks under the default limit); when that runs out, the error says which
//! limit was hit.
//!
//! Why not one `mmap` per stack: two VMAs each (stack + guard) is what caps a
//! one-mapping-per-stack runtime near 32,000 goroutines, and each spawn would pay for
//! `mmap`+`munmap`. Slots are never unmapped one by one: a finished G's stack goes to a
//! free list (per P in `p.rs`, spilling here), and all chunks are unmapped when the
//! runtime ends.
//!
//! Pages are committed only when touched. A recycled stack that grew deep is trimmed with
//! `MADV_DONTNEED` below [`TRIM_KEEP`], so memory returns after a burst of deep calls.
//!
//! A guard-page hit is reported by the SIGSEGV handler of `signal.rs`, which asks
//! [`guard_hit`] whether the fault address lies in the running G's guard page.

use super::g::G;
use super::m;
use crate::signal::Overflow;
use std::io;
use std::ptr;
use std::sync::Mutex;

pub(super) const PAGE: usize = 4096;

/// Default usable stack size of a G (virtual; only touched pages cost memory).
pub const DEFAULT_STACK_SIZE: usize = 256 << 10;

/// Smallest stack a G may ask for: the G header, its start closure and a few frames.
pub const MIN_STACK_SIZE: usize = 16 << 10;

/// A recycled stack keeps this much committed at its top; deeper pages are released.
/// 32 KiB holds the frames of a typical connection handler, so the common case never
/// pays the `madvise`.
const TRIM_KEEP: usize = 32 << 10;

/// Address space per chunk, about 1 GiB: 4,032 default stacks, so a million default
/// stacks take ~250 mappings.
const CHUNK_BYTES: usize = 1 << 30;

/// `MADV_GUARD_INSTALL` (Linux 6.13); libc has no constant for it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Largest stack a G may ask for: 1 GiB, a chunk's worth of address space.
pub const MAX_STACK_SIZE: usize = CHUNK_BYTES;

/// Rounds a requested stack size to whole pages, at least [`MIN_STACK_SIZE`]; an error
/// above [`MAX_STACK_SIZE`].
pub(crate) fn round_size(bytes: usize) -> io::Result<usize> {
    if bytes > MAX_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("goroutine stack size {bytes} is above the maximum of {MAX_STACK_SIZE} bytes"),
        ));
    }
    Ok(bytes.max(MIN_STACK_SIZE).div_ceil(PAGE) * PAGE)
}

/// The usable part of one stack slot: `[lo, hi)`, guard page at `[lo - PAGE, lo)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stack {
    pub(super) lo: usize,
    pub(super) hi: usize,
}

impl Stack {
    /// Releases the pages below the top [`TRIM_KEEP`] bytes if the stack was used that
    /// deep. `min_sp` is the lowest SP the G was saved at (every park, yield and exit
    /// records it): a G that went deep and switched there is trimmed; one whose deep
    /// calls all returned before its next switch keeps those pages until its stack is
    /// next trimmed. (Probing the memory instead cost a page fault per new stack.)
    pub(super) fn trim(&self, min_sp: usize) {
        let keep_lo = self.hi - TRIM_KEEP;
        if keep_lo <= self.lo {
            return;
        }
        if min_sp < keep_lo {
            // SAFETY: the range is part of our private mapping and holds no live data.
            unsafe {
                libc::madvise(self.lo as *mut _, keep_lo - self.lo, libc::MADV_DONTNEED);
            }
        }
    }
}

/// Returns to the OS the running goroutine's stack pages below the caller's frame. For
/// a goroutine that has just returned from one deep call and will now mostly wait: a
/// TLS handshake touches about 12 KiB of stack below the connection loop (rustls and
/// ring), which an idle keep-alive connection would otherwise hold until its goroutine
/// exits. One `madvise`; outside a goroutine, nothing.
#[inline(never)]
pub fn release_below_caller() {
    let m = m::current();
    if m.is_null() {
        return;
    }
    // SAFETY: `m` is this thread's live M; `curg` is the G running on it (this one), and
    // its header stays valid while it runs. Nothing here can switch.
    let g = unsafe { (*m).curg };
    if g.is_null() {
        return;
    }
    let sp = crate::arch::sp();
    // SAFETY: as above: the running G's header.
    let stack = unsafe { (*g).stack };
    if sp < stack.lo || sp >= stack.hi {
        // On g0 or a foreign stack: not ours to release.
        return;
    }
    // Nothing below `sp` is live; the `madvise` call is about to push a few bytes there,
    // so a margin stays (the whole page when `sp` is less than 256 bytes into it).
    let end = sp.saturating_sub(256) & !(PAGE - 1);
    if end > stack.lo {
        // SAFETY: `[lo, end)` is part of this G's stack in our private mapping and lies
        // below the deepest live frame (this one): it holds no live data. The
        // pages read back as zeros when touched again.
        unsafe {
            libc::madvise(stack.lo as *mut _, end - stack.lo, libc::MADV_DONTNEED);
        }
    }
    // SAFETY: as above. The pages below `sp` are released, so trimming at exit needs to
    // know only how deep the G goes from here.
    unsafe { (*g).min_sp = sp };
}

struct Chunk {
    base: usize,
    len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GuardMode {
    /// Try `MADV_GUARD_INSTALL` first; not yet known to work.
    Unknown,
    Madvise,
    Mprotect,
}

struct PoolInner {
    chunks: Vec<Chunk>,
    /// Next unused slot address in the newest chunk, and its end.
    carve: usize,
    carve_end: usize,
    guard: GuardMode,
    /// Under valgrind, the ids of the stacks registered with it (`crate::valgrind`);
    /// empty natively.
    valgrind_ids: Vec<usize>,
}

/// Maps and carves stacks of one size, and keeps the shared list of free Gs (each G
/// lives at the top of its stack, so a free G *is* a free stack).
pub(super) struct StackPool {
    pub(super) size: usize,
    slot: usize,
    inner: Mutex<PoolInner>,
    free: Mutex<Vec<FreeG>>,
}

struct FreeG(*mut G);

// SAFETY: a free G is owned by the list; whoever takes it owns it.
unsafe impl Send for FreeG {}

impl StackPool {
    /// A pool for stacks of `size` bytes (already rounded by `round_size`).
    pub(super) fn new(size: usize) -> StackPool {
        StackPool {
            size,
            slot: size + PAGE,
            inner: Mutex::new(PoolInner {
                chunks: Vec::new(),
                carve: 0,
                carve_end: 0,
                guard: initial_guard_mode(),
                valgrind_ids: Vec::new(),
            }),
            free: Mutex::new(Vec::new()),
        }
    }

    fn free_list(&self) -> std::sync::MutexGuard<'_, Vec<FreeG>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves up to `n` free Gs into a P's cache.
    pub(super) fn take_free(&self, cache: &mut Vec<*mut G>, n: usize) {
        let mut free = self.free_list();
        let k = free.len().saturating_sub(n);
        cache.extend(free.drain(k..).map(|f| f.0));
    }

    /// Moves `n` Gs from a P's cache to the shared list.
    pub(super) fn put_free(&self, cache: &mut Vec<*mut G>, n: usize) {
        let k = cache.len().saturating_sub(n);
        self.free_list().extend(cache.drain(k..).map(FreeG));
    }

    pub(super) fn take_one(&self) -> Option<*mut G> {
        self.free_list().pop().map(|f| f.0)
    }

    pub(super) fn put_one(&self, g: *mut G) {
        self.free_list().push(FreeG(g));
    }

    /// Carves a fresh stack with its guard page installed.
    #[cfg(test)]
    pub(super) fn carve(&self) -> io::Result<Stack> {
        Ok(self.carve_batch(1)?[0])
    }

    /// Carves up to `max` (at least one) fresh stacks, guards installed and top pages
    /// committed, with two `process_madvise` calls for the whole batch where the kernel
    /// has it: one `madvise` per stack cost about 1 µs each, which is what a burst of
    /// spawns paid per new goroutine (see `CARVE_BATCH` in g.rs).
    pub(super) fn carve_batch(&self, max: usize) -> io::Result<Vec<Stack>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.carve + self.slot > inner.carve_end {
            let slots = (CHUNK_BYTES / self.slot).clamp(16, 4096);
            let len = slots * self.slot;
            // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
            let base = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot map {} MiB for goroutine stacks: {e}", len >> 20),
                ));
            }
            // Huge pages would turn a 4 KiB stack top into 2 MiB of memory.
            // SAFETY: advice on our own fresh mapping.
            unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
            inner.chunks.push(Chunk {
                base: base as usize,
                len,
            });
            super::traceback::debug_chunk(base as usize, len, self.slot, true);
            inner.carve = base as usize;
            inner.carve_end = base as usize + len;
        }
        let room = (inner.carve_end - inner.carve) / self.slot;
        let n = max.clamp(1, room);
        let guards: Vec<usize> = (0..n).map(|i| inner.carve + i * self.slot).collect();
        if inner.guard == GuardMode::Madvise && madvise_batch(&guards, MADV_GUARD_INSTALL).is_ok() {
            // Installed in one call.
        } else {
            for &g in &guards {
                install_guard(&mut inner.guard, g)?;
            }
        }
        inner.carve += n * self.slot;
        if crate::valgrind::running() {
            for &g in &guards {
                let id = crate::valgrind::stack_register(g + PAGE, g + self.slot);
                inner.valgrind_ids.push(id);
            }
        }
        drop(inner);
        // Commit the top pages now, in one call, rather than in n page faults. Best
        // effort: the pages fault in on first touch anyway.
        let tops: Vec<usize> = guards.iter().map(|g| g + self.slot - PAGE).collect();
        let _ = madvise_batch(&tops, libc::MADV_POPULATE_WRITE);
        Ok(guards
            .into_iter()
            .map(|g| Stack {
                lo: g + PAGE,
                hi: g + self.slot,
            })
            .collect())
    }

    /// Every stack carved so far, for the shutdown sweep.
    pub(super) fn for_each_carved(&self, mut f: impl FnMut(Stack)) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for c in &inner.chunks {
            let end = if c.base + c.len == inner.carve_end {
                inner.carve
            } else {
                c.base + c.len
            };
            let mut guard = c.base;
            while guard + self.slot <= end {
                f(Stack {
                    lo: guard + PAGE,
                    hi: guard + self.slot,
                });
                guard += self.slot;
            }
        }
    }

    /// The pool's chunks as `(base, len)`: the address space it has mapped (`metrics`).
    pub(super) fn chunks(&self) -> Vec<(usize, usize)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.chunks.iter().map(|c| (c.base, c.len)).collect()
    }

    /// Whether `addr` lies in any chunk of this pool.
    #[cfg(test)]
    pub(super) fn contains(&self, addr: usize) -> bool {
        let inner = self.inner.lock().unwrap();
        inner
            .chunks
            .iter()
            .any(|c| addr >= c.base && addr < c.base + c.len)
    }
}

/// `GMP_STACK_GUARDS=mprotect` makes guards with `mprotect` from the start. gdb's
/// `gcore` reads a mapping 1 MiB at a time and gives up on the whole mapping at the
/// first block that faults, which every block of a chunk with `MADV_GUARD_INSTALL`
/// guards does: its core file then has no goroutine stacks. `mprotect` guards are
/// mappings of their own, which `gcore` skips. For a process to be debugged from core
/// files; it costs a mapping per stack (about 32,000 stacks under the default
/// `vm.max_map_count`).
fn initial_guard_mode() -> GuardMode {
    static MODE: std::sync::OnceLock<GuardMode> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| match std::env::var("GMP_STACK_GUARDS").as_deref() {
        Ok("mprotect") => GuardMode::Mprotect,
        Ok("madvise") | Err(_) => GuardMode::Unknown,
        Ok(v) => panic!("GMP_STACK_GUARDS must be madvise or mprotect, got {v:?}"),
    })
}

impl Drop for StackPool {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        for id in inner.valgrind_ids.drain(..) {
            crate::valgrind::stack_deregister(id);
        }
        for c in inner.chunks.drain(..) {
            super::traceback::debug_chunk(c.base, c.len, self.slot, false);
            // SAFETY: the runtime drops its pools only after every M has exited, so no
            // thread runs on these stacks any more.
            unsafe { libc::munmap(c.base as *mut _, c.len) };
        }
    }
}

/// `process_madvise(2)` on this process: one `advice` over many single pages.
fn madvise_batch(pages: &[usize], advice: libc::c_int) -> io::Result<()> {
    let fd = self_pidfd()?;
    for batch in pages.chunks(512) {
        let iov: Vec<libc::iovec> = batch
            .iter()
            .map(|&p| libc::iovec {
                iov_base: p as *mut libc::c_void,
                iov_len: PAGE,
            })
            .collect();
        // SAFETY: the iovecs name pages of our own mappings; the kernel only reads them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                fd,
                iov.as_ptr(),
                iov.len(),
                advice,
                0,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if r as usize != batch.len() * PAGE {
            return Err(io::Error::other(
                "process_madvise advised only part of the batch",
            ));
        }
    }
    Ok(())
}

/// A pidfd for this process, reopened after a fork (the cached one would name the parent).
fn self_pidfd() -> io::Result<libc::c_int> {
    static CACHE: Mutex<Option<(libc::pid_t, libc::c_int)>> = Mutex::new(None);
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    if let Some((p, fd)) = *c {
        if p == pid {
            return Ok(fd);
        }
    }
    // SAFETY: pidfd_open on our own pid; the descriptor is kept for the process's life.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    *c = Some((pid, fd));
    Ok(fd)
}

fn install_guard(mode: &mut GuardMode, page: usize) -> io::Result<()> {
    if *mode != GuardMode::Mprotect {
        // SAFETY: `page` is the first page of a slot in our own mapping.
        let r = unsafe { libc::madvise(page as *mut _, PAGE, MADV_GUARD_INSTALL) };
        if r == 0 {
            *mode = GuardMode::Madvise;
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if *mode == GuardMode::Madvise || e.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot install a stack guard page with MADV_GUARD_INSTALL: {e}"),
            ));
        }
        tracing::debug!("MADV_GUARD_INSTALL unsupported; stack guards fall back to mprotect");
        *mode = GuardMode::Mprotect;
    }
    // SAFETY: as above.
    if unsafe { libc::mprotect(page as *mut _, PAGE, libc::PROT_NONE) } != 0 {
        let e = io::Error::last_os_error();
        let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(io::Error::new(
            e.kind(),
            format!(
                "cannot install a stack guard page with mprotect ({e}): this kernel has no \
                 MADV_GUARD_INSTALL, so every guard splits a mapping, and vm.max_map_count \
                 ({limit}) limits how many there can be; raise it or use fewer goroutines"
            ),
        ));
    }
    Ok(())
}

// ---- overflow ---------------------------------------------------------------------

/// For the SIGSEGV handler (`signal.rs`): the goroutine running on this thread, if
/// `addr` lies in its stack's guard page.
pub(crate) fn guard_hit(addr: usize) -> Option<Overflow> {
    let (id, name, lo, hi) = m::running_g_for_signal()?;
    (addr >= lo - PAGE && addr < lo).then_some(Overflow {
        id,
        name,
        stack_kib: (hi - lo) >> 10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carve_rounds_and_guards() {
        let pool = StackPool::new(round_size(20_000).unwrap());
        assert_eq!(pool.size, 20480);
        let a = pool.carve().unwrap();
        let b = pool.carve().unwrap();
        assert_eq!(a.hi - a.lo, 20480);
        assert_eq!(
            b.lo,
            a.hi + PAGE,
            "slots are adjacent: guard, stack, guard, stack"
        );
        assert!(pool.contains(a.lo) && pool.contains(b.hi - 1));
        let mut n = 0;
        pool.for_each_carved(|_| n += 1);
        assert_eq!(n, 2);
    }

    #[test]
    fn many_guarded_stacks_stay_few_mappings() {
        let maps_before = count_maps();
        let pool = StackPool::new(MIN_STACK_SIZE);
        for _ in 0..20_000 {
            let s = pool.carve().unwrap();
            // Touch the top page like a G would.
            // SAFETY: inside the usable range.
            unsafe { ptr::write_volatile((s.hi - 8) as *mut usize, 1) };
        }
        let grown = count_maps().saturating_sub(maps_before);
        // With MADV_GUARD_INSTALL 20,000 guards add a handful of chunks; with the
        // mprotect fallback they add 40,000 VMAs.
        assert!(
            grown < 100 || !guard_install_supported(),
            "mappings grew by {grown}"
        );
    }

    #[test]
    fn trim_keeps_shallow_stacks() {
        let pool = StackPool::new(256 << 10);
        let s = pool.carve().unwrap();
        // SAFETY: inside the usable range.
        unsafe { ptr::write_volatile((s.hi - 64) as *mut usize, 7) };
        s.trim(s.hi - 1024);
        // SAFETY: as above.
        let kept = unsafe { ptr::read_volatile((s.hi - 64) as *const usize) };
        assert_eq!(kept, 7);
    }

    #[test]
    fn trim_releases_deep_pages() {
        let pool = StackPool::new(256 << 10);
        let s = pool.carve().unwrap();
        // A G that parked with its SP deep in the stack.
        let deep = s.lo + PAGE;
        let kept = s.hi - 64;
        // SAFETY: inside the usable range.
        unsafe {
            ptr::write_volatile(deep as *mut usize, 42);
            ptr::write_volatile(kept as *mut usize, 7);
        }
        s.trim(deep);
        // SAFETY: as above; the top TRIM_KEEP bytes are kept.
        assert_eq!(unsafe { ptr::read_volatile(kept as *const usize) }, 7);
        // SAFETY: as above; after MADV_DONTNEED the page reads back as zero.
        assert_eq!(unsafe { ptr::read_volatile(deep as *const usize) }, 0);
    }

    #[test]
    fn release_below_caller_returns_a_deep_calls_pages() {
        crate::run(|| {
            let (_, _, lo, hi) = m::running_g_for_signal().expect("on a goroutine");
            touch_stack(64);
            let before = resident_pages(lo, hi);
            release_below_caller();
            let after = resident_pages(lo, hi);
            // 64 KiB of frames went resident; after, only what lies above this frame
            // (the goroutine's start and its header) and the page kept below it.
            assert!(before >= 16, "{before} pages resident after the deep call");
            assert!(after + 14 <= before, "{before} pages before, {after} after");
            // The released pages work again, as zeros.
            touch_stack(64);
        });
        // Outside a goroutine it does nothing (and does not crash).
        release_below_caller();
    }

    /// Recursion that touches about `kib` KiB of stack below the caller.
    #[inline(never)]
    fn touch_stack(kib: usize) {
        let mut frame = [0u8; 1024];
        std::hint::black_box(&mut frame);
        if kib > 1 {
            touch_stack(kib - 1);
        }
        std::hint::black_box(&frame);
    }

    fn resident_pages(lo: usize, hi: usize) -> usize {
        let mut vec = vec![0u8; (hi - lo) / PAGE];
        // SAFETY: `[lo, hi)` is a page-aligned range of our mapping and `vec` has a byte
        // per page.
        let r = unsafe { libc::mincore(lo as *mut _, hi - lo, vec.as_mut_ptr()) };
        assert_eq!(r, 0, "mincore: {}", io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 == 1).count()
    }

    fn count_maps() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    }

    fn guard_install_supported() -> bool {
        let pool = StackPool::new(MIN_STACK_SIZE);
        let _ = pool.carve();
        let mode = pool.inner.lock().unwrap().guard;
        mode == GuardMode::Madvise
    }
}
