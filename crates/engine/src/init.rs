//! The initialization workflow: CREATED → INITIALIZING → PROCESSING.
//!
//! Steps carry LetsData's step names where a local equivalent exists and are recorded in the
//! dataset's `initializationWorkflow` map (`{}` until started, then `WAIT`, `ERROR` or
//! `COMPLETED` with attempts and times). Every step is idempotent, so a crashed or concurrent
//! initialization simply runs the remaining steps again; completed steps are skipped. A step
//! that fails for a reason a retry can fix is retried with back-off; one that cannot (a missing
//! manifest) ends the dataset ERRORED with the step's message.

use crate::code;
use crate::manifest::{read_manifest, task_id_for};
use crate::{Engine, EngineError};
use letsdata_connectors::FailureKind;
use letsdata_model::dataset::{ExecutionLog, StepResult, StepStatus};
use letsdata_model::spec::{Manifest, ResourceLocation, ValidationContext, WriteConnector};
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetSpec, DatasetStatus};
use letsdata_store::{NewTask, StoreError};
use std::time::Duration;

pub(crate) const STEP_EXECUTION_ROLE: &str = "Create Dataset IAM Execution Role";
pub(crate) const STEP_WRITE_BUCKET: &str = "Write Connector - Create S3 Bucket";
pub(crate) const STEP_ERROR_BUCKET: &str = "Error Connector - Create Error Bucket";
pub(crate) const STEP_TASK_DATABASE: &str = "Create Internal Task Database";
pub(crate) const STEP_QUEUES: &str = "Create Internal Queues";
pub(crate) const STEP_DATA_TASK_FUNCTION: &str = "Compute Engine - Create Data Task Function";
pub(crate) const STEP_TASK_MONITOR: &str = "Compute Engine - Task State Monitor Process";
pub(crate) const STEP_SECURE_ROLE: &str = "Secure Dataset IAM Execution Role";
pub(crate) const STEP_CREATE_TASKS: &str = "Create Tasks (1/2)";
pub(crate) const STEP_KICKOFF_TASKS: &str = "Create Tasks (2/2)";
pub(crate) const STEP_FINALIZE: &str = "Finalize Initialization";

const MAX_ATTEMPTS: u32 = 3;

/// A step's failure: its message and whether retrying can help.
struct StepError {
    message: String,
    retryable: bool,
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        Self {
            message: e.to_string(),
            retryable: matches!(e, StoreError::Database(_)),
        }
    }
}

impl From<letsdata_connectors::ConnectorError> for StepError {
    fn from(e: letsdata_connectors::ConnectorError) -> Self {
        Self {
            retryable: e.kind() == FailureKind::Transient,
            message: e.to_string(),
        }
    }
}

fn user_error(message: impl Into<String>) -> StepError {
    StepError {
        message: message.into(),
        retryable: false,
    }
}

/// The dataset's validated spec, re-derived from its stored configuration.
pub(crate) fn spec_of(engine: &Engine, dataset: &Dataset) -> Result<DatasetSpec, EngineError> {
    let mut json = dataset.config.clone();
    json.insert(
        "datasetName".into(),
        serde_json::Value::String(dataset.dataset_name.clone()),
    );
    let ctx = ValidationContext {
        aws_resources: engine.objects.is_s3(),
    };
    Ok(letsdata_model::spec::parse_dataset_spec(
        &serde_json::Value::Object(json),
        ctx,
    )?)
}

/// Loads the dataset, applies `f`, and writes it back, retrying on concurrent updates.
pub(crate) async fn modify_dataset(
    engine: &Engine,
    dataset_id: &str,
    mut f: impl FnMut(&mut Dataset),
) -> Result<Dataset, EngineError> {
    loop {
        let mut dataset = engine
            .store
            .get_dataset_by_id(dataset_id)
            .await?
            .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))?;
        f(&mut dataset);
        match engine.store.update_dataset(&mut dataset).await {
            Ok(()) => return Ok(dataset),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The steps that apply to this dataset, in order.
fn steps_for(spec: &DatasetSpec) -> Vec<&'static str> {
    let mut steps = vec![STEP_EXECUTION_ROLE];
    if code::wasm_of(spec).is_some() {
        steps.extend([
            code::STEP_ARTIFACT_COPY,
            code::STEP_CODE_SNAPSHOT,
            code::STEP_CODE_BUILD,
        ]);
    }
    match &spec.write_connector {
        WriteConnector::S3(write) if write.resource_location == ResourceLocation::LetsData => {
            steps.push(STEP_WRITE_BUCKET);
        }
        _ => steps.extend(crate::aws::write_step(spec)),
    }
    if spec.error_connector.resource_location == ResourceLocation::LetsData {
        steps.push(STEP_ERROR_BUCKET);
    }
    steps.extend([
        STEP_TASK_DATABASE,
        STEP_QUEUES,
        STEP_DATA_TASK_FUNCTION,
        STEP_TASK_MONITOR,
        STEP_SECURE_ROLE,
        STEP_CREATE_TASKS,
        STEP_KICKOFF_TASKS,
        STEP_FINALIZE,
    ]);
    steps
}

/// Runs the initialization workflow if the dataset needs it; returns the dataset afterwards.
pub(crate) async fn initialize(engine: &Engine, dataset_id: &str) -> Result<Dataset, EngineError> {
    let mut dataset = engine
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
    let steps = steps_for(&spec);
    if dataset.dataset_status == DatasetStatus::Created {
        dataset = modify_dataset(engine, dataset_id, |d| {
            if d.dataset_status == DatasetStatus::Created {
                d.dataset_status = DatasetStatus::Initializing;
                for step in &steps {
                    d.initialization_workflow
                        .entry(step.to_string())
                        .or_insert_with(|| serde_json::json!({}));
                }
                d.execution_logs.push(ExecutionLog {
                    start_datetime: now_millis(),
                    end_datetime: None,
                    status: None,
                });
            }
        })
        .await?;
    }
    for step in steps {
        if dataset
            .init_step(step)
            .is_some_and(|r| r.status == StepStatus::Completed)
        {
            continue;
        }
        dataset = run_step(engine, &dataset, &spec, step).await?;
        if dataset.dataset_status != DatasetStatus::Initializing {
            return Ok(dataset);
        }
    }
    Ok(dataset)
}

/// Runs one step with retries, recording every attempt.
async fn run_step(
    engine: &Engine,
    dataset: &Dataset,
    spec: &DatasetSpec,
    step: &'static str,
) -> Result<Dataset, EngineError> {
    let id = dataset.dataset_id.clone();
    let mut attempts = dataset.init_step(step).map(|r| r.attempts).unwrap_or(0);
    let mut backoff = Duration::from_millis(200);
    loop {
        attempts += 1;
        let start = now_millis();
        let mut running = StepResult {
            status: StepStatus::Wait,
            attempts,
            start_datetime: start,
            end_datetime: None,
            message: String::new(),
        };
        modify_dataset(engine, &id, |d| d.set_init_step(step, &running)).await?;
        let outcome = execute(engine, dataset, spec, step).await;
        running.end_datetime = Some(now_millis());
        match outcome {
            Ok(message) => {
                running.status = StepStatus::Completed;
                running.message = message;
                return modify_dataset(engine, &id, |d| {
                    d.set_init_step(step, &running);
                    if step == STEP_FINALIZE && d.dataset_status == DatasetStatus::Initializing {
                        d.dataset_status = DatasetStatus::Processing;
                    }
                })
                .await;
            }
            Err(err) => {
                running.status = StepStatus::Error;
                running.message = err.message.clone();
                let give_up = !err.retryable || attempts >= MAX_ATTEMPTS;
                let updated = modify_dataset(engine, &id, |d| {
                    d.set_init_step(step, &running);
                    if give_up && d.dataset_status == DatasetStatus::Initializing {
                        d.dataset_status = DatasetStatus::Errored;
                        d.last_error = Some(format!(
                            "initialization step {step:?} failed: {}",
                            err.message
                        ));
                        if let Some(log) = d.execution_logs.last_mut() {
                            log.end_datetime = Some(now_millis());
                            log.status = Some(DatasetStatus::Errored);
                        }
                    }
                })
                .await?;
                if give_up {
                    tracing::error!(dataset = %dataset.dataset_name, step, error = %err.message, "initialization failed");
                    return Ok(updated);
                }
                tracing::warn!(dataset = %dataset.dataset_name, step, error = %err.message, "initialization step failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

/// What each step does. Returns a short message for the step record.
async fn execute(
    engine: &Engine,
    dataset: &Dataset,
    spec: &DatasetSpec,
    step: &'static str,
) -> Result<String, StepError> {
    let dataset_dir = engine.home.join("datasets").join(&dataset.dataset_id);
    match step {
        STEP_EXECUTION_ROLE => {
            // The dataset's execution scope: a private directory holding its internal state.
            create_private_dir(&dataset_dir)?;
            Ok(format!("dataset scope {}", dataset_dir.display()))
        }
        code::STEP_ARTIFACT_COPY => {
            let (artifact, interface) =
                code::wasm_of(spec).ok_or_else(|| user_error("the implementation is not Wasm"))?;
            let copied = code::copy_artifact(engine, artifact, interface)
                .await
                .map_err(code_error)?;
            let message = format!(
                "{} → {} (sha256 {}, {} bytes)",
                copied.artifact_file_s3_link,
                copied.internal_copy,
                copied.sha256,
                copied.size_bytes
            );
            let id = dataset.dataset_id.clone();
            modify_dataset(engine, &id, |d| {
                // Keep an existing snapshot: a re-run of this step must not change the code.
                if d.code.is_none() {
                    d.code = Some(code::snapshot(copied.clone()));
                }
            })
            .await
            .map_err(|e| user_error(e.to_string()))?;
            Ok(message)
        }
        code::STEP_CODE_SNAPSHOT => {
            let current = current_dataset(engine, dataset).await?;
            let snapshot = current
                .code
                .ok_or_else(|| user_error("the implementation artifact was not copied"))?;
            let location =
                letsdata_model::ObjectLocation::parse_s3_link(&snapshot.current.internal_copy)
                    .map_err(|e| user_error(e.to_string()))?;
            let bytes = engine
                .objects
                .bucket(&location.bucket)?
                .read_all(&location.key)
                .await?;
            if letsdata_sandbox::sha256_hex(&bytes) != snapshot.current.sha256 {
                return Err(user_error(format!(
                    "the internal copy {} does not match sha256 {}",
                    snapshot.current.internal_copy, snapshot.current.sha256
                )));
            }
            Ok(format!(
                "sha256 {}: tasks, reruns and redrives run this code until `letsdata datasets code update`",
                snapshot.current.sha256
            ))
        }
        code::STEP_CODE_BUILD => {
            let (_, interface) =
                code::wasm_of(spec).ok_or_else(|| user_error("the implementation is not Wasm"))?;
            let current = current_dataset(engine, dataset).await?;
            let snapshot = current
                .code
                .ok_or_else(|| user_error("the implementation artifact was not copied"))?;
            let sandbox = engine.sandbox().map_err(|e| user_error(e.to_string()))?;
            let (_, note) = code::build(&sandbox, &engine.objects, &snapshot.current, interface)
                .await
                .map_err(code_error)?;
            Ok(note)
        }
        STEP_WRITE_BUCKET => {
            engine
                .objects
                .create_bucket(&dataset.resources.write_bucket)
                .await?;
            Ok(format!("bucket {}", dataset.resources.write_bucket))
        }
        step if Some(step) == crate::aws::write_step(spec) => {
            let resource = dataset
                .resources
                .write_resource
                .clone()
                .ok_or_else(|| user_error("the dataset has no write resource"))?;
            let ready = crate::aws::prepare_write_resource(engine, spec, &resource).await?;
            let message = format!(
                "{} ({}{}) is active",
                crate::aws::describe(&ready),
                ready.arn,
                if ready.url.is_empty() {
                    String::new()
                } else {
                    format!(", {}", ready.url)
                }
            );
            let id = dataset.dataset_id.clone();
            modify_dataset(engine, &id, |d| {
                d.resources.write_resource = Some(ready.clone());
            })
            .await
            .map_err(|e| user_error(e.to_string()))?;
            Ok(message)
        }
        STEP_ERROR_BUCKET => {
            engine
                .objects
                .create_bucket(&dataset.resources.error_bucket)
                .await?;
            Ok(format!("bucket {}", dataset.resources.error_bucket))
        }
        STEP_TASK_DATABASE => {
            engine.store.create_task_store(&dataset.dataset_id).await?;
            let path = dataset_dir.join("tasks.db");
            let display = path.display().to_string();
            let id = dataset.dataset_id.clone();
            crate::init::modify_dataset(engine, &id, |d| {
                d.resources.task_database = display.clone();
            })
            .await
            .map_err(|e| user_error(e.to_string()))?;
            Ok(display)
        }
        STEP_QUEUES => {
            let tasks = engine.store.open_task_store(&dataset.dataset_id).await?;
            tasks.create_queue().await?;
            Ok("task queue created in the task database".into())
        }
        STEP_DATA_TASK_FUNCTION => {
            // The data task function is the built-in executor configured with the dataset's
            // parser and compute settings; write them down so later runs use the same.
            let interface = code::interface_of(&spec.read_connector).letsdata_name();
            let implementation = match spec.read_connector.implementation() {
                letsdata_model::spec::Implementation::Builtin(parser) => serde_json::json!({
                    "implementation": "Builtin",
                    "builtinParser": parser.name(),
                }),
                letsdata_model::spec::Implementation::Wasm(_) => {
                    let current = current_dataset(engine, dataset).await?;
                    serde_json::json!({
                        "implementation": "Wasm",
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
                letsdata_model::spec::Implementation::Builtin(parser) => {
                    format!("builtin {} parser", parser.name())
                }
                letsdata_model::spec::Implementation::Wasm(_) => format!(
                    "Wasm {} under {} MB / {} s limits",
                    interface,
                    spec.compute_engine.memory_limit_in_megabytes,
                    spec.compute_engine.timeout_in_seconds
                ),
            })
        }
        STEP_TASK_MONITOR => {
            let monitor = serde_json::json!({
                "leaseSeconds": engine.settings.lease.as_secs(),
                "heartbeatSeconds": engine.settings.heartbeat.as_secs(),
            });
            write_file(&dataset_dir.join("monitor.json"), &monitor)?;
            Ok("task state monitor runs in every letsdata worker process".into())
        }
        STEP_SECURE_ROLE => {
            secure_dir(&dataset_dir)?;
            Ok("dataset files readable by this user only".into())
        }
        STEP_CREATE_TASKS => {
            let tasks: Vec<NewTask> = match &spec.manifest {
                Manifest::Files { reader_type, .. } => {
                    let lines = read_manifest(engine, spec).await?;
                    if lines.is_empty() {
                        return Err(user_error(
                            "the manifest has no non-empty lines: nothing to do",
                        ));
                    }
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, line)| NewTask {
                            task_id: task_id_for(&dataset.dataset_id, i as u64, line),
                            ordinal: i as u64,
                            task_type: "READER".into(),
                            definition: crate::manifest::definition(*reader_type, i as u64, line),
                        })
                        .collect()
                }
                _ => {
                    // The stream, queue or table was checked at create time; it may be gone.
                    if let Some(read) = &dataset.resources.read_resource {
                        crate::aws::exists(engine, spec.region.as_str(), read)
                            .await
                            .map_err(|m| StepError {
                                message: m.message,
                                retryable: m.retryable,
                            })?;
                    }
                    let tasks = crate::aws::source_tasks(engine, dataset, spec).await?;
                    if tasks.is_empty() {
                        return Err(user_error(format!(
                            "the {} has no shards to read",
                            dataset
                                .resources
                                .read_resource
                                .as_ref()
                                .map(crate::aws::describe)
                                .unwrap_or_default()
                        )));
                    }
                    tasks
                }
            };
            let store = engine.store.open_task_store(&dataset.dataset_id).await?;
            let new = store.insert_tasks(&tasks).await?;
            Ok(format!("{} tasks ({new} new)", tasks.len()))
        }
        STEP_KICKOFF_TASKS => {
            let store = engine.store.open_task_store(&dataset.dataset_id).await?;
            let counts = store.counts().await?;
            if counts.total == 0 {
                return Err(user_error("no tasks were created"));
            }
            Ok(format!("{} tasks queued", counts.unfinished()))
        }
        STEP_FINALIZE => Ok("dataset is PROCESSING".into()),
        other => Err(user_error(format!("unknown step {other:?}"))),
    }
}

fn code_error(e: code::CodeError) -> StepError {
    StepError {
        message: e.message,
        retryable: e.retryable,
    }
}

/// The dataset as stored now (steps before this one may have changed it).
async fn current_dataset(engine: &Engine, dataset: &Dataset) -> Result<Dataset, StepError> {
    engine
        .store
        .get_dataset_by_id(&dataset.dataset_id)
        .await?
        .ok_or_else(|| user_error("the dataset was deleted"))
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> StepError {
    StepError {
        message: format!("cannot write {}: {e}", path.display()),
        retryable: false,
    }
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
