//! Authentication (a Bearer API key on every API request), the caller's tenant-scoped engine,
//! scopes, and the audit log of mutations.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::check_identifier;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use letsdata_engine::Engine;
use letsdata_store::{AuditEntry, Caller, Scope};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a key the store accepted is trusted without asking it again: a revoked key is
/// refused within this time (the store is asked once per key and period, not once per
/// request).
pub const KEY_TRUST: Duration = Duration::from_millis(500);

/// Callers of the keys seen in the last [`KEY_TRUST`], by the key's hash (never the secret).
/// Unknown keys are not kept: a key made a moment ago works at once.
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<String, (Instant, Caller)>>);

impl KeyCache {
    /// Past this many keys, expired entries are dropped before another is added.
    const PRUNE_AT: usize = 4096;

    async fn caller(&self, engine: &Engine, secret: &str) -> ApiResult<Caller> {
        let hash = letsdata_store::hash_api_key(secret);
        let now = Instant::now();
        if let Some((at, caller)) = self.lock().get(&hash)
            && now.duration_since(*at) < KEY_TRUST
        {
            return Ok(caller.clone());
        }
        let caller = engine.store().authenticate(secret).await?.ok_or_else(|| {
            ApiError::unauthorized("the API key is not valid: unknown or revoked")
        })?;
        let mut entries = self.lock();
        if entries.len() >= Self::PRUNE_AT {
            entries.retain(|_, (at, _)| now.duration_since(*at) < KEY_TRUST);
        }
        entries.insert(hash, (now, caller.clone()));
        Ok(caller)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Caller)>> {
        self.0.lock().expect("key cache lock poisoned")
    }
}

/// What a mutation was done to, set by its handler for the audit log.
#[derive(Debug, Clone, Default)]
struct AuditTarget(Arc<Mutex<Option<String>>>);

/// Authenticates the request's key; records mutations (POST) in the audit log once answered.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = bearer(&request)?;
    let caller = state.keys.caller(&state.engine, secret).await?;
    let mutation = request.method() == Method::POST;
    let action = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| {
            p.as_str()
                .trim_start_matches(crate::API_PREFIX)
                .trim_start_matches('/')
        })
        .unwrap_or_else(|| request.uri().path())
        .to_string();
    let target = AuditTarget::default();
    request.extensions_mut().insert(caller.clone());
    request.extensions_mut().insert(target.clone());
    let response = next.run(request).await;
    if mutation {
        let entry = AuditEntry {
            at: letsdata_model::time::now_millis(),
            tenant_id: caller.tenant.tenant_id.clone(),
            actor: caller.key.api_key_id.clone(),
            user_id: caller.key.user_id.clone(),
            action,
            target: target
                .0
                .lock()
                .expect("audit target lock poisoned")
                .take()
                .unwrap_or_default(),
            outcome: response.status().as_u16().to_string(),
        };
        if let Err(e) = state.engine.store().audit(&entry).await {
            tracing::error!(error = %e, action = %entry.action, "cannot write the audit log");
        }
    }
    Ok(response)
}

fn bearer(request: &Request) -> ApiResult<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "no API key: send the header Authorization: Bearer <apiKey> (letsdata admin \
                 apikeys create makes one)",
            )
        })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be: Bearer <apiKey>"))
}

/// A request's caller, and the engine acting for its tenant.
pub struct Ctx {
    pub engine: Engine,
    pub caller: Caller,
    target: AuditTarget,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("no API key"))?;
        let target = parts
            .extensions
            .get::<AuditTarget>()
            .cloned()
            .unwrap_or_default();
        let engine = state.engine.for_tenant(caller.tenant.clone())?;
        Ok(Self {
            engine,
            caller,
            target,
        })
    }
}

impl Ctx {
    /// Refuses the request (403) unless the caller's key has `scope`.
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.caller.key.allows(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "API key {} lacks the scope {scope} this operation needs (it has: {}); ask the \
                 operator for a key with it (letsdata admin apikeys create --scopes ...)",
                self.caller.key.api_key_id,
                self.caller
                    .key
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// The name of the dataset a request addresses, by `datasetName` or `datasetId` (exactly
    /// one). An id of another tenant's dataset is not found, as an unknown one is.
    pub async fn dataset_name(
        &self,
        dataset_name: Option<&str>,
        dataset_id: Option<&str>,
    ) -> ApiResult<String> {
        let name = match (dataset_name, dataset_id) {
            (Some(name), None) => {
                check_identifier("datasetName", name)?;
                name.to_string()
            }
            (None, Some(id)) => {
                check_identifier("datasetId", id)?;
                self.engine.dataset_by_id(id).await?.dataset_name
            }
            _ => {
                return Err(ApiError::bad_request(
                    "InvalidParameters",
                    "name the dataset with datasetName or datasetId (one of them)",
                ));
            }
        };
        self.audit_target(&name);
        Ok(name)
    }

    /// Names what the request changes, for the audit log.
    pub fn audit_target(&self, target: &str) {
        *self.target.0.lock().expect("audit target lock poisoned") = Some(target.to_string());
    }
}
