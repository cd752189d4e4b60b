//! Two goroutines passing a number back and forth on unbuffered channels forever, and a
//! third parked on a channel nobody sends on: a process to watch goroutines switch in
//! gdb (README, "Seeing inside a running program").
//!
//! ```sh
//! cargo run --release --example pingpong &
//! gdb -p $! -ex 'info goroutines'
//! ```

use std::hint::black_box;

#[inline(never)]
fn ping(tx: gmp::chan::Sender<u64>, rx: gmp::chan::Receiver<u64>) {
    let mut n = 0;
    loop {
        tx.send(n).unwrap();
        n = rx.recv().unwrap() + 1;
    }
}

#[inline(never)]
fn pong(tx: gmp::chan::Sender<u64>, rx: gmp::chan::Receiver<u64>) {
    while let Ok(n) = rx.recv() {
        tx.send(n).unwrap();
    }
}

#[inline(never)]
fn idle(rx: gmp::chan::Receiver<()>) {
    black_box(rx.recv().ok());
}

fn main() {
    gmp::Runtime::builder().procs(1).run(|| {
        let (a_tx, a_rx) = gmp::chan::bounded(0);
        let (b_tx, b_rx) = gmp::chan::bounded(0);
        let (_never, never_rx) = gmp::chan::bounded(0);
        println!("pid {}", std::process::id());
        let i = gmp::spawn(move || idle(never_rx));
        let p = gmp::spawn(move || pong(b_tx, a_rx));
        ping(a_tx, b_rx);
        let _ = (i.join(), p.join());
    });
}
