//! The monitor thread. For now it does one job: with `GMP_SCHEDTRACE=<ms>` it prints a
//! line like Go's `schedtrace` every `<ms>` milliseconds to stderr (procs, idle procs,
//! threads, spinning and idle threads, global queue length, each P's queue length).
//! Without the variable no thread is started.

use crate::m::futex_wait;
use crate::runtime::schedtrace_line;
use crate::sched::Sched;
use std::io::Write;
use std::sync::atomic::Ordering::*;
use std::time::{Duration, Instant};

pub(crate) fn start(s: &Sched) {
    let Some(period) = schedtrace_period() else {
        return;
    };
    let sp = s as *const Sched as usize;
    let h = std::thread::Builder::new()
        .name("gmp-sysmon".into())
        .spawn(move || {
            // SAFETY: `shutdown` joins this thread (it is in `threads`) before the Sched
            // is dropped.
            let s = unsafe { &*(sp as *const Sched) };
            let start = Instant::now();
            loop {
                let key = s.sysmon_key.load(Acquire);
                if s.shutdown.load(SeqCst) {
                    return;
                }
                futex_wait(&s.sysmon_key, key, Some(period));
                if s.shutdown.load(SeqCst) {
                    return;
                }
                let line = schedtrace_line(s, start.elapsed().as_millis() as u64);
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        });
    match h {
        Ok(h) => s.threads.lock().unwrap_or_else(|e| e.into_inner()).push(h),
        Err(e) => tracing::error!("gmp: cannot start sysmon: {e}"),
    }
}

fn schedtrace_period() -> Option<Duration> {
    let v = std::env::var("GMP_SCHEDTRACE").ok()?;
    match v.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => panic!(
            "GMP_SCHEDTRACE must be a period in milliseconds (a positive integer), got {v:?}"
        ),
    }
}
