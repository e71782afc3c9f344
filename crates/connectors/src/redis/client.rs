//! One Redis, shared by every dataset of a process that writes to it: a lazily connected
//! [`ConnectionManager`] with bounded timeouts, a retry loop bounded in time around every
//! command, and the classification of Redis failures into [`FailureKind`]s.

use crate::aws::RetryPolicy;
use crate::{ConnectorContext, ConnectorError, FailureKind};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, IntoConnectionInfo, RedisError, RedisResult};
use letsdata_model::secrets::redact_url;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest wait for a TCP (and TLS) connection and the connection's handshake.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the answer to one command (or one pipeline).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnection attempts of the connection manager when a connection is lost or cannot be
/// made, after the first.
const RECONNECT_RETRIES: usize = 2;
/// Longest one attempt may take, reconnection included (3 connection attempts of 5 s and
/// their pauses, or one answer of 10 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// An attempt is not started with less time than this left of the budget.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);
/// Keys a `SCAN` call looks at.
const SCAN_COUNT: usize = 1000;
/// Longest an error message quotes of the Redis's own error.
const MAX_ERROR_CHARS: usize = 500;

/// How long a command that fails for a connection reason is retried (writes, deletes, reads,
/// provisioning): a stopped or unreachable Redis fails the task within about a minute, and
/// the engine redrives it.
pub(crate) const COMMAND_BUDGET: Duration = Duration::from_secs(60);
/// How long `datasets create` tries to reach a Redis before reporting a problem.
pub(crate) const CHECK_BUDGET: Duration = Duration::from_secs(15);

/// The pauses between attempts; attempts are bounded by a time budget rather than a count.
const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    initial_backoff: Duration::from_millis(200),
    max_backoff: Duration::from_secs(5),
};

/// A Redis client (cheap to clone): the connection manager and what names the Redis in
/// messages.
#[derive(Clone)]
pub(crate) struct RedisClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: ::redis::Client,
    /// The URL with its password masked.
    redacted: String,
    /// Passwords, masked in error messages should the Redis ever quote one.
    secrets: Vec<String>,
    /// The current connection manager and its generation; replaced after a failed attempt,
    /// so that a connection that hangs or cannot recover by itself is not used again.
    manager: Mutex<(u64, ConnectionManager)>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.inner.redacted)
            .finish()
    }
}

/// The key under which the client of `url` and `password` is cached: the redacted URL and a
/// digest of the credentials, so that another password makes another client.
fn cache_key(url: &str, password: Option<&str>) -> String {
    let mut digest = Sha256::new();
    digest.update(url.as_bytes());
    digest.update([0]);
    digest.update(password.unwrap_or_default().as_bytes());
    let hex: String = digest
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("redis {} #{hex}", redact_url(url))
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_secs(2))
}

impl RedisClient {
    /// The client of the Redis at `url` (resolved: no `${env:…}` left), authenticating with
    /// `password` when given (it replaces the URL's), cached in `ctx`. Makes no connection.
    pub(crate) async fn shared(
        ctx: &ConnectorContext,
        url: &str,
        password: Option<&str>,
    ) -> Result<Self, ConnectorError> {
        ctx.client(&cache_key(url, password), || async {
            Self::new(url, password)
        })
        .await
    }

    /// A client of its own (not cached). Must be called within a Tokio runtime.
    pub(crate) fn new(url: &str, password: Option<&str>) -> Result<Self, ConnectorError> {
        let redacted = redact_url(url).into_owned();
        let invalid = |e: RedisError| ConnectorError::Io {
            what: format!("Redis {redacted}"),
            message: format!(
                "is not a usable Redis URL ({e}); expected redis://[user[:password]@]host[:port][/db] or rediss://… for TLS"
            ),
            kind: FailureKind::User,
        };
        let mut info = url.into_connection_info().map_err(invalid)?;
        let mut secrets: Vec<String> = info
            .redis_settings()
            .password()
            .map(str::to_string)
            .into_iter()
            .collect();
        if let Some(password) = password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
            secrets.push(password.to_string());
        }
        if url.starts_with("rediss://") {
            // Both of rustls's crypto providers are compiled in (the AWS SDK brings the other
            // one), so rustls picks none by itself; an earlier installation wins.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = ::redis::Client::open(info).map_err(invalid)?;
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config())
            .map_err(invalid)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                redacted,
                secrets,
                manager: Mutex::new((0, manager)),
            }),
        })
    }

    /// The URL of the Redis with its password masked.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.inner.redacted
    }

    fn manager(&self) -> (u64, ConnectionManager) {
        let guard = self
            .inner
            .manager
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (guard.0, guard.1.clone())
    }

    /// Replaces the connection manager of generation `generation` (once, however many
    /// commands failed on it); commands under way keep the one they have.
    fn reset(&self, generation: u64) {
        let mut guard = self
            .inner
            .manager
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if guard.0 != generation {
            return;
        }
        if let Ok(fresh) =
            ConnectionManager::new_lazy_with_config(self.inner.client.clone(), manager_config())
        {
            *guard = (generation + 1, fresh);
        }
    }

    /// `text` with every password masked and cut to a readable length.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in self.inner.secrets.iter().filter(|s| s.len() >= 4) {
            text = text.replace(secret.as_str(), "****");
        }
        if text.chars().count() > MAX_ERROR_CHARS {
            text = text.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
        }
        text
    }

    /// Runs `op` on a connection until it succeeds, retrying failures of the connection
    /// (timeouts, refused or lost connections, a Redis loading its data) with bounded
    /// back-off for at most `budget`; then fails with a transient error naming the Redis by
    /// its redacted URL and `what` (the command). Other failures are not retried.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        what: &str,
        budget: Duration,
        mut op: F,
    ) -> Result<T, ConnectorError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let start = Instant::now();
        let deadline = start + budget;
        let mut attempts = 0u32;
        // The last failure the Redis (or the connection) reported, with its hint.
        let mut last: Option<(String, &'static str)> = None;
        loop {
            let (generation, con) = self.manager();
            let limit = deadline
                .saturating_duration_since(Instant::now())
                .min(ATTEMPT_TIMEOUT);
            attempts += 1;
            let (kind, hint, error) = match tokio::time::timeout(limit, op(con)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => {
                    let (kind, hint) = classify(&e);
                    (kind, hint, self.scrub(&e.to_string()))
                }
                // Cut short by the budget: what went wrong before says more, if anything did.
                Err(_) => match last.take() {
                    Some((error, hint)) => (FailureKind::Transient, hint, error),
                    None => (
                        FailureKind::Transient,
                        "",
                        format!("no answer within {}s", limit.as_secs()),
                    ),
                },
            };
            if kind != FailureKind::Transient {
                if kind == FailureKind::User {
                    self.reset(generation);
                }
                return Err(ConnectorError::Io {
                    what: format!("Redis {}", self.inner.redacted),
                    message: format!("{what} failed: {error}{hint}"),
                    kind,
                });
            }
            self.reset(generation);
            let pause = RETRY.backoff(attempts - 1);
            if Instant::now() + pause + MIN_ATTEMPT > deadline {
                tracing::warn!(redis = %self.inner.redacted, attempts, %error, "{what} failed");
                return Err(ConnectorError::Io {
                    what: format!("Redis {}", self.inner.redacted),
                    message: format!(
                        "{what} failed for {}s over {attempts} attempts (is the Redis down, stopped or unreachable?); last error: {error}{hint}",
                        start.elapsed().as_secs()
                    ),
                    kind: FailureKind::Transient,
                });
            }
            tracing::debug!(redis = %self.inner.redacted, attempts, %error, "{what} failed; retrying");
            last = Some((error, hint));
            tokio::time::sleep(pause).await;
        }
    }

    /// `PING`.
    pub(crate) async fn ping(&self, budget: Duration) -> Result<(), ConnectorError> {
        self.run("PING", budget, |mut con| async move {
            ::redis::cmd("PING").query_async::<String>(&mut con).await
        })
        .await
        .map(|_| ())
    }

    /// One `SCAN` page of the keys `pattern` (a `SCAN MATCH` glob) matches, from `cursor`
    /// (0 to begin): the next cursor (0 at the end) and the keys.
    pub(crate) async fn scan_page(
        &self,
        pattern: &str,
        cursor: u64,
        budget: Duration,
    ) -> Result<(u64, Vec<Vec<u8>>), ConnectorError> {
        self.run(
            &format!("SCAN MATCH {pattern}"),
            budget,
            |mut con| async move {
                ::redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async::<(u64, Vec<Vec<u8>>)>(&mut con)
                    .await
            },
        )
        .await
    }
}

/// Whose fault a Redis failure is, and a hint saying what to do about it.
fn classify(e: &RedisError) -> (FailureKind, &'static str) {
    const PASSWORD: &str = "; check redisPassword or the password in the Redis URL";
    let code = match e.code() {
        Some(code) => Some(code.to_string()),
        None => e
            .clone()
            .into_server_errors()
            .and_then(|errors| errors.first().map(|(_, e)| e.code().to_string())),
    };
    match code.as_deref() {
        Some("NOAUTH" | "WRONGPASS") => return (FailureKind::User, PASSWORD),
        Some("OOM") => {
            return (
                FailureKind::Transient,
                " (the Redis is full: raise its maxmemory, or set ttlInSeconds)",
            );
        }
        // Loading its data, busy with a script, failing to save, failing over.
        Some(
            "LOADING" | "BUSY" | "MISCONF" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "READONLY",
        ) => return (FailureKind::Transient, ""),
        Some("MOVED" | "ASK" | "CROSSSLOT") => {
            return (
                FailureKind::User,
                "; a Redis Cluster is not supported: give the URL of a single Redis",
            );
        }
        Some("NOPERM") => {
            return (
                FailureKind::User,
                "; the Redis user lacks a permission (ACL): it needs SET, MGET, SCAN, UNLINK and PING",
            );
        }
        _ => {}
    }
    match e.kind() {
        ErrorKind::AuthenticationFailed => (FailureKind::User, PASSWORD),
        ErrorKind::InvalidClientConfig => (FailureKind::User, "; check the Redis URL"),
        // rustls's verdict on the server's certificate, as an IO error of the handshake.
        ErrorKind::Io if e.to_string().contains("peer certificate") => (
            FailureKind::User,
            "; the Redis's TLS certificate is not trusted: rediss:// checks it against the public web PKI roots and the host name",
        ),
        ErrorKind::Io | ErrorKind::Parse => (FailureKind::Transient, ""),
        _ => (FailureKind::Internal, ""),
    }
}

/// `prefix` as a literal in a `SCAN MATCH` glob: `*`, `?`, `[`, `]` and `\` escaped.
pub(crate) fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 4);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("ds:"), "ds:");
        assert_eq!(escape_glob("a*b?c[d]e\\f:"), "a\\*b\\?c\\[d\\]e\\\\f:");
        assert_eq!(format!("{}*", escape_glob("x[1]")), "x\\[1\\]*");
    }

    #[test]
    fn cache_keys_hide_the_password_and_tell_passwords_apart() {
        let a = cache_key("redis://u:secret-one@host:6379", None);
        let b = cache_key("redis://u:secret-two@host:6379", None);
        let c = cache_key("redis://host:6379", Some("secret-three"));
        assert!(!a.contains("secret") && !b.contains("secret") && !c.contains("secret"));
        assert_ne!(a, b);
        assert_ne!(c, cache_key("redis://host:6379", None));
    }

    #[test]
    fn failures_are_classified() {
        let io: RedisError = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert_eq!(classify(&io).0, FailureKind::Transient);
        let auth: RedisError = (
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        )
            .into();
        assert_eq!(classify(&auth).0, FailureKind::User);
        let noauth =
            ::redis::make_extension_error("NOAUTH".into(), Some("Authentication required.".into()));
        assert_eq!(classify(&noauth).0, FailureKind::User);
        let certificate: RedisError = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        )
        .into();
        assert_eq!(classify(&certificate).0, FailureKind::User);
        let loading = ::redis::make_extension_error("LOADING".into(), None);
        assert_eq!(classify(&loading).0, FailureKind::Transient);
    }
}
