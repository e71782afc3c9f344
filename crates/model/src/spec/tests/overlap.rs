//! Destinations that overlap, and names given for resources letsdata creates.

use super::*;

/// The example writing documents and errors to Customer buckets.
fn customer_buckets(write: &str, error: &str) -> Value {
    let mut v = example();
    set(
        &mut v,
        "writeConnector",
        json!({"connectorDestination": "S3", "resourceLocation": "Customer", "bucketName": write}),
    );
    set(
        &mut v,
        "errorConnector",
        json!({"connectorDestination": "S3", "resourceLocation": "Customer", "bucketName": error}),
    );
    v
}

#[test]
fn documents_errors_and_input_never_share_a_bucket() {
    parse_ok(&customer_buckets("docs-out", "docs-errors"));
    assert_only(
        &customer_buckets("shared-out", "shared-out"),
        "errorConnector.bucketName",
        "\"shared-out\" is also writeConnector.bucketName: documents and error records would share keys",
    );
    assert_only(
        &customer_buckets("quickstart-input", "docs-errors"),
        "writeConnector.bucketName",
        "\"quickstart-input\" is the bucket the dataset reads (readConnector.bucketName)",
    );
    assert_only(
        &customer_buckets("docs-out", "quickstart-input"),
        "errorConnector.bucketName",
        "\"quickstart-input\" is the bucket the dataset reads (readConnector.bucketName)",
    );
    // All three the same: both conflicts are reported.
    let ps = problems(&customer_buckets("quickstart-input", "quickstart-input"));
    assert_eq!(ps.len(), 3, "{}", render(&ps));
    assert_has(
        &ps,
        "errorConnector.bucketName",
        "is also writeConnector.bucketName",
    );
    assert_has(
        &ps,
        "writeConnector.bucketName",
        "is the bucket the dataset reads",
    );
    assert_has(
        &ps,
        "errorConnector.bucketName",
        "is the bucket the dataset reads",
    );
}

#[test]
fn a_dataset_never_writes_into_the_stream_or_topic_it_reads() {
    let mut v = aws::kinesis();
    set(
        &mut v,
        "writeConnector",
        json!({"connectorDestination": "Kinesis", "resourceLocation": "Customer",
               "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"}),
    );
    assert_only(
        &v,
        "writeConnector.streamArn",
        "is the stream the dataset reads (readConnector.streamArn)",
    );
    set(
        &mut v,
        "writeConnector",
        json!({"connectorDestination": "Kinesis", "resourceLocation": "Customer", "streamName": "clicks-enriched"}),
    );
    parse_ok(&v);

    let mut v = kafka_redis::kafka_read();
    // The same cluster, listed in another order.
    set(
        &mut v,
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "Customer",
               "bootstrapServers": "kafka2:9092,kafka1:9092", "topicName": "clicks"}),
    );
    assert_only(
        &v,
        "writeConnector.topicName",
        "is the topic the dataset reads",
    );
    // The same topic name on another cluster is another topic.
    set(
        &mut v,
        "writeConnector.bootstrapServers",
        json!("other:9092"),
    );
    parse_ok(&v);
}

#[test]
fn resources_letsdata_creates_cannot_be_named() {
    for (write, field) in [
        (
            json!({"connectorDestination": "Kinesis", "resourceLocation": "LetsData", "streamName": "clicks"}),
            "streamName",
        ),
        (
            json!({"connectorDestination": "Kinesis", "resourceLocation": "LetsData",
                   "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/x"}),
            "streamArn",
        ),
        (
            json!({"connectorDestination": "SQS", "resourceLocation": "LetsData", "queueName": "orders"}),
            "queueName",
        ),
        (
            json!({"connectorDestination": "DynamoDB", "resourceLocation": "LetsData", "tableName": "orders"}),
            "tableName",
        ),
        (
            json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData", "topicName": "orders"}),
            "topicName",
        ),
        (
            json!({"connectorDestination": "Redis", "resourceLocation": "LetsData", "keyPrefix": "orders:"}),
            "keyPrefix",
        ),
    ] {
        assert_only(
            &with("writeConnector", write),
            &format!("writeConnector.{field}"),
            &format!(
                "with resourceLocation LetsData letsdata creates the {} itself",
                match field {
                    "streamName" | "streamArn" => "stream",
                    "queueName" => "queue",
                    "tableName" => "table",
                    "topicName" => "topic",
                    _ => "keyspace",
                }
            ),
        );
    }
}
