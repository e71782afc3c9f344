//! The store traits. Both backends implement them; the engine only sees these.

use crate::StoreError;
use async_trait::async_trait;
use letsdata_model::task::{Checkpoint, TaskDefinition, TaskExecutionLog, TaskProgress};
use letsdata_model::{Dataset, DatasetId, DatasetStatus, LeaseToken, Task, TaskId, TaskStatus};
use std::sync::Arc;
use std::time::Duration;

/// The tenant and user that own datasets. Locally there is one, created on first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub tenant_id: String,
    pub tenant_name: String,
    pub user_id: String,
}

impl Tenant {
    /// The tenant (and user) that exists by default on every installation, created on first
    /// use: the same ids in every store.
    pub fn local() -> Self {
        let id = |name: &[u8]| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name).to_string();
        Self {
            tenant_id: id(b"letsdata-local-tenant"),
            tenant_name: "local".to_string(),
            user_id: id(b"letsdata-local-user"),
        }
    }
}

#[async_trait]
pub trait MetadataStore: crate::AccessStore + Send + Sync {
    /// The default local tenant (created on first use).
    async fn local_tenant(&self) -> Result<Tenant, StoreError>;
    /// Inserts a new dataset; fails with [`StoreError::DatasetExists`] if the name is taken.
    async fn insert_dataset(&self, dataset: &Dataset) -> Result<(), StoreError>;
    async fn get_dataset(
        &self,
        tenant_id: &str,
        dataset_name: &str,
    ) -> Result<Option<Dataset>, StoreError>;
    async fn get_dataset_by_id(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Option<Dataset>, StoreError>;
    async fn list_datasets(&self, tenant_id: &str) -> Result<Vec<Dataset>, StoreError>;
    /// Every tenant's datasets in one of `statuses` (what workers run), oldest first.
    async fn datasets_in(&self, statuses: &[DatasetStatus]) -> Result<Vec<Dataset>, StoreError>;
    /// Writes `dataset` if its `version` is still current, then bumps `dataset.version`.
    /// Fails with [`StoreError::Conflict`] if another writer got there first.
    async fn update_dataset(&self, dataset: &mut Dataset) -> Result<(), StoreError>;
    /// Registers a worker, or renews its registration (a running worker does every few
    /// seconds): its `last_seen_at` becomes now on the store's clock (`started_at` and
    /// `last_seen_at` in `worker` are ignored). Registrations unseen for a week are removed.
    async fn register_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError>;
    /// Removes a worker's registration (it stopped).
    async fn unregister_worker(&self, worker_id: &str) -> Result<(), StoreError>;
    /// The workers seen within `within` (on the store's clock), oldest first.
    async fn live_workers(&self, within: Duration) -> Result<Vec<WorkerInfo>, StoreError>;
    /// Creates (idempotently) the dataset's task database and returns it.
    async fn create_task_store(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Arc<dyn TaskStore>, StoreError>;
    /// Deletes the dataset's task database (and its queue). Idempotent.
    async fn drop_task_store(&self, dataset_id: &DatasetId) -> Result<(), StoreError>;
    /// Opens the dataset's task database; [`StoreError::NoTaskDatabase`] if it was never created.
    async fn open_task_store(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Arc<dyn TaskStore>, StoreError>;
}

/// A task to insert ("Create Tasks").
#[derive(Debug, Clone)]
pub struct NewTask {
    pub task_id: TaskId,
    pub ordinal: u64,
    pub task_type: String,
    pub definition: TaskDefinition,
}

/// A claimed task: the task as of the claim and the fencing token of the claim.
#[derive(Debug, Clone)]
pub struct Lease {
    pub task: Task,
    pub owner: String,
    pub token: LeaseToken,
}

impl Lease {
    /// The error of a write under this lease that found it held by another worker now.
    pub fn lost(&self) -> StoreError {
        StoreError::LeaseLost {
            task_id: self.task.task_id.clone(),
            token: self.token,
        }
    }
}

/// Who holds a task's lease, for reaping.
#[derive(Debug, Clone)]
pub struct LeaseInfo {
    pub task_id: TaskId,
    pub owner: String,
    pub token: LeaseToken,
    pub expires_at: i64,
    /// Whether the lease has expired, on the store's clock (the database's, for PostgreSQL).
    pub expired: bool,
}

/// How many of a dataset's tasks may be `PROCESSING` at once, for [`TaskStore::claim_many`].
#[derive(Debug, Clone, Copy)]
pub struct Cap<'a> {
    pub most: usize,
    /// The claimer's own tasks that are done working (their input is done, their slot free)
    /// and only recording their end: still `PROCESSING` until that commits, but not counted.
    pub finishing: &'a [TaskId],
}

impl From<usize> for Cap<'_> {
    fn from(most: usize) -> Self {
        Self {
            most,
            finishing: &[],
        }
    }
}

/// A task [`TaskStore::reap`] put back in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub task_id: TaskId,
    /// The worker that held it.
    pub owner: String,
    /// Whether that worker was known to have exited (rather than its lease having expired).
    pub exited: bool,
}

impl Reaped {
    /// What the task's execution log says about it.
    pub fn reason(&self) -> String {
        format!(
            "worker {} {}",
            self.owner,
            if self.exited {
                REAP_EXITED
            } else {
                REAP_EXPIRED
            }
        )
    }
}

/// The two ends of [`Reaped::reason`], which the backends also write in SQL.
pub(crate) const REAP_EXITED: &str = "exited while running the task";
pub(crate) const REAP_EXPIRED: &str = "stopped renewing its lease";

/// A registered worker (`letsdata worker`), as `letsdata workers list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    /// `<host>:<pid>:<random>`, as task leases and execution logs name it.
    pub worker_id: String,
    pub host: String,
    pub pid: u32,
    /// The letsdata version it runs.
    pub version: String,
    /// Most task invocations it runs at once over every dataset (`--concurrency`); none: only
    /// the datasets' own concurrency limits it.
    pub concurrency: Option<u32>,
    /// It got SIGTERM: its running tasks are checkpointing and it starts no new ones.
    pub draining: bool,
    /// Epoch milliseconds (the store's clock).
    pub started_at: i64,
    pub last_seen_at: i64,
}

/// What the checkpoints of one minute covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteCounters {
    /// Epoch milliseconds of the minute's start.
    pub minute: i64,
    pub progress: TaskProgress,
    pub checkpoints: u64,
}

/// What renewing a lease found ([`TaskStore::renew`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still held, extended; whether `letsdata tasks stop` asked the task to stop.
    Held { stop_requested: bool },
    /// Another worker holds the task now (or it is no longer PROCESSING).
    Lost,
}

/// Task counts and summed progress, for `datasetProgress`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub total: u64,
    pub created: u64,
    pub processing: u64,
    pub rerun: u64,
    pub completed: u64,
    pub errored: u64,
    pub progress: TaskProgress,
    /// The highest lease token of any task: at most 1 when every task ran in one attempt
    /// (claims increment it; a redrive keeps it), so no other attempt can have left anything.
    pub max_lease_token: u64,
}

impl TaskCounts {
    pub fn unfinished(&self) -> u64 {
        self.created + self.processing + self.rerun
    }

    /// Counts `n` tasks in `status` whose progress sums to `progress`.
    pub fn add(&mut self, status: TaskStatus, n: u64, progress: &TaskProgress) {
        self.total += n;
        match status {
            TaskStatus::Created => self.created += n,
            TaskStatus::Processing => self.processing += n,
            TaskStatus::Rerun => self.rerun += n,
            TaskStatus::Completed => self.completed += n,
            TaskStatus::Errored => self.errored += n,
        }
        self.progress.add(progress);
    }
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Where the task database is, for people (a file, or a database and the dataset's id).
    fn location(&self) -> String;
    /// Creates the internal queue (the claim index). Idempotent.
    async fn create_queue(&self) -> Result<(), StoreError>;
    /// Inserts tasks that do not exist yet (by id); returns how many were new. Idempotent.
    async fn insert_tasks(&self, tasks: &[NewTask]) -> Result<u64, StoreError>;
    /// Create Tasks: adds the dataset's whole task list, received a chunk at a time until the
    /// sender is gone, all at once (one transaction: after a crash, none of it; run again, the
    /// same set). Tasks that exist already (by id) are kept. Returns the number received and
    /// the number new.
    async fn load_tasks(
        &self,
        chunks: &mut tokio::sync::mpsc::Receiver<Vec<NewTask>>,
    ) -> Result<(u64, u64), StoreError>;
    /// Claims up to `max` runnable tasks (`CREATED` or `RERUN`, lowest ordinal first), each
    /// under its own lease with `log` appended to its execution logs; in ordinal order. Fewer
    /// (none) when more would make over `cap.most` of the dataset's tasks `PROCESSING` at once
    /// (not counting `cap.finishing`), whichever workers hold them: the dataset's concurrency
    /// is a cap across all workers.
    async fn claim_many(
        &self,
        owner: &str,
        lease_for: Duration,
        log: TaskExecutionLog,
        max: usize,
        cap: Cap<'_>,
    ) -> Result<Vec<Lease>, StoreError>;
    /// Claims the next runnable task (`CREATED` or `RERUN`, lowest ordinal first), with no cap.
    async fn claim(
        &self,
        owner: &str,
        lease_for: Duration,
        log: TaskExecutionLog,
    ) -> Result<Option<Lease>, StoreError> {
        Ok(self
            .claim_many(owner, lease_for, log, 1, usize::MAX.into())
            .await?
            .pop())
    }
    /// Extends the lease. [`StoreError::LeaseLost`] if the token is stale.
    async fn heartbeat(&self, lease: &Lease, lease_for: Duration) -> Result<(), StoreError> {
        let held = (lease.task.task_id.clone(), lease.token);
        match self.renew(&lease.owner, &[held], lease_for).await?.first() {
            Some(Renewal::Held { .. }) => Ok(()),
            _ => Err(lease.lost()),
        }
    }
    /// Extends several leases of `owner` at once (a worker's heartbeat): for each
    /// `(task, token)`, in order, whether `owner` still holds it and whether a stop was
    /// requested for the task.
    async fn renew(
        &self,
        owner: &str,
        leases: &[(TaskId, LeaseToken)],
        lease_for: Duration,
    ) -> Result<Vec<Renewal>, StoreError>;
    /// Saves the checkpoint (and its progress) under the lease.
    async fn checkpoint(
        &self,
        lease: &Lease,
        checkpoint: &Checkpoint,
        lease_for: Duration,
    ) -> Result<(), StoreError>;
    /// Ends the invocation: sets the status (`COMPLETED`, `RERUN` or `ERRORED`), the last error
    /// and the invocation's log entry, and releases the lease. With `last`, the invocation's
    /// final checkpoint is saved in the same write (as [`TaskStore::checkpoint`] would); a
    /// COMPLETED task whose final checkpoint staged parts is then listed by
    /// [`TaskStore::unpublished`] until [`TaskStore::published`] says they are visible.
    async fn finish(
        &self,
        lease: &Lease,
        status: TaskStatus,
        last_error: Option<&str>,
        log: TaskExecutionLog,
        last: Option<&Checkpoint>,
    ) -> Result<(), StoreError>;
    /// COMPLETED tasks whose last checkpoint staged parts that may not be published yet (their
    /// worker stopped between the finish and the publish), up to `limit`.
    async fn unpublished(&self, limit: usize) -> Result<Vec<Task>, StoreError>;
    /// The staged parts of these COMPLETED tasks' last checkpoints are published: forgets
    /// them.
    async fn published(&self, task_ids: &[TaskId]) -> Result<(), StoreError>;
    /// Every `PROCESSING` task's lease.
    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError>;
    /// Reaps, in one statement, every `PROCESSING` task whose lease expired (on the store's
    /// clock) or whose owner is one of `dead_owners` (workers known to have exited): each goes
    /// back to `RERUN` (resuming from its checkpoint) with its invocation's log entry closed as
    /// `LEASE_LOST` and [`Reaped::reason`] as its message. A lease renewed or taken over
    /// meanwhile is left alone. Returns the tasks it reaped.
    async fn reap(&self, dead_owners: &[String]) -> Result<Vec<Reaped>, StoreError>;
    /// Takes the dataset's monitor duty (reaping, summing progress, ending the dataset) for
    /// `owner` until `lease_for` from now on the store's clock, or extends it; true when
    /// `owner` holds it now. One worker at a time holds it; another takes it over once it
    /// expires.
    async fn hold_monitor(&self, owner: &str, lease_for: Duration) -> Result<bool, StoreError>;
    /// Gives the monitor duty up, if `owner` holds it, so another worker takes it at once.
    async fn release_monitor(&self, owner: &str) -> Result<(), StoreError>;
    /// Queues an ERRORED task again for a redrive (status CREATED, last error cleared). With
    /// `restart_from_beginning` its checkpoint and progress are reset too. Returns whether the
    /// task was ERRORED (and so was reset).
    async fn reset_for_redrive(
        &self,
        task_id: &TaskId,
        restart_from_beginning: bool,
    ) -> Result<bool, StoreError>;
    /// Stops tasks (all, or `task_ids`): tasks not running become ERRORED with `message` at
    /// once; running ones are flagged, and their workers stop at the next heartbeat. Returns
    /// (tasks ERRORED now, running tasks flagged).
    async fn request_stop(
        &self,
        task_ids: Option<&[TaskId]>,
        message: &str,
    ) -> Result<(u64, u64), StoreError>;
    /// Appends lines (one invocation's) to the task's log kept in the store.
    async fn append_task_log(&self, task_id: &TaskId, text: &str) -> Result<(), StoreError>;
    /// The task's log kept in the store, every appended text in order; `None` when nothing
    /// was appended.
    async fn task_log(&self, task_id: &TaskId) -> Result<Option<String>, StoreError>;
    /// Per-minute counters recorded by checkpoints, oldest first.
    async fn minute_counters(&self) -> Result<Vec<MinuteCounters>, StoreError>;
    async fn get_task(&self, task_id: &TaskId) -> Result<Option<Task>, StoreError>;
    async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, StoreError>;
    /// Up to `limit` tasks (optionally only those in `status`) in manifest order, after
    /// `after` (from the start without it), and where the next page starts when more follow.
    async fn list_tasks_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<TaskPage, StoreError>;
    /// The page [`TaskStore::list_tasks_page`] returns, as JSON to write out (the same text,
    /// made more cheaply where the backend can).
    async fn list_tasks_json_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<&TaskCursor>,
        limit: usize,
    ) -> Result<crate::TaskJsonPage, StoreError> {
        let page = self.list_tasks_page(status, after, limit).await?;
        Ok(crate::TaskJsonPage {
            tasks: crate::TasksJson::tasks(page.tasks),
            next: page.next,
        })
    }
    async fn counts(&self) -> Result<TaskCounts, StoreError>;
}

/// A place in the task list, between two tasks (manifest order: ordinal, then task id).
/// Its text form (`<ordinal>.<taskId>`) is the `nextToken` of `tasks list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCursor {
    pub ordinal: u64,
    pub task_id: TaskId,
}

impl std::fmt::Display for TaskCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.ordinal, self.task_id)
    }
}

impl std::str::FromStr for TaskCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a nextToken that tasks list returned");
        let (ordinal, task_id) = s.split_once('.').ok_or_else(bad)?;
        let ordinal = ordinal.parse().map_err(|_| bad())?;
        if task_id.is_empty() || task_id.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Self {
            ordinal,
            task_id: TaskId::new(task_id.to_string()),
        })
    }
}

/// One page of a task list.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<TaskCursor>,
}
