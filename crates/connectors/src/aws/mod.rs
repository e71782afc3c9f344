//! What the AWS connectors ([`crate::kinesis`], [`crate::sqs`], [`crate::dynamodb`],
//! [`crate::dynamodb_streams`]) and the vectors engine's Customer endpoints ([`sagemaker`]) share: the SDK configuration, one retry layer, failure
//! classification, DynamoDB attribute values and the shard reader of Kinesis and DynamoDB
//! Streams.
//!
//! [`AwsSettings::from_env`] reads where to connect: `LETSDATA_AWS_ENDPOINT` (one endpoint for
//! every service, as with buckets; an emulator such as moto_server in tests) or, when unset, the
//! SDK's own endpoint resolution for the region (which reads `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>`; buckets read them too, [`endpoint_from_env`]). Credentials and
//! region come from the usual `AWS_*` variables or the SDK's default chain, which does not wait
//! for the EC2 instance metadata service off EC2 (`credentials.rs`). [`AwsClients`] builds the
//! SDK configuration once and hands out one small client per service; [`clients`] keeps one per
//! region in the [`ConnectorContext`].
//!
//! # Failures and retries
//!
//! The SDK's own retries are switched off so that there is one retry layer, this one, whose
//! policy is data ([`RetryPolicy`]). Every call is classified ([`FailureKind`]):
//!
//! * throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`, ...), HTTP
//!   429 and 5xx, timeouts and connection failures are [`FailureKind::Transient`] and retried
//!   with bounded exponential back-off; when the attempts run out the call fails with a
//!   transient [`ConnectorError::Aws`], and the task is retried later from its checkpoint;
//! * every call attempt times out after 60 s (connections after 5 s), which counts as transient;
//! * other 4xx answers (missing resource, access denied, validation) are [`FailureKind::User`]
//!   and not retried;
//! * a call that found no credentials is [`FailureKind::User`], not retried, and fails with
//!   [`ConnectorError::NoAwsCredentials`], which says what to set;
//! * anything else is [`FailureKind::Internal`].
//!
//! Writers add a third outcome: a record the destination cannot take because of its content
//! (too large, missing key, rejected by the service as the sender's fault) is not an error of
//! the call but a [`Rejected`] entry in the [`BatchReport`], which the caller turns into an
//! error record. Entries that failed for a retryable reason (partial failures of a batch call)
//! are retried with the same back-off, and once the attempts run out the whole call fails.
//!
//! Delivery is at least once: a batch retried after a timeout may have been written already.

pub mod attribute_value;
mod credentials;
mod endpoint;
mod grant;
pub mod sagemaker;
pub(crate) mod shard;

pub use grant::{Access, GrantCredentials, GrantProvider};

pub use crate::sink::Rejected;
use crate::{ConnectorContext, ConnectorError, FailureKind};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use letsdata_model::{ConnectorResource, Problem};
use std::future::Future;
use std::time::{Duration, SystemTime};

pub use endpoint::{AWS_ENDPOINT_ENV, EnvEndpoint, endpoint_from_env};

/// Longest wait for a connection to a service endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one call may take before it counts as a (transient) timeout and is retried; above
/// the 20 s of an SQS long poll.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where and as whom to connect to the AWS services.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// One endpoint URL for every service (`LETSDATA_AWS_ENDPOINT`); `None` lets the SDK
    /// resolve the real AWS endpoint of each service for the region.
    pub endpoint: Option<String>,
    /// The region; `None` lets the SDK's default chain (environment, profile) decide.
    pub region: Option<String>,
    /// Static credentials; when absent the SDK's default credential chain is used.
    pub access_key_id: Option<String>,
    /// Secret of [`AwsSettings::access_key_id`].
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
}

impl AwsSettings {
    /// Reads `LETSDATA_AWS_ENDPOINT`, `AWS_REGION`/`AWS_DEFAULT_REGION` and the AWS credential
    /// variables. With an endpoint (also the SDK's `AWS_ENDPOINT_URL`) and no region the region
    /// is `us-east-1`, as for buckets. `AWS_ENDPOINT_URL*` stay the SDK's to apply, service by
    /// service.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let configured = endpoint_from_env(None);
        let mut region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
        if configured.is_some() && region.is_none() {
            region = Some("us-east-1".to_string());
        }
        let endpoint = configured
            .filter(|e| e.variable == AWS_ENDPOINT_ENV)
            .map(|e| e.url);
        Self {
            endpoint,
            region,
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            retry: RetryPolicy::default(),
        }
    }

    /// Settings for one endpoint (an emulator) in `us-east-1`, credentials from the environment.
    pub fn for_endpoint(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            region: Some("us-east-1".to_string()),
            ..Self::from_env()
        }
    }
}

/// The SDK configuration shared by all service clients; cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    config: SdkConfig,
    retry: RetryPolicy,
}

impl AwsClients {
    /// Loads the SDK configuration for these settings (reads profile files when credentials or
    /// region are not given; makes no service call).
    pub async fn connect(settings: &AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            loader = loader.credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                key.clone(),
                secret.clone(),
                settings.session_token.clone(),
                None,
                "letsdata-env",
            ));
        } else if credentials::skip_default_chain_here() {
            // Only the instance metadata service is left, and this is no EC2 instance: fail at
            // once rather than after its time-outs. Its region lookup would time out as well.
            loader = loader.credentials_provider(credentials::NoCredentialSource);
            if settings.region.is_none() {
                loader = loader.region(None::<Region>);
            }
        }
        Self {
            config: loader.load().await,
            retry: settings.retry,
        }
    }

    /// The loaded SDK configuration, for clients of other services.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The Kinesis client.
    pub fn kinesis(&self) -> crate::kinesis::KinesisClient {
        crate::kinesis::KinesisClient::new(aws_sdk_kinesis::Client::new(&self.config), self.retry)
    }

    /// The SQS client.
    pub fn sqs(&self) -> crate::sqs::SqsClient {
        crate::sqs::SqsClient::new(aws_sdk_sqs::Client::new(&self.config), self.retry)
    }

    /// The DynamoDB client.
    pub fn dynamodb(&self) -> crate::dynamodb::DynamoDbClient {
        crate::dynamodb::DynamoDbClient::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            self.retry,
        )
    }

    /// The SageMaker Runtime client (the vectors engine's Customer endpoints).
    pub fn sagemaker_runtime(&self) -> sagemaker::SagemakerRuntime {
        sagemaker::SagemakerRuntime::new(
            aws_sdk_sagemakerruntime::Client::new(&self.config),
            self.retry,
        )
    }

    /// The DynamoDB Streams client.
    pub fn dynamodb_streams(&self) -> crate::dynamodb_streams::DynamoDbStreamsClient {
        crate::dynamodb_streams::DynamoDbStreamsClient::new(
            aws_sdk_dynamodbstreams::Client::new(&self.config),
            self.retry,
        )
    }
}

/// The clients for `region` as `access` reaches the service, made once per process:
/// `LETSDATA_AWS_ENDPOINT` when set (else the SDK's endpoint resolution), the AWS credential
/// chain, and for an access grant the role's credentials (assumed through STS with this chain's
/// identity).
pub async fn clients(
    ctx: &ConnectorContext,
    region: &str,
    access: &Access,
) -> Result<AwsClients, ConnectorError> {
    let (key, grant) = match access {
        Access::Own => (region.to_string(), None),
        Access::Grant { role_arn } => (
            format!("{region} as {role_arn}"),
            Some(ctx.grant(role_arn).await?),
        ),
    };
    ctx.client(&key, || async {
        let mut settings = AwsSettings::from_env();
        settings.region = Some(region.to_string());
        let mut aws = AwsClients::connect(&settings).await;
        if let Some(grant) = grant {
            aws.config = aws
                .config
                .into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(GrantProvider(
                        grant,
                    )),
                )
                .build();
        }
        Ok(aws)
    })
    .await
}

/// Bounded exponential back-off for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Back-off before the first retry; doubled for each further retry.
    pub initial_backoff: Duration,
    /// Upper bound of one back-off.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 100 ms doubling up to 5 s: about 15 s of retrying at most.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retry at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The back-off before retry number `retry` (0-based): `initial * 2^retry` capped at
    /// `max_backoff`, of which the upper half is random ("equal jitter") so that throttled
    /// workers do not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let full = self
            .initial_backoff
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_backoff);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Where a shard reader starts (Kinesis and DynamoDB Streams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardStart {
    /// The oldest record still in the shard (`TRIM_HORIZON`).
    Earliest,
    /// Only records added after the iterator is taken (`LATEST`).
    Latest,
    /// The first record at or after this arrival time (`AT_TIMESTAMP`, Kinesis only).
    AtTimestamp(SystemTime),
    /// The record after this sequence number (`AFTER_SEQUENCE_NUMBER`): resuming from a
    /// checkpoint.
    AfterSequenceNumber(String),
}

/// What a batch call did with its input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Entries the service accepted.
    pub succeeded: usize,
    /// Entries not accepted because of their content, in input order.
    pub rejected: Vec<Rejected>,
}

impl BatchReport {
    pub(crate) fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.rejected.push(Rejected {
            index,
            reason: reason.into(),
        });
    }

    pub(crate) fn finish(mut self) -> Self {
        self.rejected.sort_by_key(|r| r.index);
        self
    }
}

/// Error codes that mean "try again later" whatever the HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerErrorException",
    "KMSThrottlingException",
    "LimitExceededException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ThrottledException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "TransactionInProgressException",
];

/// Whether an error code names a retryable condition.
pub(crate) fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code) || code.contains("Throttl")
}

/// Whether the call failed before it was sent because no credentials were found.
fn missing_credentials<E>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::DispatchFailure(d) => d.as_connector_error().is_some_and(|c| {
            let c: &(dyn std::error::Error + 'static) = c;
            credentials::is_missing(c)
        }),
        _ => false,
    }
}

/// Classifies a failed SDK call.
pub(crate) fn classify<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> FailureKind {
    match e {
        _ if missing_credentials(e) => FailureKind::User,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            FailureKind::Transient
        }
        SdkError::ConstructionFailure(_) => FailureKind::Internal,
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            if e.code().is_some_and(is_transient_code) || status == 429 || status >= 500 {
                FailureKind::Transient
            } else if (400..500).contains(&status) {
                FailureKind::User
            } else {
                FailureKind::Internal
            }
        }
        _ => FailureKind::Internal,
    }
}

/// Whether the call failed with this service error code.
pub(crate) fn has_code<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>, code: &str) -> bool {
    e.code() == Some(code)
}

/// Converts a failed SDK call into a [`ConnectorError::Aws`], or a
/// [`ConnectorError::NoAwsCredentials`] when it found no credentials.
pub(crate) fn sdk_error<E>(what: impl Into<String>, e: SdkError<E, HttpResponse>) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if missing_credentials(&e) {
        let endpoint = endpoint_from_env(None);
        return ConnectorError::NoAwsCredentials {
            what: what.into(),
            reason: credentials::missing_reason(
                endpoint
                    .as_ref()
                    .map(|e| (e.variable.as_str(), e.url.as_str())),
            ),
        };
    }
    let kind = classify(&e);
    let code = e.code().map(str::to_string);
    let message = match e.message() {
        Some(m) => match &code {
            Some(c) => format!("{c}: {m}"),
            None => m.to_string(),
        },
        None => error_chain(&e),
    };
    ConnectorError::Aws {
        what: what.into(),
        code,
        message,
        kind,
    }
}

/// An error and its sources, `: `-separated, without the `Debug` dumps of
/// `DisplayErrorContext` (`dispatch failure: io error: ... Connection refused (os error 111)`).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// An error made here rather than by the SDK (bad input, exhausted retries of entries).
pub(crate) fn aws_error(
    what: impl Into<String>,
    message: impl Into<String>,
    kind: FailureKind,
) -> ConnectorError {
    ConnectorError::Aws {
        what: what.into(),
        code: None,
        message: message.into(),
        kind,
    }
}

/// Runs `op` until it succeeds, fails with a non-transient error, or the policy's attempts
/// are used up; returns the last error then.
pub(crate) async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < policy.max_attempts && classify(&e) == FailureKind::Transient => {
                let wait = policy.backoff(attempt - 1);
                tracing::debug!(
                    what,
                    attempt,
                    code = e.code().unwrap_or("-"),
                    ?wait,
                    "transient AWS failure, retrying"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long initialization waits for a stream or table it created to become active.
pub(crate) const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// How messages name a resource: `Kinesis stream "clicks"`.
pub(crate) fn describe(kind: &str, resource: &ConnectorResource) -> String {
    format!("{kind} {:?}", resource.name)
}

/// The problem, if any, of a stream, queue or table that must exist: not found, or the check
/// itself failed. `path` is the field to fix.
pub(crate) fn existence_problem(
    path: &str,
    described: &str,
    region: &str,
    arn: &str,
    found: Result<bool, ConnectorError>,
) -> Option<Problem> {
    let message = match found {
        Ok(true) => return None,
        Ok(false) => format!(
            "the {described} does not exist in region {region}{}; create it first, or fix the name",
            if arn.is_empty() {
                String::new()
            } else {
                format!(" ({arn})")
            }
        ),
        Err(ConnectorError::NoAwsCredentials { reason, .. }) => {
            format!("cannot reach the {described} in region {region}: {reason}")
        }
        Err(e) => format!("cannot check the {described}: {e}"),
    };
    Some(Problem {
        path: path.to_string(),
        message,
    })
}

/// The failure of provisioning a `Customer` stream, queue or table that does not exist.
pub(crate) fn missing_customer_resource(described: &str) -> ConnectorError {
    ConnectorError::Aws {
        what: format!("the {described} does not exist"),
        code: Some("ResourceNotFoundException".into()),
        message:
            "create it, or fix the writeConnector (resourceLocation Customer resources must exist)"
                .into(),
        kind: FailureKind::User,
    }
}

/// Converts an SDK timestamp (the same smithy type in every service crate); `None` when it
/// does not fit a `SystemTime`.
pub(crate) fn system_time(t: &aws_sdk_kinesis::primitives::DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for retry in 0..10 {
            let full = Duration::from_millis(100 * (1 << retry)).min(Duration::from_secs(1));
            let b = p.backoff(retry);
            assert!(
                b >= full / 2 && b <= full,
                "retry {retry}: {b:?} vs {full:?}"
            );
        }
        assert!(p.backoff(1000) <= Duration::from_secs(1));
    }

    #[test]
    fn throttling_codes_are_transient() {
        assert!(is_transient_code("ProvisionedThroughputExceededException"));
        assert!(is_transient_code("ThrottlingException"));
        assert!(is_transient_code("SomeNewThrottlingCode"));
        assert!(!is_transient_code("ResourceNotFoundException"));
        assert!(!is_transient_code("ValidationException"));
    }

    /// A call that finds no credentials fails at once, as a user error saying what to set:
    /// the SDK's real error (identity resolution fails before anything is sent).
    #[tokio::test]
    async fn a_call_without_credentials_is_a_user_error_without_retries() {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(credentials::NoCredentialSource)
            .build();
        let kinesis = crate::kinesis::KinesisClient::new(
            aws_sdk_kinesis::Client::from_conf(config),
            RetryPolicy::default(),
        );
        let started = std::time::Instant::now();
        let e = kinesis.exists("clicks").await.expect_err("no credentials");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "retried: {:?}",
            started.elapsed()
        );
        assert_eq!(e.kind(), FailureKind::User);
        assert!(
            matches!(&e, ConnectorError::NoAwsCredentials { what, reason }
                if what.contains("\"clicks\"") && reason.starts_with("no AWS credentials were found")),
            "{e:?}"
        );
        let problem = existence_problem(
            "readConnector.streamArn",
            "Kinesis stream \"clicks\"",
            "us-east-1",
            "",
            Err(e),
        )
        .expect("a problem");
        assert!(
            problem
                .message
                .starts_with("cannot reach the Kinesis stream \"clicks\" in region us-east-1: no AWS credentials were found"),
            "{problem}"
        );
    }

    #[test]
    fn endpoint_settings_default_to_us_east_1() {
        let s = AwsSettings::for_endpoint("http://127.0.0.1:1");
        assert_eq!(s.region.as_deref(), Some("us-east-1"));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:1"));
    }
}
