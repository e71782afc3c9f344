//! Request decoding: query parameters and JSON bodies, refused with a JSON 4xx that says what
//! was wrong (an unknown parameter or field, a value of the wrong type, a body too large).

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Query parameters decoded into `T` (which refuses unknown ones).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        decode_query(parts.uri.query().unwrap_or("")).map(Params)
    }
}

/// Decodes a query string (also used by the fuzz test of the decoding).
pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query).map_err(|e| {
        ApiError::bad_request(
            "InvalidParameters",
            format!("the query parameters are not valid: {e}"),
        )
    })
}

/// A JSON body decoded into `T` (which refuses unknown fields).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(request, state).await?;
        decode_json(&bytes).map(Body)
    }
}

/// Decodes a JSON body (also used by the fuzz test of the decoding).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "InvalidBody",
            format!("the request body is not the JSON this operation takes: {e}"),
        )
    })
}

/// The body's bytes, within the server's size limit, when it is JSON (or untyped).
pub async fn body_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<bytes::Bytes, ApiError> {
    if let Some(content_type) = request.headers().get(axum::http::header::CONTENT_TYPE) {
        let json = content_type
            .to_str()
            .ok()
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| {
                let t = t.trim();
                t.eq_ignore_ascii_case("application/json") || t.ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
    }
    bytes::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    "PayloadTooLarge",
                    "the request body is over the server's limit (letsdata server --maxBodyBytes)",
                )
            } else {
                ApiError::new(
                    status,
                    "InvalidBody",
                    format!("cannot read the request body: {}", rejection.body_text()),
                )
            }
        })
}

/// Checks a name or id given in a request: 1 to 256 characters, no control characters (NUL
/// included), no path separators or `..`.
pub fn check_identifier(what: &str, value: &str) -> Result<(), ApiError> {
    let bad = value.is_empty()
        || value.len() > 256
        || value
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        || value.contains("..");
    if bad {
        return Err(ApiError::bad_request(
            "InvalidParameters",
            format!(
                "{what} {value:?} is not valid: expected 1 to 256 characters without control \
                 characters, '/', '\\' or '..'"
            ),
        ));
    }
    Ok(())
}
