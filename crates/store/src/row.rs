//! A task row as both backends store it, and its decoding into a [`Task`].

use crate::StoreError;
use letsdata_model::task::TaskProgress;
use letsdata_model::{Dataset, DatasetId, LeaseToken, Task, TaskId};
use serde::Serialize;
use serde::ser::SerializeSeq;
use serde_json::value::RawValue;

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

/// A page of at most `limit` items made of `rows`, which a query asked for `limit + 1` of (in
/// manifest order): whether a row beyond the page came back says whether another page
/// follows, and the page's last row is where it starts.
pub(crate) fn page_of<T>(
    mut rows: Vec<TaskRow>,
    limit: usize,
    decode: impl FnMut(TaskRow) -> Result<T, StoreError>,
) -> Result<(Vec<T>, Option<crate::TaskCursor>), StoreError> {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| crate::TaskCursor {
            ordinal: u64::try_from(row.ordinal).unwrap_or(0),
            task_id: TaskId::new(row.task_id.clone()),
        })
    } else {
        None
    };
    let items = rows.into_iter().map(decode).collect::<Result<_, _>>()?;
    Ok((items, next))
}

/// A page of [`Task`]s out of `rows` (see [`page_of`]).
pub(crate) fn task_page_of(
    rows: Vec<TaskRow>,
    limit: usize,
    owner: &Owner,
) -> Result<crate::TaskPage, StoreError> {
    let (tasks, next) = page_of(rows, limit, |row| row.into_task(owner))?;
    Ok(crate::TaskPage { tasks, next })
}

/// Tasks ready to be written as the JSON that `tasks list` prints, for a caller that only
/// writes them out (the server's `tasks/list`).
///
/// Where the stored JSON columns are already in their printed form (SQLite keeps the text
/// [`Task`]'s own encoding wrote), a task is its row with those columns checked to be JSON
/// but not decoded: writing a page of them is several times cheaper than decoding each into a
/// [`Task`] and encoding it again, and the text is the same, byte for byte (the store suite
/// checks it; a checkpoint an earlier release wrote keeps its own key order, the same JSON).
/// Otherwise (PostgreSQL's `jsonb` orders keys its own way) they are [`Task`]s.
pub struct TasksJson(Listed);

enum Listed {
    Rows { rows: Vec<JsonRow>, owner: Owner },
    Tasks(Vec<Task>),
}

/// A task row with its JSON columns checked, not decoded.
struct JsonRow {
    task_id: String,
    task_status: String,
    task_type: String,
    definition: Box<RawValue>,
    progress: Box<RawValue>,
    checkpoint: Option<Box<RawValue>>,
    last_error: Option<String>,
    execution_logs: Box<RawValue>,
    worker_process_id: Option<String>,
    create_datetime: i64,
    update_datetime: i64,
}

impl TryFrom<TaskRow> for JsonRow {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        Ok(Self {
            task_id: row.task_id,
            task_status: row.task_status,
            task_type: row.task_type,
            definition: RawValue::from_string(row.definition)?,
            // A task that never checkpointed keeps `{}`: printed as zero counters.
            progress: if row.progress == "{}" {
                RawValue::from_string(serde_json::to_string(&TaskProgress::default())?)?
            } else {
                RawValue::from_string(row.progress)?
            },
            checkpoint: row.checkpoint.map(RawValue::from_string).transpose()?,
            last_error: row.last_error,
            execution_logs: RawValue::from_string(row.execution_logs)?,
            worker_process_id: row.worker_process_id,
            create_datetime: row.create_datetime,
            update_datetime: row.update_datetime,
        })
    }
}

/// A task as [`Task`] encodes itself: the same keys in the same order, the same omissions.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskText<'a> {
    task_id: &'a str,
    dataset_name: &'a str,
    dataset_id: &'a str,
    tenant_id: &'a str,
    task_type: &'a str,
    task_status: &'a str,
    task_definition: &'a RawValue,
    task_progress: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    task_execution_logs: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker_process_id: Option<&'a str>,
    create_datetime: i64,
    update_datetime: i64,
}

impl Serialize for TasksJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (rows, owner) = match &self.0 {
            Listed::Tasks(tasks) => return tasks.serialize(serializer),
            Listed::Rows { rows, owner } => (rows, owner),
        };
        let mut seq = serializer.serialize_seq(Some(rows.len()))?;
        for row in rows {
            seq.serialize_element(&TaskText {
                task_id: &row.task_id,
                dataset_name: &owner.dataset_name,
                dataset_id: owner.dataset_id.as_str(),
                tenant_id: &owner.tenant_id,
                task_type: &row.task_type,
                task_status: &row.task_status,
                task_definition: &row.definition,
                task_progress: &row.progress,
                checkpoint: row.checkpoint.as_deref(),
                last_error: row.last_error.as_deref(),
                task_execution_logs: &row.execution_logs,
                worker_process_id: row.worker_process_id.as_deref(),
                create_datetime: row.create_datetime,
                update_datetime: row.update_datetime,
            })?;
        }
        seq.end()
    }
}

impl TasksJson {
    /// Tasks as they are.
    pub fn tasks(tasks: Vec<Task>) -> Self {
        Self(Listed::Tasks(tasks))
    }

    /// A page of `rows` (see [`page_of`]), written from their stored JSON text.
    pub(crate) fn page_of_rows(
        rows: Vec<TaskRow>,
        limit: usize,
        owner: &Owner,
    ) -> Result<TaskJsonPage, StoreError> {
        let (rows, next) = page_of(rows, limit, JsonRow::try_from)?;
        let owner = owner.clone();
        Ok(TaskJsonPage {
            tasks: Self(Listed::Rows { rows, owner }),
            next,
        })
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Listed::Rows { rows, .. } => rows.len(),
            Listed::Tasks(tasks) => tasks.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One page of a task list, as JSON to write out.
pub struct TaskJsonPage {
    pub tasks: TasksJson,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<crate::TaskCursor>,
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
            input_bytes: 0,
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
    max_lease_token: i64,
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
        counts.max_lease_token = counts
            .max_lease_token
            .max(u64::try_from(row.max_lease_token).unwrap_or(0));
    }
    Ok(counts)
}
