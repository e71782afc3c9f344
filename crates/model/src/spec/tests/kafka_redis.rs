//! The Kafka read and write connectors, the Kafka manifest and the Redis write connector.

use super::*;
use crate::spec::{
    Implementation, KafkaCompression, KafkaSaslMechanism, Manifest, ReadConnector,
    ResourceLocation, StreamStart, StreamStop, WriteConnector,
};

pub(super) fn kafka_read() -> Value {
    let mut v = example();
    set(
        &mut v,
        "readConnector",
        json!({
            "connectorDestination": "KAFKA",
            "bootstrapServers": "kafka1:9092, kafka2:9092",
            "topicName": "clicks",
            "resourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin",
            "builtinParser": "jsonl",
            "documentIdField": "id"
        }),
    );
    set(
        &mut v,
        "manifestFile",
        json!({
            "manifestType": "KafkaReaderManifest",
            "kafkaReaderTaskStartFromCondition": "Earliest",
            "kafkaReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kafkaReaderTaskStopAfterConsecutiveEmptyPolls": 2
        }),
    );
    v
}

#[test]
fn a_kafka_read_connector_lists_its_cluster_topic_and_manifest() {
    let spec = parse_ok(&kafka_read());
    let ReadConnector::Kafka(k) = &spec.read_connector else {
        panic!("kafka: {spec:?}");
    };
    assert_eq!(k.cluster.bootstrap_servers, ["kafka1:9092", "kafka2:9092"]);
    assert_eq!(k.topic_name, "clicks");
    assert_eq!(k.resource_location, ResourceLocation::Customer);
    assert!(matches!(k.implementation, Implementation::Builtin(_)));
    assert!(!k.cluster.security.tls && k.cluster.security.sasl.is_none());
    let Manifest::Kafka(m) = spec.manifest else {
        panic!("manifest: {:?}", spec.manifest);
    };
    assert_eq!(m.start, StreamStart::Earliest);
    assert_eq!(m.stop, StreamStop::AfterEmptyPolls(2));

    let mut v = kafka_read();
    set(
        &mut v,
        "manifestFile.kafkaReaderTaskStartFromCondition",
        json!("AtTimestamp"),
    );
    set(
        &mut v,
        "manifestFile.kafkaReaderTaskStartTimestamp",
        json!("2026-01-31T12:00:00Z"),
    );
    let Manifest::Kafka(m) = parse_ok(&v).manifest else {
        panic!("kafka manifest");
    };
    assert_eq!(m.start, StreamStart::AtTimestamp(1_769_860_800_000));
}

#[test]
fn kafka_read_problems_name_the_field() {
    assert_only(
        &with_read(kafka_read(), "topicName", None),
        "readConnector.topicName",
        "is required",
    );
    let v = with_read(kafka_read(), "bootstrapServers", Some(json!("kafka1")));
    assert_only(&v, "readConnector.bootstrapServers", "is not host:port");
    let v = with_read(kafka_read(), "topicName", Some(json!("bad topic!")));
    assert_only(&v, "readConnector.topicName", "is not a Kafka topic name");
    let v = with_read(kafka_read(), "bootstrapServers", None);
    assert_only(
        &v,
        "readConnector.bootstrapServers",
        "is required when resourceLocation is Customer",
    );
    let mut v = kafka_read();
    set(
        &mut v,
        "manifestFile.manifestType",
        json!("KinesisStreamReaderManifest"),
    );
    assert_has(
        &problems(&v),
        "manifestFile.manifestType",
        "use KafkaReaderManifest",
    );
    let v = with_read(kafka_read(), "saslUsername", Some(json!("u")));
    assert_only(
        &v,
        "readConnector.saslUsername",
        "is only used with securityProtocol SASL_PLAINTEXT or SASL_SSL",
    );
    let v = with_read(kafka_read(), "topicNmae", Some(json!("x")));
    assert_has(
        &problems(&v),
        "readConnector.topicNmae",
        "did you mean \"topicName\"",
    );
}

#[test]
fn kafka_security_settings_are_read() {
    let mut v = kafka_read();
    for (k, val) in [
        ("securityProtocol", json!("SASL_SSL")),
        ("saslMechanism", json!("SCRAM-SHA-512")),
        ("saslUsername", json!("reader")),
        ("saslPassword", json!("${env:KAFKA_PASSWORD}")),
        ("sslCaLocation", json!("/etc/ssl/kafka-ca.pem")),
    ] {
        v = with_read(v, k, Some(val));
    }
    let spec = parse_ok(&v);
    let ReadConnector::Kafka(k) = &spec.read_connector else {
        panic!("kafka");
    };
    let s = &k.cluster.security;
    assert!(s.tls);
    assert_eq!(s.ssl_ca_location.as_deref(), Some("/etc/ssl/kafka-ca.pem"));
    let sasl = s.sasl.as_ref().expect("sasl");
    assert_eq!(sasl.mechanism, KafkaSaslMechanism::ScramSha512);
    assert_eq!(sasl.password, "${env:KAFKA_PASSWORD}");
    let v = with_read(v, "saslMechanism", None);
    assert_only(&v, "readConnector.saslMechanism", "is required");
}

#[test]
fn kafka_write_connectors_letsdata_and_customer() {
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
               "kafkaPartitionCount": 3, "compression": "zstd"}),
    );
    let WriteConnector::Kafka(w) = parse_ok(&v).write_connector else {
        panic!("kafka write");
    };
    assert_eq!(w.partition_count, 3);
    assert_eq!(w.compression, KafkaCompression::Zstd);
    assert_eq!(w.topic_name, None);
    assert_eq!(w.max_message_bytes, 1024 * 1024);
    assert!(w.cluster.bootstrap_servers.is_empty());

    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
               "bootstrapServers": "k:9092"}),
    );
    assert_only(
        &v,
        "writeConnector.bootstrapServers",
        "a LetsData topic is on this installation's own cluster",
    );
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "Customer",
               "bootstrapServers": "k:9092"}),
    );
    assert_only(&v, "writeConnector.topicName", "is required");
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "Customer",
               "bootstrapServers": "k:9092", "topicName": "out", "kafkaPartitionCount": 2}),
    );
    assert_only(
        &v,
        "writeConnector.kafkaPartitionCount",
        "a Customer topic keeps its partitions",
    );
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
               "compression": "brotli"}),
    );
    assert_only(
        &v,
        "writeConnector.compression",
        "accepted values: none, gzip, snappy, lz4, zstd",
    );
}

#[test]
fn redis_write_connectors() {
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Redis", "redisUrl": "redis://cache:6379/2",
               "keyPrefix": "docs:", "ttlInSeconds": 3600,
               "redisPassword": "${env:REDIS_PASSWORD}"}),
    );
    let WriteConnector::Redis(r) = parse_ok(&v).write_connector else {
        panic!("redis");
    };
    assert_eq!(r.resource_location, ResourceLocation::Customer);
    assert_eq!(r.redis_url.as_deref(), Some("redis://cache:6379/2"));
    assert_eq!(r.key_prefix.as_deref(), Some("docs:"));
    assert_eq!(r.ttl_in_seconds, Some(3600));
    assert_eq!(r.max_value_size_in_bytes, 1024 * 1024);

    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Redis", "redisUrl": "http://u:hunter2@cache:6379"}),
    );
    let ps = problems(&v);
    assert_has(&ps, "writeConnector.redisUrl", "is not a Redis URL");
    assert!(!render(&ps).contains("hunter2"), "{}", render(&ps));
    let v = with("writeConnector", json!({"connectorDestination": "Redis"}));
    assert_only(&v, "writeConnector.redisUrl", "is required");
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Redis", "resourceLocation": "LetsData"}),
    );
    let WriteConnector::Redis(r) = parse_ok(&v).write_connector else {
        panic!("redis");
    };
    assert_eq!(r.redis_url, None);
    let v = with(
        "writeConnector",
        json!({"connectorDestination": "Redis", "redisUrl": "redis://c:1", "ttlInSeconds": 0}),
    );
    assert_only(&v, "writeConnector.ttlInSeconds", "must be an integer");
}

/// Sets (or with `None` removes) a field of `readConnector`.
fn with_read(mut v: Value, field: &str, value: Option<Value>) -> Value {
    let path = format!("readConnector.{field}");
    match value {
        Some(x) => set(&mut v, &path, x),
        None => remove(&mut v, &path),
    }
    v
}
