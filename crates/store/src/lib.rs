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

pub mod access;
mod error;
pub mod postgres;
mod quiesce;
mod row;
pub mod sqlite;
mod traits;

pub use access::{
    AccessStore, ApiKeyRecord, AuditEntry, Caller, NewApiKey, Scope, TenantRecord, UserRecord,
    hash_api_key,
};
pub use error::{DbErrorKind, StoreError};
pub use quiesce::{Hold, hold_writes};
pub use row::{TaskJsonPage, TasksJson};
pub use traits::{
    Cap, Lease, LeaseInfo, MetadataStore, MinuteCounters, NewTask, Reaped, Renewal, TaskCounts,
    TaskCursor, TaskPage, TaskStore, Tenant, WorkerInfo,
};

/// Opens the store of an installation: PostgreSQL when `database_url` (the value of
/// `LETSDATA_DATABASE_URL`) is a `postgres://` or `postgresql://` URL, the embedded SQLite store
/// under `home` when it is unset or empty.
pub async fn open(
    home: &std::path::Path,
    database_url: Option<&str>,
) -> Result<std::sync::Arc<dyn MetadataStore>, StoreError> {
    match database_url.map(str::trim).filter(|url| !url.is_empty()) {
        None => Ok(std::sync::Arc::new(sqlite::SqliteStore::open(home).await?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(
            std::sync::Arc::new(postgres::PostgresStore::open(url).await?),
        ),
        Some(url) => {
            // The scheme only: the rest may hold a password.
            let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
            Err(StoreError::Config(format!(
                "LETSDATA_DATABASE_URL must be a PostgreSQL URL \
                 (postgres://user:password@host:5432/database), or unset for the embedded SQLite \
                 store under LETSDATA_HOME; its scheme is {scheme:?}"
            )))
        }
    }
}
