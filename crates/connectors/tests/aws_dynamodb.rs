//! DynamoDB and DynamoDB Streams against the emulator (moto_server, started by
//! scripts/test.sh): table admin, batch writes with rejections, a parallel scan that returns
//! every item once, resuming a scan from a checkpointed key, and INSERT/MODIFY/REMOVE stream
//! records.

mod common;

use common::{clients, suffix};
use letsdata_connectors::aws::ShardStart;
use letsdata_connectors::aws::attribute_value::JsonObject;
use letsdata_connectors::dynamodb::{KeyAttributeType, ScanKey, ScanRequest, TableSpec};
use letsdata_connectors::dynamodb_streams::{DynamoDbStreamRecord, StreamEventName};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().expect("a JSON object")
}

fn doc(i: usize) -> JsonObject {
    obj(json!({
        "id": format!("doc-{i:03}"),
        "n": i,
        "ratio": i as f64 / 4.0 + 0.125,
        "tags": ["a", i % 3],
        "nested": {"even": i.is_multiple_of(2), "none": null},
    }))
}

/// Scans one segment to the end, page by page.
async fn scan_segment(
    ddb: &letsdata_connectors::dynamodb::DynamoDbClient,
    table: &str,
    segment: i32,
    total: i32,
) -> Vec<JsonObject> {
    let mut request = ScanRequest::segment(table, segment, total);
    let mut items = Vec::new();
    loop {
        let page = ddb.scan(&request).await.expect("scan");
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => request.exclusive_start_key = Some(key),
            None => return items,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_batch_write_parallel_scan_resume_and_admin() {
    let Some(aws) = clients().await else { return };
    let ddb = aws.dynamodb();
    let table = format!("letsdata-test-{}", suffix());

    assert!(!ddb.exists(&table).await.expect("exists"));
    ddb.create_table(&TableSpec::new(&table))
        .await
        .expect("create");
    ddb.create_table(&TableSpec::new(&table))
        .await
        .expect("create again");
    let info = ddb
        .wait_active(&table, Duration::from_secs(30))
        .await
        .expect("active");
    assert_eq!(info.name, table);
    assert!(
        info.arn.ends_with(&format!("table/{table}")),
        "{}",
        info.arn
    );
    assert_eq!(info.key_schema.hash_key.name, "id");
    assert_eq!(
        info.key_schema.hash_key.attribute_type,
        KeyAttributeType::String
    );
    assert_eq!(info.key_schema.range_key, None);
    assert_eq!(info.stream_arn, None);

    // 120 documents in 5+ calls, a later version of doc-005 in the same batch (goes to the
    // next call), and three documents that are rejected before sending.
    let mut docs: Vec<JsonObject> = (0..120).map(doc).collect();
    let mut newer = doc(5);
    newer.insert("version".into(), json!(2));
    docs.insert(10, newer.clone());
    docs.push(obj(json!({"name": "no id"})));
    docs.push(obj(json!({"id": 7})));
    docs.push(obj(json!({"id": "k".repeat(3000)})));
    let writer = ddb.writer(&table).await.expect("writer");
    let report = writer.write(&docs).await.expect("write");
    assert_eq!(report.succeeded, 121);
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, vec![121, 122, 123]);
    assert!(
        report.rejected[0]
            .reason
            .contains("no partition key attribute \"id\"")
    );
    assert!(report.rejected[1].reason.contains("must be a string"));
    assert!(report.rejected[2].reason.contains("3000 bytes"));

    // Parallel scan, 2 segments: every item exactly once, as written.
    let mut seen: BTreeMap<String, JsonObject> = BTreeMap::new();
    let mut per_segment = Vec::new();
    for segment in 0..2 {
        let items = scan_segment(&ddb, &table, segment, 2).await;
        per_segment.push(items.len());
        for item in items {
            let id = item["id"].as_str().expect("id").to_string();
            assert!(
                seen.insert(id.clone(), item).is_none(),
                "{id} in two segments"
            );
        }
    }
    assert_eq!(seen.len(), 120, "segments {per_segment:?}");
    assert!(
        per_segment.iter().all(|&n| n > 0),
        "segments {per_segment:?}"
    );
    assert_eq!(seen["doc-005"], newer);
    for i in [0, 1, 42, 119] {
        assert_eq!(seen[&format!("doc-{i:03}")], doc(i));
    }

    // Resume from a checkpointed LastEvaluatedKey with a small page size.
    let mut request = ScanRequest::segment(&table, 0, 1);
    request.limit = Some(7);
    let mut resumed: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let page = ddb.scan(&request).await.expect("scan");
        pages += 1;
        assert!(page.items.len() <= 7);
        resumed.extend(
            page.items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_string()),
        );
        let Some(key) = page.last_evaluated_key else {
            break;
        };
        let checkpoint = key.to_checkpoint().expect("checkpoint");
        assert!(checkpoint.contains("\"S\""), "{checkpoint}");
        request.exclusive_start_key = Some(ScanKey::from_checkpoint(&checkpoint).expect("parse"));
    }
    assert!(pages >= 18, "{pages} pages");
    let count = resumed.len();
    resumed.sort();
    resumed.dedup();
    assert_eq!(resumed.len(), count, "no item twice");
    assert_eq!(resumed.len(), 120);

    ddb.delete_table(&table).await.expect("delete");
    ddb.delete_table(&table).await.expect("delete again");
    assert!(!ddb.exists(&table).await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_stream_records_insert_modify_remove() {
    let Some(aws) = clients().await else { return };
    let ddb = aws.dynamodb();
    let streams = aws.dynamodb_streams();
    let table = format!("letsdata-test-{}", suffix());
    ddb.create_table(&TableSpec::new(&table).with_stream(true))
        .await
        .expect("create");
    let info = ddb
        .wait_active(&table, Duration::from_secs(30))
        .await
        .expect("active");
    let stream_arn = info.stream_arn.clone().expect("stream enabled");
    assert_eq!(info.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
    let stream = streams
        .describe_stream(&stream_arn)
        .await
        .expect("describe")
        .expect("stream exists");
    assert_eq!(stream.table_name, table);
    assert_eq!(stream.view_type, "NEW_AND_OLD_IMAGES");

    // INSERT, MODIFY, then REMOVE (through the SDK: the writer only puts).
    let writer = ddb.writer(&table).await.expect("writer");
    let v1 = obj(json!({"id": "a", "v": 1}));
    let v2 = obj(json!({"id": "a", "v": 2, "s": "two"}));
    assert_eq!(
        writer
            .write(std::slice::from_ref(&v1))
            .await
            .expect("put")
            .succeeded,
        1
    );
    assert_eq!(
        writer
            .write(std::slice::from_ref(&v2))
            .await
            .expect("put")
            .succeeded,
        1
    );
    aws_sdk_dynamodb::Client::new(aws.sdk_config())
        .delete_item()
        .table_name(&table)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .send()
        .await
        .expect("delete item");

    let shards = streams.list_shards(&stream_arn).await.expect("shards");
    assert!(!shards.is_empty());
    let mut records: Vec<DynamoDbStreamRecord> = Vec::new();
    for s in &shards {
        let mut reader = streams.shard_reader(&stream_arn, &s.shard_id, ShardStart::Earliest);
        loop {
            let batch = reader.poll().await.expect("poll");
            if batch.records.is_empty() {
                break;
            }
            records.extend(batch.records);
        }
    }
    let events: Vec<StreamEventName> = records.iter().map(|r| r.event_name).collect();
    assert_eq!(
        events,
        vec![
            StreamEventName::Insert,
            StreamEventName::Modify,
            StreamEventName::Remove
        ]
    );
    let key = obj(json!({"id": "a"}));
    for r in &records {
        assert_eq!(r.keys, key);
        assert!(!r.event_id.is_empty());
        assert!(r.size_bytes > 0);
        assert!(r.approximate_creation_time.is_some());
        assert_eq!(r.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
    }
    assert_eq!(records[0].old_image, None);
    assert_eq!(records[0].new_image.as_ref(), Some(&v1));
    assert_eq!(records[1].old_image.as_ref(), Some(&v1));
    assert_eq!(records[1].new_image.as_ref(), Some(&v2));
    assert_eq!(records[2].old_image.as_ref(), Some(&v2));
    assert_eq!(records[2].new_image, None);

    // Resume after the first record's sequence number.
    let shard_of_first = &shards[0].shard_id;
    let mut resumed = streams.shard_reader(
        &stream_arn,
        shard_of_first,
        ShardStart::AfterSequenceNumber(records[0].sequence_number.clone()),
    );
    let batch = resumed.poll().await.expect("poll");
    let names: Vec<&str> = batch
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(names, vec!["MODIFY", "REMOVE"]);
    assert_eq!(
        resumed.last_sequence_number(),
        Some(records[2].sequence_number.as_str())
    );

    ddb.delete_table(&table).await.expect("delete");
}

/// A whole `BatchWriteItem` refused as invalid is retried item by item so that only the item
/// at fault is rejected. The trigger is an item of ~406 KB: under the 400 KiB (409,600 bytes)
/// that DynamoDB takes and the writer checks, over the 405,000 bytes moto_server allows.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_rejects_only_the_items_the_service_refuses() {
    let Some(aws) = clients().await else { return };
    let ddb = aws.dynamodb();
    let table = format!("letsdata-test-{}", suffix());
    ddb.create_table(&TableSpec::new(&table))
        .await
        .expect("create");
    ddb.wait_active(&table, Duration::from_secs(30))
        .await
        .expect("active");
    let writer = ddb.writer(&table).await.expect("writer");
    let docs = vec![
        obj(json!({"id": "ok-1"})),
        obj(json!({"id": "big", "pad": "x".repeat(406_000)})),
        obj(json!({"id": "ok-2"})),
    ];
    let report = writer.write(&docs).await.expect("write");
    assert_eq!(report.succeeded, 2, "{report:?}");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].index, 1);
    assert!(
        report.rejected[0].reason.contains("ValidationException"),
        "{}",
        report.rejected[0].reason
    );
    let mut ids: Vec<String> = scan_segment(&ddb, &table, 0, 1)
        .await
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["ok-1", "ok-2"]);
    ddb.delete_table(&table).await.expect("delete");
}
