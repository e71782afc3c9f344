//! A dataset's tasks in the shared `tasks` table, claimed under fenced leases.

use crate::row::{
    LeaseRow, MinuteRow, Owner, ReapedRow, StatusRow, TASK_COLUMNS, TaskRow, counts_of, leases_of,
    task_page_of,
};
use crate::traits::{REAP_EXITED, REAP_EXPIRED};
use crate::{
    Cap, Lease, LeaseInfo, MinuteCounters, NewTask, Reaped, Renewal, StoreError, TaskCounts,
    TaskCursor, TaskPage, TaskStore,
};
use async_trait::async_trait;
use letsdata_model::task::{Checkpoint, TaskExecutionLog, TaskProgress};
use letsdata_model::{Dataset, LeaseToken, Task, TaskId, TaskStatus};
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use std::time::Duration;

const COLUMNS: &str = TASK_COLUMNS;

/// The longest lease a worker can take (a century): longer ones (`Duration::MAX`, "never
/// expires") are cut to it, so the expiry stays a valid timestamp.
const LONGEST_LEASE_MS: i64 = 100 * 365 * 24 * 3600 * 1000;

/// Tasks per INSERT statement (their columns go as arrays: a handful of parameters each).
const INSERT_ROWS: usize = 10_000;

/// The tasks of one dataset in the PostgreSQL store.
pub struct PostgresTaskStore {
    pool: PgPool,
    owner: Owner,
    location: String,
}

impl std::fmt::Debug for PostgresTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTaskStore")
            .field("dataset_id", &self.owner.dataset_id)
            .finish()
    }
}

fn lease_ms(lease_for: Duration) -> i64 {
    i64::try_from(lease_for.as_millis()).map_or(LONGEST_LEASE_MS, |ms| ms.min(LONGEST_LEASE_MS))
}

fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl PostgresTaskStore {
    pub(super) fn new(pool: PgPool, dataset: &Dataset, database: &str) -> Self {
        Self {
            pool,
            location: format!("{database} (tasks of dataset {})", dataset.dataset_id),
            owner: Owner::of(dataset),
        }
    }

    fn id(&self) -> &str {
        self.owner.dataset_id.as_str()
    }

    /// Adds what `checkpoint` covers (its counters minus the stored ones) to the minute's
    /// metrics, then saves it (with `status`, the end of the invocation, when given), all in
    /// one transaction and conditional on the lease.
    async fn save(
        &self,
        lease: &Lease,
        checkpoint: Option<&Checkpoint>,
        lease_for: Duration,
        end: Option<(TaskStatus, Option<&str>, &TaskExecutionLog)>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(checkpoint) = checkpoint {
            self.add_metrics(&mut tx, lease, &checkpoint.progress)
                .await?;
        }
        let checkpoint_text = checkpoint.map(serde_json::to_string).transpose()?;
        let progress = checkpoint
            .map(|c| serde_json::to_string(&c.progress))
            .transpose()?;
        let result = match end {
            None => {
                sqlx::query(
                    "UPDATE tasks SET checkpoint = $1::jsonb, progress = $2::jsonb,
                         lease_expires_at = letsdata_now_ms() + $3, update_datetime = letsdata_now_ms()
                     WHERE dataset_id = $4 AND task_id = $5 AND lease_token = $6
                       AND lease_owner = $7 AND task_status = 'PROCESSING'",
                )
                .bind(checkpoint_text)
                .bind(progress)
                .bind(lease_ms(lease_for))
                .bind(self.id())
                .bind(lease.task.task_id.as_str())
                .bind(lease.token.get())
                .bind(&lease.owner)
                .execute(&mut *tx)
                .await?
            }
            Some((status, last_error, log)) => {
                sqlx::query(
                    "UPDATE tasks SET task_status = $1, last_error = COALESCE($2, last_error),
                         execution_logs = jsonb_set(execution_logs, '{-1}', $3::jsonb),
                         lease_owner = NULL, lease_expires_at = NULL,
                         update_datetime = letsdata_now_ms(),
                         checkpoint = COALESCE($4::jsonb, checkpoint),
                         progress = COALESCE($5::jsonb, progress)
                     WHERE dataset_id = $6 AND task_id = $7 AND lease_token = $8
                       AND lease_owner = $9 AND task_status = 'PROCESSING'",
                )
                .bind(status.as_str())
                .bind(last_error)
                .bind(serde_json::to_string(log)?)
                .bind(checkpoint_text)
                .bind(progress)
                .bind(self.id())
                .bind(lease.task.task_id.as_str())
                .bind(lease.token.get())
                .bind(&lease.owner)
                .execute(&mut *tx)
                .await?
            }
        };
        if result.rows_affected() == 0 {
            // Nothing of it is kept: the metrics were the lost lease's too.
            tx.rollback().await?;
            return Err(lease.lost());
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds the counters `progress` has beyond the task's stored ones to the current minute.
    async fn add_metrics(
        &self,
        conn: &mut PgConnection,
        lease: &Lease,
        p: &TaskProgress,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_metrics (dataset_id, minute, shard, records_read,
                 documents_written, error_records, skip_records, bytes_read, checkpoints)
             SELECT dataset_id, letsdata_now_ms() - letsdata_now_ms() % 60000,
                    (hashtextextended(task_id, 0) & 15)::SMALLINT,
                    GREATEST($1 - COALESCE((progress->>'recordsRead')::BIGINT, 0), 0),
                    GREATEST($2 - COALESCE((progress->>'documentsWritten')::BIGINT, 0), 0),
                    GREATEST($3 - COALESCE((progress->>'errorRecords')::BIGINT, 0), 0),
                    GREATEST($4 - COALESCE((progress->>'skipRecords')::BIGINT, 0), 0),
                    GREATEST($5 - COALESCE((progress->>'bytesRead')::BIGINT, 0), 0),
                    1
             FROM tasks WHERE dataset_id = $6 AND task_id = $7 AND lease_token = $8
                          AND lease_owner = $9 AND task_status = 'PROCESSING'
             ON CONFLICT (dataset_id, minute, shard) DO UPDATE SET
                 records_read = task_metrics.records_read + excluded.records_read,
                 documents_written = task_metrics.documents_written + excluded.documents_written,
                 error_records = task_metrics.error_records + excluded.error_records,
                 skip_records = task_metrics.skip_records + excluded.skip_records,
                 bytes_read = task_metrics.bytes_read + excluded.bytes_read,
                 checkpoints = task_metrics.checkpoints + 1",
        )
        .bind(count(p.records_read))
        .bind(count(p.documents_written))
        .bind(count(p.error_records))
        .bind(count(p.skip_records))
        .bind(count(p.bytes_read))
        .bind(self.id())
        .bind(lease.task.task_id.as_str())
        .bind(lease.token.get())
        .bind(&lease.owner)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Inserts `tasks` into the open transaction. With `bulk` (the dataset had no tasks when
    /// the load began) an id already there can only be one the list names twice: refused.
    /// Otherwise tasks that exist are kept as they are. Returns how many were inserted.
    async fn insert(
        &self,
        conn: &mut PgConnection,
        tasks: &[NewTask],
        bulk: bool,
    ) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for chunk in tasks.chunks(INSERT_ROWS) {
            let ids: Vec<&str> = chunk.iter().map(|t| t.task_id.as_str()).collect();
            let ordinals: Vec<i64> = chunk.iter().map(|t| count(t.ordinal)).collect();
            let types: Vec<&str> = chunk.iter().map(|t| t.task_type.as_str()).collect();
            let definitions = chunk
                .iter()
                .map(|t| serde_json::to_string(&t.definition))
                .collect::<Result<Vec<_>, _>>()?;
            // New tasks store `{}` as progress: it reads as zero counters.
            let new: Vec<String> = sqlx::query_scalar(
                "INSERT INTO tasks (dataset_id, task_id, ordinal, task_status, task_type,
                     definition, progress, create_datetime, update_datetime)
                 SELECT $1, id, ordinal, 'CREATED', task_type, definition, '{}'::jsonb,
                        letsdata_now_ms(), letsdata_now_ms()
                 FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[])
                      AS t (id, ordinal, task_type, definition)
                 ON CONFLICT (dataset_id, task_id) DO NOTHING
                 RETURNING task_id",
            )
            .bind(self.id())
            .bind(&ids)
            .bind(&ordinals)
            .bind(&types)
            .bind(&definitions)
            .fetch_all(&mut *conn)
            .await?;
            if bulk && new.len() < chunk.len() {
                // The first id of the chunk not inserted by this statement (each inserted id
                // answers for its first mention).
                let mut fresh: HashMap<&str, u32> = HashMap::new();
                for id in &new {
                    *fresh.entry(id.as_str()).or_default() += 1;
                }
                let twice = ids
                    .iter()
                    .find(|id| match fresh.get_mut(**id) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            false
                        }
                        _ => true,
                    })
                    .map_or_else(String::new, |id| id.to_string());
                return Err(StoreError::DuplicateTask(twice));
            }
            inserted += new.len() as u64;
        }
        Ok(inserted)
    }
}

#[async_trait]
impl TaskStore for PostgresTaskStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn create_queue(&self) -> Result<(), StoreError> {
        // The queue is the `tasks_queue` index, made with the schema for every dataset: what
        // is left is to check that the dataset's task database is there.
        let exists = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM task_databases WHERE dataset_id = $1)",
        )
        .bind(self.id())
        .fetch_one(&self.pool)
        .await?;
        if exists {
            Ok(())
        } else {
            Err(StoreError::NoTaskDatabase(self.id().to_string()))
        }
    }

    async fn insert_tasks(&self, tasks: &[NewTask]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = self.insert(&mut tx, tasks, false).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn load_tasks(
        &self,
        chunks: &mut tokio::sync::mpsc::Receiver<Vec<NewTask>>,
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The manifest is read while the transaction is open: a chunk may take a while.
        sqlx::query("SET LOCAL idle_in_transaction_session_timeout = '10min'")
            .execute(&mut *tx)
            .await?;
        // Two processes initializing the dataset at once load one after the other (the second
        // finds every task there): the task database's row is the lock.
        let locked = sqlx::query("SELECT 1 FROM task_databases WHERE dataset_id = $1 FOR UPDATE")
            .bind(self.id())
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Err(StoreError::NoTaskDatabase(self.id().to_string()));
        }
        let bulk = !sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE dataset_id = $1)",
        )
        .bind(self.id())
        .fetch_one(&mut *tx)
        .await?;
        let (mut total, mut new) = (0u64, 0u64);
        while let Some(chunk) = chunks.recv().await {
            total += chunk.len() as u64;
            new += self.insert(&mut tx, &chunk, bulk).await?;
        }
        tx.commit().await?;
        Ok((total, new))
    }

    async fn claim_many(
        &self,
        owner: &str,
        lease_for: Duration,
        log: TaskExecutionLog,
        max: usize,
        cap: Cap<'_>,
    ) -> Result<Vec<Lease>, StoreError> {
        let finishing: Vec<&str> = cap.finishing.iter().map(TaskId::as_str).collect();
        // One call (`letsdata_claim`, migration 0004): claims of one dataset take turns (a
        // lock for the transaction), so that each counts the tasks the one before it leased:
        // the cap holds across workers; then one statement picks and leases atomically.
        //
        // A claim's commit does not wait for its WAL flush (the lock is held until the commit,
        // and waiting for the disk there would put one flush per task in a row): should the
        // database crash before the flush, the claim is simply undone, the task is runnable
        // again and its next claim may reuse the lost claim's token. Every write under a lease
        // is therefore conditional on the owner as well as the token, so the worker of a
        // lost claim finds its lease lost at its first heartbeat or checkpoint and writes
        // nothing; and its first durable write (a checkpoint, synchronous) flushes the claim
        // before it.
        let rows = sqlx::query_as::<_, TaskRow>(&format!(
            "SELECT {COLUMNS} FROM letsdata_claim($1, $2, $3, $4::jsonb, $5, $6, $7)
             ORDER BY ordinal"
        ))
        .bind(self.id())
        .bind(owner)
        .bind(lease_ms(lease_for))
        .bind(serde_json::to_string(&log)?)
        .bind(i64::try_from(max.max(1)).unwrap_or(i64::MAX))
        .bind(i64::try_from(cap.most).unwrap_or(i64::MAX))
        .bind(&finishing)
        .fetch_all(&self.pool)
        .await?;
        leases_of(rows, &self.owner, owner)
    }

    async fn renew(
        &self,
        owner: &str,
        leases: &[(TaskId, LeaseToken)],
        lease_for: Duration,
    ) -> Result<Vec<Renewal>, StoreError> {
        let ids: Vec<&str> = leases.iter().map(|(id, _)| id.as_str()).collect();
        let tokens: Vec<i64> = leases.iter().map(|(_, token)| token.get()).collect();
        let rows = sqlx::query(
            "UPDATE tasks SET lease_expires_at = letsdata_now_ms() + $2
             FROM UNNEST($3::TEXT[], $4::BIGINT[]) AS held (held_id, held_token)
             WHERE dataset_id = $1 AND task_id = held_id AND lease_token = held_token
               AND lease_owner = $5 AND task_status = 'PROCESSING'
             RETURNING task_id, lease_token, stop_requested",
        )
        .bind(self.id())
        .bind(lease_ms(lease_for))
        .bind(&ids)
        .bind(&tokens)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        let mut held = HashMap::with_capacity(rows.len());
        for row in &rows {
            held.insert(
                (
                    row.try_get::<String, _>("task_id")?,
                    row.try_get::<i64, _>("lease_token")?,
                ),
                row.try_get::<bool, _>("stop_requested")?,
            );
        }
        Ok(leases
            .iter()
            .map(
                |(id, token)| match held.get(&(id.as_str().to_string(), token.get())) {
                    Some(&stop_requested) => Renewal::Held { stop_requested },
                    None => Renewal::Lost,
                },
            )
            .collect())
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        checkpoint: &Checkpoint,
        lease_for: Duration,
    ) -> Result<(), StoreError> {
        self.save(lease, Some(checkpoint), lease_for, None).await
    }

    async fn finish(
        &self,
        lease: &Lease,
        status: TaskStatus,
        last_error: Option<&str>,
        log: TaskExecutionLog,
        last: Option<&Checkpoint>,
    ) -> Result<(), StoreError> {
        self.save(
            lease,
            last,
            Duration::ZERO,
            Some((status, last_error, &log)),
        )
        .await
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Task>, StoreError> {
        // Through the partial index `tasks_unpublished` (its condition spelled the same).
        let rows = sqlx::query_as::<_, TaskRow>(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE dataset_id = $1 AND task_status = 'COMPLETED' AND checkpoint ? 'stagedParts'
             ORDER BY ordinal LIMIT $2"
        ))
        .bind(self.id())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| r.into_task(&self.owner)).collect()
    }

    async fn published(&self, task_ids: &[TaskId]) -> Result<(), StoreError> {
        if task_ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = task_ids.iter().map(TaskId::as_str).collect();
        sqlx::query(
            "UPDATE tasks SET checkpoint = checkpoint - 'stagedParts'
             WHERE dataset_id = $1 AND task_id = ANY($2) AND task_status = 'COMPLETED'
               AND checkpoint ? 'stagedParts'",
        )
        .bind(self.id())
        .bind(&ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError> {
        let rows = sqlx::query_as::<_, LeaseRow>(
            "SELECT task_id, lease_owner, lease_token, lease_expires_at,
                    COALESCE(lease_expires_at < letsdata_now_ms(), TRUE) AS expired
             FROM tasks WHERE dataset_id = $1 AND task_status = 'PROCESSING'",
        )
        .bind(self.id())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(LeaseInfo::from).collect())
    }

    async fn reap(&self, dead_owners: &[String]) -> Result<Vec<Reaped>, StoreError> {
        // One statement: the rows are locked and their expiry checked again as they are
        // (a lease renewed or a task claimed meanwhile no longer matches); rows another
        // transaction holds are left for the next round.
        let rows = sqlx::query_as::<_, ReapedRow>(
            "WITH gone AS (
                 SELECT task_id, lease_owner AS owner,
                        COALESCE(lease_owner = ANY($2), FALSE) AS exited
                 FROM tasks
                 WHERE dataset_id = $1 AND task_status = 'PROCESSING'
                   AND (lease_expires_at IS NULL OR lease_expires_at < letsdata_now_ms()
                        OR lease_owner = ANY($2))
                 FOR UPDATE SKIP LOCKED)
             UPDATE tasks SET task_status = 'RERUN', lease_owner = NULL,
                 lease_expires_at = NULL, update_datetime = letsdata_now_ms(),
                 execution_logs = CASE WHEN jsonb_array_length(execution_logs) > 0
                     THEN jsonb_set(execution_logs, '{-1}',
                         (execution_logs -> -1) || jsonb_build_object(
                             'endDatetime', letsdata_now_ms(), 'outcome', 'LEASE_LOST',
                             'message', 'worker ' || COALESCE(gone.owner, '') || ' ' ||
                                 CASE WHEN gone.exited THEN $3::TEXT ELSE $4::TEXT END))
                     ELSE execution_logs END
             FROM gone
             WHERE tasks.dataset_id = $1 AND tasks.task_id = gone.task_id
             RETURNING gone.task_id, gone.owner, gone.exited",
        )
        .bind(self.id())
        .bind(dead_owners)
        .bind(REAP_EXITED)
        .bind(REAP_EXPIRED)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Reaped::from).collect())
    }

    async fn hold_monitor(&self, owner: &str, lease_for: Duration) -> Result<bool, StoreError> {
        let held = sqlx::query(
            "INSERT INTO dataset_monitors (dataset_id, owner, expires_at)
             VALUES ($1, $2, letsdata_now_ms() + $3)
             ON CONFLICT (dataset_id) DO UPDATE SET owner = EXCLUDED.owner,
                 expires_at = EXCLUDED.expires_at
             WHERE dataset_monitors.owner = EXCLUDED.owner
                OR dataset_monitors.expires_at < letsdata_now_ms()",
        )
        .bind(self.id())
        .bind(owner)
        .bind(lease_ms(lease_for))
        .execute(&self.pool)
        .await?;
        Ok(held.rows_affected() > 0)
    }

    async fn release_monitor(&self, owner: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dataset_monitors WHERE dataset_id = $1 AND owner = $2")
            .bind(self.id())
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
        let result = sqlx::query(
            "UPDATE tasks SET task_status = 'CREATED', last_error = NULL,
                 update_datetime = letsdata_now_ms(), stop_requested = FALSE,
                 checkpoint = CASE WHEN $1 THEN NULL ELSE checkpoint END,
                 progress = CASE WHEN $1 THEN '{}'::jsonb ELSE progress END
             WHERE dataset_id = $2 AND task_id = $3 AND task_status = 'ERRORED'",
        )
        .bind(restart_from_beginning)
        .bind(self.id())
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
        let ids: Option<Vec<&str>> = task_ids.map(|ids| ids.iter().map(TaskId::as_str).collect());
        let filter = "($3::TEXT[] IS NULL OR task_id = ANY($3))";
        let mut tx = self.pool.begin().await?;
        let stopped = sqlx::query(&format!(
            "UPDATE tasks SET task_status = 'ERRORED', last_error = $1,
                 update_datetime = letsdata_now_ms()
             WHERE dataset_id = $2 AND task_status IN ('CREATED', 'RERUN') AND {filter}"
        ))
        .bind(message)
        .bind(self.id())
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let flagged = sqlx::query(&format!(
            "UPDATE tasks SET stop_requested = TRUE, update_datetime = letsdata_now_ms()
             WHERE dataset_id = $2 AND task_status = 'PROCESSING' AND $1::TEXT IS NOT NULL
               AND {filter}"
        ))
        .bind(message)
        .bind(self.id())
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((stopped, flagged))
    }

    async fn append_task_log(&self, task_id: &TaskId, text: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO task_logs (dataset_id, task_id, text) VALUES ($1, $2, $3)")
            .bind(self.id())
            .bind(task_id.as_str())
            .bind(text)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn task_log(&self, task_id: &TaskId) -> Result<Option<String>, StoreError> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT text FROM task_logs WHERE dataset_id = $1 AND task_id = $2 ORDER BY seq",
        )
        .bind(self.id())
        .bind(task_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok((!texts.is_empty()).then(|| texts.concat()))
    }

    async fn minute_counters(&self) -> Result<Vec<MinuteCounters>, StoreError> {
        let rows = sqlx::query_as::<_, MinuteRow>(
            "SELECT minute, SUM(records_read)::BIGINT AS records_read,
                    SUM(documents_written)::BIGINT AS documents_written,
                    SUM(error_records)::BIGINT AS error_records,
                    SUM(skip_records)::BIGINT AS skip_records,
                    SUM(bytes_read)::BIGINT AS bytes_read,
                    SUM(checkpoints)::BIGINT AS checkpoints
             FROM task_metrics WHERE dataset_id = $1 GROUP BY minute ORDER BY minute",
        )
        .bind(self.id())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(MinuteCounters::from).collect())
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<Task>, StoreError> {
        let row = sqlx::query_as::<_, TaskRow>(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE dataset_id = $1 AND task_id = $2"
        ))
        .bind(self.id())
        .bind(task_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.into_task(&self.owner)).transpose()
    }

    async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, StoreError> {
        let rows = sqlx::query_as::<_, TaskRow>(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE dataset_id = $1 AND ($2::TEXT IS NULL OR task_status = $2)
             ORDER BY ordinal, task_id"
        ))
        .bind(self.id())
        .bind(status.map(|s| s.as_str()))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| r.into_task(&self.owner)).collect()
    }

    async fn list_tasks_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<TaskPage, StoreError> {
        let limit = limit.max(1);
        // Conditions spelled out (no `$2 IS NULL OR ...`) so that the plan walks an index:
        // `tasks_queue` (dataset, status, ordinal) or `tasks_order` (dataset, ordinal, id).
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "SELECT {COLUMNS} FROM tasks WHERE dataset_id = "
        ));
        query.push_bind(self.id());
        if let Some(status) = status {
            query.push(" AND task_status = ").push_bind(status.as_str());
        }
        if let Some(after) = after {
            query
                .push(" AND (ordinal, task_id) > (")
                .push_bind(count(after.ordinal))
                .push(", ")
                .push_bind(after.task_id.as_str())
                .push(")");
        }
        // One more than asked: whether another page follows.
        query
            .push(" ORDER BY ordinal, task_id LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1));
        let rows = query
            .build_query_as::<TaskRow>()
            .fetch_all(&self.pool)
            .await?;
        task_page_of(rows, limit, &self.owner)
    }

    async fn counts(&self) -> Result<TaskCounts, StoreError> {
        let rows = sqlx::query_as::<_, StatusRow>(
            "SELECT task_status, COUNT(*) AS n,
                    COALESCE(MAX(lease_token), 0)::BIGINT AS max_lease_token,
                    COALESCE(SUM((progress->>'recordsRead')::BIGINT), 0)::BIGINT AS records_read,
                    COALESCE(SUM((progress->>'documentsWritten')::BIGINT), 0)::BIGINT AS documents_written,
                    COALESCE(SUM((progress->>'errorRecords')::BIGINT), 0)::BIGINT AS error_records,
                    COALESCE(SUM((progress->>'skipRecords')::BIGINT), 0)::BIGINT AS skip_records,
                    COALESCE(SUM((progress->>'bytesRead')::BIGINT), 0)::BIGINT AS bytes_read
             FROM tasks WHERE dataset_id = $1 GROUP BY task_status",
        )
        .bind(self.id())
        .fetch_all(&self.pool)
        .await?;
        counts_of(rows)
    }
}
