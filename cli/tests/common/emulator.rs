//! The AWS emulator (moto_server, started by scripts/test.sh and given as
//! `LETSDATA_TEST_S3_ENDPOINT`) for the CLI tests of the S3, stream, queue and table connectors:
//! clients for it, a letsdata home using it, and resources with a fresh suffix.

use super::TestHome;
use letsdata_connectors::aws::{AwsClients, AwsSettings, RetryPolicy};
use letsdata_connectors::dynamodb::TableSpec;
use letsdata_connectors::s3::{ObjectStores, S3Settings};
use serde_json::{Value, json};
use std::time::Duration;

/// The emulator endpoint; `None` (with a note) only when LETSDATA_SKIP_S3_TESTS is set.
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

/// What a test needs: the endpoint, AWS and S3 clients for it, and a fresh suffix.
pub struct Emulator {
    pub endpoint: String,
    pub aws: AwsClients,
    pub s3: ObjectStores,
    pub suffix: String,
}

pub async fn emulator() -> Option<Emulator> {
    Some(emulator_at(&endpoint()?).await)
}

/// [`Emulator`] for the emulator at `endpoint`.
pub async fn emulator_at(endpoint: &str) -> Emulator {
    let endpoint = endpoint.to_string();
    let settings = AwsSettings {
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".to_string()),
        access_key_id: Some("testing".to_string()),
        secret_access_key: Some("testing".to_string()),
        session_token: None,
        retry: RetryPolicy::default(),
    };
    let aws = AwsClients::connect(&settings).await;
    let s3 = ObjectStores::s3(S3Settings {
        endpoint: endpoint.clone(),
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
        path_style: true,
        grant: None,
    });
    Emulator {
        endpoint,
        aws,
        s3,
        suffix: uuid::Uuid::new_v4().simple().to_string()[..10].to_string(),
    }
}

/// An emulator of the test's own (`LETSDATA_TEST_MOTO_BIN`, which scripts/test.sh sets),
/// listening on `host` (an address of a network namespace's link, say) on a free port; killed
/// when dropped.
pub struct PrivateMoto {
    child: std::process::Child,
    pub endpoint: String,
}

impl PrivateMoto {
    pub fn start_on(host: &str) -> Self {
        let bin = std::env::var("LETSDATA_TEST_MOTO_BIN").unwrap_or_else(|_| {
            panic!("LETSDATA_TEST_MOTO_BIN is not set: scripts/test.sh installs moto_server and sets it")
        });
        let port = std::net::TcpListener::bind((host, 0))
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = std::process::Command::new(&bin)
            .args(["-H", host, "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let this = Self {
            child,
            endpoint: format!("http://{host}:{port}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect((host, port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on {host}:{port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        this
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// A letsdata home whose invocations use the emulator.
    pub fn home(&self) -> TestHome {
        self.on(TestHome::new())
    }

    /// A home on the emulator with an artifact bucket of its own (`LETSDATA_ARTIFACT_BUCKET`),
    /// for datasets with user code.
    pub fn code_home(&self) -> TestHome {
        let mut home = self.home();
        home.env(
            "LETSDATA_ARTIFACT_BUCKET",
            &format!("artifacts-{}", self.suffix),
        );
        home
    }

    /// A home on the emulator that never goes through a server ([`TestHome::local`]).
    pub fn local_home(&self) -> TestHome {
        self.on(TestHome::local())
    }

    fn on(&self, mut home: TestHome) -> TestHome {
        home.env("LETSDATA_AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
        home
    }

    /// A dataset (named `name` plus this run's suffix) reading `read` through user code in
    /// `language` at `link`, with `manifest`, writing documents and errors to S3.
    pub fn code_dataset(
        &self,
        name: &str,
        mut read: Value,
        language: &str,
        link: &str,
        manifest: Value,
    ) -> Value {
        read["artifactImplementationLanguage"] = json!(language);
        read["artifactFileS3Link"] = json!(link);
        json!({
            "datasetName": format!("{name}{}", self.suffix),
            "region": "us-east-1",
            "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
            "customerAccountForAccess": "123456789012",
            "readConnector": read,
            "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
            "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
            "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
            "manifestFile": manifest,
        })
    }

    /// A Kinesis stream with `shards` shards, active; returns its ARN.
    pub async fn stream(&self, name: &str, shards: i32) -> String {
        let kinesis = self.aws.kinesis();
        kinesis
            .create_stream(name, shards, &[])
            .await
            .expect("create stream");
        kinesis
            .wait_active(name, Duration::from_secs(30))
            .await
            .expect("stream active")
            .arn
    }

    /// A queue; returns its URL.
    pub async fn queue(&self, name: &str) -> String {
        self.aws
            .sqs()
            .create_queue(name, &[])
            .await
            .expect("create queue")
    }

    /// A table keyed by the string `id`, active; returns its stream ARN when `stream`.
    pub async fn table(&self, name: &str, stream: bool) -> Option<String> {
        let ddb = self.aws.dynamodb();
        ddb.create_table(&TableSpec::new(name).with_stream(stream))
            .await
            .expect("create table");
        ddb.wait_active(name, Duration::from_secs(30))
            .await
            .expect("table active")
            .stream_arn
    }

    /// Sends `messages` to the queue at `url` (each message's `document_id` as the attribute
    /// `attribute`, when given); every one must be accepted.
    pub async fn send(
        &self,
        url: &str,
        attribute: Option<&str>,
        messages: &[letsdata_connectors::sqs::SqsOutgoingMessage],
    ) {
        let report = self
            .aws
            .sqs()
            .sender(url, attribute)
            .send_batch(messages)
            .await
            .expect("send");
        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(report.succeeded, messages.len(), "{report:?}");
    }

    /// Every record of every shard of the stream `arn`, from the oldest, with its shard id.
    pub async fn kinesis_records(
        &self,
        arn: &str,
    ) -> Vec<(String, letsdata_connectors::kinesis::KinesisRecord)> {
        let kinesis = self.aws.kinesis();
        let mut out = Vec::new();
        for shard in kinesis.list_shards(arn).await.expect("list shards") {
            let mut reader = kinesis.shard_reader(
                arn,
                &shard.shard_id,
                letsdata_connectors::aws::ShardStart::Earliest,
            );
            loop {
                let batch = reader.poll().await.expect("get records");
                if batch.records.is_empty() {
                    break;
                }
                out.extend(
                    batch
                        .records
                        .into_iter()
                        .map(|r| (shard.shard_id.clone(), r)),
                );
            }
        }
        out
    }

    /// Every line of every object under `prefix` in an S3 bucket (gunzipping `.gz`).
    pub async fn s3_lines(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let b = self.s3.bucket(bucket).expect("bucket");
        let mut out = Vec::new();
        for o in b.list(prefix).await.expect("list output") {
            let data = b.read_all(&o.key).await.expect("read output");
            out.extend(
                super::output_text(&o.key, &data)
                    .lines()
                    .map(str::to_string),
            );
        }
        out
    }
}
