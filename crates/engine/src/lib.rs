//! letsdata-engine: turns dataset records into work done.
//!
//! ```text
//! datasets create ──► validate (no IO) ──► check resources (IO) ──► store: CREATED
//!                                                                        │
//! run ──► initialization workflow (idempotent, retried steps) ──► PROCESSING
//!           buckets, task database, queue, tasks from the manifest        │
//!                                                                        ▼
//!         worker pool: claim task (lease + fencing token) ──► invocation ──► checkpoint
//!           read file ─► decompress ─► cut records ─► parse ─► part objects (output, errors)
//!                                                                        │
//!         task state monitor: progress, reaping dead workers, COMPLETED | ERRORED
//! ```
//!
//! The invariant everything rests on: a task's checkpoint advances only after the output and
//! error objects covering the input before it are durable, and those objects have deterministic
//! names, so any crash replays at most one part, which overwrites its earlier copy.

mod code;
mod compute;
mod create;
mod datasets;
mod error;
mod exec;
mod init;
mod inspect;
mod metrics;
mod monitor;
mod outputs;
mod pool;
mod reclaim;
mod redrive;
mod stats;
mod stop;
mod vectors;
mod worker;
mod workflow;

pub use code::CodeUpdateOutcome;
pub use compute::ComputeUpdate;
pub use error::EngineError;
pub use inspect::{ErrorObject, ErrorObjectPage, ErrorObjects};
pub use metrics::{DatasetMetrics, MinuteMetrics};
pub use stats::{LiveStats, StatsSnapshot};
pub use worker::WORKER_SEEN_WITHIN;

use letsdata_connectors::ConnectorContext;
use letsdata_connectors::s3::ObjectStores;
use letsdata_model::{Dataset, DatasetId, DatasetStatus, Task, TaskId, TaskStatus};
use letsdata_store::{
    MetadataStore, TaskCounts, TaskCursor, TaskJsonPage, TaskPage, TaskStore, TasksJson, Tenant,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Tunables; the defaults suit production, tests shorten some.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a claimed task stays leased without a heartbeat.
    pub lease: Duration,
    /// How often a running task renews its lease.
    pub heartbeat: Duration,
    /// Uncompressed bytes of output after which a part object is completed and checkpointed.
    pub part_target_bytes: u64,
    /// How often idle workers look for runnable tasks and the monitor refreshes progress.
    pub poll_interval: Duration,
    /// Most bytes of a task's log file (over all its invocations).
    pub task_log_max_bytes: u64,
    /// Most invocations a worker starts ahead of its free slots when tasks are short (they
    /// open their input while they wait); `None`: 256; 0: none (the default on a shared
    /// store).
    pub tasks_ahead: Option<usize>,
    /// The shared store (`LETSDATA_DATABASE_URL`, a `postgres://` URL); `None`: the embedded
    /// SQLite store under the home directory.
    pub database_url: Option<String>,
    /// Most task invocations this process runs at once over every dataset (`letsdata worker
    /// --concurrency`); `None`: only each dataset's concurrency limits it.
    pub worker_concurrency: Option<u32>,
}

impl EngineSettings {
    /// Defaults, overridden by `LETSDATA_DATABASE_URL`, `LETSDATA_PART_SIZE_BYTES`,
    /// `LETSDATA_TASK_LOG_MAX_BYTES`, `LETSDATA_LEASE_SECONDS`, `LETSDATA_HEARTBEAT_SECONDS` and
    /// `LETSDATA_TASKS_AHEAD` (advanced tuning; documented in docs/configuration.md).
    /// A value that is not a positive whole number, or a heartbeat not shorter than the lease,
    /// is an error naming the variable (never ignored or clamped).
    pub fn from_env() -> Result<Self, EngineError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, EngineError> {
        let mut s = Self {
            database_url: var("LETSDATA_DATABASE_URL").filter(|url| !url.trim().is_empty()),
            ..Self::default()
        };
        let number = |k: &'static str, what: &str| -> Result<Option<u64>, EngineError> {
            let Some(value) = var(k) else {
                return Ok(None);
            };
            match value.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(EngineError::Environment {
                    var: k,
                    value,
                    message: format!(
                        "expected {what}, a whole number above 0; unset it for the default"
                    ),
                }),
            }
        };
        if let Some(b) = number("LETSDATA_PART_SIZE_BYTES", "the part size in bytes")? {
            s.part_target_bytes = b;
        }
        if let Some(b) = number("LETSDATA_TASK_LOG_MAX_BYTES", "a task log's cap in bytes")? {
            s.task_log_max_bytes = b;
        }
        if let Some(l) = number("LETSDATA_LEASE_SECONDS", "the task lease in seconds")? {
            s.lease = Duration::from_secs(l);
        }
        if let Some(value) = var("LETSDATA_TASKS_AHEAD") {
            match value.trim().parse::<usize>() {
                Ok(n) => s.tasks_ahead = Some(n),
                Err(_) => {
                    return Err(EngineError::Environment {
                        var: "LETSDATA_TASKS_AHEAD",
                        value,
                        message: "expected how many task invocations a worker may start ahead \
                                  of its free slots, a whole number (0: none); unset it for the \
                                  default"
                            .into(),
                    });
                }
            }
        }
        if s.tasks_ahead.is_none() && s.database_url.is_some() {
            // On a shared store every worker's leases count towards a dataset's concurrency:
            // none are taken ahead of the slots unless asked.
            s.tasks_ahead = Some(0);
        }
        let heartbeat = number("LETSDATA_HEARTBEAT_SECONDS", "the heartbeat in seconds")?;
        match heartbeat {
            Some(h) if Duration::from_secs(h) >= s.lease => {
                return Err(EngineError::Environment {
                    var: "LETSDATA_HEARTBEAT_SECONDS",
                    value: h.to_string(),
                    message: format!(
                        "must be shorter than the lease ({} s, LETSDATA_LEASE_SECONDS), or a \
                         live task would lose its lease between heartbeats",
                        s.lease.as_secs()
                    ),
                });
            }
            Some(h) => s.heartbeat = Duration::from_secs(h),
            // The default heartbeat follows a short lease.
            None if s.heartbeat >= s.lease => s.heartbeat = s.lease / 3,
            None => {}
        }
        Ok(s)
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            part_target_bytes: 64 * 1024 * 1024,
            poll_interval: Duration::from_millis(250),
            task_log_max_bytes: exec::tasklog::DEFAULT_MAX_BYTES,
            tasks_ahead: None,
            database_url: None,
            worker_concurrency: None,
        }
    }
}

/// The engine: a store, the buckets, and this process's worker identity.
pub struct Engine {
    home: PathBuf,
    store: Arc<dyn MetadataStore>,
    /// The buckets and the clients of every connector, for [`Engine::tenant`].
    connectors: Arc<ConnectorContext>,
    /// Every tenant's connector context (its own local buckets), made on first use.
    tenant_contexts:
        Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<ConnectorContext>>>>,
    /// The tenant whose datasets this engine names (`letsdata server`: the caller's).
    tenant: Tenant,
    worker_id: String,
    settings: EngineSettings,
    stats: Arc<LiveStats>,
    /// Set by [`Engine::drain`]: no new task starts, running ones checkpoint and are queued
    /// again.
    draining: Arc<std::sync::atomic::AtomicBool>,
    /// Runs user code; created on first use.
    sandbox: Arc<std::sync::OnceLock<letsdata_sandbox::Sandbox>>,
    /// This process's own cap over every dataset's invocations.
    budget: Arc<exec::slots::Budget>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("home", &self.home)
            .field("worker_id", &self.worker_id)
            .finish()
    }
}

impl Engine {
    /// Opens the embedded store under `home` and the buckets from the environment.
    pub async fn open(home: &Path) -> Result<Self, EngineError> {
        Self::open_with(home, EngineSettings::from_env()?).await
    }

    pub async fn open_with(home: &Path, settings: EngineSettings) -> Result<Self, EngineError> {
        let store = letsdata_store::open(home, settings.database_url.as_deref()).await?;
        let objects = Arc::new(ObjectStores::from_env(home)?);
        let tenant = store.local_tenant().await?;
        let connectors = Arc::new(ConnectorContext::new(objects, &tenant.tenant_id));
        let tenant_contexts =
            std::collections::HashMap::from([(tenant.tenant_id.clone(), connectors.clone())]);
        Ok(Self {
            home: home.to_path_buf(),
            store,
            connectors,
            tenant_contexts: Arc::new(std::sync::Mutex::new(tenant_contexts)),
            tenant,
            worker_id: worker::worker_id(),
            stats: Arc::new(LiveStats::default()),
            draining: Arc::default(),
            sandbox: Arc::default(),
            budget: Arc::new(exec::slots::Budget::new(
                settings.worker_concurrency.map(|n| n as usize),
            )),
            settings,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// This engine acting for `tenant`: its datasets, its buckets. It shares everything else
    /// (the store, the sandbox, the live counters, the drain signal and the invocation budget)
    /// with `self`, so a server serves every tenant from one engine.
    pub fn for_tenant(&self, tenant: Tenant) -> Result<Engine, EngineError> {
        let connectors = self.tenant_context(&tenant.tenant_id)?;
        Ok(Engine {
            home: self.home.clone(),
            store: self.store.clone(),
            connectors,
            tenant_contexts: self.tenant_contexts.clone(),
            tenant,
            worker_id: self.worker_id.clone(),
            settings: self.settings.clone(),
            stats: self.stats.clone(),
            draining: self.draining.clone(),
            sandbox: self.sandbox.clone(),
            budget: self.budget.clone(),
        })
    }

    /// A tenant's connector context. The local tenant's buckets are the directories of
    /// `$LETSDATA_HOME/buckets`; another tenant's, of `$LETSDATA_HOME/tenants/<tenantId>/buckets`,
    /// so a tenant naming another's local bucket finds only its own. (S3 buckets are shared by
    /// name, as on AWS.)
    fn tenant_context(&self, tenant_id: &str) -> Result<Arc<ConnectorContext>, EngineError> {
        let mut contexts = self
            .tenant_contexts
            .lock()
            .expect("tenant contexts lock poisoned");
        if let Some(context) = contexts.get(tenant_id) {
            return Ok(context.clone());
        }
        if tenant_id.is_empty()
            || !tenant_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Err(EngineError::Corrupt(format!(
                "tenant id {tenant_id:?} is not a tenant id letsdata made"
            )));
        }
        let home = self.home.join("tenants").join(tenant_id);
        let context = Arc::new(ConnectorContext::new(
            Arc::new(ObjectStores::from_env(&home)?),
            tenant_id,
        ));
        contexts.insert(tenant_id.to_string(), context.clone());
        Ok(context)
    }

    /// The tenant this engine acts for.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The store: for the operator's commands (`letsdata admin`) and the server's
    /// authentication.
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    pub fn objects(&self) -> &ObjectStores {
        self.connectors.objects()
    }

    /// Live counters of the work done by this process (for progress bars).
    pub fn stats(&self) -> Arc<LiveStats> {
        self.stats.clone()
    }

    /// Where the store is, for people: a PostgreSQL database (without credentials) or the
    /// SQLite home.
    pub fn store_location(&self) -> String {
        match &self.settings.database_url {
            Some(url) => letsdata_store::postgres::redacted(url),
            None => format!("the SQLite store in {}", self.home.display()),
        }
    }

    /// Shuts this process's work down gracefully (a worker's SIGTERM): no task starts any
    /// more, and every running invocation checkpoints at its next record boundary and ends as
    /// RERUN, releasing its lease, so any worker resumes it at once; the runs of datasets then
    /// return with their datasets unfinished.
    pub fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Engine::drain`] was called.
    pub fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The dataset of that name, or [`EngineError::DatasetNotFound`].
    pub async fn dataset(&self, name: &str) -> Result<Dataset, EngineError> {
        self.store
            .get_dataset(&self.tenant.tenant_id, name)
            .await?
            .ok_or_else(|| EngineError::DatasetNotFound(name.to_string()))
    }

    /// The tenant's dataset with that id, or [`EngineError::DatasetNotFound`] (also when
    /// another tenant owns it: a tenant never learns of another's datasets).
    pub async fn dataset_by_id(&self, dataset_id: &str) -> Result<Dataset, EngineError> {
        let not_found = || EngineError::DatasetNotFound(dataset_id.to_string());
        self.store
            .get_dataset_by_id(&DatasetId::from(dataset_id))
            .await?
            .filter(|d| d.tenant_id == self.tenant.tenant_id)
            .ok_or_else(not_found)
    }

    pub async fn datasets(&self) -> Result<Vec<Dataset>, EngineError> {
        Ok(self.store.list_datasets(&self.tenant.tenant_id).await?)
    }

    /// Refuses task-level reads of a dataset whose task database was reclaimed.
    fn require_task_database(dataset: &Dataset) -> Result<(), EngineError> {
        match dataset.dataset_status {
            DatasetStatus::Frozen | DatasetStatus::Deleted => Err(EngineError::Refused(format!(
                "dataset {:?} is {}: its task database was reclaimed; `letsdata datasets view --datasetName {}` still shows its final progress",
                dataset.dataset_name, dataset.dataset_status, dataset.dataset_name
            ))),
            _ => Ok(()),
        }
    }

    /// A page of a dataset's tasks in manifest order (optionally only those in `status`):
    /// up to `limit` after `after` (a `nextToken` an earlier page returned), and where the
    /// next page starts.
    pub async fn tasks_page(
        &self,
        dataset_name: &str,
        status: Option<TaskStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, EngineError> {
        let after = Self::cursor(after)?;
        match self.listed_task_store(dataset_name).await? {
            Some(tasks) => Ok(tasks.list_tasks_page(status, after.as_ref(), limit).await?),
            None => Ok(TaskPage {
                tasks: Vec::new(),
                next: None,
            }),
        }
    }

    /// The page [`Engine::tasks_page`] returns, as JSON to write out (the server's answer).
    pub async fn tasks_json_page(
        &self,
        dataset_name: &str,
        status: Option<TaskStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TaskJsonPage, EngineError> {
        let after = Self::cursor(after)?;
        match self.listed_task_store(dataset_name).await? {
            Some(tasks) => Ok(tasks
                .list_tasks_json_page(status, after.as_ref(), limit)
                .await?),
            None => Ok(TaskJsonPage {
                tasks: TasksJson::tasks(Vec::new()),
                next: None,
            }),
        }
    }

    /// A `nextToken` of `tasks list`, parsed.
    fn cursor(after: Option<&str>) -> Result<Option<TaskCursor>, EngineError> {
        after
            .map(|token| {
                token
                    .parse::<TaskCursor>()
                    .map_err(|e| EngineError::Refused(format!("--nextToken: {e}")))
            })
            .transpose()
    }

    /// The task database whose tasks a list shows: `None` before initialization made it (no
    /// tasks); refused once it was reclaimed.
    async fn listed_task_store(
        &self,
        dataset_name: &str,
    ) -> Result<Option<Arc<dyn TaskStore>>, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        Self::require_task_database(&dataset)?;
        self.existing_task_store(&dataset).await
    }

    /// Task counts of a dataset (zeros before its task database exists).
    pub async fn task_counts(&self, dataset_name: &str) -> Result<TaskCounts, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        match self.existing_task_store(&dataset).await? {
            Some(tasks) => Ok(tasks.counts().await?),
            None => Ok(TaskCounts::default()),
        }
    }

    pub async fn task(&self, dataset_name: &str, task_id: &TaskId) -> Result<Task, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        Self::require_task_database(&dataset)?;
        let not_found = || EngineError::TaskNotFound {
            dataset: dataset_name.to_string(),
            task_id: task_id.to_string(),
        };
        let tasks = self
            .existing_task_store(&dataset)
            .await?
            .ok_or_else(not_found)?;
        tasks.get_task(task_id).await?.ok_or_else(not_found)
    }

    /// The dataset's task database, or `None` before initialization created it (or after a
    /// freeze reclaimed it).
    pub(crate) async fn existing_task_store(
        &self,
        dataset: &Dataset,
    ) -> Result<Option<Arc<dyn TaskStore>>, EngineError> {
        match self.store.open_task_store(&dataset.dataset_id).await {
            Ok(tasks) => Ok(Some(tasks)),
            Err(letsdata_store::StoreError::NoTaskDatabase(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs every unfinished dataset (CREATED, INITIALIZING, PROCESSING) to the end.
    pub async fn run_unfinished(&self) -> Result<Vec<Dataset>, EngineError> {
        let unfinished: Vec<Dataset> = self
            .datasets()
            .await?
            .into_iter()
            .filter(|d| d.dataset_status.is_unfinished())
            .collect();
        let runs = unfinished.iter().map(|d| self.run_dataset(&d.dataset_id));
        futures::future::try_join_all(runs).await
    }

    /// Initializes a dataset (its task database, queue, tasks and resources) if it is not
    /// yet; returns it as it then is (PROCESSING, or ERRORED when initialization failed).
    pub async fn initialize(&self, dataset_id: &DatasetId) -> Result<Dataset, EngineError> {
        init::initialize(self, dataset_id).await
    }

    /// Whether the store is shared (PostgreSQL): `letsdata worker` processes run its datasets.
    pub fn is_shared(&self) -> bool {
        self.settings.database_url.is_some()
    }

    /// Runs one dataset: initialization if needed, then its tasks, until it is COMPLETED or
    /// ERRORED. Safe to call from several processes at once.
    pub async fn run_dataset(&self, dataset_id: &DatasetId) -> Result<Dataset, EngineError> {
        // A worker runs every tenant's datasets, each with its tenant's buckets.
        if let Some(dataset) = self.store.get_dataset_by_id(dataset_id).await?
            && dataset.tenant_id != self.tenant.tenant_id
        {
            let owner = self
                .store
                .tenant_by_id(&dataset.tenant_id)
                .await?
                .ok_or_else(|| {
                    EngineError::Corrupt(format!(
                        "dataset {} belongs to tenant {}, which does not exist",
                        dataset.dataset_name, dataset.tenant_id
                    ))
                })?;
            let engine = self.for_tenant(owner.tenant())?;
            return Box::pin(engine.run_dataset(dataset_id)).await;
        }
        let dataset = init::initialize(self, dataset_id).await?;
        if !dataset.dataset_status.is_unfinished() {
            return Ok(dataset);
        }
        pool::process(self, &dataset).await
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<EngineSettings, EngineError> {
        EngineSettings::from_vars(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn tuning_variables_are_read_or_refused_never_ignored() {
        let s = settings(&[("LETSDATA_LEASE_SECONDS", " 4 ")]).expect("valid");
        // The default heartbeat (5 s) would outlast that lease: it follows it.
        assert_eq!(
            (s.lease, s.heartbeat),
            (Duration::from_secs(4), Duration::from_secs(4) / 3)
        );
        let s = settings(&[("LETSDATA_PART_SIZE_BYTES", "4096")]).expect("valid");
        assert_eq!(s.part_target_bytes, 4096);
        for (var, value, needle) in [
            ("LETSDATA_LEASE_SECONDS", "30s", "the task lease in seconds"),
            ("LETSDATA_LEASE_SECONDS", "0", "a whole number above 0"),
            ("LETSDATA_PART_SIZE_BYTES", "64MB", "the part size in bytes"),
            (
                "LETSDATA_HEARTBEAT_SECONDS",
                "-1",
                "the heartbeat in seconds",
            ),
            (
                "LETSDATA_HEARTBEAT_SECONDS",
                "30",
                "must be shorter than the lease (30 s",
            ),
        ] {
            let e = settings(&[(var, value)]).expect_err(value).to_string();
            assert!(e.starts_with(&format!("{var}=")), "{e}");
            assert!(e.contains(needle), "{e}");
        }
    }
}
