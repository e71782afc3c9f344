//! Property test of the request decoding: arbitrary methods, paths, query strings, headers and
//! bodies, against the whole application over a real store, never get a 5xx, never panic,
//! and every error is the JSON error body.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request};
use letsdata_engine::{Engine, EngineSettings};
use letsdata_store::{NewApiKey, Scope};
use proptest::prelude::*;
use std::sync::Arc;
use tower::ServiceExt;

const OPERATIONS: &[&str] = &[
    "/api/v1/dataset",
    "/api/v1/dataset/create",
    "/api/v1/dataset/list",
    "/api/v1/dataset/delete",
    "/api/v1/dataset/descale",
    "/api/v1/dataset/freeze",
    "/api/v1/dataset/code",
    "/api/v1/dataset/compute",
    "/api/v1/tasks/list",
    "/api/v1/tasks",
    "/api/v1/tasks/stop",
    "/api/v1/tasks/redrive",
    "/api/v1/errors/list",
    "/api/v1/errors",
    "/api/v1/logs",
    "/api/v1/metrics",
    "/api/v1/output",
    "/api/v1/whoami",
    "/api/v1/../dataset",
    "/api/v1/dataset/%00",
    "/nope",
];

const PARAMETERS: &[&str] = &[
    "datasetName",
    "datasetId",
    "taskId",
    "taskStatus",
    "limit",
    "nextToken",
    "color",
];

fn query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-zA-Z0-9]{0,12}",
        Just("..%2F..".to_string()),
        Just("%00".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("%ZZ".to_string()),
        "\\PC{0,8}",
    ];
    let pairs =
        prop::collection::vec((prop::sample::select(PARAMETERS), value), 1..4).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        });
    prop_oneof![1 => Just(String::new()), 2 => pairs]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        Just(b"{}".to_vec()),
        Just(br#"{"datasetName": "Nope"}"#.to_vec()),
        Just(br#"{"datasetName": "Nope", "taskIds": ["a", "\u0000"], "x": 1}"#.to_vec()),
        Just(br#"{"datasetId": null, "datasetName": 7}"#.to_vec()),
        Just(br#"{"datasetName": "P", "readConnector": []}"#.to_vec()),
        Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,64}".prop_map(String::into_bytes),
    ]
}

#[test]
fn no_request_gets_a_5xx_or_a_non_json_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (app, key) = runtime.block_on(async {
        let engine = Engine::open_with(home.path(), EngineSettings::default())
            .await
            .unwrap();
        let tenant = engine.store().create_tenant("fuzz").await.unwrap();
        let key = NewApiKey::generate(&tenant.tenant_id, None, &Scope::ALL, None).unwrap();
        engine.store().insert_api_key(&key).await.unwrap();
        let config = letsdata_server::ServerConfig {
            max_body_bytes: 4096,
            ..Default::default()
        };
        (letsdata_server::app(Arc::new(engine), &config), key.secret)
    });
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE];
    let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
    proptest!(ProptestConfig::with_cases(1000), |(
        method in prop::sample::select(methods.to_vec()),
        path in prop::sample::select(OPERATIONS),
        query in query(),
        body in body(),
        authorized in prop::bool::weighted(0.9),
        json in any::<bool>(),
    )| {
        let uri = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let Ok(mut request) = Request::builder().method(method.clone()).uri(&uri).body(Body::from(body.clone())) else {
            // Not a request a client can send (an invalid URI).
            return Ok(());
        };
        if authorized {
            request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        if json {
            request.headers_mut().insert("content-type", "application/json".parse().unwrap());
        }
        let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
        let status = response.status();
        seen.borrow_mut().insert(status.as_u16());
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        prop_assert!(
            !status.is_server_error(),
            "{method} {uri} ({} body bytes): {status} {}",
            body.len(),
            String::from_utf8_lossy(&bytes)
        );
        if status.is_client_error() {
            let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            prop_assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{method} {uri}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    });
    // The cases reached every layer: authentication, routing, decoding and the handlers.
    let seen = seen.into_inner();
    for status in [200, 400, 401, 404, 405] {
        assert!(seen.contains(&status), "no {status} among {seen:?}");
    }
}
