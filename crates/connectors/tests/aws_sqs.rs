//! SQS against the emulator (moto_server, started by scripts/test.sh): queue admin, batch
//! sending with rejections and the message id attribute, receive, visibility, delete.

mod common;

use common::{clients, suffix};
use letsdata_connectors::sqs::{ReceiveOptions, SqsMessage, SqsOutgoingMessage, VisibilityChange};
use std::collections::BTreeMap;
use std::time::Duration;

fn message(id: &str, body: String) -> SqsOutgoingMessage {
    SqsOutgoingMessage {
        body,
        document_id: Some(id.to_string()),
        ..SqsOutgoingMessage::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn sqs_send_receive_delete_and_admin() {
    let Some(aws) = clients().await else { return };
    let sqs = aws.sqs();
    let name = format!("letsdata-test-{}", suffix());

    assert!(!sqs.exists(&name).await.expect("exists"));
    assert!(sqs.queue_url(&name).await.is_err());
    let url = sqs.create_queue(&name, &[]).await.expect("create");
    assert_eq!(
        sqs.create_queue(&name, &[]).await.expect("create again"),
        url
    );
    assert!(sqs.exists(&name).await.expect("exists"));
    assert_eq!(sqs.queue_url(&name).await.expect("url"), url);
    let arn = sqs.queue_arn(&url).await.expect("arn");
    assert!(
        arn.starts_with("arn:aws:sqs:") && arn.ends_with(&format!(":{name}")),
        "{arn}"
    );

    // 25 small documents, 4 of 100 KiB (which force batches under 256 KiB), one of 300 KiB
    // (rejected, not sent), one without the id the message id attribute needs and one with a
    // character SQS does not allow (both rejected).
    let mut docs: Vec<SqsOutgoingMessage> = (0..25)
        .map(|i| message(&format!("doc-{i}"), format!("{{\"id\":\"doc-{i}\"}}")))
        .collect();
    for i in 0..4 {
        docs.push(message(&format!("big-{i}"), "x".repeat(100 * 1024)));
    }
    docs.push(message("huge", "y".repeat(300 * 1024)));
    docs.push(SqsOutgoingMessage {
        body: "{}".into(),
        ..SqsOutgoingMessage::default()
    });
    docs.push(message("nul", "a\u{0}b".into()));
    let sender = sqs.sender(&url, Some("docId"));
    let report = sender.send_batch(&docs).await.expect("send");
    assert_eq!(report.succeeded, 29);
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, vec![29, 30, 31]);
    assert!(
        report.rejected[0].reason.contains("exceeds the SQS limit"),
        "{}",
        report.rejected[0].reason
    );
    assert!(report.rejected[1].reason.contains("docId"));
    assert!(report.rejected[2].reason.contains("not allowed"));

    // Receive everything (long poll, 30 s invisibility).
    let options = ReceiveOptions {
        max_messages: 10,
        wait_time: Duration::from_secs(1),
        visibility_timeout: Some(Duration::from_secs(30)),
    };
    let mut received: BTreeMap<String, SqsMessage> = BTreeMap::new();
    for _ in 0..20 {
        let batch = sqs.receive(&url, &options).await.expect("receive");
        assert!(batch.len() <= 10);
        for m in batch {
            let id = m.message_attributes["docId"].clone();
            assert!(received.insert(id, m).is_none(), "received twice");
        }
        if received.len() == 29 {
            break;
        }
    }
    assert_eq!(received.len(), 29);
    assert_eq!(received["doc-3"].body, "{\"id\":\"doc-3\"}");
    assert_eq!(received["big-2"].body.len(), 100 * 1024);
    assert_eq!(received["doc-3"].attributes["ApproximateReceiveCount"], "1");
    assert!(!received["doc-3"].message_id.is_empty());
    assert!(
        sqs.receive(
            &url,
            &ReceiveOptions {
                wait_time: Duration::ZERO,
                ..options
            }
        )
        .await
        .expect("receive")
        .is_empty()
    );

    // Visibility: making one message visible again redelivers it.
    let again = VisibilityChange {
        receipt_handle: received["doc-0"].receipt_handle.clone(),
        timeout: Duration::ZERO,
    };
    let report = sqs
        .change_visibility_batch(&url, &[again])
        .await
        .expect("visibility");
    assert_eq!(report.succeeded, 1);
    let redelivered = sqs.receive(&url, &options).await.expect("receive");
    assert_eq!(redelivered.len(), 1);
    assert_eq!(redelivered[0].message_attributes["docId"], "doc-0");
    assert_eq!(redelivered[0].attributes["ApproximateReceiveCount"], "2");
    received.insert("doc-0".into(), redelivered[0].clone());

    // Delete all (three delete calls), and the queue is empty.
    let handles: Vec<String> = received
        .values()
        .map(|m| m.receipt_handle.clone())
        .collect();
    let report = sqs.delete_batch(&url, &handles).await.expect("delete");
    assert_eq!(report.succeeded, 29);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 0, "{counts:?}");

    sqs.delete_queue(&url).await.expect("delete queue");
    sqs.delete_queue(&url).await.expect("delete queue again");
    assert!(!sqs.exists(&name).await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn sqs_fifo_queue_uses_document_ids_for_deduplication() {
    let Some(aws) = clients().await else { return };
    let sqs = aws.sqs();
    let name = format!("letsdata-test-{}.fifo", suffix());
    let url = sqs.create_queue(&name, &[]).await.expect("create");
    let sender = sqs.sender(&url, Some("docId"));
    let docs = vec![
        SqsOutgoingMessage {
            message_group_id: Some("g".into()),
            ..message("a", "first".into())
        },
        SqsOutgoingMessage {
            message_group_id: Some("g".into()),
            ..message("a", "duplicate of a".into())
        },
        SqsOutgoingMessage {
            message_group_id: Some("g".into()),
            ..message("b", "second".into())
        },
    ];
    let report = sender.send_batch(&docs).await.expect("send");
    assert_eq!(report.succeeded, 3);
    let options = ReceiveOptions {
        max_messages: 10,
        wait_time: Duration::from_secs(1),
        visibility_timeout: Some(Duration::from_secs(30)),
    };
    let got = sqs.receive(&url, &options).await.expect("receive");
    let bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["first", "second"],
        "deduplicated by document id, in order"
    );
    assert_eq!(got[0].message_group_id.as_deref(), Some("g"));
    assert_eq!(got[0].deduplication_id.as_deref(), Some("a"));
    let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
    assert_eq!(
        sqs.delete_batch(&url, &handles)
            .await
            .expect("delete")
            .succeeded,
        2
    );
    sqs.delete_queue(&url).await.expect("delete queue");
}
