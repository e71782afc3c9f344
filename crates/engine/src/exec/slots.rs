//! A worker's slots: how many invocations work on their input at once (the dataset's
//! `concurrency`).
//!
//! An invocation opens its input and its writers before it takes a slot, so that when tasks
//! are short the next tasks' I/O (the first read of an object, starting an upload) overlaps
//! the current one's work; it gives its slot back once its input is done (a small final part
//! is staged after that, a larger one before), since staging a small part, recording the end
//! and publishing are I/O only. The pool starts a few invocations ahead of the
//! free slots ([`Slots::ahead`]) only when tasks are short.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Invocations started ahead of the free slots only while the slots get through them in about
/// this long: a task waiting for a slot here is one another worker cannot run.
const AHEAD_FOR: Duration = Duration::from_millis(250);

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    /// Slots in all (the concurrency).
    limit: AtomicUsize,
    /// Slots taken.
    working: AtomicUsize,
    /// Invocations started and not done with their input yet (opening, waiting, working).
    started: AtomicUsize,
    /// A slot was given back (wakes the invocations waiting for one).
    freed: Notify,
    /// An invocation is done with its input (wakes the pool to start the next).
    pub(crate) done: Notify,
    /// Average time an invocation held its slot (exponentially weighted), in microseconds; 0
    /// until one has.
    average_micros: AtomicU64,
}

impl Slots {
    /// Sets the number of slots (the dataset's concurrency, which an update can change).
    pub(crate) fn set_limit(&self, limit: usize) {
        if self.limit.swap(limit, SeqCst) != limit {
            self.freed.notify_waiters();
        }
    }

    /// Invocations started and not done with their input.
    pub(crate) fn started(&self) -> usize {
        self.started.load(SeqCst)
    }

    /// How many invocations to start besides one per slot: what the slots get through in
    /// [`AHEAD_FOR`] when tasks are short, at most `max`; none when tasks take longer.
    pub(crate) fn ahead(&self, max: usize) -> usize {
        let average = self.average_micros.load(SeqCst);
        if average == 0 {
            return 0;
        }
        let per_slot = (AHEAD_FOR.as_micros() as u64 / average) as usize;
        per_slot.saturating_mul(self.limit.load(SeqCst)).min(max)
    }

    /// Counts an invocation as started until the returned guard is dropped, along with the
    /// one place of the worker's budget reserved for it.
    pub(crate) fn start(self: &Arc<Self>, budget: &Arc<Budget>) -> Started {
        self.started.fetch_add(1, SeqCst);
        Started(self.clone(), budget.clone())
    }

    /// Waits for a free slot and takes it until the returned guard is dropped.
    pub(crate) async fn take(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a slot given back meanwhile wakes it.
            freed.as_mut().enable();
            let working = self.working.load(SeqCst);
            if working < self.limit.load(SeqCst) {
                if self
                    .working
                    .compare_exchange(working, working + 1, SeqCst, SeqCst)
                    .is_ok()
                {
                    return Slot {
                        slots: self.clone(),
                        since: Instant::now(),
                        released: None,
                    };
                }
                continue;
            }
            freed.await;
        }
    }
}

/// An invocation that is not done with its input yet.
#[derive(Debug)]
pub(crate) struct Started(Arc<Slots>, Arc<Budget>);

impl Drop for Started {
    fn drop(&mut self) {
        self.0.started.fetch_sub(1, SeqCst);
        self.0.done.notify_one();
        self.1.give_back(1);
    }
}

/// The worker's own cap over the invocations of every dataset it runs (`letsdata worker
/// --concurrency N`), besides each dataset's concurrency: places are reserved before tasks
/// are claimed, so a worker never holds leases it has no room to run.
#[derive(Debug)]
pub(crate) struct Budget {
    /// `None`: no cap of its own.
    limit: Option<usize>,
    /// Places reserved (claims under way, and invocations not done with their input).
    taken: AtomicUsize,
    /// Places were given back (wakes the datasets' pools).
    pub(crate) freed: Notify,
}

impl Budget {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            taken: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// Reserves up to `wanted` places; returns how many it got.
    pub(crate) fn reserve(&self, wanted: usize) -> usize {
        let Some(limit) = self.limit else {
            self.taken.fetch_add(wanted, SeqCst);
            return wanted;
        };
        let mut got = 0;
        let _ = self.taken.fetch_update(SeqCst, SeqCst, |taken| {
            got = limit.saturating_sub(taken).min(wanted);
            Some(taken + got)
        });
        got
    }

    /// Whether a place is free.
    pub(crate) fn has_room(&self) -> bool {
        self.limit
            .is_none_or(|limit| self.taken.load(SeqCst) < limit)
    }

    /// Gives `n` reserved places back.
    pub(crate) fn give_back(&self, n: usize) {
        if n > 0 {
            self.taken.fetch_sub(n, SeqCst);
            self.freed.notify_waiters();
        }
    }
}

/// A taken slot.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    since: Instant,
    /// Where to note when the slot was given back (epoch milliseconds), if anywhere.
    released: Option<Arc<std::sync::atomic::AtomicI64>>,
}

impl Slot {
    /// Notes in `at` when the slot is given back (epoch milliseconds).
    pub(crate) fn note_release(&mut self, at: Arc<std::sync::atomic::AtomicI64>) {
        self.released = Some(at);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let took = (self.since.elapsed().as_micros() as u64).max(1);
        let average = &self.slots.average_micros;
        let before = average.load(SeqCst);
        average.store(
            if before == 0 {
                took
            } else {
                (before * 7 + took) / 8
            },
            SeqCst,
        );
        if let Some(at) = &self.released {
            at.store(letsdata_model::time::now_millis(), SeqCst);
        }
        self.slots.working.fetch_sub(1, SeqCst);
        self.slots.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_more_slots_are_taken_than_the_limit() {
        let slots = Arc::new(Slots::default());
        slots.set_limit(2);
        let a = slots.take().await;
        let _b = slots.take().await;
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a third slot while two are taken");
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the freed slot is taken")
            .expect("task");
        // A larger limit frees a waiter at once.
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        tokio::task::yield_now().await;
        slots.set_limit(3);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("a new slot is taken")
            .expect("task");
    }

    #[test]
    fn the_budget_never_reserves_more_than_its_limit() {
        let budget = Budget::new(Some(3));
        assert_eq!(budget.reserve(2), 2);
        assert_eq!(budget.reserve(2), 1, "one place left");
        assert_eq!(budget.reserve(5), 0);
        budget.give_back(2);
        assert_eq!(budget.reserve(5), 2);
        let slots = Arc::new(Slots::default());
        let budget = Arc::new(Budget::new(Some(1)));
        assert_eq!(budget.reserve(1), 1);
        let started = slots.start(&budget);
        assert_eq!(budget.reserve(1), 0, "the invocation holds the place");
        drop(started);
        assert_eq!(
            budget.reserve(1),
            1,
            "given back when it is done with its input"
        );
        let unlimited = Budget::new(None);
        assert_eq!(unlimited.reserve(1000), 1000);
    }

    #[test]
    fn invocations_start_ahead_only_when_tasks_are_short() {
        let slots = Slots::default();
        slots.set_limit(2);
        assert_eq!(slots.ahead(100), 0, "nothing known yet");
        slots.average_micros.store(1_000, SeqCst);
        assert_eq!(slots.ahead(100), 100, "1 ms tasks: capped");
        assert_eq!(slots.ahead(8), 8);
        slots.average_micros.store(100_000, SeqCst);
        assert_eq!(slots.ahead(100), 4, "100 ms tasks: 2 per slot");
        slots.average_micros.store(1_000_000, SeqCst);
        assert_eq!(slots.ahead(100), 0, "long tasks: none");
    }
}
