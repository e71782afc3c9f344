//! The API's errors: a status and a JSON body `{"code", "message", "problems"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use letsdata_engine::EngineError;
use letsdata_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error response's body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What kind of error, for programs: `InvalidConfig`, `DatasetNotFound`, `Unauthorized`, …
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// For an invalid dataset configuration: every problem, with its JSON path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemBody>,
}

/// One problem of a dataset configuration.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ProblemBody {
    /// JSON path of the offending field (`$` for the document).
    pub path: String,
    pub message: String,
}

/// An error the API answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
                problems: Vec::new(),
            },
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"letsdata\""),
            );
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::InvalidJson(_) => Self::bad_request("InvalidJson", message),
            EngineError::Config(config) => Self {
                status: StatusCode::BAD_REQUEST,
                body: ErrorBody {
                    code: "InvalidConfig".into(),
                    message,
                    problems: config
                        .problems
                        .into_iter()
                        .map(|p| ProblemBody {
                            path: p.path,
                            message: p.message,
                        })
                        .collect(),
                },
            },
            EngineError::DatasetNotFound(_) => Self::not_found("DatasetNotFound", message),
            EngineError::TaskNotFound { .. } => Self::not_found("TaskNotFound", message),
            EngineError::Refused(_) => Self::new(StatusCode::CONFLICT, "Refused", message),
            EngineError::Initialization { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "InitializationFailed",
                message,
            ),
            EngineError::Store(store) => store.into(),
            EngineError::Connector(_) => Self::new(StatusCode::BAD_GATEWAY, "Connector", message),
            EngineError::Environment { .. } | EngineError::Corrupt(_) => Self::internal(message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::DatasetExists(_) | StoreError::Exists { .. } => {
                Self::new(StatusCode::CONFLICT, "AlreadyExists", message)
            }
            StoreError::Conflict(_) => Self::new(StatusCode::CONFLICT, "Conflict", message),
            StoreError::Invalid(_) => Self::bad_request("Invalid", message),
            StoreError::TaskNotFound(_) => Self::not_found("TaskNotFound", message),
            e if e.is_retryable() => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", message)
            }
            _ => Self::internal(message),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
