//! Goroutine dumps in Go's formats: [`goroutines`] (every goroutine with its stack,
//! `/debug/pprof/goroutine?debug=2`) and [`goroutines_grouped`] (identical stacks once,
//! with a count, `?debug=1`); what SIGQUIT, the deadlock report and a stack overflow
//! print; the [`Traceback`] setting; and [`metrics`], a snapshot of the runtime's
//! goroutines by state and its scheduler counters (with [`schedtrace`], Go's one-line
//! summary), from `proc/metrics.rs`.
//!
//! A dump reads every goroutine without its cooperation: a parked goroutine's stack is
//! walked from the SP, PC and BP saved when it parked, validated by its switch sequence
//! (`proc/traceback.rs` says how, and why the reads are never of a stack being reused);
//! a goroutine running on another thread is reported as such, as Go does. Frames are
//! named with `unwind.rs` (framehop over `.eh_frame`, `backtrace`'s symbolizer) and
//! trimmed to what the goroutine's own code did: the runtime's entry, `catch_unwind` and
//! the closure shims below the spawned closure are left out.

use crate::proc::sched::{self, Sched};
use crate::proc::traceback::{self, GState, GView};
use crate::unwind::{self, Sym};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

pub use crate::proc::metrics::{metrics, schedtrace, LatencyHistogram, Metrics};

/// Whether a runtime prints its goroutines when SIGQUIT arrives, when it finds every
/// goroutine asleep (the deadlock panic) and when a goroutine overflows its stack (Go's
/// `GOTRACEBACK`). Set with [`RuntimeBuilder::traceback`](crate::RuntimeBuilder::traceback),
/// else from `GMP_TRACEBACK=none|all`; the default is `All`. SIGQUIT ends the process
/// with status 2 either way, as in Go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traceback {
    /// Print nothing about the goroutines.
    None,
    /// Print every goroutine with its stack.
    All,
}

impl Traceback {
    /// `GMP_TRACEBACK`, if set.
    ///
    /// # Panics
    /// If it is set to anything but `none` or `all`.
    pub(crate) fn from_env() -> Option<Traceback> {
        let v = std::env::var("GMP_TRACEBACK").ok()?;
        match v.trim() {
            "none" => Some(Traceback::None),
            "all" => Some(Traceback::All),
            _ => panic!("GMP_TRACEBACK must be none or all, got {v:?}"),
        }
    }
}

/// Every goroutine of the calling goroutine's runtime, in Go's `debug=2` format: for
/// each, `goroutine N [state, M minutes]:`, its frames (function, then `file:line`), and
/// `created by f in goroutine P` with the spawn site. The caller comes first. Called
/// outside a runtime, every running runtime's goroutines (one section per runtime).
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::bounded::<u32>(0);
///     let h = gmp::spawn(move || rx.recv());
///     while !gmp::debug::goroutines().contains("[chan receive]") {
///         gmp::yield_now();
///     }
///     tx.send(1).unwrap();
///     h.join().unwrap().unwrap();
/// });
/// ```
pub fn goroutines() -> String {
    dump(Format::Full)
}

/// Like [`goroutines`], but goroutines with the same stack are printed once, with
/// their count (Go's `debug=1` format): `N @ 0x... 0x...` followed by a `#` line per
/// frame. Groups come largest first.
pub fn goroutines_grouped() -> String {
    dump(Format::Grouped)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Full,
    Grouped,
}

fn dump(format: Format) -> String {
    if let Some(s) = sched::current() {
        return dump_one(s, format);
    }
    sched::with_live(|ss| {
        let mut out = String::new();
        for (i, s) in ss.iter().enumerate() {
            if ss.len() > 1 {
                let _ = writeln!(out, "runtime {}:", i + 1);
            }
            out.push_str(&dump_one(s, format));
        }
        out
    })
}

/// The dump of one runtime that is alive for the whole call.
fn dump_one(s: &Sched, format: Format) -> String {
    let mut views = traceback::snapshot(s, true);
    // The caller first, as Go prints the current goroutine first.
    views.sort_by_key(|v| (!v.is_self, v.id));
    let mut names = Names::default();
    let mut out = String::new();
    match format {
        Format::Full => {
            for v in &views {
                let frames = names.frames(v);
                full(&mut out, v, &frames);
            }
        }
        Format::Grouped => grouped(&mut out, &views, &mut names),
    }
    out
}

/// A frame as printed: the address it was found at and the functions there.
struct Frame {
    pc: u64,
    syms: Rc<Vec<Sym>>,
}

/// Symbolized addresses, cached for one dump (100,000 goroutines share a few stacks).
#[derive(Default)]
struct Names {
    cache: HashMap<u64, Rc<Vec<Sym>>>,
}

impl Names {
    fn sym(&mut self, pc: u64) -> Rc<Vec<Sym>> {
        self.cache
            .entry(pc)
            .or_insert_with(|| Rc::new(unwind::symbolize(pc)))
            .clone()
    }

    /// The goroutine's frames, trimmed to its own code.
    fn frames(&mut self, v: &GView) -> Vec<Frame> {
        let mut pcs = v.pcs.clone();
        if v.is_self {
            unwind::here(0, &mut pcs);
        }
        // Every address is a return address or, for a parked goroutine's first, the
        // resume point just after `mcall`'s switch: both name the call before them.
        let mut frames: Vec<Frame> = pcs
            .iter()
            .map(|&pc| Frame {
                pc,
                syms: self.sym(pc),
            })
            .collect();
        if v.is_self {
            // Drop the dump's own frames.
            let own = frames
                .iter()
                .position(|f| !f.syms.iter().all(|s| is_dumper(&s.name)))
                .unwrap_or(frames.len());
            frames.drain(..own);
        }
        trim_entry(&mut frames);
        frames
    }
}

/// Frames of the dump machinery itself, above the caller's.
fn is_dumper(name: &str) -> bool {
    name.starts_with("gmp_core::debug::")
        || name.starts_with("gmp_core::unwind::")
        || name.starts_with("backtrace::")
        || name.starts_with("gmp_core::proc::traceback::")
}

/// Cuts the goroutine's entry: from the runtime's start function outwards, and the
/// `catch_unwind` and closure-call shims between it and the spawned closure.
fn trim_entry(frames: &mut Vec<Frame>) {
    let entry = |n: &str| {
        n.starts_with("gmp_core::proc::spawn::run_start")
            || n.starts_with("gmp_core::proc::spawn::g_entry")
            || n.starts_with("gmp_core_g_trampoline")
    };
    let shim = |n: &str| {
        n.starts_with("std::panicking::")
            || n.starts_with("std::panic::")
            || n.starts_with("core::panic::")
            || n.starts_with("__rust_try")
            || (n.contains("FnOnce") && n.contains("call_once"))
    };
    // A physical frame may hold several inlined functions: keep those above the entry.
    let Some(at) = frames
        .iter()
        .position(|f| f.syms.iter().any(|s| entry(&s.name)))
    else {
        return;
    };
    let cut_syms: Vec<Sym> = frames[at]
        .syms
        .iter()
        .take_while(|s| !entry(&s.name))
        .cloned()
        .collect();
    frames.truncate(at);
    if !cut_syms.is_empty() {
        frames.push(Frame {
            pc: 0,
            syms: Rc::new(cut_syms),
        });
    }
    // Then the shims, outermost first.
    while let Some(last) = frames.last_mut() {
        let keep = last.syms.iter().rposition(|s| !shim(&s.name));
        match keep {
            None => {
                frames.pop();
            }
            Some(k) if k + 1 < last.syms.len() => {
                last.syms = Rc::new(last.syms[..=k].to_vec());
                break;
            }
            Some(_) => break,
        }
    }
}

/// Go's bracket: `chan receive, 3 minutes`, `running`, `runnable`.
fn state_words(v: &GView) -> String {
    let mut w = match v.state {
        GState::Running => "running".to_string(),
        GState::Runnable => "runnable".to_string(),
        GState::Blocking => "blocking".to_string(),
        GState::Waiting(why) => why.as_str().to_string(),
    };
    if let Some(ns) = v.waited_ns {
        let min = ns / 60_000_000_000;
        if min >= 1 {
            let _ = write!(w, ", {min} minutes");
        }
    }
    if v.locked && matches!(v.state, GState::Waiting(_)) {
        w.push_str(", locked to thread");
    }
    w
}

/// Why a goroutine has no frames, when that is not obvious.
fn no_stack_note(v: &GView) -> Option<&'static str> {
    if v.torn {
        return Some("goroutine kept running while it was read; stack unavailable");
    }
    match v.state {
        GState::Running if !v.is_self => {
            Some("goroutine running on other thread; stack unavailable")
        }
        GState::Blocking => Some("goroutine in gmp::blocking on its own thread; stack unavailable"),
        _ => None,
    }
}

/// The function that spawned a goroutine, from its closure's type name.
fn creator(by: &str) -> String {
    let mut name = by;
    let mut closure = false;
    while let Some(n) = name.strip_suffix("::{{closure}}") {
        name = n;
        closure = true;
    }
    if closure {
        name.to_string()
    } else {
        // A function item was spawned, not a closure: its caller is not recorded.
        format!("spawn of {name}")
    }
}

fn full(out: &mut String, v: &GView, frames: &[Frame]) {
    let _ = writeln!(out, "goroutine {} [{}]:", v.id, state_words(v));
    if let Some(note) = no_stack_note(v) {
        let _ = writeln!(out, "\t{note}");
    }
    for f in frames {
        write_frame(out, f);
    }
    if let Some(at) = v.created_at {
        let _ = writeln!(
            out,
            "created by {} in goroutine {}",
            creator(v.created_by),
            v.parent
        );
        let _ = writeln!(out, "\t{}:{}", at.file(), at.line());
    }
    out.push('\n');
}

fn write_frame(out: &mut String, f: &Frame) {
    if f.syms.is_empty() {
        let _ = writeln!(out, "?\n\t? pc=0x{:x}", f.pc);
        return;
    }
    for s in f.syms.iter() {
        let _ = writeln!(out, "{}(...)", s.name);
        let _ = write!(
            out,
            "\t{}:{}",
            s.file.as_deref().unwrap_or("?"),
            s.line.unwrap_or(0)
        );
        out.push('\n');
    }
}

fn grouped(out: &mut String, views: &[GView], names: &mut Names) {
    type Key = (Vec<u64>, String, Option<&'static str>);
    let mut groups: HashMap<Key, (usize, Vec<Frame>)> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    for v in views {
        let frames = names.frames(v);
        let mut w = match v.state {
            GState::Waiting(why) => why.as_str().to_string(),
            _ => state_words(v),
        };
        if v.locked && matches!(v.state, GState::Waiting(_)) {
            w.push_str(", locked to thread");
        }
        let key = (frames.iter().map(|f| f.pc).collect(), w, no_stack_note(v));
        match groups.get_mut(&key) {
            Some((n, _)) => *n += 1,
            None => {
                order.push(key.clone());
                groups.insert(key, (1, frames));
            }
        }
    }
    order.sort_by_key(|k| std::cmp::Reverse(groups[k].0));
    let _ = writeln!(out, "goroutine profile: total {}", views.len());
    for k in &order {
        let (n, frames) = &groups[k];
        let _ = write!(out, "{n} @");
        for f in frames {
            let _ = write!(out, " 0x{:x}", f.pc);
        }
        let _ = writeln!(out, "\n# [{}]", k.1);
        if let Some(note) = k.2 {
            let _ = writeln!(out, "#\t{note}");
        }
        for f in frames {
            for s in f.syms.iter() {
                let _ = write!(out, "#\t0x{:x}\t{}", f.pc, s.name);
                let _ = writeln!(
                    out,
                    "\t{}:{}",
                    s.file.as_deref().unwrap_or("?"),
                    s.line.unwrap_or(0)
                );
            }
        }
        out.push('\n');
    }
}

/// Writes every running runtime's goroutines to stderr, for those whose [`Traceback`]
/// is `All`: SIGQUIT's report (sysmon calls it, through `signal.rs`).
fn print_quit() {
    let text = sched::with_live(|ss| {
        let mut out = String::from("SIGQUIT: quit\n\n");
        for s in ss {
            if traceback::enabled(s) {
                out.push_str(&dump_one(s, Format::Full));
            }
        }
        out
    });
    write_stderr(&text);
}

/// The deadlock report's dump: the calling goroutine's runtime (`traceback.rs` calls it
/// from the main goroutine's `park`, before the panic).
fn print_deadlock() {
    if let Some(s) = sched::current() {
        let text = format!(
            "all goroutines are asleep - deadlock!\n\n{}",
            dump_one(s, Format::Full)
        );
        write_stderr(&text);
    }
}

fn write_stderr(text: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

/// Applies a runtime's [`Traceback`] setting and registers the printers the core calls.
pub(crate) fn init(s: &Sched, mode: Option<Traceback>) {
    let mode = mode.or_else(Traceback::from_env).unwrap_or(Traceback::All);
    traceback::set_enabled(s, mode == Traceback::All);
    traceback::set_deadlock_printer(print_deadlock);
    crate::signal::install_quit_handler(print_quit);
}
