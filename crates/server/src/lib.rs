//! letsdata-server: `letsdata server`, the REST API over the engine.
//!
//! ```text
//! request ─► request id, log line, metrics ─► /healthz /readyz /metrics /openapi.json
//!                                          └► /api/v1/*: Bearer key ─► store.authenticate
//!                                              (a known key's caller kept for 500 ms)
//!                                              ─► the caller's tenant-scoped engine
//!                                              ─► the operation (one per CLI command)
//!                                              ─► POST: the audit log
//! ```
//!
//! Every operation answers the JSON the CLI prints for the same command; errors are
//! `{"code", "message", "problems"}` with a 4xx or 5xx status. Tenants never see each other's
//! datasets: the engine a request gets names only its tenant's, so another tenant's dataset
//! is "not found" whether named or addressed by id.

mod api;
mod auth;
mod console;
pub mod error;
pub mod extract;
mod observe;
mod schema;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use error::ApiError;
use letsdata_engine::Engine;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// Where the operations are.
pub const API_PREFIX: &str = "/api/v1";
/// Items per page of a list without `limit`.
pub const DEFAULT_PAGE: usize = 100;
/// The most items a page may ask for.
pub const MAX_PAGE: usize = 10_000;
/// The most documents `output` reads at once.
pub const MAX_OUTPUT: usize = 100_000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine (of the local tenant); requests act through [`Engine::for_tenant`].
    pub engine: Arc<Engine>,
    metrics: Arc<observe::Metrics>,
    keys: Arc<auth::KeyCache>,
}

/// How the server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// PEM certificate chain and private key: HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The largest request body accepted (a dataset configuration with an inline manifest can
    /// be large).
    pub max_body_bytes: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            max_body_bytes: 16 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "letsdata",
        description = "Run LetsData datasets: the API behind the letsdata CLI. Every operation \
                       takes an API key (Authorization: Bearer <apiKey>) and answers the JSON the \
                       CLI prints for the same command.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("apiKey" = [])),
    tags(
        (name = "datasets", description = "datasets create, list, view, delete, descale, freeze, code, compute"),
        (name = "tasks", description = "tasks list, view, stop, redrive"),
        (name = "errors", description = "error records"),
        (name = "logs", description = "task logs"),
        (name = "metrics", description = "per-minute dataset metrics"),
        (name = "output", description = "the documents a dataset wrote"),
        (name = "keys", description = "the caller's key"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("an API key from `letsdata admin apikeys create`"))
                    .build(),
            ),
        );
    }
}

/// The API's routes and its OpenAPI document (3.1), generated from the handlers.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_PREFIX, api::routes())
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    (router, openapi)
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application: the API (authenticated), the web console, health, readiness,
/// metrics and the OpenAPI document.
pub fn app(engine: Arc<Engine>, config: &ServerConfig) -> Router {
    let state = AppState {
        engine,
        metrics: Arc::new(observe::Metrics::default()),
        keys: Arc::new(auth::KeyCache::default()),
    };
    let (api, openapi) = api();
    let openapi = Arc::new(openapi);
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    Router::new()
        .merge(api)
        .merge(console::routes())
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(ready))
        .route("/metrics", axum::routing::get(observe::prometheus))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    match state
        .engine
        .store()
        .tenant_by_id(&state.engine.tenant().tenant_id)
        .await
    {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            format!("the store does not answer: {e}"),
        )
        .into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::not_found(
        "NoSuchOperation",
        format!("no operation at {path:?}; /openapi.json lists them"),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "{method} is not an operation of {}; /openapi.json lists them",
            uri.path()
        ),
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("the server failed while answering; the failure is in its log")
        .into_response()
}

/// Serves until `shutdown` resolves; then stops accepting connections and waits up to
/// `config.shutdown_grace` for requests in flight. `on_listening` hears the address once
/// bound (`--listen 127.0.0.1:0` picks a free port).
pub async fn serve(
    engine: Arc<Engine>,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> anyhow::Result<()> {
    let app = app(engine, &config).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let grace = config.shutdown_grace;
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(grace));
    });
    let listening = handle.clone();
    tokio::spawn(async move {
        if let Some(address) = listening.listening().await {
            on_listening(address);
        }
    });
    match &config.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot load the TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            axum_server::bind_rustls(config.listen, tls)
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::bind(config.listen)
                .handle(handle)
                .serve(app)
                .await
        }
    }
    .map_err(|e| anyhow::anyhow!("cannot serve on {}: {e}", config.listen))
}
