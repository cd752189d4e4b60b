//! The monitor thread, one per runtime, outside the Ps (Go's `sysmon`).
//!
//! Every 10 ms it hands off the Ps of goroutines that stayed away from the scheduler
//! (`handoff::retake`), and checks that I/O is not starved: if Ms are all busy running Gs
//! (so none reaches the poll in `find_runnable`) and nobody has polled for 10 ms, it polls
//! without blocking and puts the Gs it finds on the global queue. While goroutines wait
//! for a thread for a blocking call, it checks that they can still get one
//! (`deadlock::checkstuck`). It joins the threads of Ms that exited after their
//! keep-alive (`m::idle_sleep`). With `GMP_SCHEDTRACE=<ms>` it
//! also prints a line like Go's `schedtrace` to stderr every `<ms>` milliseconds (procs,
//! idle procs, threads, spinning and idle threads, global queue length, each P's queue
//! length).
//!
//! A fixed 10 ms tick rather than Go's 20 µs–10 ms backoff: the only job so far is the
//! 10 ms poll rule, and a sleeping thread costs nothing.

use super::m::futex_wait;
use super::sched::Sched;
use super::schedule;
use crate::clock::nanotime;
use std::io::Write;
use std::sync::atomic::Ordering::*;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(10);
const POLL_STARVED_NS: u64 = 10_000_000;

pub(crate) fn start(s: &Sched) {
    let trace = schedtrace_period();
    let sp = s as *const Sched as usize;
    let h = std::thread::Builder::new()
        .name("gmp-sysmon".into())
        .spawn(move || {
            // SAFETY: `shutdown` joins this thread (it is in `threads`) before the Sched
            // is dropped.
            let s = unsafe { &*(sp as *const Sched) };
            let start = Instant::now();
            let mut next_trace = trace.map(|p| start + p);
            let mut samples = vec![super::handoff::Sample::default(); s.procs];
            let mut stuck = super::deadlock::StuckCheck::default();
            // Ms that exited after their keep-alive and were joined here.
            let mut reaped = 0u64;
            let mut recheck_dead = false;
            super::traceback::tick();
            loop {
                // Acquire pairs with the SeqCst increment in `sched::shutdown`; the futex
                // wait below returns at once if the key moved since this load.
                let key = s.sysmon_key.load(Acquire);
                if s.shutdown.load(SeqCst) {
                    return;
                }
                let tick = next_trace.map_or(TICK, |t| {
                    t.saturating_duration_since(Instant::now()).min(TICK)
                });
                futex_wait(&s.sysmon_key, key, Some(tick));
                if s.shutdown.load(SeqCst) {
                    return;
                }
                super::traceback::tick();
                crate::signal::poll_quit();
                super::handoff::retake(s, &mut samples, nanotime());
                super::deadlock::checkstuck(s, &mut stuck, nanotime());
                if recheck_dead {
                    // The last M may have gone idle while a thread joined below was
                    // still in the kernel's count: `checkdead` took it for a foreign
                    // thread and reported nothing. It is gone by now.
                    recheck_dead = false;
                    super::deadlock::checkdead(s, &mut s.lock());
                }
                // Relaxed: a count this thread compares with its own; a stale value
                // delays a reap by one tick.
                if s.threads_exited.load(Relaxed) > reaped {
                    let n = reap(s);
                    reaped += n;
                    recheck_dead = n > 0;
                }
                let last = s.netpoll.last_poll.load(SeqCst);
                if last != 0
                    && s.netpoll.waiters.load(SeqCst) > 0
                    && nanotime().saturating_sub(last) > POLL_STARVED_NS
                {
                    if let Some(gs) = s.netpoll.poll(Some(Duration::ZERO)) {
                        schedule::inject(s, &gs);
                    }
                }
                if let (Some(t), Some(period)) = (next_trace, trace) {
                    if Instant::now() >= t {
                        let line = schedtrace_line(s, start.elapsed().as_millis() as u64);
                        let _ = writeln!(std::io::stderr(), "{line}");
                        next_trace = Some(t + period);
                    }
                }
            }
        });
    match h {
        Ok(h) => s.threads.lock().unwrap_or_else(|e| e.into_inner()).push(h),
        Err(e) => tracing::error!("gmp: cannot start sysmon: {e}"),
    }
}

/// Joins the threads of Ms that exited after their keep-alive (Go frees such Ms in
/// `allocm`), so their stacks are unmapped now rather than at shutdown. Returns how many.
fn reap(s: &Sched) -> u64 {
    let mut threads = s.threads.lock().unwrap_or_else(|e| e.into_inner());
    let (done, live): (Vec<_>, Vec<_>) = threads.drain(..).partition(|h| h.is_finished());
    *threads = live;
    // Joined under the lock, so `shutdown` never finds the list empty while one of
    // them is still being joined; a finished thread's join returns at once.
    let n = done.len() as u64;
    for h in done {
        let _ = h.join();
    }
    n
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

/// The schedtrace line (Go's format) for `s`.
pub(super) fn schedtrace_line(s: &Sched, since_start_ms: u64) -> String {
    let st = s.stats();
    let queues: Vec<String> = st.local_queues.iter().map(|n| n.to_string()).collect();
    format!(
        "SCHED {since_start_ms}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} \
         idlethreads={} runqueue={} [{}]",
        st.procs,
        st.idle_procs,
        st.threads,
        st.spinning_threads,
        st.idle_threads,
        st.global_queue,
        queues.join(" ")
    )
}
