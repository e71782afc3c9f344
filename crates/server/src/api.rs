//! The operations, one per CLI command, named after LetsData's Control SDK resources
//! (`dataset`, `dataset/create`, `tasks/list`, …). Bodies are the JSON the CLI prints.

use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Params, body_bytes, check_identifier};
use crate::schema::{Dataset, DatasetMetricsPage, ErrorObjectsPage, Task, TasksPage};
use crate::{AppState, DEFAULT_PAGE, MAX_OUTPUT, MAX_PAGE};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use letsdata_model::{TaskId, TaskStatus};
use letsdata_store::Scope;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The operations, with their OpenAPI descriptions.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dataset_view))
        .routes(routes!(dataset_create))
        .routes(routes!(dataset_list))
        .routes(routes!(dataset_delete))
        .routes(routes!(dataset_descale))
        .routes(routes!(dataset_freeze))
        .routes(routes!(code_view, code_update))
        .routes(routes!(compute_update))
        .routes(routes!(tasks_list))
        .routes(routes!(task_view))
        .routes(routes!(tasks_stop))
        .routes(routes!(redrive_view, redrive_create))
        .routes(routes!(errors_list))
        .routes(routes!(errors_view))
        .routes(routes!(logs_view))
        .routes(routes!(metrics_view))
        .routes(routes!(output_read))
        .routes(routes!(whoami))
}

/// Who a key is: its tenant, user and scopes (any scope may ask).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    tenant_id: String,
    tenant_name: String,
    user_id: String,
    api_key_id: String,
    scopes: Vec<String>,
}

/// The caller: the key's tenant, user and scopes (`letsdata login` checks a key with it).
#[utoipa::path(get, path = "/whoami", tag = "keys",
    responses((status = 200, body = WhoAmI), (status = "4XX", body = ErrorBody)))]
async fn whoami(ctx: Ctx, Params(_): Params<NoParams>) -> ApiResult<Response> {
    ok(&WhoAmI {
        tenant_id: ctx.caller.tenant.tenant_id.clone(),
        tenant_name: ctx.caller.tenant.tenant_name.clone(),
        user_id: ctx.caller.tenant.user_id.clone(),
        api_key_id: ctx.caller.key.api_key_id.clone(),
        scopes: ctx
            .caller
            .key
            .scopes
            .iter()
            .map(|s| s.to_string())
            .collect(),
    })
}

/// letsdata's own records (datasets, tasks, workflows) as JSON, secrets masked as the CLI
/// prints them.
fn record<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response> {
    let encoding =
        |e: serde_json::Error| ApiError::internal(format!("cannot encode the response: {e}"));
    // Straight to bytes; through a JSON tree to be redacted only when the text may hold a
    // secret (a configuration with a password, say): most answers never do.
    let bytes = serde_json::to_vec(value).map_err(encoding)?;
    if letsdata_model::secrets::may_hold_secret(&bytes) {
        return Ok(masked(
            status,
            serde_json::to_value(value).map_err(encoding)?,
        ));
    }
    Ok((status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// A JSON value of letsdata's records, its secrets masked.
fn masked(status: StatusCode, mut value: Value) -> Response {
    letsdata_model::secrets::redact(&mut value);
    (status, axum::Json(value)).into_response()
}

fn ok<T: Serialize>(value: &T) -> ApiResult<Response> {
    record(StatusCode::OK, value)
}

/// The page size a request asks for: `limit` (1 to [`MAX_PAGE`]) or [`DEFAULT_PAGE`].
fn page_size(limit: Option<u64>) -> ApiResult<usize> {
    bounded_limit(limit, DEFAULT_PAGE, MAX_PAGE)
}

/// `limit` when it is 1 to `most`, `default` without one; a 400 naming the range otherwise.
fn bounded_limit(limit: Option<u64>, default: usize, most: usize) -> ApiResult<usize> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=most as u64).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::bad_request(
            "InvalidParameters",
            format!("limit {n} is out of range: expected 1 to {most}"),
        )),
    }
}

fn task_id(value: &str) -> ApiResult<TaskId> {
    check_identifier("taskId", value)?;
    Ok(TaskId::from(value))
}

fn task_ids(values: Option<Vec<String>>) -> ApiResult<Option<Vec<TaskId>>> {
    values
        .map(|ids| ids.iter().map(|id| task_id(id)).collect())
        .transpose()
}

/// A dataset, named or by id.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DatasetParams {
    /// The dataset's name (or give datasetId).
    #[param(required = false)]
    dataset_name: Option<String>,
    /// The dataset's id (or give datasetName).
    #[param(required = false)]
    dataset_id: Option<String>,
}

/// A dataset, named or by id, in a body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatasetRef {
    dataset_name: Option<String>,
    dataset_id: Option<String>,
}

/// `datasets view`: status, progress, execution logs, initialization workflow.
#[utoipa::path(get, path = "/dataset", tag = "datasets", params(DatasetParams),
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn dataset_view(ctx: Ctx, Params(p): Params<DatasetParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.dataset(&name).await?)
}

/// How `dataset/create` answers.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// `true` (the default): answer once the dataset is initialized. `false`: answer 202 as soon
    /// as it is recorded (CREATED); the server initializes it meanwhile (follow it with
    /// `GET /dataset`; a server that stops first leaves it to the next worker to initialize).
    #[param(required = false)]
    wait: Option<bool>,
}

/// `datasets create`: the body is the dataset configuration. The dataset is initialized (its
/// resources checked and created, its tasks made) before the answer, unless `wait=false`;
/// workers then run it. A configuration with problems is refused with every problem and its
/// JSON path.
#[utoipa::path(post, path = "/dataset/create", tag = "datasets", params(CreateParams),
    request_body(content = Object, description = "the dataset configuration (LetsData's dataset JSON)"),
    responses((status = 201, body = Dataset, description = "created and initialized"),
        (status = 202, body = Dataset, description = "created (wait=false); initializing"),
        (status = "4XX", body = ErrorBody)))]
async fn dataset_create(
    ctx: Ctx,
    Params(p): Params<CreateParams>,
    request: Request,
) -> ApiResult<Response> {
    ctx.require(Scope::Manage)?;
    let bytes = body_bytes(request, &()).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::bad_request(
            "InvalidJson",
            format!("the configuration is not UTF-8: {e}"),
        )
    })?;
    let dataset = ctx.engine.create_dataset(text).await?;
    ctx.audit_target(&dataset.dataset_name);
    if p.wait == Some(false) {
        let engine = ctx.engine;
        let id = dataset.dataset_id.clone();
        // Its outcome is the dataset's status and steps; an error here is the store's.
        tokio::spawn(async move {
            if let Err(e) = engine.initialize(&id).await {
                tracing::warn!(dataset_id = %id, "initializing a dataset created without waiting failed: {e}");
            }
        });
        return record(StatusCode::ACCEPTED, &dataset);
    }
    let dataset = ctx.engine.initialize(&dataset.dataset_id).await?;
    record(StatusCode::CREATED, &dataset)
}

/// `datasets list`: the tenant's datasets.
#[utoipa::path(get, path = "/dataset/list", tag = "datasets",
    responses((status = 200, body = Vec<Dataset>), (status = "4XX", body = ErrorBody)))]
async fn dataset_list(ctx: Ctx, Params(_): Params<NoParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    ok(&ctx.engine.datasets().await?)
}

/// No query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `datasets delete`: deletes the dataset and everything it created (→ DELETED).
#[utoipa::path(post, path = "/dataset/delete", tag = "datasets", request_body = DatasetRef,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn dataset_delete(ctx: Ctx, Body(b): Body<DatasetRef>) -> ApiResult<Response> {
    ctx.require(Scope::Manage)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.delete(&name).await?)
}

/// `datasets descale`: releases a finished dataset's compute (→ DESCALED).
#[utoipa::path(post, path = "/dataset/descale", tag = "datasets", request_body = DatasetRef,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn dataset_descale(ctx: Ctx, Body(b): Body<DatasetRef>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.descale(&name).await?)
}

/// `datasets freeze`: reclaims a finished dataset's task database; output stays (→ FROZEN).
#[utoipa::path(post, path = "/dataset/freeze", tag = "datasets", request_body = DatasetRef,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn dataset_freeze(ctx: Ctx, Body(b): Body<DatasetRef>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.freeze(&name).await?)
}

/// `datasets code view`: the current implementation, the previous ones, the code updates.
#[utoipa::path(get, path = "/dataset/code", tag = "datasets", params(DatasetParams),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
async fn code_view(ctx: Ctx, Params(p): Params<DatasetParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.code_view(&name).await?)
}

/// A code update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeUpdate {
    dataset_name: Option<String>,
    dataset_id: Option<String>,
    /// The new component: s3://<bucket>/<key>.wasm.
    artifact_file_s3_link: String,
    /// Customer (default) or LetsData.
    artifact_file_s3_link_resource_location: Option<String>,
}

/// `datasets code update`: copies, builds and activates a new implementation. A build that
/// fails answers 422 (the dataset keeps its current code).
#[utoipa::path(post, path = "/dataset/code", tag = "datasets", request_body = CodeUpdate,
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
async fn code_update(ctx: Ctx, Body(b): Body<CodeUpdate>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    let outcome = ctx
        .engine
        .update_code(
            &name,
            &b.artifact_file_s3_link,
            b.artifact_file_s3_link_resource_location.as_deref(),
        )
        .await?;
    if let Some(error) = outcome.error {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CodeUpdateFailed",
            format!("code update of dataset {name:?} failed; it keeps its current code: {error}"),
        ));
    }
    ok(&ctx.engine.code_view(&name).await?)
}

/// A compute update; absent settings keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComputeUpdate {
    dataset_name: Option<String>,
    dataset_id: Option<String>,
    concurrency: Option<u32>,
    timeout_in_seconds: Option<u32>,
    memory_limit_in_megabytes: Option<u32>,
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    log_level: Option<String>,
    /// LAMBDA_AND_SAGEMAKER: the endpoint's inferences at once.
    sagemaker_endpoint_concurrency: Option<u32>,
    /// LAMBDA_AND_SAGEMAKER: the endpoint's memory.
    sagemaker_memory_limit_in_megabytes: Option<u32>,
}

/// `datasets compute update` (also while the dataset is processing).
#[utoipa::path(post, path = "/dataset/compute", tag = "datasets", request_body = ComputeUpdate,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn compute_update(ctx: Ctx, Body(b): Body<ComputeUpdate>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    let update = letsdata_engine::ComputeUpdate {
        concurrency: b.concurrency,
        timeout_in_seconds: b.timeout_in_seconds,
        memory_limit_in_megabytes: b.memory_limit_in_megabytes,
        log_level: b.log_level,
        sagemaker_endpoint_concurrency: b.sagemaker_endpoint_concurrency,
        sagemaker_memory_limit_in_megabytes: b.sagemaker_memory_limit_in_megabytes,
    };
    ok(&ctx.engine.update_compute(&name, &update).await?)
}

/// A page of a dataset's tasks.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TasksListParams {
    #[param(required = false)]
    dataset_name: Option<String>,
    #[param(required = false)]
    dataset_id: Option<String>,
    /// CREATED, PROCESSING, RERUN, COMPLETED or ERRORED.
    #[param(required = false)]
    task_status: Option<String>,
    /// Tasks per page, 1 to 10000 (default 100).
    #[param(required = false, minimum = 1, maximum = 10000)]
    limit: Option<u64>,
    /// The nextToken of the page before.
    #[param(required = false)]
    next_token: Option<String>,
}

/// `tasks list`: a page of the dataset's tasks in manifest order.
#[utoipa::path(get, path = "/tasks/list", tag = "tasks", params(TasksListParams),
    responses((status = 200, body = TasksPage), (status = "4XX", body = ErrorBody)))]
async fn tasks_list(ctx: Ctx, Params(p): Params<TasksListParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let status = p
        .task_status
        .map(|s| {
            s.parse::<TaskStatus>()
                .map_err(|e| ApiError::bad_request("InvalidParameters", format!("taskStatus: {e}")))
        })
        .transpose()?;
    // Written from the stored rows without decoding each task (the same text).
    let page = ctx
        .engine
        .tasks_json_page(&name, status, p.next_token.as_deref(), page_size(p.limit)?)
        .await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<T> {
        tasks: T,
        next_token: Option<String>,
    }
    ok(&Page {
        tasks: page.tasks,
        next_token: page.next.map(|n| n.to_string()),
    })
}

/// A task of a dataset.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TaskParams {
    #[param(required = false)]
    dataset_name: Option<String>,
    #[param(required = false)]
    dataset_id: Option<String>,
    task_id: String,
}

/// `tasks view`: status, progress, checkpoint, last error, execution logs.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(TaskParams),
    responses((status = 200, body = Task), (status = "4XX", body = ErrorBody)))]
async fn task_view(ctx: Ctx, Params(p): Params<TaskParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.task(&name, &task_id(&p.task_id)?).await?)
}

/// Tasks to stop.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StopRequest {
    dataset_name: Option<String>,
    dataset_id: Option<String>,
    /// Only these tasks (the dataset goes on processing); default: all.
    task_ids: Option<Vec<String>>,
}

/// `tasks stop`: the tasks checkpoint and end ERRORED (they can be redriven later); answers
/// once none of them runs.
#[utoipa::path(post, path = "/tasks/stop", tag = "tasks", request_body = StopRequest,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn tasks_stop(ctx: Ctx, Body(b): Body<StopRequest>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    let ids = task_ids(b.task_ids)?;
    ok(&ctx.engine.stop(&name, ids.as_deref()).await?)
}

/// `tasks redrive view`: the dataset's redrive requests and their workflow steps.
#[utoipa::path(get, path = "/tasks/redrive", tag = "tasks", params(DatasetParams),
    responses((status = 200, body = Vec<Object>), (status = "4XX", body = ErrorBody)))]
async fn redrive_view(ctx: Ctx, Params(p): Params<DatasetParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    ok(&ctx.engine.dataset(&name).await?.redrive_workflows)
}

/// A redrive.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedriveRequest {
    dataset_name: Option<String>,
    dataset_id: Option<String>,
    /// Only these ERRORED tasks; default: every ERRORED task.
    task_ids: Option<Vec<String>>,
    /// Reset the tasks' checkpoints and replace their earlier output and error objects.
    #[serde(default)]
    restart_from_beginning: bool,
}

/// `tasks redrive`: queues the ERRORED tasks again (from their checkpoints); workers run them.
#[utoipa::path(post, path = "/tasks/redrive", tag = "tasks", request_body = RedriveRequest,
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn redrive_create(ctx: Ctx, Body(b): Body<RedriveRequest>) -> ApiResult<Response> {
    ctx.require(Scope::Operate)?;
    let name = ctx
        .dataset_name(b.dataset_name.as_deref(), b.dataset_id.as_deref())
        .await?;
    let ids = task_ids(b.task_ids)?;
    ok(&ctx
        .engine
        .redrive(&name, ids.as_deref(), b.restart_from_beginning)
        .await?)
}

/// A page of a dataset's error objects.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ErrorsListParams {
    #[param(required = false)]
    dataset_name: Option<String>,
    #[param(required = false)]
    dataset_id: Option<String>,
    /// Only this task's error objects.
    #[param(required = false)]
    task_id: Option<String>,
    /// Objects per page, 1 to 10000 (default 100).
    #[param(required = false, minimum = 1, maximum = 10000)]
    limit: Option<u64>,
    #[param(required = false)]
    next_token: Option<String>,
}

/// `errors list`: the error objects (per task, with record counts), a page at a time.
#[utoipa::path(get, path = "/errors/list", tag = "errors", params(ErrorsListParams),
    responses((status = 200, body = ErrorObjectsPage), (status = "4XX", body = ErrorBody)))]
async fn errors_list(ctx: Ctx, Params(p): Params<ErrorsListParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let task = p.task_id.as_deref().map(task_id).transpose()?;
    let objects = ctx.engine.error_objects(&name, task.as_ref()).await?;
    ok(&objects
        .page(p.next_token.as_deref(), page_size(p.limit)?)
        .await?)
}

/// `errors view`: a task's error records (user data, as archived).
#[utoipa::path(get, path = "/errors", tag = "errors", params(TaskParams),
    responses((status = 200, body = Vec<Object>), (status = "4XX", body = ErrorBody)))]
async fn errors_view(ctx: Ctx, Params(p): Params<TaskParams>) -> ApiResult<Response> {
    ctx.require(Scope::Data)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let records = ctx
        .engine
        .error_records(&name, &task_id(&p.task_id)?)
        .await?;
    Ok(axum::Json(records).into_response())
}

/// `logs view`: a task's log, as text.
#[utoipa::path(get, path = "/logs", tag = "logs", params(TaskParams),
    responses((status = 200, body = String, content_type = "text/plain; charset=utf-8"),
              (status = "4XX", body = ErrorBody)))]
async fn logs_view(ctx: Ctx, Params(p): Params<TaskParams>) -> ApiResult<Response> {
    ctx.require(Scope::Logs)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let text = ctx.engine.task_log(&name, &task_id(&p.task_id)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Metrics of a dataset, a page of minutes at a time.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    #[param(required = false)]
    dataset_name: Option<String>,
    #[param(required = false)]
    dataset_id: Option<String>,
    /// Minutes per page, 1 to 10000 (default 100).
    #[param(required = false, minimum = 1, maximum = 10000)]
    limit: Option<u64>,
    #[param(required = false)]
    next_token: Option<String>,
}

/// `metrics view`: per minute, tasks completed and errored, success rate, latency, records
/// and bytes.
#[utoipa::path(get, path = "/metrics", tag = "metrics", params(MetricsParams),
    responses((status = 200, body = DatasetMetricsPage), (status = "4XX", body = ErrorBody)))]
async fn metrics_view(ctx: Ctx, Params(p): Params<MetricsParams>) -> ApiResult<Response> {
    ctx.require(Scope::Read)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let metrics = ctx.engine.metrics(&name).await?;
    let (metrics, next) = metrics.page(p.next_token.as_deref(), page_size(p.limit)?)?;
    let mut value = serde_json::to_value(&metrics)
        .map_err(|e| ApiError::internal(format!("cannot encode the metrics: {e}")))?;
    value["nextToken"] = next.into();
    Ok(masked(StatusCode::OK, value))
}

/// Documents a dataset wrote.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OutputParams {
    #[param(required = false)]
    dataset_name: Option<String>,
    #[param(required = false)]
    dataset_id: Option<String>,
    /// At most this many documents, 1 to 100000 (default 1000).
    #[param(required = false, minimum = 1, maximum = 100000)]
    limit: Option<u64>,
}

/// `output read`: the documents the dataset wrote (user data).
#[utoipa::path(get, path = "/output", tag = "output", params(OutputParams),
    responses((status = 200, body = Vec<Object>), (status = "4XX", body = ErrorBody)))]
async fn output_read(ctx: Ctx, Params(p): Params<OutputParams>) -> ApiResult<Response> {
    ctx.require(Scope::Data)?;
    let name = ctx
        .dataset_name(p.dataset_name.as_deref(), p.dataset_id.as_deref())
        .await?;
    let limit = bounded_limit(p.limit, 1000, MAX_OUTPUT)?;
    let docs: Vec<Value> = ctx.engine.read_output(&name, limit).await?;
    Ok(axum::Json(docs).into_response())
}
