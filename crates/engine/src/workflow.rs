//! The one workflow runner: initialization, redrive, code update, descale, freeze and delete
//! are lists of typed steps run by [`run`].
//!
//! Each step has LetsData's name and a [`RetryPolicy`]. The runner records every attempt in
//! the workflow's place in the dataset record ([`Record`]): `WAIT` while it runs, then
//! `COMPLETED` with a message, or `ERROR` with the failure. A failure a retry can fix is
//! retried with back-off until the policy's attempts are used; then the workflow stops at that
//! step. Steps are idempotent, so a workflow interrupted by a crash is finished by running it
//! again: steps already `COMPLETED` are skipped.
//!
//! The status changes around a workflow (`CREATED → INITIALIZING`, `... → PROCESSING`) are
//! the workflow's own, made with [`crate::datasets::transition`], which asks the lifecycle
//! state machine.

use crate::{Engine, EngineError};
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_model::dataset::{StepResult, StepStatus};
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetId, DatasetStatus};
use letsdata_store::StoreError;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::Duration;

/// Where a workflow's steps are recorded in the dataset record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// `initializationWorkflow`.
    Initialization,
    /// The `steps` of the `redriveWorkflows` entry with this redrive id.
    Redrive(String),
    /// The last `codeUpdateWorkflows` entry.
    CodeUpdate,
    /// `descaleWorkflow`.
    Descale,
    /// `freezeWorkflow`.
    Freeze,
    /// `deleteWorkflow`.
    Delete,
}

impl Record {
    /// The workflow's step map in `d`, if it exists.
    pub(crate) fn steps_mut<'a>(&self, d: &'a mut Dataset) -> Option<&'a mut Map<String, Value>> {
        match self {
            Self::Initialization => Some(&mut d.initialization_workflow),
            Self::Redrive(id) => d
                .redrive_workflows
                .iter_mut()
                .find(|w| &w.redrive_id == id)
                .map(|w| &mut w.steps),
            Self::CodeUpdate => d.code_update_workflows.last_mut(),
            Self::Descale => Some(&mut d.descale_workflow),
            Self::Freeze => Some(&mut d.freeze_workflow),
            Self::Delete => Some(&mut d.delete_workflow),
        }
    }

    fn steps<'a>(&self, d: &'a Dataset) -> Option<&'a Map<String, Value>> {
        match self {
            Self::Initialization => Some(&d.initialization_workflow),
            Self::Redrive(id) => d
                .redrive_workflows
                .iter()
                .find(|w| &w.redrive_id == id)
                .map(|w| &w.steps),
            Self::CodeUpdate => d.code_update_workflows.last(),
            Self::Descale => Some(&d.descale_workflow),
            Self::Freeze => Some(&d.freeze_workflow),
            Self::Delete => Some(&d.delete_workflow),
        }
    }

    /// The latest result of `step`, if it has started.
    pub(crate) fn result(&self, d: &Dataset, step: &str) -> Option<StepResult> {
        self.steps(d)?
            .get(step)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Lists `names` as not started (`{}`), keeping results already recorded.
    pub(crate) fn declare<'a>(&self, d: &mut Dataset, names: impl IntoIterator<Item = &'a str>) {
        if let Some(steps) = self.steps_mut(d) {
            for name in names {
                steps
                    .entry(name.to_string())
                    .or_insert_with(|| serde_json::json!({}));
            }
        }
    }

    /// Whether the workflow's steps may still be recorded in `d`. Initialization's stop once the
    /// dataset has left INITIALIZING: another process on the same store (a server's worker and
    /// its API both initialize) finished or failed it meanwhile, and a late `WAIT` or result of
    /// that process's attempt would contradict the status. The other workflows' records are
    /// theirs alone.
    fn is_open(&self, d: &Dataset) -> bool {
        match self {
            Self::Initialization => d.dataset_status == DatasetStatus::Initializing,
            _ => true,
        }
    }

    /// Records `result` for `step`.
    pub(crate) fn set(&self, d: &mut Dataset, step: &str, result: &StepResult) {
        if let Some(steps) = self.steps_mut(d) {
            let value = serde_json::to_value(result).expect("step results serialize");
            steps.insert(step.to_string(), value);
        }
    }
}

/// How a step is retried: bounded exponential back-off for failures a retry can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Pause before the first retry; doubled for each further retry.
    pub initial_backoff: Duration,
}

impl RetryPolicy {
    /// One attempt.
    pub(crate) const ONCE: Self = Self {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
    };
    /// Three attempts, 200 ms then 400 ms apart.
    pub(crate) const TRANSIENT: Self = Self {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
    };

    fn backoff(&self, retry: u32) -> Duration {
        self.initial_backoff.saturating_mul(1 << retry.min(16))
    }
}

/// A step's failure: its message, and whether retrying can help.
#[derive(Debug)]
pub(crate) struct StepError {
    pub message: String,
    pub retryable: bool,
}

impl StepError {
    /// A failure a retry cannot fix (the user's to fix).
    pub(crate) fn user(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        Self {
            // Any database failure gets the step's retries (a full disk may be freed meanwhile),
            // not only those the store calls retryable.
            retryable: matches!(e, StoreError::Database { .. } | StoreError::Commit(_)),
            message: e.to_string(),
        }
    }
}

impl From<ConnectorError> for StepError {
    fn from(e: ConnectorError) -> Self {
        Self {
            retryable: e.kind() == FailureKind::Transient,
            message: e.to_string(),
        }
    }
}

impl From<EngineError> for StepError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(e) => e.into(),
            EngineError::Connector(e) => e.into(),
            other => Self::user(other.to_string()),
        }
    }
}

/// What a step of a workflow says about itself.
pub(crate) trait Step {
    /// LetsData's name of the step, as recorded.
    fn name(&self) -> &str;
    /// How the step is retried.
    fn retry(&self) -> RetryPolicy {
        RetryPolicy::TRANSIENT
    }
}

/// Why a workflow stopped.
#[derive(Debug)]
pub(crate) enum WorkflowError {
    /// A step failed for good; its `ERROR` result is recorded.
    Step { step: String, message: String },
    /// Recording failed (the store).
    Engine(EngineError),
}

impl From<EngineError> for WorkflowError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl WorkflowError {
    /// As an engine error: a failed step says which and why.
    pub(crate) fn into_engine(self, dataset_name: &str) -> EngineError {
        match self {
            Self::Engine(e) => e,
            Self::Step { step, message } => EngineError::Refused(format!(
                "dataset {dataset_name:?}: step {step:?} failed: {message}"
            )),
        }
    }
}

/// Runs `steps` in order with `execute`, recording every attempt under `record`; steps whose
/// latest result is `COMPLETED` are skipped. Returns the dataset after the last step.
pub(crate) async fn run<S, F, Fut>(
    engine: &Engine,
    dataset_id: &DatasetId,
    record: &Record,
    steps: &[S],
    mut execute: F,
) -> Result<Dataset, WorkflowError>
where
    S: Step,
    F: FnMut(&S) -> Fut,
    Fut: Future<Output = Result<String, StepError>>,
{
    let mut dataset = current(engine, dataset_id).await?;
    for step in steps {
        let name = step.name().to_string();
        let previous = record.result(&dataset, &name);
        if previous
            .as_ref()
            .is_some_and(|r| r.status == StepStatus::Completed)
        {
            continue;
        }
        let policy = step.retry();
        let mut attempts = previous.map(|r| r.attempts).unwrap_or(0);
        let mut tried = 0;
        loop {
            attempts += 1;
            tried += 1;
            let mut result = StepResult {
                status: StepStatus::Wait,
                attempts,
                start_datetime: now_millis(),
                end_datetime: None,
                message: String::new(),
            };
            if record_step(engine, dataset_id, record, &name, &result)
                .await?
                .is_none()
            {
                return Ok(current(engine, dataset_id).await?);
            }
            let outcome = execute(step).await;
            // Done, not recorded yet: a crash here runs the step again (steps are idempotent).
            letsdata_connectors::failpoints::hit("workflow-step-executed");
            result.end_datetime = Some(now_millis());
            match outcome {
                Ok(message) => {
                    result.status = StepStatus::Completed;
                    result.message = message;
                    match record_step(engine, dataset_id, record, &name, &result).await? {
                        Some(recorded) => dataset = recorded,
                        None => return Ok(current(engine, dataset_id).await?),
                    }
                    break;
                }
                Err(e) => {
                    result.status = StepStatus::Error;
                    result.message = e.message.clone();
                    if record_step(engine, dataset_id, record, &name, &result)
                        .await?
                        .is_none()
                    {
                        return Ok(current(engine, dataset_id).await?);
                    }
                    if !e.retryable || tried >= policy.max_attempts {
                        tracing::error!(dataset = %dataset_id, step = %name, error = %e.message, "workflow step failed");
                        return Err(WorkflowError::Step {
                            step: name,
                            message: e.message,
                        });
                    }
                    tracing::warn!(dataset = %dataset_id, step = %name, error = %e.message, "workflow step failed; retrying");
                    tokio::time::sleep(policy.backoff(tried - 1)).await;
                }
            }
        }
    }
    Ok(dataset)
}

/// Records `result` for `step` under `record` while the workflow is open there and returns
/// the dataset as written; `None`, with nothing written, once it is not open.
async fn record_step(
    engine: &Engine,
    dataset_id: &DatasetId,
    record: &Record,
    step: &str,
    result: &StepResult,
) -> Result<Option<Dataset>, EngineError> {
    crate::datasets::modify_dataset_if(
        engine,
        dataset_id,
        |d| record.is_open(d),
        |d| record.set(d, step, result),
    )
    .await
}

async fn current(engine: &Engine, dataset_id: &DatasetId) -> Result<Dataset, EngineError> {
    engine
        .store
        .get_dataset_by_id(dataset_id)
        .await?
        .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::transition;
    use letsdata_model::DatasetAction;

    struct Only(&'static str);

    impl Step for Only {
        fn name(&self) -> &str {
            self.0
        }
        fn retry(&self) -> RetryPolicy {
            RetryPolicy::ONCE
        }
    }

    const CONFIG: &str = include_str!("../../../examples/quickstart/dataset.json");

    fn theirs() -> StepResult {
        StepResult {
            status: StepStatus::Error,
            attempts: 1,
            start_datetime: 1,
            end_datetime: Some(2),
            message: "theirs".into(),
        }
    }

    /// A server's API and its worker both initialize a new dataset: when the other one fails
    /// the initialization while this one runs the same step, this one records nothing more
    /// (no late `WAIT` or result under an ERRORED dataset) and ends without a failure of its own.
    #[tokio::test]
    async fn an_initialization_closed_by_another_process_records_nothing_more() {
        let home = tempfile::tempdir().expect("home");
        // The config's read bucket (a local bucket is a directory).
        std::fs::create_dir_all(home.path().join("buckets").join("quickstart-input"))
            .expect("read bucket");
        let engine = Engine::open(home.path()).await.expect("engine");
        let id = engine
            .create_dataset(CONFIG)
            .await
            .expect("created")
            .dataset_id;
        transition(&engine, &id, DatasetAction::Initialize, None, |d, _| {
            Record::Initialization.declare(d, ["Step"]);
        })
        .await
        .expect("initializing");
        let (engine_ref, id_ref) = (&engine, &id);
        let outcome = run(
            &engine,
            &id,
            &Record::Initialization,
            &[Only("Step")],
            move |_| async move {
                transition(
                    engine_ref,
                    id_ref,
                    DatasetAction::FailInitialization,
                    None,
                    |d, _| Record::Initialization.set(d, "Step", &theirs()),
                )
                .await
                .expect("failed by the other process");
                Err(StepError::user("ours"))
            },
        )
        .await;
        let dataset = outcome.expect("no step failure of its own");
        assert_eq!(dataset.dataset_status, DatasetStatus::Errored);
        assert_eq!(
            Record::Initialization.result(&dataset, "Step"),
            Some(theirs())
        );
        // Run again on the closed dataset: nothing is executed or recorded.
        let mut executed = 0;
        let again = run(
            &engine,
            &id,
            &Record::Initialization,
            &[Only("Step")],
            |_| {
                executed += 1;
                async { Ok(String::new()) }
            },
        )
        .await
        .expect("nothing to run");
        assert_eq!(executed, 0);
        assert_eq!(
            Record::Initialization.result(&again, "Step"),
            Some(theirs())
        );
    }
}
