//! Customer resources are reached through the dataset's `accessGrantRoleArn`, assumed through
//! STS, against an emulator of the test's own with IAM enforced: letsdata's own identity is
//! denied the customer's buckets, so only the role's credentials can read the input and write
//! the output there; a role without those permissions fails `datasets create` with a clear
//! message; LetsData resources (the error bucket) are reached with letsdata's own identity. The
//! same holds for the AWS SDK's clients: letsdata's identity may not use SQS at all, the role
//! may, and a Customer queue is drained.

mod common;

use bytes::Bytes;
use common::emulator::{PrivateMoto, emulator_at};
use common::{TestHome, config, jsonl};
use letsdata_connectors::aws::{GrantCredentials, RetryPolicy};
use letsdata_connectors::sqs::SqsOutgoingMessage;
use serde_json::{Value, json};

const GRANT_ROLE: &str = "arn:aws:iam::123456789012:role/TenantAccess";
const EMPTY_ROLE: &str = "arn:aws:iam::123456789012:role/NoAccess";

/// IAM in the emulator, as a customer and an operator would set it up (boto3 from the
/// emulator's own virtualenv). Prints the access keys of letsdata's identity
/// (`letsdata-service`: everything but the customer's buckets) and of `inspector` (everything,
/// for the test's checks).
const IAM_SETUP: &str = r#"
import json, sys, boto3
endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam = boto3.client("iam", **kw)
customer = ["arn:aws:s3:::customer-in", "arn:aws:s3:::customer-in/*",
            "arn:aws:s3:::customer-out", "arn:aws:s3:::customer-out/*"]
def user(name, statements):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}
keys = {
    "service": user("letsdata-service", [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": customer},
        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]),
    "inspector": user("inspector", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
}
trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/letsdata-service"},
    "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="TenantAccess", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="TenantAccess", PolicyName="grant", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": customer},
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
iam.create_role(RoleName="NoAccess", AssumeRolePolicyDocument=trust)
print(json.dumps(keys))
"#;

fn moto_python() -> std::path::PathBuf {
    let bin = std::env::var("LETSDATA_TEST_MOTO_BIN").unwrap_or_else(|_| {
        panic!(
            "LETSDATA_TEST_MOTO_BIN is not set: scripts/test.sh installs moto_server and sets it"
        )
    });
    std::path::Path::new(&bin)
        .parent()
        .expect("the virtualenv's bin directory")
        .join("python")
}

fn as_user(home: &mut TestHome, endpoint: &str, key: &Value) {
    home.env("LETSDATA_AWS_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", key["id"].as_str().expect("key id"))
        .env(
            "AWS_SECRET_ACCESS_KEY",
            key["secret"].as_str().expect("secret"),
        )
        .env("AWS_REGION", "us-east-1");
}

fn dataset(name: &str, role: &str) -> Value {
    let mut cfg = config(
        name,
        "customer-in",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl"],
    );
    cfg["accessGrantRoleArn"] = json!(role);
    cfg["customerAccountForAccess"] = json!("123456789012");
    cfg["writeConnector"] = json!({
        "connectorDestination": "S3", "resourceLocation": "Customer", "bucketName": "customer-out",
    });
    cfg
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn customer_buckets_are_reached_through_the_access_grant_role() {
    if std::env::var("LETSDATA_SKIP_S3_TESTS").is_ok() {
        return;
    }
    let moto = PrivateMoto::start_on("127.0.0.1");
    let endpoint = moto.endpoint.clone();
    // The customer's buckets and input, before IAM is enforced.
    let setup = emulator_at(&endpoint).await;
    for bucket in ["customer-in", "customer-out"] {
        setup.s3.create_bucket(bucket).await.expect("create bucket");
    }
    let input = setup.s3.bucket("customer-in").expect("bucket");
    input
        .put("a.jsonl", Bytes::from(jsonl(0, 300)))
        .await
        .expect("put");
    input
        .put(
            "b.jsonl",
            Bytes::from(format!("{}{{oops\n", jsonl(300, 200))),
        )
        .await
        .expect("put");
    let url = setup.queue("customer-queue").await;
    let messages: Vec<SqsOutgoingMessage> = (0..50)
        .map(|i| SqsOutgoingMessage {
            body: json!({"id": i}).to_string(),
            ..Default::default()
        })
        .collect();
    let sent = setup
        .aws
        .sqs()
        .sender(&url, None)
        .send_batch(&messages)
        .await;
    assert_eq!(sent.expect("send").succeeded, 50);
    let out = std::process::Command::new(moto_python())
        .args(["-c", IAM_SETUP, &endpoint])
        .output()
        .expect("run the IAM setup");
    assert!(
        out.status.success(),
        "IAM setup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Value = serde_json::from_slice(&out.stdout).expect("keys");
    // From here on every request is signed and authorized.
    reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/reset-auth"))
        .body("0")
        .send()
        .await
        .expect("enforce IAM")
        .error_for_status()
        .expect("enforce IAM");

    let mut home = TestHome::local();
    as_user(&mut home, &endpoint, &keys["service"]);
    let (home, run) = tokio::task::spawn_blocking(move || {
        let run = home.create(&dataset("Granted", GRANT_ROLE));
        (home, run)
    })
    .await
    .expect("join");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 500, "{ds}");
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1, "{ds}");

    // The output is in the customer's bucket; the error record in letsdata's own bucket.
    let mut inspector = emulator_at(&endpoint).await;
    let key = &keys["inspector"];
    inspector.s3 = letsdata_connectors::s3::ObjectStores::s3(letsdata_connectors::s3::S3Settings {
        endpoint: endpoint.clone(),
        region: "us-east-1".into(),
        access_key_id: key["id"].as_str().map(str::to_string),
        secret_access_key: key["secret"].as_str().map(str::to_string),
        session_token: None,
        path_style: true,
        grant: None,
    });
    let mut ids: Vec<u64> = inspector
        .s3_lines("customer-out", "Granted/")
        .await
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("doc")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..500).collect::<Vec<_>>());
    let error_bucket = ds["resources"]["errorBucket"]
        .as_str()
        .expect("error bucket");
    assert_eq!(
        inspector.s3_lines(error_bucket, "Granted/").await.len(),
        1,
        "the error record"
    );
    // `errors view` and `output read` read the same buckets as the run did.
    let (home, errors) = tokio::task::spawn_blocking(move || {
        let run = home.run(&["errors", "list", "--datasetName", "Granted"]);
        (home, run)
    })
    .await
    .expect("join");
    assert_eq!(errors.code, 0, "{}", errors.stderr);
    assert_eq!(errors.json().as_array().map(Vec::len), Some(1));
    let (_home, output) = tokio::task::spawn_blocking(move || {
        let run = home.run(&[
            "output",
            "read",
            "--datasetName",
            "Granted",
            "--limit",
            "1000",
        ]);
        (home, run)
    })
    .await
    .expect("join");
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(output.stdout.lines().count(), 500);

    // A Customer queue, through the SDK's SQS client with the role's credentials.
    let mut queue = TestHome::local();
    as_user(&mut queue, &endpoint, &keys["service"]);
    let mut cfg = dataset("Queue", GRANT_ROLE);
    cfg["readConnector"] = json!({
        "connectorDestination": "SQS", "queueName": "customer-queue", "resourceLocation": "Customer",
        "artifactImplementationLanguage": "Builtin",
    });
    cfg["manifestFile"] = json!({
        "sqsReaderTaskStopCondition": "DrainQueues",
        "sqsReaderTaskStopAfterConsecutiveEmptyReceives": 2,
    });
    cfg["computeEngine"]["concurrency"] = json!(1);
    let run = tokio::task::spawn_blocking(move || queue.create(&cfg))
        .await
        .expect("join");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 50, "{ds}");
    assert_eq!(inspector.s3_lines("customer-out", "Queue/").await.len(), 50);

    // A role without the permissions: `datasets create` says so and creates nothing.
    let mut denied = TestHome::local();
    as_user(&mut denied, &endpoint, &keys["service"]);
    let run = tokio::task::spawn_blocking(move || denied.create(&dataset("Denied", EMPTY_ROLE)))
        .await
        .expect("join");
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("readConnector.bucketName: access denied to s3://customer-in/")
            && run.stderr.contains(EMPTY_ROLE),
        "the problem names the field, the bucket and the role: {}",
        run.stderr
    );
    assert!(
        inspector
            .s3_lines("customer-out", "Denied/")
            .await
            .is_empty(),
        "nothing written"
    );
}

/// The role is assumed with the tenant's id as the external id and a session name of
/// letsdata's, once: the credentials are kept until five minutes before they expire. (Checked
/// in an emulator of its own, whose record of the sessions it granted can be read.)
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn the_role_is_assumed_with_the_tenant_id_as_external_id() {
    if std::env::var("LETSDATA_SKIP_S3_TESTS").is_ok() {
        return;
    }
    let moto = PrivateMoto::start_on("127.0.0.1");
    let aws = emulator_at(&moto.endpoint).await.aws;
    let tenant = "0f6c1e2a-5b4d-4c3e-9a8b-7d6e5f4a3b2c";
    let grant =
        GrantCredentials::assume(aws.sdk_config(), RetryPolicy::default(), GRANT_ROLE, tenant)
            .await
            .expect("assume");
    let first = grant.credentials().await.expect("credentials");
    let again = grant.credentials().await.expect("credentials");
    assert_eq!(
        first.access_key_id(),
        again.access_key_id(),
        "kept, not assumed again"
    );
    assert!(first.session_token().is_some() && first.expiry().is_some());

    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto.endpoint))
        .await
        .expect("moto data")
        .json()
        .await
        .expect("moto data json");
    let sessions = data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["role_arn"], GRANT_ROLE);
    assert_eq!(sessions[0]["external_id"], tenant);
    assert_eq!(sessions[0]["session_name"], format!("letsdata-{tenant}"));
    assert_eq!(sessions[0]["access_key_id"], first.access_key_id());
}
