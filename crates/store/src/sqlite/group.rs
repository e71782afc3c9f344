//! Group commit for a task database: the writes of running tasks (claims, heartbeats,
//! checkpoints, finishes) queue here, and one writer runs every write waiting in one
//! transaction, so they share one WAL commit (one fsync) instead of paying one each. Each
//! caller is answered once the transaction holding its write has committed: the durability
//! of each write is what it was when each committed on its own.
//!
//! A write whose lease was lost changes nothing (every statement is conditional on the lease
//! token) and answers [`StoreError::LeaseLost`] without disturbing the others. Any other error
//! rolls the whole batch back, and every write of it gets the error.
//!
//! Writes of one statement that many tasks make alike (task finishes) are [`Merged`]: the
//! batch runs each such statement once, after its other writes, for all of them (their rows as
//! one JSON array), instead of once per task: one round trip to the connection's thread and
//! one statement to prepare and step through, not one per write.

use crate::StoreError;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqlitePool;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot};

/// A boxed future borrowing the connection.
pub(super) type Fut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Writes in one transaction at most.
const MAX_BATCH: usize = 512;

/// One queued write.
trait Job: Send {
    /// Runs the write's statements in the open transaction; false when it failed in a way
    /// that needs the transaction rolled back.
    fn run<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> Fut<'a, bool>;
    /// Answers the caller once the transaction ended (`commit`: how).
    fn answer(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<T, F> {
    write: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> Fut<'c, Result<T, StoreError>> + Send + 'static,
{
    fn run<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> Fut<'a, bool> {
        let write = self.write.take().expect("a write runs once");
        Box::pin(async move {
            let result = write(conn).await;
            let clean = !matches!(
                result,
                Err(ref e) if !matches!(e, StoreError::LeaseLost { .. })
            );
            self.result = Some(result);
            clean
        })
    }

    fn answer(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(why)) => Err(StoreError::Commit(why)),
            (None, Ok(())) => Err(StoreError::Commit("the write did not run".into())),
        };
        // The caller may have gone away (its task was cancelled): nothing to tell.
        let _ = self.reply.send(answer);
    }
}

/// A write run with the others of its statement in the same batch as one statement.
pub(super) struct Merged {
    /// The statement: it takes every write's object as the JSON array `?1` and returns the key
    /// (a text column) of each row it changed.
    pub sql: &'static str,
    /// The key of the row this write changes.
    pub key: String,
    /// This write's object (JSON) in the array.
    pub object: String,
    /// The answer when the statement changed no row of this write's (its lease was lost).
    pub unchanged: StoreError,
}

/// A merged write waiting in a batch, and once the statement ran, whether it changed its row
/// (or the statement's error).
struct MergedJob {
    write: Merged,
    changed: Option<Result<bool, StoreError>>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl MergedJob {
    fn answer(self, commit: Result<(), String>) {
        let answer = match (self.changed, commit) {
            (Some(Ok(false)), _) => Err(self.write.unchanged),
            (Some(Err(e)), _) => Err(e),
            (_, Err(why)) => Err(StoreError::Commit(why)),
            (Some(Ok(true)), Ok(())) => Ok(()),
            (None, Ok(())) => Err(StoreError::Commit("the write did not run".into())),
        };
        let _ = self.reply.send(answer);
    }
}

/// What the writer's queue holds.
enum Queued {
    Job(Box<dyn Job>),
    Merged(MergedJob),
}

/// The queue and its writer.
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Queued>,
    /// The writer's own pool (one connection).
    pool: SqlitePool,
}

impl GroupCommit {
    /// Starts the writer of `pool`, a pool of one connection for it alone (on the current
    /// Tokio runtime).
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(pool.clone(), queue));
        Self { jobs, pool }
    }

    /// Closes the writer's connection (once the batch it runs has ended); writes queued after
    /// this fail.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    /// Queues `write` and waits until the transaction that ran it has committed.
    pub(super) async fn run<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> Fut<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            write: Some(write),
            result: None,
            reply,
        });
        if self.jobs.send(Queued::Job(job)).is_err() {
            return Err(StoreError::Commit("the task database is closed".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Commit("the task database is closed".into())))
    }

    /// Queues `write`, to run with the other writes of its statement in the batch, and waits
    /// until the transaction that ran it has committed.
    pub(super) async fn run_merged(&self, write: Merged) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = MergedJob {
            write,
            changed: None,
            reply,
        };
        if self.jobs.send(Queued::Merged(job)).is_err() {
            return Err(StoreError::Commit("the task database is closed".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Commit("the task database is closed".into())))
    }
}

async fn write_loop(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = run_batch(&pool, &mut batch).await;
        for queued in batch.drain(..) {
            match queued {
                Queued::Job(job) => job.answer(outcome.clone()),
                Queued::Merged(job) => job.answer(outcome.clone()),
            }
        }
    }
}

/// Runs the batch in one transaction; how it ended.
async fn run_batch(pool: &SqlitePool, batch: &mut [Queued]) -> Result<(), String> {
    let _writing = crate::quiesce::writing().await;
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    // IMMEDIATE: take the write lock now (waiting up to the busy timeout for other processes),
    // so no statement of the batch can fail to upgrade a read lock.
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    let mut clean = true;
    for queued in batch.iter_mut() {
        if let Queued::Job(job) = queued
            && !job.run(&mut conn).await
        {
            clean = false;
            break;
        }
    }
    // Then each merged statement once, for all its writes (they are independent of the
    // batch's other writes: each a different task's, whose earlier writes were answered).
    while clean {
        let mut writes = batch.iter_mut().filter_map(|q| match q {
            Queued::Merged(job) if job.changed.is_none() => Some(job),
            _ => None,
        });
        let Some(first) = writes.next() else { break };
        let sql = first.write.sql;
        let mut group = vec![first];
        group.extend(writes.filter(|job| job.write.sql == sql));
        clean = run_merged(&mut conn, sql, &mut group).await;
    }
    if !clean {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err("rolled back: another write of the same transaction failed".into());
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e.to_string())
        }
    }
}

/// Runs `sql` once for `group`, its writes in the batch, and records in each whether its row
/// changed; false when the statement failed (the batch is rolled back).
async fn run_merged(conn: &mut SqliteConnection, sql: &str, group: &mut [&mut MergedJob]) -> bool {
    let mut objects = String::with_capacity(
        group
            .iter()
            .map(|j| j.write.object.len() + 1)
            .sum::<usize>()
            + 2,
    );
    objects.push('[');
    for (i, job) in group.iter().enumerate() {
        if i > 0 {
            objects.push(',');
        }
        objects.push_str(&job.write.object);
    }
    objects.push(']');
    match sqlx::query_scalar::<_, String>(sql)
        .bind(objects)
        .fetch_all(&mut *conn)
        .await
    {
        Ok(keys) => {
            let changed: HashSet<String> = keys.into_iter().collect();
            for job in group.iter_mut() {
                job.changed = Some(Ok(changed.contains(&job.write.key)));
            }
            true
        }
        Err(e) => {
            // Each write of the statement gets its error, as a write failing alone would
            // (whether to retry is the error's kind).
            let (kind, message) = (crate::error::classify(&e), e.to_string());
            for job in group.iter_mut() {
                job.changed = Some(Err(StoreError::Database {
                    kind,
                    message: message.clone(),
                }));
            }
            false
        }
    }
}
