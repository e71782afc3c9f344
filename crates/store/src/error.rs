use thiserror::Error;

/// What failed in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("a dataset named {0:?} already exists for this tenant; choose another datasetName")]
    DatasetExists(String),
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
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The transaction that held the write (with other writes, see the SQLite backend's group
    /// commit) did not commit.
    #[error("database error: the write did not commit: {0}")]
    Commit(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
