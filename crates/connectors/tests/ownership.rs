//! LetsData-located resources against the AWS emulator: letsdata creates them tagged with the
//! dataset, uses an existing one only when it carries the dataset's tag (or is untagged and
//! empty), and deletes only what it created. S3 buckets (on S3 and local), Kinesis streams,
//! SQS queues and DynamoDB tables, each through its write sink.

mod common;

use bytes::Bytes;
use letsdata_connectors::ConnectorContext;
use letsdata_connectors::dynamodb::TableSpec;
use letsdata_connectors::owner::{OWNER_TAG, Owner};
use letsdata_connectors::registry::sink_for;
use letsdata_connectors::s3::ObjectStores;
use letsdata_connectors::sink::{DocumentBatch, DocumentSink, SinkRole, SinkTask, Staged};
use letsdata_model::ConnectorResource;
use letsdata_model::spec::{ValidationContext, parse_dataset_spec};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

const A: Owner<'static> = Owner::new("dataset-a", false);
const B: Owner<'static> = Owner::new("dataset-b", false);
/// Dataset A as `datasets delete` sees it once its provisioning step completed.
const A_PROVISIONED: Owner<'static> = Owner::new("dataset-a", true);

const TASK: SinkTask<'static> = SinkTask {
    dataset_name: "Owned",
    task_id: "t1",
    attempt: 1,
};

/// The write sink of a dataset writing to `write`.
fn sink(write: Value) -> Box<dyn DocumentSink> {
    let cfg = json!({
        "datasetName": "Owned",
        "region": "us-east-1",
        "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
        "customerAccountForAccess": "123456789012",
        "readConnector": {"connectorDestination": "S3", "readerType": "Single File Reader",
            "bucketName": "input", "bucketResourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl",
            "documentIdField": "id"},
        "writeConnector": write,
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 1},
        "manifestFile": {"manifestType": "S3ReaderTextManifestFile",
            "readerType": "SINGLEFILEREADER", "fileContents": "a.jsonl"},
    });
    let spec = parse_dataset_spec(
        &cfg,
        ValidationContext {
            aws_resources: true,
        },
    )
    .expect("valid config");
    sink_for(&spec, SinkRole::Write).expect("sink")
}

/// A context on the emulator: S3 buckets there, and its AWS clients for us-east-1.
async fn context() -> Option<ConnectorContext> {
    let endpoint = common::endpoint()?;
    let aws = common::clients().await?;
    let ctx = ConnectorContext::new(
        Arc::new(ObjectStores::s3(common::s3_settings(endpoint))),
        "test",
    );
    seed(&ctx, aws).await;
    Some(ctx)
}

/// Makes `aws` the clients the connectors use for us-east-1.
async fn seed(ctx: &ConnectorContext, aws: letsdata_connectors::aws::AwsClients) {
    ctx.client("us-east-1", || async { Ok(aws) })
        .await
        .expect("seeded");
}

/// The resource the sink plans, under a fresh generated-looking name.
fn planned(sink: &dyn DocumentSink) -> ConnectorResource {
    let id = common::suffix();
    sink.plan(&|suffix| format!("ld-owned-{id}-{suffix}"))
}

/// Writes one document through a writer of the sink and makes it visible.
async fn write_one(ctx: &ConnectorContext, sink: &dyn DocumentSink, resource: &ConnectorResource) {
    let mut writer = sink.open(ctx, resource, &TASK).await.expect("open");
    let doc: &[u8] = br#"{"id":"x1","value":1}"#;
    let batch = if writer.takes_lines() {
        DocumentBatch::Lines(b"{\"id\":\"x1\",\"value\":1}\n")
    } else {
        DocumentBatch::Documents {
            documents: &[doc],
            ids: &[Cow::Borrowed("x1")],
        }
    };
    let rejected = writer.write(0, batch).await.expect("write");
    assert!(rejected.is_empty(), "{rejected:?}");
    if let Staged::Pending(staged) = writer.stage(0).await.expect("stage") {
        writer.publish(&staged).await.expect("publish");
    }
}

/// What every LetsData resource goes through: created for A (twice, as a retried step does),
/// refused to B, left in place by B's delete, deleted by A's.
async fn created_adopted_and_deleted_only_by_its_dataset(
    ctx: &ConnectorContext,
    sink: &dyn DocumentSink,
    exists: &impl AsyncFn(&ConnectorResource) -> bool,
) -> ConnectorResource {
    let resource = planned(sink);
    let ready = sink.provision(ctx, &resource, A).await.expect("provision");
    sink.provision(ctx, &resource, A)
        .await
        .expect("provision again, as a retried step does");
    write_one(ctx, sink, &ready).await;

    let e = sink
        .provision(ctx, &resource, B)
        .await
        .expect_err("another dataset adopted the resource");
    let message = e.to_string();
    assert!(
        message.contains("did not create it") && message.contains("names dataset dataset-a"),
        "{message}"
    );
    let left = sink.delete(ctx, &ready, B).await.expect("delete");
    assert!(left.contains("left in place"), "{left}");
    assert!(exists(&ready).await, "another dataset's delete removed it");

    let done = sink.delete(ctx, &ready, A).await.expect("delete");
    assert!(done.contains("deleted"), "{done}");
    assert!(!exists(&ready).await, "its dataset's delete left it");
    ready
}

/// An untagged resource that holds data: never adopted; deleted only by a dataset whose
/// provisioning step completed (what a release before tags created).
async fn an_untagged_resource_with_data_is_not_adopted(
    ctx: &ConnectorContext,
    sink: &dyn DocumentSink,
    resource: &ConnectorResource,
    exists: &impl AsyncFn(&ConnectorResource) -> bool,
) {
    let e = sink
        .provision(ctx, resource, A)
        .await
        .expect_err("adopted an untagged resource holding data");
    assert!(
        e.to_string()
            .contains(&format!("has no {OWNER_TAG} tag and is not empty")),
        "{e}"
    );
    let left = sink.delete(ctx, resource, A).await.expect("delete");
    assert!(left.contains("left in place"), "{left}");
    assert!(exists(resource).await);
    let done = sink
        .delete(ctx, resource, A_PROVISIONED)
        .await
        .expect("delete");
    assert!(done.contains("deleted"), "{done}");
    assert!(!exists(resource).await);
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn s3_buckets_are_owned() {
    let Some(ctx) = context().await else { return };
    let sink = sink(json!({"connectorDestination": "S3", "resourceLocation": "LetsData"}));
    let exists =
        async |r: &ConnectorResource| ctx.objects().bucket_exists(&r.name).await.expect("exists");
    created_adopted_and_deleted_only_by_its_dataset(&ctx, sink.as_ref(), &exists).await;

    let foreign = planned(sink.as_ref());
    ctx.objects()
        .create_bucket(&foreign.name)
        .await
        .expect("bucket");
    ctx.objects()
        .bucket(&foreign.name)
        .expect("bucket")
        .put("theirs.txt", Bytes::from_static(b"data"))
        .await
        .expect("put");
    an_untagged_resource_with_data_is_not_adopted(&ctx, sink.as_ref(), &foreign, &exists).await;

    // An empty untagged bucket (an attempt that died before tagging it) is adopted.
    let empty = planned(sink.as_ref());
    ctx.objects()
        .create_bucket(&empty.name)
        .await
        .expect("bucket");
    sink.provision(&ctx, &empty, A)
        .await
        .expect("adopt an empty bucket");
    let e = sink
        .provision(&ctx, &empty, B)
        .await
        .expect_err("now tagged");
    assert!(e.to_string().contains("names dataset dataset-a"), "{e}");
    sink.delete(&ctx, &empty, A).await.expect("delete");
}

#[tokio::test]
async fn local_buckets_are_owned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = ConnectorContext::new(
        Arc::new(ObjectStores::local(dir.path().to_path_buf())),
        "test",
    );
    let sink = sink(json!({"connectorDestination": "S3", "resourceLocation": "LetsData"}));
    let exists =
        async |r: &ConnectorResource| ctx.objects().bucket_exists(&r.name).await.expect("exists");
    let ready = created_adopted_and_deleted_only_by_its_dataset(&ctx, sink.as_ref(), &exists).await;
    assert!(
        !dir.path()
            .join(".letsdata-owners")
            .join(&ready.name)
            .exists(),
        "the owner record outlived its bucket"
    );

    let foreign = planned(sink.as_ref());
    std::fs::create_dir(dir.path().join(&foreign.name)).expect("dir");
    std::fs::write(dir.path().join(&foreign.name).join("theirs.txt"), "data").expect("file");
    an_untagged_resource_with_data_is_not_adopted(&ctx, sink.as_ref(), &foreign, &exists).await;
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_streams_are_owned() {
    let Some(ctx) = context().await else { return };
    let aws = common::clients().await.expect("clients");
    let sink = sink(json!({"connectorDestination": "Kinesis", "resourceLocation": "LetsData"}));
    let exists = async |r: &ConnectorResource| {
        // Deleting takes a moment on the emulator: DELETING counts as gone.
        match aws
            .kinesis()
            .describe_stream(&r.name)
            .await
            .expect("describe")
        {
            Some(info) => info.status != "DELETING",
            None => false,
        }
    };
    created_adopted_and_deleted_only_by_its_dataset(&ctx, sink.as_ref(), &exists).await;

    // A stream's content cannot be told cheaply: an untagged one is never adopted.
    let foreign = planned(sink.as_ref());
    aws.kinesis()
        .create_stream(&foreign.name, 1, &[])
        .await
        .expect("stream");
    aws.kinesis()
        .wait_active(&foreign.name, Duration::from_secs(30))
        .await
        .expect("active");
    let e = sink
        .provision(&ctx, &foreign, A)
        .await
        .expect_err("adopted an untagged stream");
    assert!(e.to_string().contains("did not create it"), "{e}");
    let left = sink.delete(&ctx, &foreign, A).await.expect("delete");
    assert!(left.contains("left in place"), "{left}");
    sink.delete(&ctx, &foreign, A_PROVISIONED)
        .await
        .expect("delete");
    assert!(!exists(&foreign).await);
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn sqs_queues_are_owned() {
    let Some(ctx) = context().await else { return };
    let aws = common::clients().await.expect("clients");
    let sink = sink(json!({"connectorDestination": "SQS", "resourceLocation": "LetsData"}));
    let exists = async |r: &ConnectorResource| aws.sqs().exists(&r.name).await.expect("exists");
    created_adopted_and_deleted_only_by_its_dataset(&ctx, sink.as_ref(), &exists).await;

    let foreign = planned(sink.as_ref());
    aws.sqs()
        .create_queue(&foreign.name, &[])
        .await
        .expect("queue");
    write_one(&ctx, sink.as_ref(), &foreign).await;
    an_untagged_resource_with_data_is_not_adopted(&ctx, sink.as_ref(), &foreign, &exists).await;
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_tables_are_owned() {
    let Some(ctx) = context().await else { return };
    let aws = common::clients().await.expect("clients");
    let sink = sink(json!({"connectorDestination": "DynamoDB", "resourceLocation": "LetsData"}));
    let exists =
        async |r: &ConnectorResource| aws.dynamodb().exists(&r.name).await.expect("exists");
    created_adopted_and_deleted_only_by_its_dataset(&ctx, sink.as_ref(), &exists).await;

    let foreign = planned(sink.as_ref());
    let ddb = aws.dynamodb();
    ddb.create_table(&TableSpec::new(&foreign.name))
        .await
        .expect("table");
    ddb.wait_active(&foreign.name, Duration::from_secs(30))
        .await
        .expect("active");
    let item = json!({"id": "theirs", "value": 1});
    ddb.writer(&foreign.name)
        .await
        .expect("writer")
        .write(&[item.as_object().expect("object").clone()])
        .await
        .expect("write");
    an_untagged_resource_with_data_is_not_adopted(&ctx, sink.as_ref(), &foreign, &exists).await;
}
