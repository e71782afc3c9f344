//! letsdata-store: where datasets and tasks live.
//!
//! Two traits: [`MetadataStore`] (tenants and dataset records) and [`TaskStore`] (one per
//! dataset: "each dataset gets a dedicated task database"). The embedded default is SQLite
//! ([`sqlite::SqliteStore`]) in WAL mode so that another process can `view` a dataset while it
//! is processing; a PostgreSQL backend implements the same traits.
//!
//! # Leases and fencing
//!
//! A worker *claims* a runnable task (`CREATED` or `RERUN`), which sets it `PROCESSING`, records
//! the lease owner and expiry, and increments the task's `lease_token`. The returned [`Lease`]
//! carries that token; every later write by the worker (heartbeat, checkpoint, finish) is
//! conditional on it. If zero rows match, the worker lost the task (its lease expired and another
//! worker claimed it, or the task was reset) and must stop without writing anything else:
//! [`StoreError::LeaseLost`]. Leases of dead workers are reaped back to `RERUN`.
//!
//! Dataset records use optimistic concurrency: every update is conditional on the version read.

mod error;
mod quiesce;
pub mod sqlite;
mod traits;

pub use error::StoreError;
pub use quiesce::{Hold, hold_writes};
pub use traits::{
    Lease, LeaseInfo, MetadataStore, MinuteCounters, NewTask, Renewal, TaskCounts, TaskCursor,
    TaskPage, TaskStore, Tenant,
};
