//! Part objects on S3 (moto): an upload a dead attempt left incomplete is aborted by the next
//! attempt's first commit.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use letsdata_connectors::s3::{ObjectStores, S3Settings, part_objects};
use letsdata_connectors::sink::DocumentBatch;

mod common;

fn settings(endpoint: String) -> S3Settings {
    S3Settings {
        endpoint,
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
        path_style: true,
    }
}

#[tokio::test]
async fn an_incomplete_upload_of_an_earlier_attempt_is_aborted() {
    let Some(endpoint) = common::endpoint() else {
        return;
    };
    let s = settings(endpoint);
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
    let mut parts = part_objects(bucket.clone(), "Ds/t1", false);
    parts
        .write(2, DocumentBatch::Lines(b"{\"id\":1}\n"))
        .await
        .expect("write");
    assert!(parts.commit(2, true).await.expect("commit"));
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
    assert!(
        bucket
            .exists("Ds/t1/part-00002.jsonl")
            .await
            .expect("exists")
    );
}
