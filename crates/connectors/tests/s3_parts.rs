//! Part objects on S3 (moto): staged as multipart uploads, visible only once published; an
//! upload a dead attempt left incomplete is aborted by the next attempt's recovery, after its
//! fence check, and one the last checkpoint recorded is completed instead.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use letsdata_connectors::ConnectorError;
use letsdata_connectors::s3::{ObjectStores, part_objects};
use letsdata_connectors::sink::{DocumentBatch, Fence, Staged};
use std::sync::atomic::{AtomicU32, Ordering};

/// Counts its checks; fails them when `held` is false.
struct Counted {
    checks: AtomicU32,
    held: bool,
}

#[async_trait::async_trait]
impl Fence for Counted {
    async fn check(&self) -> Result<(), ConnectorError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.held {
            Ok(())
        } else {
            Err(ConnectorError::User("lease lost".into()))
        }
    }
}

mod common;

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn an_incomplete_upload_of_an_earlier_attempt_is_aborted() {
    let Some(endpoint) = common::endpoint() else {
        return;
    };
    let s = common::s3_settings(endpoint);
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&s.endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    );
    let bucket_name = format!("parts-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let stores = ObjectStores::s3(s);
    stores.create_bucket(&bucket_name).await.expect("bucket");
    // The attempt that died: a multipart upload of part 2 begun, never completed; and one of
    // another task, which is not this task's to abort.
    for key in ["Ds/t1/part-00002.jsonl", "Ds/t2/part-00000.jsonl"] {
        client
            .create_multipart_upload()
            .bucket(&bucket_name)
            .key(key)
            .send()
            .await
            .expect("begin upload");
    }
    let uploads = |prefix: &'static str| {
        let (client, bucket) = (client.clone(), bucket_name.clone());
        async move {
            let page = client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .expect("list uploads");
            page.uploads().len()
        }
    };
    assert_eq!(uploads("Ds/t1/").await, 1);

    let bucket = stores.bucket(&bucket_name).expect("bucket");
    // Attempt 7 stages part 1 (more than one 8 MiB upload chunk) and its checkpoint records
    // it; then it dies before publishing.
    let mut dead = part_objects(bucket.clone(), "Ds/t1", false, 7);
    let line = vec![b'x'; 1023]
        .into_iter()
        .chain([b'\n'])
        .collect::<Vec<u8>>();
    for _ in 0..9 * 1024 {
        dead.write(1, DocumentBatch::Lines(&line))
            .await
            .expect("write");
    }
    let Staged::Pending(recorded) = dead.stage(1).await.expect("stage") else {
        panic!("part objects are staged");
    };
    assert_eq!(
        recorded["parts"].as_array().map(Vec::len),
        Some(2),
        "{recorded}"
    );
    drop(dead);
    assert!(
        !bucket
            .exists("Ds/t1/part-00001.jsonl")
            .await
            .expect("exists")
    );
    assert_eq!(uploads("Ds/t1/").await, 2);

    // A worker that lost the task finds the uploads but removes none.
    let mut stale = part_objects(bucket.clone(), "Ds/t1", false, 7);
    let lost = Counted {
        checks: AtomicU32::new(0),
        held: false,
    };
    assert!(stale.recover(None, &lost).await.is_err());
    assert_eq!(lost.checks.load(Ordering::SeqCst), 1);
    assert_eq!(uploads("Ds/t1/").await, 2);

    // Attempt 8 publishes what the checkpoint recorded and aborts the other upload.
    let mut parts = part_objects(bucket.clone(), "Ds/t1", false, 8);
    let held = Counted {
        checks: AtomicU32::new(0),
        held: true,
    };
    assert_eq!(
        parts
            .recover(Some(&recorded), &held)
            .await
            .expect("recover"),
        1
    );
    assert_eq!(held.checks.load(Ordering::SeqCst), 1);
    assert_eq!(
        bucket
            .read_all("Ds/t1/part-00001.jsonl")
            .await
            .expect("read")
            .len(),
        9 * 1024 * 1024
    );
    assert_eq!(
        uploads("Ds/t1/").await,
        0,
        "the dead attempt's upload is aborted"
    );
    assert_eq!(
        uploads("Ds/t2/").await,
        1,
        "another task's upload is left alone"
    );
    // Publishing again (a late worker) changes nothing.
    parts.publish(&recorded).await.expect("published twice");

    parts
        .write(2, DocumentBatch::Lines(b"{\"id\":1}\n"))
        .await
        .expect("write");
    let Staged::Pending(staged) = parts.stage(2).await.expect("stage") else {
        panic!("part objects are staged");
    };
    assert!(
        !bucket
            .exists("Ds/t1/part-00002.jsonl")
            .await
            .expect("exists")
    );
    parts.publish(&staged).await.expect("publish");
    assert_eq!(
        bucket
            .read_all("Ds/t1/part-00002.jsonl")
            .await
            .expect("read"),
        "{\"id\":1}\n"
    );
    // Nothing to do: no fence check.
    let mut idle = part_objects(bucket.clone(), "Ds/t1", false, 9);
    let quiet = Counted {
        checks: AtomicU32::new(0),
        held: true,
    };
    assert_eq!(idle.recover(None, &quiet).await.expect("recover"), 0);
    assert_eq!(quiet.checks.load(Ordering::SeqCst), 0);
}
