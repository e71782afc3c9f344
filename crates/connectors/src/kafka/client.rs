//! A Kafka cluster connection whose every call is bounded (see the module docs of
//! [`crate::kafka`]): [`KafkaClient`] for topics; [`KafkaPartition`] (in
//! `partition.rs`) for one partition's records.

use super::failure::{Verdict, explain, judge, protocol_error};
use super::partition::KafkaPartition;
use crate::aws::RetryPolicy;
use crate::{ConnectorError, FailureKind};
use letsdata_model::spec::{KafkaCluster, KafkaSaslMechanism};
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long each attempt of a call may take, and how long a call retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    /// Attempts and back-off between them.
    pub retry: RetryPolicy,
    /// One attempt of a metadata or administration call.
    pub admin_timeout: Duration,
    /// One attempt of a produce or fetch.
    pub data_timeout: Duration,
    /// No new attempt starts after this long, and the last one is cut to end by then.
    pub budget: Duration,
    /// How long rskafka's own retries (reconnecting, leader changes) may sleep in an attempt.
    pub inner_deadline: Duration,
}

impl Default for CallPolicy {
    /// Attempts of 10 s (administration) or 30 s (data), 8 at most, within 60 s.
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: 8,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
            },
            admin_timeout: Duration::from_secs(10),
            data_timeout: Duration::from_secs(30),
            budget: Duration::from_secs(60),
            inner_deadline: Duration::from_secs(2),
        }
    }
}

/// Where and how to connect: servers, TLS, SASL with the password resolved.
#[derive(Clone)]
pub struct ClusterSettings {
    servers: Vec<String>,
    tls: bool,
    ca: Option<String>,
    sasl: Option<(KafkaSaslMechanism, String, String)>,
    policy: CallPolicy,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("servers", &self.servers)
            .field("tls", &self.tls)
            .field("ca", &self.ca)
            .field("sasl_user", &self.sasl.as_ref().map(|s| &s.1))
            .finish_non_exhaustive()
    }
}

impl ClusterSettings {
    /// The settings of `cluster`, its password reference resolved.
    pub fn resolve(cluster: &KafkaCluster) -> Result<Self, ConnectorError> {
        if cluster.bootstrap_servers.is_empty() {
            return Err(ConnectorError::User(
                "no Kafka bootstrap servers are configured".into(),
            ));
        }
        let sasl = match &cluster.security.sasl {
            Some(s) => {
                let password = letsdata_model::secrets::resolve(&s.password)
                    .map_err(|e| ConnectorError::User(format!("saslPassword: {e}")))?;
                Some((s.mechanism, s.username.clone(), password))
            }
            None => None,
        };
        Ok(Self {
            servers: cluster.bootstrap_servers.clone(),
            tls: cluster.security.tls,
            ca: cluster.security.ssl_ca_location.clone(),
            sasl,
            policy: CallPolicy::default(),
        })
    }

    /// Plaintext servers, with this call policy.
    pub fn plaintext(servers: Vec<String>, policy: CallPolicy) -> Self {
        Self {
            servers,
            tls: false,
            ca: None,
            sasl: None,
            policy,
        }
    }

    /// The key of the client in the context's cache: the settings, with a hash of the
    /// password rather than the password.
    pub fn cache_key(&self) -> String {
        let sasl = self.sasl.as_ref().map_or(String::new(), |(m, user, pw)| {
            format!("{m:?}:{user}:{:x}", Sha256::digest(pw.as_bytes()))
        });
        format!(
            "kafka|{}|tls={}|ca={}|sasl={sasl}",
            self.servers.join(","),
            self.tls,
            self.ca.as_deref().unwrap_or("")
        )
    }

    fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, ConnectorError> {
        if !self.tls {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca {
            let bad = |e: String| ConnectorError::User(format!("sslCaLocation {path:?}: {e}"));
            let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
                let cert = cert.map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad("holds no PEM certificate".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectorError::Corrupt(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(Arc::new(config)))
    }
}

/// A cluster connection, cheap to clone. Connects on first use; every call is bounded.
#[derive(Clone)]
pub struct KafkaClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClusterSettings,
    servers: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The current rskafka client and its generation (bumped at each connection).
    state: tokio::sync::Mutex<(u64, Option<Arc<Client>>)>,
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KafkaClient({})", self.inner.servers)
    }
}

/// One connection of a [`KafkaClient`].
#[derive(Clone)]
pub(crate) struct Conn {
    pub(super) generation: u64,
    pub(super) client: Arc<Client>,
}

impl KafkaClient {
    /// A client of these settings (reads the CA file; does not connect).
    pub fn new(settings: ClusterSettings) -> Result<Self, ConnectorError> {
        let tls = settings.tls_config()?;
        Ok(Self {
            inner: Arc::new(Inner {
                servers: settings.servers.join(","),
                settings,
                tls,
                state: tokio::sync::Mutex::new((0, None)),
            }),
        })
    }

    /// The bootstrap servers, `host:port,host:port`.
    pub fn servers(&self) -> &str {
        &self.inner.servers
    }

    pub(super) fn policy(&self) -> &CallPolicy {
        &self.inner.settings.policy
    }

    /// The current connection, made if there is none.
    async fn conn(&self) -> Result<Conn, KafkaError> {
        let mut state = self.inner.state.lock().await;
        if let Some(client) = &state.1 {
            return Ok(Conn {
                generation: state.0,
                client: client.clone(),
            });
        }
        let s = &self.inner.settings;
        let mut builder = ClientBuilder::new(s.servers.clone())
            .client_id("letsdata")
            .backoff_config(rskafka::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
                deadline: Some(s.policy.inner_deadline),
            });
        if let Some(tls) = &self.inner.tls {
            builder = builder.tls_config(tls.clone());
        }
        if let Some((mechanism, user, password)) = &s.sasl {
            let credentials = Credentials::new(user.clone(), password.clone());
            builder = builder.sasl_config(match mechanism {
                KafkaSaslMechanism::Plain => SaslConfig::Plain(credentials),
                KafkaSaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
                KafkaSaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
            });
        }
        let client = Arc::new(builder.build().await?);
        state.0 += 1;
        state.1 = Some(client.clone());
        Ok(Conn {
            generation: state.0,
            client,
        })
    }

    /// Drops connection `generation` (it stopped answering): the next call connects again.
    async fn reset(&self, generation: u64) {
        let mut state = self.inner.state.lock().await;
        if state.0 == generation && state.1.is_some() {
            tracing::warn!(servers = %self.inner.servers, "Kafka connection stopped answering; reconnecting");
            state.1 = None;
        }
    }

    /// Runs `op` in bounded attempts (see [`CallPolicy`]); `what` says what failed
    /// (`cannot list the topics at kafka1:9092`).
    pub(crate) async fn call<T, F, Fut>(
        &self,
        what: &(dyn Fn() -> String + Sync),
        timeout: Duration,
        mut op: F,
    ) -> Result<T, ConnectorError>
    where
        F: FnMut(Conn) -> Fut,
        Fut: Future<Output = Result<T, KafkaError>>,
    {
        let policy = *self.policy();
        let start = Instant::now();
        let mut attempt = 1;
        loop {
            let remaining = policy.budget.saturating_sub(start.elapsed());
            let limit = timeout.min(remaining).max(Duration::from_secs(1));
            let used = AtomicU64::new(0);
            let outcome = tokio::time::timeout(limit, async {
                let conn = self.conn().await?;
                used.store(conn.generation, Ordering::Relaxed);
                op(conn).await
            })
            .await;
            let (kind, verdict, message) = match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => {
                    let (kind, verdict) = judge(&e);
                    (kind, verdict, explain(&e))
                }
                Err(_) => {
                    self.reset(used.load(Ordering::Relaxed)).await;
                    let message = format!("no answer within {} s", timeout.as_secs());
                    (FailureKind::Transient, Verdict::Retry, message)
                }
            };
            let wait = policy.retry.backoff(attempt - 1);
            let retry = match verdict {
                Verdict::Retry => attempt < policy.retry.max_attempts,
                Verdict::RetryFew => attempt < policy.retry.max_attempts.min(3),
                Verdict::Fail => false,
            };
            if !retry || start.elapsed() + wait >= policy.budget {
                let message = if attempt > 1 {
                    format!(
                        "{message} ({attempt} attempts in {} s)",
                        start.elapsed().as_secs()
                    )
                } else {
                    message
                };
                return Err(ConnectorError::Io {
                    what: what(),
                    message,
                    kind,
                });
            }
            tracing::debug!(what = %what(), attempt, %message, ?wait, "Kafka call failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Every topic and its partitions (a metadata request for all topics, which creates none).
    pub async fn topics(&self) -> Result<BTreeMap<String, Vec<i32>>, ConnectorError> {
        let what = || format!("cannot list the Kafka topics at {}", self.servers());
        let topics = self
            .call(&what, self.policy().admin_timeout, |c| async move {
                c.client.list_topics().await
            })
            .await?;
        Ok(topics
            .into_iter()
            .map(|t| (t.name, t.partitions.into_iter().collect()))
            .collect())
    }

    /// The partitions of `topic`, sorted, or `None` when it does not exist.
    pub async fn partitions(&self, topic: &str) -> Result<Option<Vec<i32>>, ConnectorError> {
        Ok(self.topics().await?.remove(topic))
    }

    /// Creates `topic`; `false` when it exists already.
    pub async fn create_topic(
        &self,
        topic: &str,
        partitions: u32,
        replication: u32,
    ) -> Result<bool, ConnectorError> {
        let what = || {
            format!(
                "cannot create the {}",
                super::describe(topic, self.servers())
            )
        };
        let partitions = i32::try_from(partitions).unwrap_or(i32::MAX);
        let replication = i16::try_from(replication).unwrap_or(i16::MAX);
        self.call(&what, self.policy().admin_timeout, |c| async move {
            let created = c
                .client
                .controller_client()?
                .create_topic(topic, partitions, replication, 5_000)
                .await;
            match created {
                Err(e) if protocol_error(&e) == Some(ProtocolError::TopicAlreadyExists) => {
                    Ok(false)
                }
                other => other.map(|()| true),
            }
        })
        .await
    }

    /// Deletes `topic`; `false` when it did not exist.
    pub async fn delete_topic(&self, topic: &str) -> Result<bool, ConnectorError> {
        let what = || {
            format!(
                "cannot delete the {}",
                super::describe(topic, self.servers())
            )
        };
        self.call(&what, self.policy().admin_timeout, |c| async move {
            let deleted = c
                .client
                .controller_client()?
                .delete_topic(topic, 5_000)
                .await;
            match deleted {
                Err(e) if protocol_error(&e) == Some(ProtocolError::UnknownTopicOrPartition) => {
                    Ok(false)
                }
                other => other.map(|()| true),
            }
        })
        .await
    }

    /// Partition `partition` of `topic` (connects on first use).
    pub fn partition(&self, topic: &str, partition: i32) -> KafkaPartition {
        KafkaPartition::new(self.clone(), topic, partition)
    }
}
