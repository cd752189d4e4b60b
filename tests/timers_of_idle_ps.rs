//! A timer on an idle P must fire even when the M that was the idle sleeper leaves to
//! run a goroutine that then enters `blocking`. That M's P goes back to the idle list,
//! and if nobody else is the sleeper, some M must become it for the timers of every P,
//! not only for the timers of the P being given up (Go's `handoffp`: "if this is the last
//! running P and nobody is polling network, need to wakeup another M"). Without that
//! rule the timer waited until the blocking call returned: `http_fd_exhaustion`'s TLS
//! server hung for 30 s in 1 of 8 runs, its accept loop's back-off `sleep` never woken.
//!
//! Each round: one goroutine sleeps `SHORT` (its M then sleeps in the poller until that
//! timer), another sleeps `LONG` on the other P; the first wakes and makes a blocking
//! call of `BLOCK`. The second's sleep must end near `LONG`, not after the blocking call.

mod common;

use common::Watchdog;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_millis(30);
const BLOCK: Duration = Duration::from_millis(300);

#[test]
fn a_timer_on_an_idle_p_fires_while_another_p_blocks() {
    let _w = Watchdog::new("timers of idle Ps", Duration::from_secs(120));
    let late = gmp::Runtime::builder().procs(2).run(|| {
        let mut late = Vec::new();
        for _ in 0..40 {
            let long = gmp::spawn(|| {
                let t = Instant::now();
                gmp::sleep(LONG);
                t.elapsed()
            });
            let short = gmp::spawn(|| {
                gmp::sleep(SHORT);
                gmp::blocking(|| common::block_thread(BLOCK));
            });
            let took = long.join().unwrap();
            short.join().unwrap();
            if took >= LONG + BLOCK / 2 {
                late.push(took);
            }
        }
        late
    });
    assert!(
        late.is_empty(),
        "{} of 40 sleeps of {LONG:?} waited for another goroutine's blocking call: {late:?}",
        late.len()
    );
}
