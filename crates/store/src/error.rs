use thiserror::Error;

/// What failed in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("a dataset named {0:?} already exists for this tenant; choose another datasetName")]
    DatasetExists(String),
    /// A tenant name or user email that is taken.
    #[error("{what} {name:?} already exists; choose another")]
    Exists { what: &'static str, name: String },
    /// A value the store refuses (the message says which and what is expected).
    #[error("{0}")]
    Invalid(String),
    #[error("dataset {0:?} was changed by another process; retry")]
    Conflict(String),
    #[error("task {task_id} is no longer leased with token {token}; another worker owns it now")]
    LeaseLost {
        task_id: letsdata_model::TaskId,
        token: letsdata_model::LeaseToken,
    },
    #[error("task {0:?} not found")]
    TaskNotFound(String),
    #[error(
        "the task list names task {0} twice (the read connector listed the same input twice); nothing was created"
    )]
    DuplicateTask(String),
    #[error("the task database of dataset {0} does not exist")]
    NoTaskDatabase(String),
    /// The database refused or failed a statement; `kind` says what a caller can do about it.
    #[error("database error: {message}")]
    Database { kind: DbErrorKind, message: String },
    /// The transaction that held the write (with other writes, see the SQLite backend's group
    /// commit) did not commit.
    #[error("database error: the write did not commit: {0}")]
    Commit(String),
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The store's settings are wrong (the message says which and how to fix them).
    #[error("{0}")]
    Config(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// What kind of database failure a [`StoreError::Database`] is, whichever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// Worth trying again as it is: a lock not granted in time (SQLITE_BUSY), a serialization
    /// failure or deadlock, a connection lost or refused, a pool exhausted.
    Retryable,
    /// The write conflicts with data already there (a unique key).
    Conflict,
    /// A row the statement needed is not there.
    NotFound,
    /// Anything else (a bug, a corrupt file, a full disk): retrying will not help.
    Other,
}

impl StoreError {
    /// Whether trying the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Database {
                kind: DbErrorKind::Retryable,
                ..
            } | StoreError::Commit(_)
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database {
            kind: classify(&e),
            message: e.to_string(),
        }
    }
}

impl StoreError {
    /// A failed migration of the database that `migrator` (this binary's migrations) runs on:
    /// a schema a later release migrated is named as such, with both versions.
    pub(crate) fn migration(
        e: sqlx::migrate::MigrateError,
        migrator: &sqlx::migrate::Migrator,
    ) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(theirs) => {
                let ours = migrator.iter().map(|m| m.version).max().unwrap_or(0);
                StoreError::Migrate(format!(
                    "the database's schema is at version {theirs}, newer than this letsdata's \
                     (version {ours}): a later release of letsdata migrated it; run that release \
                     (or a later one) against this database"
                ))
            }
            e => StoreError::Migrate(e.to_string()),
        }
    }
}

/// Sorts a driver error into a [`DbErrorKind`].
pub(crate) fn classify(e: &sqlx::Error) -> DbErrorKind {
    match e {
        sqlx::Error::RowNotFound => DbErrorKind::NotFound,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => {
            DbErrorKind::Retryable
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => DbErrorKind::Conflict,
        sqlx::Error::Database(d) => {
            let postgres = d
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some();
            match d.code() {
                Some(code) if postgres && retryable_sqlstate(&code) => DbErrorKind::Retryable,
                Some(code) if !postgres && retryable_sqlite(&code) => DbErrorKind::Retryable,
                _ => DbErrorKind::Other,
            }
        }
        _ => DbErrorKind::Other,
    }
}

/// SQLITE_BUSY and SQLITE_LOCKED, with any extended code (SQLite's codes are numbers).
pub(crate) fn retryable_sqlite(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

/// PostgreSQL's serialization_failure, deadlock_detected, lock_not_available, the connection
/// exception class, too_many_connections, admin/crash shutdown and cannot_connect_now.
fn retryable_sqlstate(code: &str) -> bool {
    matches!(
        code,
        "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03"
    ) || code.starts_with("08")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_are_sorted_by_what_a_caller_can_do() {
        assert_eq!(classify(&sqlx::Error::RowNotFound), DbErrorKind::NotFound);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), DbErrorKind::Retryable);
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&sqlx::Error::Io(io)), DbErrorKind::Retryable);
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_LOCKED; PostgreSQL's serialization
        // failure, deadlock and lost connections, by their own numbering.
        for code in ["5", "517", "6"] {
            assert!(retryable_sqlite(code), "{code}");
        }
        for code in ["40001", "40P01", "08006", "57P01"] {
            assert!(retryable_sqlstate(code), "{code}");
        }
        // SQLITE_CORRUPT, SQLITE_FULL; PostgreSQL's syntax error and undefined table.
        for code in ["11", "13"] {
            assert!(!retryable_sqlite(code), "{code}");
        }
        for code in ["42601", "42P01", "23505"] {
            assert!(!retryable_sqlstate(code), "{code}");
        }
        let retryable = StoreError::Database {
            kind: DbErrorKind::Retryable,
            message: String::new(),
        };
        assert!(retryable.is_retryable());
        assert!(StoreError::Commit("rolled back".into()).is_retryable());
        assert!(!StoreError::Conflict("x".into()).is_retryable());
    }
}
