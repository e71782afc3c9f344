use letsdata_connectors::ConnectorError;
use letsdata_model::ConfigError;
use letsdata_store::StoreError;
use thiserror::Error;

/// What failed in the engine. User mistakes say what to do next.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("the configuration is not valid JSON: {0}")]
    InvalidJson(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("dataset {0:?} does not exist; `letsdata datasets list` shows the datasets")]
    DatasetNotFound(String),
    #[error(
        "task {task_id:?} does not exist in dataset {dataset:?}; `letsdata tasks list --datasetName {dataset}` shows its tasks"
    )]
    TaskNotFound { dataset: String, task_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("{0}")]
    Corrupt(String),
    /// A `LETSDATA_*` environment variable with a value letsdata cannot use.
    #[error("{var}={value:?}: {message}")]
    Environment {
        var: &'static str,
        value: String,
        message: String,
    },
    /// An action not allowed now (wrong status, nothing to do); says why.
    #[error("{0}")]
    Refused(String),
    #[error("dataset {dataset:?} initialization failed at step {step:?}: {message}")]
    Initialization {
        dataset: String,
        step: String,
        message: String,
    },
}
