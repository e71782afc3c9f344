//! Live counters updated by the executor as it goes (the store only sees checkpoints).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct LiveStats {
    pub records_read: AtomicU64,
    pub documents_written: AtomicU64,
    pub error_records: AtomicU64,
    pub bytes_read: AtomicU64,
    pub tasks_completed: AtomicU64,
    pub tasks_errored: AtomicU64,
}

/// A copy of [`LiveStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub records_read: u64,
    pub documents_written: u64,
    pub error_records: u64,
    pub bytes_read: u64,
    pub tasks_completed: u64,
    pub tasks_errored: u64,
}

impl LiveStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records_read: self.records_read.load(Ordering::Relaxed),
            documents_written: self.documents_written.load(Ordering::Relaxed),
            error_records: self.error_records.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            tasks_completed: self.tasks_completed.load(Ordering::Relaxed),
            tasks_errored: self.tasks_errored.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
