//! letsdata-model: the data model shared by every other crate.
//!
//! * [`spec`] parses and validates a dataset configuration written in LetsData's JSON
//!   (camelCase, enum values case- and space-insensitive) into a [`spec::DatasetSpec`].
//!   Validation never does IO and reports every problem with its JSON path.
//! * [`status`] holds the dataset and task statuses.
//! * [`lifecycle`] is the dataset state machine: which action is allowed in which status.
//! * [`ids`] are the identifiers: dataset ids, task ids, lease tokens.
//! * [`dataset`] and [`task`] are the records the store keeps and the CLI prints.
//! * [`record`] is what stream, queue and table records carry to user code.
//! * [`secrets`] resolves environment variable references and redacts what is printed.
//! * [`location`] parses `s3://bucket/key` links and checks that keys stay inside their bucket.
//!
//! Nothing here does IO or is async, so the rules can be unit-tested exhaustively.

pub mod archive;
pub mod dataset;
pub mod ids;
pub mod lifecycle;
pub mod location;
pub mod record;
pub mod secrets;
pub mod spec;
pub mod status;
pub mod task;
pub mod time;

pub use dataset::{
    CodeArtifact, ConnectorResource, Dataset, DatasetCode, DatasetProgress, ExecutionLog,
    SagemakerModel, StepResult, StepStatus,
};
pub use ids::{DatasetId, LeaseToken, TaskId};
pub use lifecycle::{DatasetAction, InvalidTransition, Rejection};
pub use location::{LocationError, ObjectLocation};
pub use spec::{ConfigError, DatasetSpec, Problem};
pub use status::{DatasetStatus, TaskStatus};
pub use task::{Checkpoint, Task, TaskExecutionLog, TaskProgress};

/// What a JSON value is, with its article ("a number", "an object", "null"), for messages that
/// say what was found where something else was expected.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
