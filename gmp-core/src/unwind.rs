//! Walking a stack that is not the caller's, and naming the code addresses found: the
//! machinery under goroutine dumps. Knows nothing of goroutines: it is given a saved
//! PC, SP and BP and a function that reads a stack word (or refuses to).
//!
//! Why `.eh_frame` and not frame pointers: rustc's release profile omits frame pointers
//! (on x86-64 Linux a release function opens with `push r15; push r14; ...`, not
//! `push rbp; mov rbp, rsp`; checked with `objdump -d` on rustc 1.95), so a frame-pointer
//! walk from a parked goroutine stops, or wanders, at its first optimised frame, and
//! `-C force-frame-pointers=yes` is the user's choice, not ours. Every object of the
//! process carries `.eh_frame` for panics, so [framehop] unwinds with it (falling back
//! to the frame pointer where a frame has no CFI), over the modules listed once with
//! `dl_iterate_phdr`, and `backtrace`'s symbolizer (gimli over the binary's DWARF, as
//! std's own panic backtraces) names the addresses, inlined frames included.
//!
//! Without the `traceback` feature nothing is walked or named: dumps list goroutines,
//! their states and creators, without frames.
//!
//! [framehop]: https://docs.rs/framehop

/// One source-level frame at a code address (several, when calls were inlined).
#[derive(Clone, Debug)]
pub(crate) struct Sym {
    /// The demangled function path, without the hash.
    pub(crate) name: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

#[cfg(feature = "traceback")]
mod imp {
    use super::Sym;
    use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
    use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};
    use std::sync::OnceLock;

    type Native = UnwinderX86_64<&'static [u8]>;

    /// The most frames a walk returns (a deeper stack is cut, as Go cuts at 100).
    const MAX_FRAMES: usize = 100;

    /// The unwinder's rule cache, reused across the walks of one dump.
    pub(crate) struct Cache(CacheX86_64);

    impl Cache {
        pub(crate) fn new() -> Cache {
            Cache(CacheX86_64::new())
        }
    }

    /// The modules loaded when the first walk ran (a library loaded later with
    /// `dlopen` is not in it: its frames end the walk).
    fn unwinder() -> &'static Native {
        static U: OnceLock<Native> = OnceLock::new();
        U.get_or_init(|| {
            let mut u = Native::new();
            for m in modules() {
                u.add_module(m);
            }
            u
        })
    }

    /// Every loaded object's text and `.eh_frame`, from its program headers.
    fn modules() -> Vec<Module<&'static [u8]>> {
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: `dl_iterate_phdr` passes a valid info for one loaded object, and
            // `data` is the `Vec` passed below.
            unsafe {
                let out = &mut *(data as *mut Vec<Module<&'static [u8]>>);
                if let Some(m) = module(&*info) {
                    out.push(m);
                }
            }
            0
        }
        let mut out: Vec<Module<&'static [u8]>> = Vec::new();
        // SAFETY: the callback only reads the program headers it is given.
        unsafe { libc::dl_iterate_phdr(Some(each), &mut out as *mut _ as *mut libc::c_void) };
        out
    }

    /// # Safety
    /// `info` describes a loaded object: its headers and segments are mapped, and stay
    /// so while it is loaded (objects are assumed never unloaded during a dump).
    unsafe fn module(info: &libc::dl_phdr_info) -> Option<Module<&'static [u8]>> {
        let bias = info.dlpi_addr;
        // SAFETY: per the contract, `dlpi_phdr` points at `dlpi_phnum` headers.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let text = phdrs
            .iter()
            .find(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_X != 0)?;
        let hdr = phdrs.iter().find(|p| p.p_type == libc::PT_GNU_EH_FRAME)?;
        // SAFETY: segments of a loaded object are mapped and readable.
        let slice = |svma: u64, len: u64| unsafe {
            std::slice::from_raw_parts((bias + svma) as *const u8, len as usize)
        };
        let hdr_data = slice(hdr.p_vaddr, hdr.p_memsz);
        // .eh_frame_hdr: version, eh_frame_ptr encoding, fde count encoding, table
        // encoding, then eh_frame_ptr. Linkers write pcrel|sdata4 (0x1b).
        if hdr_data.len() < 8 || hdr_data[0] != 1 || hdr_data[1] != 0x1b {
            return None;
        }
        let rel = i32::from_le_bytes(hdr_data[4..8].try_into().ok()?) as i64;
        let eh_svma = (hdr.p_vaddr as i64 + 4 + rel) as u64;
        // Its length is not recorded: up to the end of the segment that holds it (the
        // header's table finds each FDE; nothing reads past the last).
        let seg = phdrs.iter().find(|p| {
            p.p_type == libc::PT_LOAD && p.p_vaddr <= eh_svma && eh_svma < p.p_vaddr + p.p_memsz
        })?;
        let eh_len = seg.p_vaddr + seg.p_memsz - eh_svma;
        let name = if info.dlpi_name.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated name owned by the loader.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }
                .to_string_lossy()
                .into_owned()
        };
        let text_svma = text.p_vaddr..text.p_vaddr + text.p_memsz;
        Some(Module::new(
            name,
            bias + text_svma.start..bias + text_svma.end,
            bias,
            ExplicitModuleSectionInfo {
                base_svma: 0,
                text_svma: Some(text_svma.clone()),
                text: Some(slice(text.p_vaddr, text.p_memsz)),
                eh_frame_svma: Some(eh_svma..eh_svma + eh_len),
                eh_frame: Some(slice(eh_svma, eh_len)),
                eh_frame_hdr_svma: Some(hdr.p_vaddr..hdr.p_vaddr + hdr.p_memsz),
                eh_frame_hdr: Some(hdr_data),
                ..Default::default()
            },
        ))
    }

    /// Walks the stack of a suspended context from its `pc`, `sp` and `bp`, pushing
    /// the PC and then each return address onto `out`. `read` returns the word at an
    /// address, or `None` outside the stack (which ends the walk).
    pub(crate) fn walk(
        pc: u64,
        sp: u64,
        bp: u64,
        cache: &mut Cache,
        out: &mut Vec<u64>,
        mut read: impl FnMut(u64) -> Option<u64>,
    ) {
        let mut read = |a: u64| read(a).ok_or(());
        let u = unwinder();
        let mut it = u.iter_frames(
            pc,
            UnwindRegsX86_64::new(pc, sp, bp),
            &mut cache.0,
            &mut read,
        );
        while let Ok(Some(f)) = it.next() {
            out.push(f.address());
            if out.len() >= MAX_FRAMES {
                break;
            }
        }
    }

    /// The return addresses of the calling thread's stack, innermost first, starting
    /// `skip` frames up.
    pub(crate) fn here(skip: usize, out: &mut Vec<u64>) {
        let mut n = 0;
        backtrace::trace(|f| {
            n += 1;
            if n > skip + 1 {
                out.push(f.ip() as u64);
            }
            out.len() < MAX_FRAMES
        });
    }

    /// The frames at return address `addr` (the call before it), innermost (inlined)
    /// first.
    pub(crate) fn symbolize(addr: u64) -> Vec<Sym> {
        let mut syms = Vec::new();
        // `resolve` looks up `addr - 1`, the call instruction.
        backtrace::resolve(addr as *mut std::ffi::c_void, |s| {
            let name = s
                .name()
                .map_or_else(|| "?".to_string(), |n| format!("{n:#}"));
            syms.push(Sym {
                name,
                file: s.filename().map(|p| p.display().to_string()),
                line: s.lineno(),
            });
        });
        syms
    }
}

#[cfg(not(feature = "traceback"))]
mod imp {
    use super::Sym;

    /// Nothing to cache without the unwinder.
    pub(crate) struct Cache;

    impl Cache {
        pub(crate) fn new() -> Cache {
            Cache
        }
    }

    /// Without the `traceback` feature no stack is walked.
    pub(crate) fn walk(
        _pc: u64,
        _sp: u64,
        _bp: u64,
        _cache: &mut Cache,
        _out: &mut Vec<u64>,
        _read: impl FnMut(u64) -> Option<u64>,
    ) {
    }

    /// Without the `traceback` feature no stack is walked.
    pub(crate) fn here(_skip: usize, _out: &mut Vec<u64>) {}

    /// Without the `traceback` feature nothing is named.
    pub(crate) fn symbolize(_addr: u64) -> Vec<Sym> {
        Vec::new()
    }
}

pub(crate) use imp::{here, symbolize, walk, Cache};
