//! Holding this process's store writes: a fault-injection test stops a worker (SIGSTOP) at a
//! chosen point, and a process frozen while one of its threads is inside a SQLite write keeps
//! the database locked for every other process until it continues. [`hold_writes`] waits until
//! no write of this process is in flight and keeps new ones from starting, so the stopped
//! worker holds no database lock, as a worker frozen between two store calls would; its lease
//! then expires and other workers take its tasks over.
//!
//! Each write method of the SQLite backend holds a [`Writing`] guard for as long as its
//! statement or transaction is open (two atomic operations: nothing next to a synced commit).
//! Nothing holds writes outside a failpoint's stop, so in production [`writing`] never waits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Writes of this process in flight.
static WRITING: AtomicUsize = AtomicUsize::new(0);
/// Whether writes are held ([`hold_writes`]).
static HELD: AtomicBool = AtomicBool::new(false);

/// A write in flight: held by the SQLite backend's write methods until their statement or
/// transaction ends.
pub(crate) struct Writing(());

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, SeqCst);
    }
}

/// Starts a write, first waiting while writes are held.
pub(crate) async fn writing() -> Writing {
    loop {
        while HELD.load(SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        WRITING.fetch_add(1, SeqCst);
        // Both sides check the other's flag after raising their own: either the holder sees
        // this write, or this write sees the hold and steps back.
        if !HELD.load(SeqCst) {
            return Writing(());
        }
        WRITING.fetch_sub(1, SeqCst);
    }
}

/// Writes held until it is dropped.
#[must_use = "writes are held until the hold is dropped"]
pub struct Hold(());

impl Drop for Hold {
    fn drop(&mut self) {
        HELD.store(false, SeqCst);
    }
}

/// Blocks the calling thread until no store write of this process is in flight, and keeps new
/// ones from starting until the returned [`Hold`] is dropped. Another thread must be able to
/// finish the writes in flight: on a multi-threaded tokio runtime call it inside
/// `tokio::task::block_in_place`.
pub fn hold_writes() -> Hold {
    while HELD.swap(true, SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    while WRITING.load(SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    Hold(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hold_waits_for_writes_in_flight_and_keeps_new_ones_out() {
        let inside = Arc::new(AtomicU64::new(0));
        let write = writing().await;
        let holder = std::thread::spawn(move || {
            let hold = hold_writes();
            // No write in flight while held.
            let seen = WRITING.load(SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            drop(hold);
            seen
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !holder.is_finished(),
            "the hold waits for the write in flight"
        );
        drop(write);
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The hold is on now: a new write waits for it to end.
        let counter = inside.clone();
        let late = tokio::spawn(async move {
            let _w = writing().await;
            counter.fetch_add(1, SeqCst);
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(inside.load(SeqCst), 0, "a write started during the hold");
        assert_eq!(holder.join().expect("holder"), 0);
        late.await.expect("late write");
        assert_eq!(inside.load(SeqCst), 1);
    }
}
