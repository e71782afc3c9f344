//! Shared helpers of the AWS emulator tests.
// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use letsdata_connectors::aws::{AwsClients, AwsSettings, RetryPolicy};
use letsdata_connectors::s3::S3Settings;

/// The emulator's endpoint. Without one the test fails, unless LETSDATA_SKIP_S3_TESTS asks
/// to skip it (then `None`, with a note): a missing emulator never passes silently.
pub fn endpoint() -> Option<String> {
    match std::env::var("LETSDATA_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ if std::env::var("LETSDATA_SKIP_S3_TESTS").is_ok() => {
            eprintln!(
                "skipped: LETSDATA_TEST_S3_ENDPOINT is not set (scripts/test.sh starts moto_server and sets it)"
            );
            None
        }
        _ => panic!(
            "LETSDATA_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh (it starts an AWS emulator), or set LETSDATA_SKIP_S3_TESTS=1"
        ),
    }
}

/// Clients for the emulator (see [`endpoint`]).
pub async fn clients() -> Option<AwsClients> {
    let endpoint = endpoint()?;
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    let settings = AwsSettings {
        endpoint: Some(endpoint),
        region: Some("us-east-1".to_string()),
        access_key_id: Some(var("AWS_ACCESS_KEY_ID", "testing")),
        secret_access_key: Some(var("AWS_SECRET_ACCESS_KEY", "testing")),
        session_token: None,
        retry: RetryPolicy::default(),
    };
    Some(AwsClients::connect(&settings).await)
}

/// A random suffix for resource names.
pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// S3 settings for the emulator at `endpoint` (path-style, its test credentials).
pub fn s3_settings(endpoint: String) -> S3Settings {
    S3Settings {
        endpoint,
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
        path_style: true,
        grant: None,
    }
}
