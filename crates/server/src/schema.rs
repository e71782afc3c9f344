//! The response shapes the OpenAPI document describes: the fields every record has (records
//! carry more: the dataset's configuration, its workflows; see docs/cli.md).

#![allow(dead_code)]

use utoipa::ToSchema;

/// A dataset as `datasets view` prints it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Dataset {
    dataset_name: String,
    dataset_id: String,
    tenant_id: String,
    user_id: String,
    /// CREATED, INITIALIZING, PROCESSING, COMPLETED, ERRORED, REDRIVING, UPDATING, STOPPING,
    /// DESCALED, FROZEN, DELETED, …
    dataset_status: String,
    #[schema(value_type = Object)]
    dataset_progress: (),
    #[schema(value_type = Vec<Object>)]
    execution_logs: (),
    #[schema(value_type = Object)]
    initialization_workflow: (),
    #[schema(value_type = Object)]
    resources: (),
    create_datetime: i64,
    update_datetime: i64,
}

/// A task as `tasks view` prints it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Task {
    task_id: String,
    dataset_name: String,
    dataset_id: String,
    tenant_id: String,
    task_type: String,
    /// CREATED, PROCESSING, RERUN, COMPLETED or ERRORED.
    task_status: String,
    #[schema(value_type = Object)]
    task_definition: (),
    #[schema(value_type = Object)]
    task_progress: (),
    #[schema(value_type = Vec<Object>)]
    task_execution_logs: (),
    create_datetime: i64,
    update_datetime: i64,
}

/// A page of `tasks list`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TasksPage {
    tasks: Vec<Task>,
    /// The next page's token; null on the last page.
    next_token: Option<String>,
}

/// An error object of `errors list`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorObject {
    task_id: String,
    error_file: String,
    size_bytes: u64,
    error_records: u64,
}

/// A page of `errors list`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorObjectsPage {
    errors: Vec<ErrorObject>,
    next_token: Option<String>,
}

/// A page of `metrics view`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DatasetMetricsPage {
    dataset_name: String,
    dataset_id: String,
    #[schema(value_type = Vec<Object>)]
    metrics: (),
    next_token: Option<String>,
}
