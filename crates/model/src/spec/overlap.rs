//! Destinations that would overlap: the write, error and read connectors must not name the same
//! bucket, stream, queue, table or topic, or documents, error records and input would share keys
//! (a document part and an error part with the same key overwrite each other; output written
//! into what is read is read again).

use super::fields::Problems;
use super::{ErrorConnector, ReadConnector, ResourceLocation, WriteConnector};

/// One named place a connector reads or writes, with the field that names it.
struct Place<'a> {
    kind: &'static str,
    /// The name compared (a stream ARN is reduced to the stream name, a cluster is part of a
    /// topic's name).
    name: String,
    field: &'static str,
    shown: &'a str,
}

fn stream_name(stream: &str) -> String {
    // arn:aws:kinesis:<region>:<account>:stream/<name>
    stream
        .rsplit_once(":stream/")
        .map_or(stream, |(_, name)| name)
        .to_string()
}

/// The table a DynamoDB stream ARN belongs to (`arn:aws:dynamodb:…:table/<T>/stream/<label>`).
fn table_of_stream(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":table/")?;
    rest.split_once("/stream/").map(|(table, _)| table)
}

fn topic_on(cluster: &[String], topic: &str) -> String {
    let mut servers: Vec<&str> = cluster.iter().map(String::as_str).collect();
    servers.sort_unstable();
    format!("{}/{topic}", servers.join(","))
}

fn read_places(read: &ReadConnector) -> Vec<Place<'_>> {
    match read {
        ReadConnector::S3(r) => vec![Place {
            kind: "bucket",
            name: r.bucket_name.clone(),
            field: "readConnector.bucketName",
            shown: &r.bucket_name,
        }],
        ReadConnector::Kinesis(r) => vec![Place {
            kind: "stream",
            name: stream_name(&r.stream_arn),
            field: "readConnector.streamArn",
            shown: &r.stream_arn,
        }],
        ReadConnector::DynamoDbStreams(r) => table_of_stream(&r.stream_arn)
            .map(|table| Place {
                kind: "table",
                name: table.to_string(),
                field: "readConnector.streamArn",
                shown: &r.stream_arn,
            })
            .into_iter()
            .collect(),
        ReadConnector::Sqs(r) => vec![Place {
            kind: "queue",
            name: r.queue_name.clone(),
            field: "readConnector.queueName",
            shown: &r.queue_name,
        }],
        ReadConnector::DynamoDb(r) => vec![Place {
            kind: "table",
            name: r.table_name.clone(),
            field: "readConnector.tableName",
            shown: &r.table_name,
        }],
        ReadConnector::Kafka(r) => vec![Place {
            kind: "topic",
            name: topic_on(&r.cluster.bootstrap_servers, &r.topic_name),
            field: "readConnector.topicName",
            shown: &r.topic_name,
        }],
    }
}

/// The place a write connector names, when it names one (a `LetsData` resource is generated,
/// per dataset, and cannot be named).
fn write_place(write: &WriteConnector) -> Option<Place<'_>> {
    match write {
        WriteConnector::S3(w) => w.bucket_name.as_deref().map(|b| Place {
            kind: "bucket",
            name: b.to_string(),
            field: "writeConnector.bucketName",
            shown: b,
        }),
        WriteConnector::Kinesis(w) => w.stream.as_deref().map(|s| Place {
            kind: "stream",
            name: stream_name(s),
            field: if s.starts_with("arn:") {
                "writeConnector.streamArn"
            } else {
                "writeConnector.streamName"
            },
            shown: s,
        }),
        WriteConnector::Sqs(w) => w.queue_name.as_deref().map(|q| Place {
            kind: "queue",
            name: q.to_string(),
            field: "writeConnector.queueName",
            shown: q,
        }),
        WriteConnector::DynamoDb(w) => w.table_name.as_deref().map(|t| Place {
            kind: "table",
            name: t.to_string(),
            field: "writeConnector.tableName",
            shown: t,
        }),
        WriteConnector::Kafka(w) => w
            .topic_name
            .as_deref()
            .filter(|_| w.resource_location == ResourceLocation::Customer)
            .map(|t| Place {
                kind: "topic",
                name: topic_on(&w.cluster.bootstrap_servers, t),
                field: "writeConnector.topicName",
                shown: t,
            }),
        WriteConnector::Redis(_) => None,
    }
}

fn error_place(error: &ErrorConnector) -> Option<Place<'_>> {
    error.bucket_name.as_deref().map(|b| Place {
        kind: "bucket",
        name: b.to_string(),
        field: "errorConnector.bucketName",
        shown: b,
    })
}

/// Reports every pair of connectors that name the same place, at the later field, naming both.
pub(super) fn overlapping_destinations(
    p: &mut Problems,
    read: Option<&ReadConnector>,
    write: Option<&WriteConnector>,
    error: Option<&ErrorConnector>,
) {
    let reads = read.map(read_places).unwrap_or_default();
    let write = write.and_then(write_place);
    let error = error.and_then(error_place);
    let same = |a: &Place<'_>, b: &Place<'_>| a.kind == b.kind && a.name == b.name;
    if let (Some(w), Some(e)) = (&write, &error)
        && same(w, e)
    {
        p.push(
            e.field,
            format!(
                "{:?} is also {}: documents and error records would share keys \
                 (<datasetName>/<taskId>/part-<n>) and overwrite each other; give the error \
                 records a bucket of their own, or leave bucketName out with resourceLocation \
                 LetsData",
                e.shown, w.field
            ),
        );
    }
    for r in &reads {
        if let Some(w) = write.as_ref().filter(|w| same(w, r)) {
            p.push(
                w.field,
                format!(
                    "{:?} is the {} the dataset reads ({}): documents would be written into its \
                     own input (and read again); write to another {}",
                    w.shown, r.kind, r.field, r.kind
                ),
            );
        }
        if let Some(e) = error.as_ref().filter(|e| same(e, r)) {
            p.push(
                e.field,
                format!(
                    "{:?} is the bucket the dataset reads ({}): error records would be written \
                     among its input files; give the error records a bucket of their own",
                    e.shown, r.field
                ),
            );
        }
    }
}
