//! The embedded SQLite backend.
//!
//! Layout under `$LETSDATA_HOME`:
//! * `letsdata.db`: tenants and datasets;
//! * `datasets/<datasetId>/tasks.db`: the dataset's task database.
//!
//! Every database runs in WAL mode with `synchronous = FULL` and a busy timeout, so readers in
//! other processes (`letsdata datasets view`) never block writers and a committed checkpoint
//! survives `kill -9`.

mod group;
mod metadata;
mod tasks;

pub use metadata::SqliteStore;
pub use tasks::SqliteTaskStore;

use crate::StoreError;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// How a pool's connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reads and the occasional write: up to four connections, SQLite's default page cache.
    Shared,
    /// A task database's group-commit writer: one connection, kept open, with a page cache
    /// large enough for the rows and indexes the running tasks touch. In WAL mode a
    /// connection that finds the database changed by another connection drops its whole
    /// cache, so a writer taking turns with the readers' connections read every page of every
    /// batch again; alone on its connection, only other processes' writes (rare) cost it that.
    Writer,
}

/// The writer's page cache, in KiB (pages are allocated as used).
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Opens (creating if asked) a SQLite database file with the settings above.
async fn open_pool(path: &Path, create: bool) -> Result<SqlitePool, StoreError> {
    open_pool_for(path, create, Use::Shared).await
}

async fn open_pool_for(path: &Path, create: bool, usage: Use) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        // After a large transaction (Create Tasks of a long manifest) the WAL is cut back to
        // this size once checkpointed, instead of keeping its largest size on disk.
        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
        // A connection's thread hands rows to the querying task through a channel of this
        // many; with sqlx's 50, a page of 100 tasks stalled the connection until the task got a
        // core again (with the server busy: milliseconds), and every query behind it waited.
        .row_buffer_size(ROW_BUFFER)
        .foreign_keys(true);
    let options = match usage {
        Use::Shared => options,
        Use::Writer => options.pragma("cache_size", (-WRITER_CACHE_KIB).to_string()),
    };
    // Switching a new file into WAL mode needs an exclusive lock that SQLite does not wait for
    // (the busy timeout does not apply), so a process opening the database while another one is
    // creating it can get SQLITE_BUSY here. Once the file is in WAL mode the pragma only reads.
    let mut attempt = 0u64;
    loop {
        let pool = match usage {
            Use::Shared => SqlitePoolOptions::new().max_connections(4),
            // Never closed for being idle or old: its cache is the point.
            Use::Writer => SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
        };
        let result = pool
            .min_connections(0)
            // A file database's connection does not go stale: no ping before each use.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await;
        match result {
            Err(e) if is_busy(&e) && attempt < BUSY_RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis((5 * attempt).min(100))).await;
            }
            result => return Ok(result?),
        }
    }
}

/// Runs `migrator` on `pool`. sqlx takes no migration lock on SQLite, so two processes opening
/// a fresh database at once can both try to apply the same migration. The loser's transaction
/// (migration and bookkeeping row together) then fails, either on the `_sqlx_migrations` key or
/// with SQLITE_BUSY (upgrading its read transaction to a write one cannot wait), and rolls back.
/// Running again skips what the winner applied.
async fn migrate(pool: &SqlitePool, migrator: &Migrator) -> Result<(), StoreError> {
    let _writing = crate::quiesce::writing().await;
    let mut attempt = 0u64;
    loop {
        match migrator.run(pool).await {
            Err(e) if attempt < BUSY_RETRIES && migration_raced(&e) => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "a migration raced another process; retrying");
                tokio::time::sleep(Duration::from_millis((5 * attempt).min(100))).await;
            }
            result => return result.map_err(|e| StoreError::migration(e, migrator)),
        }
    }
}

fn migration_raced(e: &MigrateError) -> bool {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
            is_busy(e) || matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
        }
        _ => false,
    }
}

/// Rows a connection's thread may run ahead of the task reading them (a page of tasks, a
/// claim batch: a query's whole answer, as a rule).
const ROW_BUFFER: usize = 1024;

/// How often opening a database retries SQLITE_BUSY errors that the busy timeout cannot cover.
const BUSY_RETRIES: u64 = 100;

/// Whether `e` is SQLITE_BUSY or SQLITE_LOCKED (any extended code), i.e. a lock SQLite gave up
/// on at once.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| crate::error::retryable_sqlite(&c)))
}
