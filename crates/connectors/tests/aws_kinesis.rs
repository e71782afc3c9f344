//! Kinesis against the emulator (moto_server, started by scripts/test.sh): stream admin,
//! gzip `PutRecords` with rejections, reading two shards from `Earliest`, resuming after a
//! checkpointed sequence number, and `Latest`.

mod common;

use bytes::Bytes;
use common::{clients, suffix};
use letsdata_connectors::aws::{AwsClients, AwsSettings, RetryPolicy, ShardStart};
use letsdata_connectors::kinesis::{
    KinesisPutRecord, KinesisRecord, effective_partition_key, gunzip,
};
use letsdata_connectors::{ConnectorError, FailureKind};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Bytes gzip cannot shrink (xorshift), to exceed the record limit after compression.
fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Polls a reader until a poll returns nothing.
async fn drain(
    reader: &mut letsdata_connectors::kinesis::KinesisShardReader,
) -> Vec<KinesisRecord> {
    let mut out = Vec::new();
    loop {
        let batch = reader.poll().await.expect("poll");
        if batch.records.is_empty() {
            return out;
        }
        out.extend(batch.records);
    }
}

fn doc(i: usize) -> String {
    format!(
        "{{\"id\":\"doc-{i}\",\"text\":\"{}\"}}",
        "lorem ipsum ".repeat(i % 7)
    )
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_put_read_resume_and_admin() {
    let Some(aws) = clients().await else { return };
    let kinesis = aws.kinesis();
    let name = format!("letsdata-test-{}", suffix());

    // Admin: create (idempotent), wait, describe.
    assert!(!kinesis.exists(&name).await.expect("exists"));
    kinesis.create_stream(&name, 2, &[]).await.expect("create");
    kinesis
        .create_stream(&name, 2, &[])
        .await
        .expect("create again");
    let info = kinesis
        .wait_active(&name, Duration::from_secs(30))
        .await
        .expect("active");
    assert_eq!(info.name, name);
    assert!(info.arn.starts_with("arn:aws:kinesis:") && info.arn.ends_with(&format!("/{name}")));
    assert_eq!(info.status, "ACTIVE");
    assert_eq!(info.open_shard_count, 2);
    let by_arn = kinesis.describe_stream(&info.arn).await.expect("describe");
    assert_eq!(by_arn.as_ref(), Some(&info));
    let arn = info.arn.clone();

    let shards = kinesis.list_shards(&arn).await.expect("shards");
    assert_eq!(shards.len(), 2);
    for s in &shards {
        assert!(!s.is_closed());
        assert_eq!(s.parent_ids().count(), 0);
    }

    // Write 600 documents (two PutRecords calls), one with a 300-byte partition key, plus
    // an empty key and an incompressible 1.1 MiB document, which are rejected.
    let long_key = "p".repeat(300);
    let mut records: Vec<KinesisPutRecord> = (0..600)
        .map(|i| KinesisPutRecord {
            partition_key: format!("doc-{i}"),
            data: Bytes::from(doc(i)),
        })
        .collect();
    records[17].partition_key = long_key.clone();
    records.push(KinesisPutRecord {
        partition_key: String::new(),
        data: Bytes::from_static(b"{}"),
    });
    records.push(KinesisPutRecord {
        partition_key: "big".into(),
        data: Bytes::from(incompressible(1_100_000)),
    });
    let writer = kinesis.writer(&arn);
    let report = writer.put_records(&records).await.expect("put");
    assert_eq!(report.succeeded, 600);
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, vec![600, 601]);
    assert!(report.rejected[0].reason.contains("empty"));
    assert!(
        report.rejected[1]
            .reason
            .contains("exceeds the Kinesis limit"),
        "{}",
        report.rejected[1].reason
    );

    // Read both shards from the start: every document exactly once, gunzipped intact.
    let mut by_key: BTreeMap<String, Bytes> = BTreeMap::new();
    let mut per_shard = Vec::new();
    for s in &shards {
        let mut reader = kinesis.shard_reader(&arn, &s.shard_id, ShardStart::Earliest);
        let got = drain(&mut reader).await;
        assert!(!reader.is_closed());
        let seqs: Vec<u128> = got
            .iter()
            .map(|r| r.sequence_number.parse().expect("numeric sequence number"))
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "shard order");
        for r in &got {
            assert!(r.arrival_timestamp.is_some());
            let data = gunzip(&r.data).expect("gzip record");
            assert!(
                by_key.insert(r.partition_key.clone(), data).is_none(),
                "duplicate {}",
                r.partition_key
            );
        }
        per_shard.push((s.shard_id.clone(), got));
    }
    assert_eq!(by_key.len(), 600);
    assert!(
        per_shard.iter().all(|(_, got)| !got.is_empty()),
        "both shards used"
    );
    let hashed = effective_partition_key(&long_key);
    assert_eq!(hashed.len(), 64);
    assert_eq!(by_key[&hashed], Bytes::from(doc(17)));
    assert_eq!(by_key["doc-599"], Bytes::from(doc(599)));
    let keys: BTreeSet<&String> = by_key.keys().collect();
    assert!(!keys.contains(&long_key));

    // Resume: read 10 records, checkpoint, and continue after it from a new reader.
    let (shard_id, all) = &per_shard[0];
    let mut first = kinesis
        .shard_reader(&arn, shard_id, ShardStart::Earliest)
        .with_limit(10);
    let batch = first.poll().await.expect("poll");
    assert_eq!(batch.records.len(), 10.min(all.len()));
    let checkpoint = first
        .last_sequence_number()
        .expect("checkpoint")
        .to_string();
    assert_eq!(checkpoint, all[batch.records.len() - 1].sequence_number);
    let mut resumed =
        kinesis.shard_reader(&arn, shard_id, ShardStart::AfterSequenceNumber(checkpoint));
    let rest = drain(&mut resumed).await;
    let expected: Vec<&String> = all[batch.records.len()..]
        .iter()
        .map(|r| &r.sequence_number)
        .collect();
    let actual: Vec<&String> = rest.iter().map(|r| &r.sequence_number).collect();
    assert_eq!(actual, expected);

    // AtTimestamp before the first write: the whole shard.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    let mut at = kinesis.shard_reader(&arn, shard_id, ShardStart::AtTimestamp(an_hour_ago));
    assert_eq!(drain(&mut at).await.len(), all.len());

    // Latest: only records written after the iterator was taken.
    let mut latest: Vec<_> = shards
        .iter()
        .map(|s| kinesis.shard_reader(&arn, &s.shard_id, ShardStart::Latest))
        .collect();
    for r in &mut latest {
        assert!(r.poll().await.expect("poll").records.is_empty());
    }
    let more: Vec<KinesisPutRecord> = (0..5)
        .map(|i| KinesisPutRecord {
            partition_key: format!("late-{i}"),
            data: Bytes::from(format!("late {i}")),
        })
        .collect();
    assert_eq!(writer.put_records(&more).await.expect("put").succeeded, 5);
    let mut late = BTreeSet::new();
    for r in &mut latest {
        for rec in drain(r).await {
            late.insert(String::from_utf8(gunzip(&rec.data).expect("gz").to_vec()).expect("utf8"));
        }
    }
    assert_eq!(late, (0..5).map(|i| format!("late {i}")).collect());

    kinesis.delete_stream(&name).await.expect("delete");
    kinesis.delete_stream(&name).await.expect("delete again");
    assert!(!kinesis.exists(&name).await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn missing_streams_are_user_errors_with_the_service_code() {
    let Some(aws) = clients().await else { return };
    let kinesis = aws.kinesis();
    let arn = format!(
        "arn:aws:kinesis:us-east-1:123456789012:stream/letsdata-missing-{}",
        suffix()
    );
    assert_eq!(kinesis.describe_stream(&arn).await.expect("describe"), None);
    let err = kinesis.list_shards(&arn).await.expect_err("no stream");
    assert_eq!(err.kind(), FailureKind::User, "{err}");
    match &err {
        ConnectorError::Aws { code, .. } => {
            assert_eq!(code.as_deref(), Some("ResourceNotFoundException"))
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains(&arn), "{err}");
}

/// Needs no emulator: nothing listens on the endpoint, so every attempt fails to connect.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoints_are_retried_then_fail_as_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let settings = AwsSettings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".to_string()),
        access_key_id: Some("testing".to_string()),
        secret_access_key: Some("testing".to_string()),
        session_token: None,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
        },
    };
    let aws = AwsClients::connect(&settings).await;
    let started = std::time::Instant::now();
    let err = aws
        .kinesis()
        .describe_stream("letsdata-unreachable")
        .await
        .expect_err("nothing listens");
    // Two back-offs of at least 100 ms and 200 ms (equal jitter) between three attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), FailureKind::Transient, "{err}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn shards_list_their_parents_after_a_merge() {
    let Some(aws) = clients().await else { return };
    let kinesis = aws.kinesis();
    let name = format!("letsdata-test-{}", suffix());
    kinesis.create_stream(&name, 2, &[]).await.expect("create");
    let arn = kinesis
        .wait_active(&name, Duration::from_secs(30))
        .await
        .expect("active")
        .arn;
    let before = kinesis.list_shards(&arn).await.expect("shards");
    assert_eq!(before.len(), 2);
    aws_sdk_kinesis::Client::new(aws.sdk_config())
        .merge_shards()
        .stream_arn(&arn)
        .shard_to_merge(&before[0].shard_id)
        .adjacent_shard_to_merge(&before[1].shard_id)
        .send()
        .await
        .expect("merge");
    kinesis
        .wait_active(&name, Duration::from_secs(30))
        .await
        .expect("active");

    let after = kinesis.list_shards(&arn).await.expect("shards");
    assert_eq!(after.len(), 3);
    let (closed, open): (Vec<_>, Vec<_>) = after.iter().partition(|s| s.is_closed());
    let closed_ids: BTreeSet<&str> = closed.iter().map(|s| s.shard_id.as_str()).collect();
    let parents: BTreeSet<&str> = before.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(closed_ids, parents);
    assert_eq!(open.len(), 1);
    let child_parents: BTreeSet<&str> = open[0].parent_ids().collect();
    assert_eq!(child_parents, parents);
    kinesis.delete_stream(&arn).await.expect("delete by ARN");
    assert!(!kinesis.exists(&name).await.expect("exists"));
}
