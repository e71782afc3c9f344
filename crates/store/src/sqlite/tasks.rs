//! `datasets/<datasetId>/tasks.db`: a dataset's tasks, claimed under fenced leases.

use super::super::{
    Cap, Lease, LeaseInfo, MinuteCounters, NewTask, Reaped, Renewal, StoreError, TaskCounts,
    TaskCursor, TaskJsonPage, TaskPage, TaskStore, TasksJson,
};
use super::group::{GroupCommit, Merged};
use crate::DbErrorKind;
use crate::row::{
    LeaseRow, MinuteRow, Owner, ReapedRow, StatusRow, TASK_COLUMNS, TaskRow, counts_of, leases_of,
    task_page_of,
};
use crate::traits::{REAP_EXITED, REAP_EXPIRED};
use async_trait::async_trait;
use letsdata_model::task::{Checkpoint, TaskExecutionLog, TaskProgress};
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, LeaseToken, Task, TaskId, TaskStatus};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{FromRow, Row, SqliteConnection};
use std::time::Duration;

/// The task database's schema, versioned (task databases of earlier releases, made before it
/// was, take the migrations as they are: every statement of the first ones is idempotent).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite/tasks");
/// Tasks per INSERT statement (8 parameters each; SQLite allows 32,766).
const INSERT_ROWS: usize = 1000;
const QUEUE: &str = include_str!("../tasks_queue.sql");

const COLUMNS: &str = TASK_COLUMNS;

/// The SQLite task database of one dataset.
pub struct SqliteTaskStore {
    pool: SqlitePool,
    owner: Owner,
    /// The database file.
    path: std::path::PathBuf,
    /// Runs the writes of running tasks, many per transaction.
    group: GroupCommit,
}

impl std::fmt::Debug for SqliteTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTaskStore")
            .field("dataset_id", &self.owner.dataset_id)
            .finish()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When a lease taken or extended at `now` for `lease_for` expires. Saturates, so a huge
/// `lease_for` (e.g. `Duration::MAX`, "never expires") neither overflows nor wraps into the past.
fn expires_at(now: i64, lease_for: Duration) -> i64 {
    now.saturating_add(millis(lease_for))
}

impl SqliteTaskStore {
    /// Opens the task database at `path` (creating it if asked) and brings its schema up to
    /// date: a pool for reads and the occasional write, and a connection of its own for the
    /// group commit's writer.
    pub(super) async fn open(
        dataset: &Dataset,
        path: &std::path::Path,
        create: bool,
    ) -> Result<Self, StoreError> {
        let pool = super::open_pool(path, create).await?;
        super::migrate(&pool, &MIGRATOR).await?;
        let writer = super::open_pool_for(path, false, super::Use::Writer).await?;
        Ok(Self {
            path: path.to_path_buf(),
            owner: Owner::of(dataset),
            group: GroupCommit::start(writer),
            pool,
        })
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
        self.group.close().await;
    }

    fn decode(&self, row: &SqliteRow) -> Result<Task, StoreError> {
        TaskRow::from_row(row)?.into_task(&self.owner)
    }

    /// The rows of a page of at most `limit` tasks (one more: whether another page follows).
    async fn page_rows(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<Vec<TaskRow>, StoreError> {
        // Conditions spelled out (no `?1 IS NULL OR ...`) so that SQLite walks an index:
        // `tasks_queue` (status, ordinal) or `tasks_order` (ordinal, task id).
        let mut conditions = Vec::new();
        if status.is_some() {
            conditions.push("task_status = ?1");
        }
        if after.is_some() {
            conditions.push("(ordinal, task_id) > (?2, ?3)");
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        Ok(sqlx::query_as::<_, TaskRow>(&format!(
            "SELECT {COLUMNS} FROM tasks {filter} ORDER BY ordinal, task_id LIMIT ?4"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(after.map(|c| i64::try_from(c.ordinal).unwrap_or(i64::MAX)))
        .bind(after.map(|c| c.task_id.as_str()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1))
        .fetch_all(&self.pool)
        .await?)
    }
}

#[async_trait]
impl TaskStore for SqliteTaskStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn create_queue(&self) -> Result<(), StoreError> {
        let _writing = crate::quiesce::writing().await;
        sqlx::raw_sql(QUEUE).execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_tasks(&self, tasks: &[NewTask]) -> Result<u64, StoreError> {
        let _writing = crate::quiesce::writing().await;
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        // Checked on this connection, in this transaction: the check also brings the
        // connection's view of the schema up to date (an index made by another connection
        // counts only once it has), which the insert's ON CONFLICT needs when it is prepared.
        let inserted = async {
            create_id_index(&mut conn).await?;
            insert_rows(&mut conn, tasks, true).await
        }
        .await;
        end_transaction(&mut conn, inserted).await
    }

    async fn load_tasks(
        &self,
        chunks: &mut tokio::sync::mpsc::Receiver<Vec<NewTask>>,
    ) -> Result<(u64, u64), StoreError> {
        let _writing = crate::quiesce::writing().await;
        let mut conn = self.pool.acquire().await?;
        // IMMEDIATE: the write lock for the whole load, so two processes initializing the
        // dataset at once load one after the other (the second finds every task there).
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let loaded = async {
            // An empty table without the id index (a new task database) is filled first and
            // indexed after: appending rows in manifest order is cheap, inserting hashed ids
            // into an index one by one is not. Otherwise tasks already there are kept.
            let indexed = has_id_index(&mut conn).await?;
            let bulk = !indexed
                && sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT 1 FROM tasks LIMIT 1)")
                    .fetch_one(&mut *conn)
                    .await?
                    == 0;
            if !indexed && !bulk {
                create_id_index(&mut conn).await?;
            }
            let (mut total, mut new) = (0u64, 0u64);
            while let Some(chunk) = chunks.recv().await {
                total += chunk.len() as u64;
                new += insert_rows(&mut conn, &chunk, !bulk).await?;
            }
            if bulk {
                match create_id_index(&mut conn).await {
                    Err(StoreError::Database {
                        kind: DbErrorKind::Conflict,
                        ..
                    }) => {
                        let twice: String = sqlx::query_scalar(
                            "SELECT task_id FROM tasks GROUP BY task_id HAVING COUNT(*) > 1 LIMIT 1",
                        )
                        .fetch_one(&mut *conn)
                        .await?;
                        return Err(StoreError::DuplicateTask(twice));
                    }
                    other => other?,
                }
            }
            Ok::<_, StoreError>((total, new))
        }
        .await;
        end_transaction(&mut conn, loaded).await
    }

    async fn claim_many(
        &self,
        owner: &str,
        lease_for: Duration,
        log: TaskExecutionLog,
        max: usize,
        cap: Cap<'_>,
    ) -> Result<Vec<Lease>, StoreError> {
        let now = now_millis();
        let finishing = serde_json::to_string(cap.finishing)?;
        let cap = i64::try_from(cap.most).unwrap_or(i64::MAX);
        let log = serde_json::to_string(&log)?;
        let owner = owner.to_string();
        let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
        let expires = expires_at(now, lease_for);
        let held_by = owner.clone();
        let rows = self
            .group
            .run(move |c: &mut SqliteConnection| {
                Box::pin(async move {
                    // One statement: pick and lease atomically, appending the invocation's log
                    // entry. The first CREATED and the first RERUN tasks each come from the
                    // `tasks_queue` index (an `IN` of both statuses would sort every runnable
                    // task on each claim).
                    let rows = sqlx::query_as::<_, TaskRow>(&format!(
                        "UPDATE tasks SET task_status = 'PROCESSING', lease_owner = ?1, worker_process_id = ?1,
                             lease_token = lease_token + 1, lease_expires_at = ?2, update_datetime = ?3,
                             execution_logs = json_insert(execution_logs, '$[#]', json(?4))
                         WHERE task_id IN (SELECT task_id FROM (
                                 SELECT * FROM (SELECT task_id, ordinal FROM tasks WHERE task_status = 'CREATED'
                                                ORDER BY ordinal LIMIT ?5)
                                 UNION ALL
                                 SELECT * FROM (SELECT task_id, ordinal FROM tasks WHERE task_status = 'RERUN'
                                                ORDER BY ordinal LIMIT ?5))
                             ORDER BY ordinal
                             LIMIT MAX(0, MIN(?5, ?6 - (SELECT COUNT(*) FROM tasks
                                 WHERE task_status = 'PROCESSING'
                                   AND task_id NOT IN (SELECT value FROM json_each(?7))))))
                         RETURNING {COLUMNS}"
                    ))
                    .bind(held_by)
                    .bind(expires)
                    .bind(now)
                    .bind(log)
                    .bind(max)
                    .bind(cap)
                    .bind(finishing)
                    .fetch_all(&mut *c)
                    .await?;
                    Ok(rows)
                })
            })
            .await?;
        leases_of(rows, &self.owner, &owner)
    }

    async fn renew(
        &self,
        owner: &str,
        leases: &[(TaskId, LeaseToken)],
        lease_for: Duration,
    ) -> Result<Vec<Renewal>, StoreError> {
        let leases = leases.to_vec();
        let owner = owner.to_string();
        let expires = expires_at(now_millis(), lease_for);
        self.group
            .run(move |c: &mut SqliteConnection| {
                Box::pin(async move {
                    let mut found = Vec::with_capacity(leases.len());
                    for (task_id, token) in &leases {
                        let row = sqlx::query(
                            "UPDATE tasks SET lease_expires_at = ?1
                             WHERE task_id = ?2 AND lease_token = ?3 AND lease_owner = ?4
                               AND task_status = 'PROCESSING'
                             RETURNING stop_requested",
                        )
                        .bind(expires)
                        .bind(task_id.as_str())
                        .bind(token.get())
                        .bind(&owner)
                        .fetch_optional(&mut *c)
                        .await?;
                        found.push(match row {
                            Some(row) => Renewal::Held {
                                stop_requested: row.try_get::<i64, _>("stop_requested")? != 0,
                            },
                            None => Renewal::Lost,
                        });
                    }
                    Ok(found)
                })
            })
            .await
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        checkpoint: &Checkpoint,
        lease_for: Duration,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let save = SaveCheckpoint::new(lease, checkpoint)?;
        let expires = expires_at(now, lease_for);
        let lost = lease.lost();
        self.group
            .run(move |c: &mut SqliteConnection| {
                Box::pin(async move {
                    // The minute's metrics are added by the `tasks_checkpoint_metrics` trigger.
                    let result = sqlx::query(
                        "UPDATE tasks SET checkpoint = ?1, progress = ?2, lease_expires_at = ?3, update_datetime = ?4
                         WHERE task_id = ?5 AND lease_token = ?6 AND lease_owner = ?7
                           AND task_status = 'PROCESSING'",
                    )
                    .bind(&save.checkpoint)
                    .bind(&save.progress)
                    .bind(expires)
                    .bind(now)
                    .bind(save.task_id.as_str())
                    .bind(save.token.get())
                    .bind(&save.owner)
                    .execute(&mut *c)
                    .await?;
                    fenced(result.rows_affected(), lost)
                })
            })
            .await
    }

    async fn finish(
        &self,
        lease: &Lease,
        status: TaskStatus,
        last_error: Option<&str>,
        log: TaskExecutionLog,
        last: Option<&Checkpoint>,
    ) -> Result<(), StoreError> {
        let save = last
            .map(|checkpoint| SaveCheckpoint::new(lease, checkpoint))
            .transpose()?;
        let object = serde_json::to_string(&FinishRow {
            id: lease.task.task_id.as_str(),
            token: lease.token.get(),
            owner: &lease.owner,
            status: status.as_str(),
            error: last_error,
            log: &log,
            now: now_millis(),
            checkpoint: save.as_ref().map(|s| s.checkpoint.as_str()),
            progress: save.as_ref().map(|s| s.progress.as_str()),
        })?;
        // `progress` is set only with a final checkpoint: setting it is what adds to the
        // minute's metrics (the `tasks_checkpoint_metrics` trigger).
        self.group
            .run_merged(Merged {
                sql: if save.is_some() {
                    FINISH_WITH_CHECKPOINT
                } else {
                    FINISH
                },
                key: lease.task.task_id.as_str().to_string(),
                object,
                unchanged: lease.lost(),
            })
            .await
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Task>, StoreError> {
        // Through the partial index `tasks_unpublished` (its condition spelled the same), not
        // every COMPLETED task.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tasks INDEXED BY tasks_unpublished
             WHERE task_status = 'COMPLETED' AND json_extract(checkpoint, '$.stagedParts') IS NOT NULL
             ORDER BY ordinal LIMIT ?1"
        ))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    async fn published(&self, task_ids: &[TaskId]) -> Result<(), StoreError> {
        if task_ids.is_empty() {
            return Ok(());
        }
        let ids = serde_json::to_string(task_ids)?;
        self.group
            .run(move |c: &mut SqliteConnection| {
                Box::pin(async move {
                    sqlx::query(
                        // `+task_status`: found by id, not by walking every COMPLETED task
                        // in the status index.
                        "UPDATE tasks SET checkpoint = json_remove(checkpoint, '$.stagedParts')
                         WHERE task_id IN (SELECT value FROM json_each(?1))
                           AND +task_status = 'COMPLETED'
                           AND json_extract(checkpoint, '$.stagedParts') IS NOT NULL",
                    )
                    .bind(ids)
                    .execute(&mut *c)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError> {
        let rows = sqlx::query_as::<_, LeaseRow>(
            "SELECT task_id, lease_owner, lease_token, lease_expires_at,
                    COALESCE(lease_expires_at < ?1, 1) AS expired
             FROM tasks WHERE task_status = 'PROCESSING'",
        )
        .bind(now_millis())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(LeaseInfo::from).collect())
    }

    async fn reap(&self, dead_owners: &[String]) -> Result<Vec<Reaped>, StoreError> {
        let _writing = crate::quiesce::writing().await;
        // Closes each dead invocation's log entry and queues the task again. (The SET
        // expressions see the row before the update; RETURNING sees it after, hence
        // worker_process_id, which a claim sets to the lease owner, for the owner.)
        let rows = sqlx::query_as::<_, ReapedRow>(
            "UPDATE tasks SET task_status = 'RERUN', lease_owner = NULL, lease_expires_at = NULL,
                 update_datetime = ?1,
                 execution_logs = CASE WHEN json_array_length(execution_logs) > 0
                     THEN json_set(execution_logs, '$[#-1].endDatetime', ?1,
                                   '$[#-1].outcome', 'LEASE_LOST', '$[#-1].message',
                                   'worker ' || COALESCE(lease_owner, '') || ' ' ||
                                   CASE WHEN lease_owner IN (SELECT value FROM json_each(?2))
                                        THEN ?3 ELSE ?4 END)
                     ELSE execution_logs END
             WHERE task_status = 'PROCESSING'
               AND (lease_expires_at IS NULL OR lease_expires_at < ?1
                    OR lease_owner IN (SELECT value FROM json_each(?2)))
             RETURNING task_id, worker_process_id AS owner,
                       worker_process_id IN (SELECT value FROM json_each(?2)) AS exited",
        )
        .bind(now_millis())
        .bind(serde_json::to_string(dead_owners)?)
        .bind(REAP_EXITED)
        .bind(REAP_EXPIRED)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Reaped::from).collect())
    }

    async fn hold_monitor(&self, owner: &str, lease_for: Duration) -> Result<bool, StoreError> {
        let _writing = crate::quiesce::writing().await;
        let now = now_millis();
        let held = sqlx::query(
            "INSERT INTO monitor (id, owner, expires_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE monitor.owner = excluded.owner OR monitor.expires_at < ?3",
        )
        .bind(owner)
        .bind(expires_at(now, lease_for))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(held.rows_affected() > 0)
    }

    async fn release_monitor(&self, owner: &str) -> Result<(), StoreError> {
        let _writing = crate::quiesce::writing().await;
        sqlx::query("DELETE FROM monitor WHERE owner = ?1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn reset_for_redrive(
        &self,
        task_id: &TaskId,
        restart_from_beginning: bool,
    ) -> Result<bool, StoreError> {
        let _writing = crate::quiesce::writing().await;
        let zero = serde_json::to_string(&TaskProgress::default())?;
        let result = sqlx::query(
            "UPDATE tasks SET task_status = 'CREATED', last_error = NULL, update_datetime = ?1,
                 stop_requested = 0,
                 checkpoint = CASE WHEN ?2 THEN NULL ELSE checkpoint END,
                 progress = CASE WHEN ?2 THEN ?3 ELSE progress END
             WHERE task_id = ?4 AND task_status = 'ERRORED'",
        )
        .bind(now_millis())
        .bind(restart_from_beginning)
        .bind(zero)
        .bind(task_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn request_stop(
        &self,
        task_ids: Option<&[TaskId]>,
        message: &str,
    ) -> Result<(u64, u64), StoreError> {
        let _writing = crate::quiesce::writing().await;
        let ids = task_ids.map(serde_json::to_string).transpose()?;
        let filter = "(?3 IS NULL OR task_id IN (SELECT value FROM json_each(?3)))";
        let mut tx = self.pool.begin().await?;
        let stopped = sqlx::query(&format!(
            "UPDATE tasks SET task_status = 'ERRORED', last_error = ?1, update_datetime = ?2
             WHERE task_status IN ('CREATED', 'RERUN') AND {filter}"
        ))
        .bind(message)
        .bind(now_millis())
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let flagged = sqlx::query(&format!(
            "UPDATE tasks SET stop_requested = 1, update_datetime = ?2
             WHERE task_status = 'PROCESSING' AND ?1 IS NOT NULL AND {filter}"
        ))
        .bind(message)
        .bind(now_millis())
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((stopped, flagged))
    }

    async fn append_task_log(&self, task_id: &TaskId, text: &str) -> Result<(), StoreError> {
        let (task_id, text) = (task_id.clone(), text.to_string());
        self.group
            .run(move |c: &mut SqliteConnection| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO task_logs (task_id, text) VALUES (?1, ?2)")
                        .bind(task_id.as_str())
                        .bind(text)
                        .execute(&mut *c)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn task_log(&self, task_id: &TaskId) -> Result<Option<String>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT text FROM task_logs WHERE task_id = ?1 ORDER BY seq")
                .bind(task_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok((!texts.is_empty()).then(|| texts.concat()))
    }

    async fn minute_counters(&self) -> Result<Vec<MinuteCounters>, StoreError> {
        let rows = sqlx::query_as::<_, MinuteRow>(
            "SELECT minute, records_read, documents_written, error_records, skip_records, bytes_read, checkpoints
             FROM metrics ORDER BY minute",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(MinuteCounters::from).collect())
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<Task>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE task_id = ?1"))
            .bind(task_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| self.decode(r)).transpose()
    }

    async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, StoreError> {
        let rows = match status {
            Some(s) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM tasks WHERE task_status = ?1 ORDER BY ordinal"
                ))
                .bind(s.as_str())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM tasks ORDER BY ordinal"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(|r| self.decode(r)).collect()
    }

    async fn list_tasks_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<TaskPage, StoreError> {
        let limit = limit.max(1);
        task_page_of(
            self.page_rows(status, after, limit).await?,
            limit,
            &self.owner,
        )
    }

    /// SQLite keeps the JSON columns as [`Task`]'s encoding wrote them: written as they are.
    async fn list_tasks_json_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<TaskJsonPage, StoreError> {
        let limit = limit.max(1);
        TasksJson::page_of_rows(
            self.page_rows(status, after, limit).await?,
            limit,
            &self.owner,
        )
    }

    async fn counts(&self) -> Result<TaskCounts, StoreError> {
        let rows = sqlx::query_as::<_, StatusRow>(
            "SELECT task_status, COUNT(*) AS n, COALESCE(MAX(lease_token), 0) AS max_lease_token,
                    COALESCE(SUM(json_extract(progress, '$.recordsRead')), 0) AS records_read,
                    COALESCE(SUM(json_extract(progress, '$.documentsWritten')), 0) AS documents_written,
                    COALESCE(SUM(json_extract(progress, '$.errorRecords')), 0) AS error_records,
                    COALESCE(SUM(json_extract(progress, '$.skipRecords')), 0) AS skip_records,
                    COALESCE(SUM(json_extract(progress, '$.bytesRead')), 0) AS bytes_read
             FROM tasks GROUP BY task_status",
        )
        .fetch_all(&self.pool)
        .await?;
        counts_of(rows)
    }
}

/// Inserts `tasks` (many rows per statement: one round trip to the connection's thread per
/// chunk, not per task); with `keep_existing`, tasks whose id exists already are skipped (that
/// needs the id index). Returns how many were inserted.
async fn insert_rows(
    conn: &mut SqliteConnection,
    tasks: &[NewTask],
    keep_existing: bool,
) -> Result<u64, StoreError> {
    let now = now_millis();
    let mut inserted = 0;
    for chunk in tasks.chunks(INSERT_ROWS) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO tasks (task_id, ordinal, task_status, task_type, definition, progress, create_datetime, update_datetime) ",
        );
        let mut definitions = Vec::with_capacity(chunk.len());
        for task in chunk {
            definitions.push(serde_json::to_string(&task.definition)?);
        }
        insert.push_values(
            chunk.iter().zip(definitions),
            |mut row, (task, definition)| {
                row.push_bind(task.task_id.as_str())
                    .push_bind(i64::try_from(task.ordinal).unwrap_or(i64::MAX))
                    .push_bind("CREATED")
                    .push_bind(task.task_type.as_str())
                    .push_bind(definition)
                    // No progress yet: `{}` reads as zero counters.
                    .push_bind("{}")
                    .push_bind(now)
                    .push_bind(now);
            },
        );
        if keep_existing {
            insert.push(" ON CONFLICT (task_id) DO NOTHING");
        }
        inserted += insert.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

/// Commits the transaction of `result`, or rolls it back when that is an error.
async fn end_transaction<T>(
    conn: &mut SqliteConnection,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                tracing::warn!(error = %rollback, "rolling back a failed write failed");
            }
            Err(e)
        }
    }
}

/// Whether task ids are unique through an index: `tasks_id`, or the PRIMARY KEY of task
/// databases of earlier releases.
async fn has_id_index(conn: &mut SqliteConnection) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pragma_index_list('tasks') AS l
             WHERE l.\"unique\" = 1
               AND (SELECT group_concat(name) FROM pragma_index_info(l.name)) = 'task_id')",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Makes task ids unique through `tasks_id` unless an index does already.
async fn create_id_index(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    if !has_id_index(conn).await? {
        sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS tasks_id ON tasks (task_id)")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A write conditional on the lease token: no row changed means another worker holds the task.
fn fenced(rows: u64, lost: StoreError) -> Result<(), StoreError> {
    if rows == 0 { Err(lost) } else { Ok(()) }
}

/// A task's end as [`FINISH`] reads it: one object of its JSON array.
#[derive(serde::Serialize)]
struct FinishRow<'a> {
    id: &'a str,
    token: i64,
    /// The owner whose lease must still hold.
    owner: &'a str,
    status: &'a str,
    error: Option<&'a str>,
    log: &'a TaskExecutionLog,
    now: i64,
    /// The final checkpoint and its counters, as text ([`FINISH_WITH_CHECKPOINT`]).
    checkpoint: Option<&'a str>,
    progress: Option<&'a str>,
}

/// The ends of many tasks, each with its lease given up (a [`FinishRow`] each in the array
/// `?1`, merged by the group commit); returns the ids of the tasks whose lease still held.
/// `+task_status`: each task found by its id, not by walking the PROCESSING ones.
const FINISH: &str = "WITH f AS MATERIALIZED (
         SELECT value ->> 'id' AS task_id, value ->> 'token' AS token, value ->> 'owner' AS owner,
                value ->> 'status' AS status, value ->> 'error' AS error, value -> 'log' AS log,
                value ->> 'now' AS now
         FROM json_each(?1))
     UPDATE tasks SET task_status = f.status, last_error = COALESCE(f.error, tasks.last_error),
         execution_logs = json_set(tasks.execution_logs, '$[#-1]', json(f.log)),
         lease_owner = NULL, lease_expires_at = NULL, update_datetime = f.now
     FROM f
     WHERE tasks.task_id = f.task_id AND tasks.lease_token = f.token AND tasks.lease_owner = f.owner
       AND +tasks.task_status = 'PROCESSING'
     RETURNING tasks.task_id";

/// [`FINISH`] with each task's final checkpoint and its counters.
const FINISH_WITH_CHECKPOINT: &str = "WITH f AS MATERIALIZED (
         SELECT value ->> 'id' AS task_id, value ->> 'token' AS token, value ->> 'owner' AS owner,
                value ->> 'status' AS status, value ->> 'error' AS error, value -> 'log' AS log,
                value ->> 'now' AS now, value ->> 'checkpoint' AS checkpoint,
                value ->> 'progress' AS progress
         FROM json_each(?1))
     UPDATE tasks SET task_status = f.status, last_error = COALESCE(f.error, tasks.last_error),
         execution_logs = json_set(tasks.execution_logs, '$[#-1]', json(f.log)),
         lease_owner = NULL, lease_expires_at = NULL, update_datetime = f.now,
         checkpoint = f.checkpoint, progress = f.progress
     FROM f
     WHERE tasks.task_id = f.task_id AND tasks.lease_token = f.token AND tasks.lease_owner = f.owner
       AND +tasks.task_status = 'PROCESSING'
     RETURNING tasks.task_id";

/// A checkpoint to save, serialized before its write is queued.
struct SaveCheckpoint {
    task_id: TaskId,
    token: LeaseToken,
    owner: String,
    checkpoint: String,
    progress: String,
}

impl SaveCheckpoint {
    fn new(lease: &Lease, checkpoint: &Checkpoint) -> Result<Self, StoreError> {
        Ok(Self {
            task_id: lease.task.task_id.clone(),
            token: lease.token,
            owner: lease.owner.clone(),
            checkpoint: serde_json::to_string(checkpoint)?,
            progress: serde_json::to_string(&checkpoint.progress)?,
        })
    }
}
