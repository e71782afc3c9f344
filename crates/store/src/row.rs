//! A task row as both backends store it, and its decoding into a [`Task`].

use crate::StoreError;
use letsdata_model::task::TaskProgress;
use letsdata_model::{Dataset, DatasetId, LeaseToken, Task, TaskId};

/// The columns of a task row that [`TaskRow`] reads, for `SELECT` and `RETURNING` lists. JSON
/// columns are read as text (PostgreSQL keeps them as `jsonb`).
pub(crate) const TASK_COLUMNS: &str = "task_id, ordinal, task_status, task_type, definition, \
     CAST(progress AS TEXT) AS progress, CAST(checkpoint AS TEXT) AS checkpoint, last_error, \
     CAST(execution_logs AS TEXT) AS execution_logs, worker_process_id, lease_token, \
     create_datetime, update_datetime";

/// A dataset row: the record as JSON text and its version.
#[derive(sqlx::FromRow)]
pub(crate) struct DatasetRow {
    record: String,
    version: i64,
}

impl DatasetRow {
    pub(crate) fn into_dataset(self) -> Result<Dataset, StoreError> {
        let mut dataset: Dataset = serde_json::from_str(&self.record)?;
        dataset.version = self.version;
        Ok(dataset)
    }
}

/// One task row, as [`TASK_COLUMNS`] lists it.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    task_id: String,
    pub(crate) ordinal: i64,
    task_status: String,
    task_type: String,
    definition: String,
    progress: String,
    checkpoint: Option<String>,
    last_error: Option<String>,
    execution_logs: String,
    worker_process_id: Option<String>,
    pub(crate) lease_token: i64,
    create_datetime: i64,
    update_datetime: i64,
}

/// The dataset a task store belongs to: what every decoded task carries.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub(crate) dataset_id: DatasetId,
    pub(crate) dataset_name: String,
    pub(crate) tenant_id: String,
}

impl Owner {
    pub(crate) fn of(dataset: &Dataset) -> Self {
        Self {
            dataset_id: dataset.dataset_id.clone(),
            dataset_name: dataset.dataset_name.clone(),
            tenant_id: dataset.tenant_id.clone(),
        }
    }
}

impl TaskRow {
    pub(crate) fn token(&self) -> LeaseToken {
        LeaseToken::new(self.lease_token)
    }

    pub(crate) fn into_task(self, owner: &Owner) -> Result<Task, StoreError> {
        Ok(Task {
            task_id: TaskId::new(self.task_id),
            dataset_name: owner.dataset_name.clone(),
            dataset_id: owner.dataset_id.clone(),
            tenant_id: owner.tenant_id.clone(),
            task_type: self.task_type,
            task_status: self.task_status.parse().map_err(StoreError::Corrupt)?,
            task_definition: serde_json::from_str(&self.definition)?,
            task_progress: serde_json::from_str(&self.progress)?,
            checkpoint: self
                .checkpoint
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            last_error: self.last_error,
            task_execution_logs: serde_json::from_str(&self.execution_logs)?,
            worker_process_id: self.worker_process_id,
            create_datetime: self.create_datetime,
            update_datetime: self.update_datetime,
        })
    }
}

/// Leases of the rows a claim returned (each leased to `owner` under its new token), in
/// ordinal order.
pub(crate) fn leases_of(
    mut rows: Vec<TaskRow>,
    owner: &Owner,
    holder: &str,
) -> Result<Vec<crate::Lease>, StoreError> {
    rows.sort_by_key(|row| row.ordinal);
    rows.into_iter()
        .map(|row| {
            Ok(crate::Lease {
                token: row.token(),
                task: row.into_task(owner)?,
                owner: holder.to_string(),
            })
        })
        .collect()
}

/// A page of at most `limit` tasks out of `rows`, which a query asked for `limit + 1` of (in
/// manifest order): whether a row beyond the page came back says whether another page follows.
pub(crate) fn page_of(
    rows: Vec<TaskRow>,
    limit: usize,
    owner: &Owner,
) -> Result<crate::TaskPage, StoreError> {
    let more = rows.len() > limit;
    let mut tasks = Vec::with_capacity(rows.len().min(limit));
    let mut next = None;
    for row in rows.into_iter().take(limit) {
        let ordinal = u64::try_from(row.ordinal).unwrap_or(0);
        let task = row.into_task(owner)?;
        if more {
            next = Some(crate::TaskCursor {
                ordinal,
                task_id: task.task_id.clone(),
            });
        }
        tasks.push(task);
    }
    Ok(crate::TaskPage { tasks, next })
}

/// A `PROCESSING` task's lease, as [`crate::TaskStore::leases`] selects it.
#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    task_id: String,
    lease_owner: Option<String>,
    lease_token: i64,
    lease_expires_at: Option<i64>,
    expired: bool,
}

impl From<LeaseRow> for crate::LeaseInfo {
    fn from(row: LeaseRow) -> Self {
        Self {
            task_id: TaskId::new(row.task_id),
            owner: row.lease_owner.unwrap_or_default(),
            token: LeaseToken::new(row.lease_token),
            expires_at: row.lease_expires_at.unwrap_or(0),
            expired: row.expired,
        }
    }
}

/// A task [`crate::TaskStore::reap`] queued again, as its statement returns it.
#[derive(sqlx::FromRow)]
pub(crate) struct ReapedRow {
    task_id: String,
    owner: Option<String>,
    exited: bool,
}

impl From<ReapedRow> for crate::Reaped {
    fn from(row: ReapedRow) -> Self {
        Self {
            task_id: TaskId::new(row.task_id),
            owner: row.owner.unwrap_or_default(),
            exited: row.exited,
        }
    }
}

/// The columns of a `workers` row that [`WorkerRow`] reads.
pub(crate) const WORKER_COLUMNS: &str =
    "worker_id, host, pid, version, concurrency, draining, started_at, last_seen_at";

/// A registered worker.
#[derive(sqlx::FromRow)]
pub(crate) struct WorkerRow {
    worker_id: String,
    host: String,
    pid: i64,
    version: String,
    concurrency: Option<i64>,
    draining: bool,
    started_at: i64,
    last_seen_at: i64,
}

impl From<WorkerRow> for crate::WorkerInfo {
    fn from(row: WorkerRow) -> Self {
        Self {
            worker_id: row.worker_id,
            host: row.host,
            pid: u32::try_from(row.pid).unwrap_or(0),
            version: row.version,
            concurrency: row.concurrency.and_then(|c| u32::try_from(c).ok()),
            draining: row.draining,
            started_at: row.started_at,
            last_seen_at: row.last_seen_at,
        }
    }
}

/// Registrations unseen this long are removed when any worker registers.
pub(crate) const WORKER_FORGOTTEN_MS: i64 = 7 * 24 * 3600 * 1000;

/// Progress counters as columns (summed per status, or per minute).
#[derive(sqlx::FromRow)]
pub(crate) struct ProgressRow {
    records_read: i64,
    documents_written: i64,
    error_records: i64,
    skip_records: i64,
    bytes_read: i64,
}

impl ProgressRow {
    fn progress(&self) -> TaskProgress {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        TaskProgress {
            records_read: n(self.records_read),
            documents_written: n(self.documents_written),
            error_records: n(self.error_records),
            skip_records: n(self.skip_records),
            bytes_read: n(self.bytes_read),
        }
    }
}

/// One minute of metrics, as [`crate::TaskStore::minute_counters`] selects it.
#[derive(sqlx::FromRow)]
pub(crate) struct MinuteRow {
    minute: i64,
    checkpoints: i64,
    #[sqlx(flatten)]
    counters: ProgressRow,
}

impl From<MinuteRow> for crate::MinuteCounters {
    fn from(row: MinuteRow) -> Self {
        Self {
            minute: row.minute,
            progress: row.counters.progress(),
            checkpoints: u64::try_from(row.checkpoints).unwrap_or(0),
        }
    }
}

/// The number of tasks in one status and their summed progress (`n`, `task_status` and the
/// counters), as [`crate::TaskStore::counts`] selects them.
#[derive(sqlx::FromRow)]
pub(crate) struct StatusRow {
    task_status: String,
    n: i64,
    #[sqlx(flatten)]
    counters: ProgressRow,
}

/// Task counts of the rows of a `GROUP BY task_status`.
pub(crate) fn counts_of(rows: Vec<StatusRow>) -> Result<crate::TaskCounts, StoreError> {
    let mut counts = crate::TaskCounts::default();
    for row in rows {
        counts.add(
            row.task_status.parse().map_err(StoreError::Corrupt)?,
            u64::try_from(row.n).unwrap_or(0),
            &row.counters.progress(),
        );
    }
    Ok(counts)
}
