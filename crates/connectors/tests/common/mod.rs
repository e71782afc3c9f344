//! Shared helpers of the AWS emulator tests.

use letsdata_connectors::aws::{AwsClients, AwsSettings, RetryPolicy};

/// Clients for the emulator, or `None` (with a note) when no emulator is configured.
pub async fn clients() -> Option<AwsClients> {
    let Some(endpoint) = std::env::var("LETSDATA_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        eprintln!(
            "skipped: LETSDATA_TEST_S3_ENDPOINT is not set (scripts/test.sh starts moto_server and sets it)"
        );
        return None;
    };
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
