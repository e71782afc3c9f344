//! The initialization workflow: CREATED → INITIALIZING → PROCESSING.
//!
//! Steps carry LetsData's step names where a local equivalent exists and are recorded in the
//! dataset's `initializationWorkflow` map (`{}` until started, then `WAIT`, `ERROR` or
//! `COMPLETED` with attempts and times) by the workflow runner. The write and error
//! connectors name their own steps (create a LetsData resource, check a Customer one), the
//! read connector lists the tasks. A step that cannot succeed (a missing manifest) ends the
//! dataset ERRORED with the step's message.

use crate::code;
use crate::datasets::{DatasetConnectors, modify_dataset, sink_resource, spec_of, transition};
use crate::vectors;
use crate::workflow::{self, Record, Step, StepError, WorkflowError};
use crate::{Engine, EngineError};
use letsdata_connectors::owner::Owner;
use letsdata_connectors::sink::SinkRole;
use letsdata_model::dataset::{ExecutionLog, StepStatus};
use letsdata_model::spec::Implementation;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, DatasetId, DatasetSpec, DatasetStatus};
use letsdata_store::NewTask;

/// The steps of the initialization workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitStep {
    ExecutionRole,
    ArtifactCopy,
    CodeSnapshot,
    CodeBuild,
    /// The vectors engine's model, endpoint, and the wait for it (`LAMBDA_AND_SAGEMAKER`).
    SagemakerModel,
    SagemakerEndpoint,
    WaitSagemakerEndpoint,
    /// The write or error connector's resource, under the name its sink gives the step.
    Provision(SinkRole, &'static str),
    TaskDatabase,
    Queues,
    DataTaskFunction,
    TaskMonitor,
    SecureRole,
    CreateTasks,
    KickoffTasks,
    Finalize,
}

impl Step for InitStep {
    fn name(&self) -> &str {
        match self {
            Self::ExecutionRole => "Create Dataset IAM Execution Role",
            Self::ArtifactCopy => code::STEP_ARTIFACT_COPY,
            Self::CodeSnapshot => code::STEP_CODE_SNAPSHOT,
            Self::CodeBuild => code::STEP_CODE_BUILD,
            Self::SagemakerModel => vectors::STEP_MODEL,
            Self::SagemakerEndpoint => vectors::STEP_ENDPOINT,
            Self::WaitSagemakerEndpoint => vectors::STEP_WAIT_ENDPOINT,
            Self::Provision(_, name) => name,
            Self::TaskDatabase => "Create Internal Task Database",
            Self::Queues => "Create Internal Queues",
            Self::DataTaskFunction => "Compute Engine - Create Data Task Function",
            Self::TaskMonitor => "Compute Engine - Task State Monitor Process",
            Self::SecureRole => "Secure Dataset IAM Execution Role",
            Self::CreateTasks => "Create Tasks (1/2)",
            Self::KickoffTasks => "Create Tasks (2/2)",
            Self::Finalize => "Finalize Initialization",
        }
    }
}

/// The steps that apply to this dataset, in order.
fn steps_for(
    spec: &DatasetSpec,
    connectors: &DatasetConnectors,
    dataset: &Dataset,
) -> Result<Vec<InitStep>, EngineError> {
    let mut steps = vec![InitStep::ExecutionRole];
    if matches!(
        spec.read_connector.implementation(),
        Implementation::Code(_)
    ) {
        steps.extend([
            InitStep::ArtifactCopy,
            InitStep::CodeSnapshot,
            InitStep::CodeBuild,
        ]);
    }
    // A Customer endpoint serves its own model: it is only checked (the Wait step).
    if spec.compute_engine.vectors.as_ref().is_some_and(|v| {
        v.endpoint.resource_location == letsdata_model::spec::ResourceLocation::LetsData
    }) {
        steps.extend([InitStep::SagemakerModel, InitStep::SagemakerEndpoint]);
    }
    for (role, sink, resource) in connectors.sinks(dataset, spec)? {
        if let Some(name) = sink.provision_step(&resource) {
            steps.push(InitStep::Provision(role, name));
        }
    }
    if spec.compute_engine.vectors.is_some() {
        steps.push(InitStep::WaitSagemakerEndpoint);
    }
    steps.extend([
        InitStep::TaskDatabase,
        InitStep::Queues,
        InitStep::DataTaskFunction,
        InitStep::TaskMonitor,
        InitStep::SecureRole,
        InitStep::CreateTasks,
        InitStep::KickoffTasks,
        InitStep::Finalize,
    ]);
    Ok(steps)
}

/// Runs the initialization workflow if the dataset needs it; returns the dataset afterwards.
pub(crate) async fn initialize(
    engine: &Engine,
    dataset_id: &DatasetId,
) -> Result<Dataset, EngineError> {
    let dataset = engine
        .store
        .get_dataset_by_id(dataset_id)
        .await?
        .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))?;
    if !matches!(
        dataset.dataset_status,
        DatasetStatus::Created | DatasetStatus::Initializing
    ) {
        return Ok(dataset);
    }
    let spec = spec_of(engine, &dataset)?;
    let connectors = DatasetConnectors::of(&spec)?;
    let steps = steps_for(&spec, &connectors, &dataset)?;
    if dataset.dataset_status == DatasetStatus::Created {
        let started = transition(
            engine,
            dataset_id,
            DatasetAction::Initialize,
            None,
            |d, _| {
                Record::Initialization.declare(d, steps.iter().map(|s| s.name()));
                d.execution_logs.push(ExecutionLog {
                    start_datetime: now_millis(),
                    end_datetime: None,
                    status: None,
                });
            },
        )
        .await;
        match started {
            Ok(_) => {}
            // Another process got there first.
            Err(EngineError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
        // Run the remaining steps (they are idempotent, so a concurrent initialization does no
        // harm), unless the dataset is past initialization already.
        let now = current(engine, dataset_id).await?;
        if now.dataset_status != DatasetStatus::Initializing {
            return Ok(now);
        }
    }
    let init = Init {
        engine,
        dataset_id,
        spec: &spec,
        connectors: &connectors,
    };
    let outcome = workflow::run(
        engine,
        dataset_id,
        &Record::Initialization,
        &steps,
        |step| init.execute(*step),
    )
    .await;
    match outcome {
        Ok(dataset) => Ok(dataset),
        Err(WorkflowError::Engine(e)) => Err(e),
        Err(WorkflowError::Step { step, message }) => {
            let failed = transition(
                engine,
                dataset_id,
                DatasetAction::FailInitialization,
                None,
                |d, _| {
                    d.last_error = Some(format!("initialization step {step:?} failed: {message}"));
                    if let Some(log) = d.execution_logs.last_mut() {
                        log.end_datetime = Some(now_millis());
                        log.status = Some(DatasetStatus::Errored);
                    }
                },
            )
            .await;
            match failed {
                Ok(d) => Ok(d),
                // Not INITIALIZING any more (another process finished or failed it).
                Err(EngineError::Refused(_)) => current(engine, dataset_id).await,
                Err(e) => Err(e),
            }
        }
    }
}

async fn current(engine: &Engine, dataset_id: &DatasetId) -> Result<Dataset, EngineError> {
    engine
        .store
        .get_dataset_by_id(dataset_id)
        .await?
        .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))
}

/// What the steps work on.
struct Init<'a> {
    engine: &'a Engine,
    dataset_id: &'a DatasetId,
    spec: &'a DatasetSpec,
    connectors: &'a DatasetConnectors,
}

impl Init<'_> {
    fn dataset_dir(&self) -> std::path::PathBuf {
        self.engine.home.join("datasets").join(self.dataset_id)
    }

    /// The dataset as stored now (steps before this one may have changed it).
    async fn dataset(&self) -> Result<Dataset, StepError> {
        current(self.engine, self.dataset_id)
            .await
            .map_err(StepError::from)
    }

    async fn execute(&self, step: InitStep) -> Result<String, StepError> {
        let engine = self.engine;
        let dataset_dir = self.dataset_dir();
        match step {
            InitStep::ExecutionRole => {
                // The dataset's execution scope: a private directory holding its internal state.
                create_private_dir(&dataset_dir)?;
                Ok(format!("dataset scope {}", dataset_dir.display()))
            }
            InitStep::ArtifactCopy => {
                let artifact = code::artifact_of(self.spec)
                    .ok_or_else(|| StepError::user("the implementation is not user code"))?;
                let interface = code::interface(self.connectors.source.as_ref())?;
                let role_arn = self.spec.access_grant_role_arn.as_deref();
                let copied = code::copy_artifact(engine, artifact, role_arn, interface).await?;
                let message = format!(
                    "{} → {} (sha256 {}, {} bytes)",
                    copied.artifact_file_s3_link,
                    copied.internal_copy,
                    copied.sha256,
                    copied.size_bytes
                );
                modify_dataset(engine, self.dataset_id, |d| {
                    // Keep an existing snapshot: a re-run of this step must not change the code.
                    if d.code.is_none() {
                        d.code = Some(code::snapshot(copied.clone()));
                    }
                })
                .await
                .map_err(|e| StepError::user(e.to_string()))?;
                Ok(message)
            }
            InitStep::CodeSnapshot => {
                let snapshot =
                    self.dataset().await?.code.ok_or_else(|| {
                        StepError::user("the implementation artifact was not copied")
                    })?;
                code::verify_copy(engine, &snapshot.current).await?;
                Ok(format!(
                    "sha256 {}: tasks, reruns and redrives run this code until `letsdata datasets code update`",
                    snapshot.current.sha256
                ))
            }
            InitStep::CodeBuild => {
                let interface = code::interface(self.connectors.source.as_ref())?;
                let snapshot =
                    self.dataset().await?.code.ok_or_else(|| {
                        StepError::user("the implementation artifact was not copied")
                    })?;
                let language = code::artifact_of(self.spec)
                    .ok_or_else(|| StepError::user("the implementation is not user code"))?
                    .language;
                Ok(
                    code::build_code(engine, &snapshot.current, language, (interface, self.spec))
                        .await?,
                )
            }
            InitStep::SagemakerModel => {
                let model = self.vectors_model()?;
                // Keep a recorded copy: a re-run of this step must not change the model.
                let recorded = self.dataset().await?.resources.sagemaker_model;
                let copied = match recorded {
                    Some(copied) => copied,
                    None => {
                        let role_arn = self.spec.access_grant_role_arn.as_deref();
                        vectors::create_model(engine, model, role_arn).await?
                    }
                };
                let message = format!(
                    "{} → {} (sha256 {}, {} bytes): {}-dimension vectors, texts cut at {} tokens",
                    copied.model_url,
                    copied.internal_copy,
                    copied.sha256,
                    copied.size_bytes,
                    copied.dimension,
                    copied.max_tokens
                );
                modify_dataset(engine, self.dataset_id, |d| {
                    if d.resources.sagemaker_model.is_none() {
                        d.resources.sagemaker_model = Some(copied.clone());
                    }
                })
                .await
                .map_err(|e| StepError::user(e.to_string()))?;
                Ok(message)
            }
            InitStep::SagemakerEndpoint | InitStep::WaitSagemakerEndpoint => {
                let endpoint = &self
                    .spec
                    .compute_engine
                    .vectors
                    .as_ref()
                    .ok_or_else(|| StepError::user("the compute engine has no endpoint"))?
                    .endpoint;
                if endpoint.resource_location == letsdata_model::spec::ResourceLocation::Customer {
                    return vectors::check_customer_endpoint(engine, self.spec, endpoint).await;
                }
                let model = self
                    .dataset()
                    .await?
                    .resources
                    .sagemaker_model
                    .ok_or_else(|| StepError::user("the model was not copied"))?;
                if step == InitStep::SagemakerEndpoint {
                    vectors::create_endpoint(engine, &model, endpoint).await
                } else {
                    vectors::wait_endpoint(engine, &model).await
                }
            }
            InitStep::Provision(role, _) => {
                let dataset = self.dataset().await?;
                let resource = sink_resource(&dataset, self.spec, role)?;
                let ready = self
                    .connectors
                    .sink(role)
                    .provision(
                        &engine.connectors,
                        &resource,
                        Owner::new(self.dataset_id.as_str(), false),
                    )
                    .await?;
                let message = describe_ready(&ready);
                if ready != resource {
                    modify_dataset(engine, self.dataset_id, |d| match role {
                        SinkRole::Write => d.resources.set_write(ready.clone()),
                        SinkRole::Error => d.resources.set_error(ready.clone()),
                    })
                    .await
                    .map_err(|e| StepError::user(e.to_string()))?;
                }
                Ok(message)
            }
            InitStep::TaskDatabase => {
                let tasks = engine.store.create_task_store(self.dataset_id).await?;
                let display = tasks.location();
                modify_dataset(engine, self.dataset_id, |d| {
                    d.resources.task_database = display.clone();
                })
                .await
                .map_err(|e| StepError::user(e.to_string()))?;
                Ok(display)
            }
            InitStep::Queues => {
                let tasks = engine.store.open_task_store(self.dataset_id).await?;
                tasks.create_queue().await?;
                Ok("task queue created in the task database".into())
            }
            InitStep::DataTaskFunction => self.data_task_function(&dataset_dir).await,
            InitStep::TaskMonitor => {
                let monitor = serde_json::json!({
                    "leaseSeconds": engine.settings.lease.as_secs(),
                    "heartbeatSeconds": engine.settings.heartbeat.as_secs(),
                });
                write_file(&dataset_dir.join("monitor.json"), &monitor)?;
                Ok("task state monitor runs in every letsdata worker process".into())
            }
            InitStep::SecureRole => {
                secure_dir(&dataset_dir)?;
                Ok("dataset files readable by this user only".into())
            }
            InitStep::CreateTasks => {
                let source = self.connectors.source.as_ref();
                let mut seeds = source.tasks(&engine.connectors).await?;
                let store = engine.store.open_task_store(self.dataset_id).await?;
                // A chunk at a time: memory flat in the number of tasks. The next chunk is made
                // (manifest lines read, task ids hashed) on a blocking thread while the last one
                // is inserted. The store adds them all at once, so after a crash the step runs
                // again and adds them all (or, when they were added, keeps them).
                let (chunks_in, mut chunks) = tokio::sync::mpsc::channel::<Vec<NewTask>>(1);
                let (dataset_id, task_type) =
                    (self.dataset_id.clone(), source.task_type().to_string());
                let producer = tokio::task::spawn_blocking(move || {
                    let mut repeats = RepeatedLines::default();
                    loop {
                        let chunk: Vec<NewTask> = seeds
                            .by_ref()
                            .take(TASKS_PER_CHUNK)
                            .map(|seed| {
                                repeats.see(&seed.definition.manifest_line);
                                crate::datasets::new_task(&dataset_id, &task_type, seed)
                            })
                            .collect();
                        // Stops early when the load failed (the receiver is gone).
                        if chunk.is_empty() || chunks_in.blocking_send(chunk).is_err() {
                            return repeats;
                        }
                    }
                });
                let loaded = store.load_tasks(&mut chunks).await;
                drop(chunks);
                let repeats = producer
                    .await
                    .map_err(|e| StepError::user(format!("making the tasks failed: {e}")))?;
                let (total, new) = loaded?;
                let mut message = format!("{total} tasks ({new} new)");
                if let Some(warning) = repeats.warning() {
                    tracing::warn!(dataset = %self.dataset_id, "{warning}");
                    message.push_str("; warning: ");
                    message.push_str(&warning);
                }
                Ok(message)
            }
            InitStep::KickoffTasks => {
                let store = engine.store.open_task_store(self.dataset_id).await?;
                let counts = store.counts().await?;
                if counts.total == 0 {
                    return Err(StepError::user("no tasks were created"));
                }
                Ok(format!("{} tasks queued", counts.unfinished()))
            }
            InitStep::Finalize => {
                const DONE: &str = "dataset is PROCESSING";
                // The step is recorded COMPLETED in the same write that leaves INITIALIZING:
                // once the dataset is PROCESSING nothing runs this workflow again, so a crash
                // between the two writes would leave the step WAIT for good.
                let name = InitStep::Finalize.name();
                match transition(
                    engine,
                    self.dataset_id,
                    DatasetAction::FinishInitialization,
                    None,
                    |d, _| {
                        if let Some(mut result) = d.init_step(name) {
                            result.status = StepStatus::Completed;
                            result.end_datetime = Some(now_millis());
                            result.message = DONE.to_string();
                            d.set_init_step(name, &result);
                        }
                    },
                )
                .await
                {
                    // Another process finished it first.
                    Ok(_) | Err(EngineError::Refused(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(DONE.into())
            }
        }
    }

    /// The data task function is the built-in executor configured with the dataset's
    /// implementation and compute settings; write them down so later runs use the same.
    /// The vectors engine's model block.
    fn vectors_model(&self) -> Result<&letsdata_model::spec::VectorsModel, StepError> {
        self.spec
            .compute_engine
            .vectors
            .as_ref()
            .and_then(|v| v.model.as_ref())
            .ok_or_else(|| StepError::user("the compute engine has no model"))
    }

    async fn data_task_function(&self, dataset_dir: &std::path::Path) -> Result<String, StepError> {
        let spec = self.spec;
        let interface = self.connectors.source.wasm_interface();
        let implementation = match spec.read_connector.implementation() {
            Implementation::Builtin(parser) => serde_json::json!({
                "implementation": "Builtin",
                "builtinParser": parser.name(),
            }),
            Implementation::Code(code) => {
                let current = self.dataset().await?;
                serde_json::json!({
                    "implementation": code.language.as_str(),
                    "interface": interface,
                    "code": current.code.map(|c| c.current.sha256),
                })
            }
        };
        let function = serde_json::json!({
            "implementation": implementation,
            "concurrency": spec.compute_engine.concurrency,
            "timeoutInSeconds": spec.compute_engine.timeout_in_seconds,
            "memoryLimitInMegabytes": spec.compute_engine.memory_limit_in_megabytes,
            "logLevel": spec.compute_engine.log_level.as_str(),
        });
        write_file(&dataset_dir.join("function.json"), &function)?;
        Ok(match spec.read_connector.implementation() {
            Implementation::Builtin(parser) => format!("builtin {} parser", parser.name()),
            Implementation::Code(code) => format!(
                "{} {} under {} MB / {} s limits",
                code.language,
                interface,
                spec.compute_engine.memory_limit_in_megabytes,
                spec.compute_engine.timeout_in_seconds
            ),
        })
    }
}

/// The message of a provisioning step: `bucket b`, or `KinesisStream "s" (arn:…) is ready`.
fn describe_ready(r: &letsdata_model::ConnectorResource) -> String {
    if r.is_bucket() {
        return format!("bucket {}", r.name);
    }
    let mut at = vec![];
    if !r.arn.is_empty() {
        at.push(r.arn.as_str());
    }
    if !r.url.is_empty() {
        at.push(r.url.as_str());
    }
    if at.is_empty() {
        format!("{} {:?} is ready", r.resource_type, r.name)
    } else {
        format!(
            "{} {:?} ({}) is ready",
            r.resource_type,
            r.name,
            at.join(", ")
        )
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> StepError {
    StepError::user(format!("cannot write {}: {e}", path.display()))
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), StepError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    secure_dir(dir)
}

fn secure_dir(dir: &std::path::Path) -> Result<(), StepError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, e))?;
    }
    Ok(())
}

fn write_file(path: &std::path::Path, value: &serde_json::Value) -> Result<(), StepError> {
    let text = serde_json::to_string_pretty(value).expect("json values serialize");
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

/// Tasks handed to the store at once by Create Tasks. Memory: about three chunks at once (one
/// made, one queued, one inserted).
const TASKS_PER_CHUNK: usize = 10_000;

/// Manifest lines that repeat an earlier one: each line is a task of its own, so a repeated
/// line reads its input again and writes its documents again. Lines are remembered by a 64-bit
/// hash (memory flat in their length; a false repeat needs a hash collision, about one in
/// 10^7 for a million lines, and would only add a warning).
#[derive(Default)]
struct RepeatedLines {
    /// Line hash → the first line number (1-based) with it.
    first: std::collections::HashMap<u64, u64>,
    lines: u64,
    repeats: u64,
    /// The first few repeats, described.
    shown: Vec<String>,
}

impl RepeatedLines {
    const SHOWN: usize = 5;

    fn see(&mut self, line: &str) {
        use std::hash::{Hash, Hasher};
        self.lines += 1;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        line.hash(&mut hasher);
        match self.first.entry(hasher.finish()) {
            std::collections::hash_map::Entry::Occupied(earlier) => {
                self.repeats += 1;
                if self.shown.len() < Self::SHOWN {
                    self.shown.push(format!(
                        "line {} repeats line {} ({line:?})",
                        self.lines,
                        earlier.get()
                    ));
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(self.lines);
            }
        }
    }

    fn warning(&self) -> Option<String> {
        if self.repeats == 0 {
            return None;
        }
        let more = match self.repeats - self.shown.len() as u64 {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(format!(
            "{} manifest {} an earlier one ({}{more}): each line is a task, so its input is read \
             and its documents are written once per line; remove the repeated lines unless that \
             is intended",
            self.repeats,
            if self.repeats == 1 {
                "line repeats"
            } else {
                "lines repeat"
            },
            self.shown.join(", ")
        ))
    }
}
