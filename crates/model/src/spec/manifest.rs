//! `manifestFile`: which files the dataset reads.

use super::fields::{Choice, Choices, Obj, Problems, json_type, quote, show};
use super::read_connector::ReadDestination;
use super::types::text_manifest_entries;
use super::validate::{READER_TYPES, RESOURCE_LOCATIONS};
use super::{
    Manifest, ManifestSource, QueueManifest, QueueStop, ReaderType, ResourceLocation,
    StreamManifest, StreamStart, StreamStop, TableManifest, TableScanMode,
};
use crate::location::ObjectLocation;
use serde_json::Value;

const COMMON_FIELDS: &[&str] = &["manifestType", "readerType", "region"];
const TEXT_FIELDS: &[&str] = &["fileContents"];
const LINK_FIELDS: &[&str] = &["manifestFileS3Uri", "readerManifestResourceLocation"];

const TEXT: &str = "S3ReaderTextManifestFile";
const LINK: &str = "S3ReaderS3LinkManifestFile";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ManifestType {
    Text,
    S3Link,
    KinesisStream,
    DynamoDbStream,
    DynamoDbTable,
    Sqs,
    Kafka,
}

const MANIFEST_TYPES: Choices<ManifestType> = Choices {
    what: "a manifest type",
    items: &[
        Choice {
            value: ManifestType::Text,
            name: TEXT,
            alias: "",
        },
        Choice {
            value: ManifestType::S3Link,
            name: LINK,
            alias: "",
        },
        Choice {
            value: ManifestType::KinesisStream,
            name: "KinesisStreamReaderManifest",
            alias: "",
        },
        Choice {
            value: ManifestType::DynamoDbStream,
            name: "DynamoDBStreamReaderManifest",
            alias: "",
        },
        Choice {
            value: ManifestType::DynamoDbTable,
            name: "DynamoDBTableReaderManifest",
            alias: "",
        },
        Choice {
            value: ManifestType::Sqs,
            name: "SQSReaderManifest",
            alias: "",
        },
        Choice {
            value: ManifestType::Kafka,
            name: "KafkaReaderManifest",
            alias: "",
        },
    ],
    note: "",
};

impl ManifestType {
    fn destination(self) -> ReadDestination {
        match self {
            Self::Text | Self::S3Link => ReadDestination::S3,
            Self::KinesisStream => ReadDestination::Kinesis,
            Self::DynamoDbStream => ReadDestination::DynamoDbStreams,
            Self::DynamoDbTable => ReadDestination::DynamoDb,
            Self::Sqs => ReadDestination::Sqs,
            Self::Kafka => ReadDestination::Kafka,
        }
    }
}

/// The one accepted `...ContinuousPollFrequency` value (LetsData's).
const POLL_FREQUENCY: &str = "Poll with exponential frequency (max 1 min)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopKind {
    Continuous,
    StopWhenNoNewRecords,
}

const STREAM_STOPS: Choices<StopKind> = Choices {
    what: "a stream reader stop condition",
    items: &[
        Choice {
            value: StopKind::Continuous,
            name: "Continuous",
            alias: "",
        },
        Choice {
            value: StopKind::StopWhenNoNewRecords,
            name: "StopWhenNoNewRecords",
            alias: "",
        },
    ],
    note: "",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartKind {
    Earliest,
    Latest,
    AtTimestamp,
}

const STREAM_STARTS: Choices<StartKind> = Choices {
    what: "a stream reader start condition",
    items: &[
        Choice {
            value: StartKind::Earliest,
            name: "Earliest",
            alias: "TRIM_HORIZON",
        },
        Choice {
            value: StartKind::Latest,
            name: "Latest",
            alias: "",
        },
        Choice {
            value: StartKind::AtTimestamp,
            name: "AtTimestamp",
            alias: "",
        },
    ],
    note: "",
};

const TABLE_MODES: Choices<TableScanMode> = Choices {
    what: "a table scan stop condition",
    items: &[
        Choice {
            value: TableScanMode::SingleTableScan,
            name: "SingleTableScan",
            alias: "",
        },
        Choice {
            value: TableScanMode::Continuous,
            name: "Continuous",
            alias: "",
        },
    ],
    note: "",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueStopKind {
    DrainQueues,
    Continuous,
}

const QUEUE_STOPS: Choices<QueueStopKind> = Choices {
    what: "a queue reader stop condition",
    items: &[
        Choice {
            value: QueueStopKind::DrainQueues,
            name: "DrainQueues",
            alias: "",
        },
        Choice {
            value: QueueStopKind::Continuous,
            name: "Continuous",
            alias: "",
        },
    ],
    note: "",
};

/// What was learnt about `manifestFile`, also when it is invalid.
#[derive(Debug, Default)]
pub(super) struct ManifestParts {
    /// `readerManifestResourceLocation` of an `S3ReaderS3LinkManifestFile`.
    pub link_location: Option<ResourceLocation>,
    pub manifest: Option<Manifest>,
}

/// `read_reader_type` is `readConnector.readerType`, when known; the two must agree.
/// `destination` is the read connector's destination; the manifest type must suit it.
/// `concurrency` (`computeEngine.concurrency`) is the default number of tasks of the queue
/// and table readers.
pub(super) fn manifest_file(
    p: &mut Problems,
    root: &Obj<'_>,
    read_reader_type: Option<ReaderType>,
    destination: Option<ReadDestination>,
    concurrency: Option<u32>,
) -> ManifestParts {
    let Some(map) = root.object(
        p,
        "manifestFile",
        Some("the files to read, e.g. {\"manifestType\": \"S3ReaderTextManifestFile\", \"readerType\": \"SINGLEFILEREADER\", \"fileContents\": \"file1.jsonl\\nfile2.jsonl\"}"),
    ) else {
        return ManifestParts::default();
    };
    let path = root.field_path("manifestFile");
    let o = Obj::new(&path, map);
    let manifest_type = if destination == Some(ReadDestination::Sqs) && !o.has("manifestType") {
        // LetsData's SQS manifests have no manifestType.
        Some(ManifestType::Sqs)
    } else {
        o.required_choice(p, "manifestType", &MANIFEST_TYPES, "how the work is listed")
    };
    if let (Some(t), Some(d)) = (manifest_type, destination)
        && t.destination() != d
    {
        p.push(
            o.field_path("manifestType"),
            format!(
                "{} lists the work of {} read connectors, but readConnector.connectorDestination is {}; use {}",
                quote(MANIFEST_TYPES.name_of(t)),
                t.destination().name(),
                d.name(),
                d.manifest_type()
            ),
        );
        return ManifestParts::default();
    }
    let (own, other, other_name): (&[&str], &[&str], &str) = match manifest_type {
        Some(ManifestType::Text) => (TEXT_FIELDS, LINK_FIELDS, LINK),
        Some(ManifestType::S3Link) => (LINK_FIELDS, TEXT_FIELDS, TEXT),
        Some(t) => {
            let manifest = aws_manifest(p, &o, t, concurrency);
            return ManifestParts {
                link_location: None,
                manifest,
            };
        }
        None => (&[], &[], ""),
    };
    let accepted = [COMMON_FIELDS, own].concat();
    let also_known: &[&str] = if manifest_type.is_some() {
        other
    } else {
        // Unknown type: the fields of either type are fine.
        &[TEXT_FIELDS, LINK_FIELDS].concat()
    };
    o.check_unknown(p, &accepted, also_known);
    for field in other {
        if o.has(field) {
            p.push(
                o.field_path(field),
                format!("belongs to {other_name}; remove it or change manifestType"),
            );
        }
    }

    let reader_type = o.required_choice(
        p,
        "readerType",
        &READER_TYPES,
        "the reader type, the same as readConnector.readerType",
    );
    if let (Some(m), Some(r)) = (reader_type, read_reader_type)
        && m != r
    {
        p.push(
            o.field_path("readerType"),
            format!(
                "is {} ({}) but readConnector.readerType is {} ({}); they must be the same",
                m.display_name(),
                m.constant(),
                r.display_name(),
                r.constant()
            ),
        );
    }

    let (source, link_location) = match manifest_type {
        Some(ManifestType::Text) => {
            // Lines are checked for the reader type only when the two reader types agree.
            let agreed = reader_type.filter(|m| read_reader_type.is_none_or(|r| r == *m));
            (text_source(p, &o, agreed), None)
        }
        Some(ManifestType::S3Link) => {
            let link = o.string(
                p,
                "manifestFileS3Uri",
                Some("the s3://<bucketName>/<key> link of the manifest file (required with manifestType S3ReaderS3LinkManifestFile)"),
            );
            let location = o.optional_choice(
                p,
                "readerManifestResourceLocation",
                &RESOURCE_LOCATIONS,
                ResourceLocation::Customer,
            );
            let parsed = link.and_then(|l| match ObjectLocation::parse_s3_link(l) {
                Ok(loc) => Some(loc),
                Err(e) => {
                    p.push(o.field_path("manifestFileS3Uri"), e.to_string());
                    None
                }
            });
            let source = match (parsed, location) {
                (Some(loc), Some(resource_location)) => Some(ManifestSource::S3Link {
                    bucket: loc.bucket,
                    key: loc.key,
                    resource_location,
                }),
                _ => None,
            };
            (source, location)
        }
        _ => (None, None),
    };
    let manifest = match (source, reader_type) {
        (Some(source), Some(reader_type)) => Some(Manifest::Files {
            source,
            reader_type,
        }),
        _ => None,
    };
    ManifestParts {
        link_location,
        manifest,
    }
}

/// `fileContents`: at least one non-empty line; for a Single File Reader each line is a key.
fn text_source(
    p: &mut Problems,
    o: &Obj<'_>,
    reader_type: Option<ReaderType>,
) -> Option<ManifestSource> {
    let contents = o.string(
        p,
        "fileContents",
        Some(
            "the files to read, one per line (required with manifestType S3ReaderTextManifestFile)",
        ),
    )?;
    let path = o.field_path("fileContents");
    if text_manifest_entries(contents).next().is_none() {
        p.push(
            path,
            "must list at least one file, one per line; found no non-empty lines",
        );
        return None;
    }
    let mut ok = true;
    if let Some(reader_type) = reader_type {
        for (i, line) in contents.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Err(e) = super::manifest_line_files(reader_type, line, "DATA") {
                p.push(&path, format!("line {}: {e}", i + 1));
                ok = false;
            }
        }
    }
    ok.then(|| ManifestSource::Text {
        file_contents: contents.to_string(),
    })
}

/// The manifests of the Kinesis, DynamoDB Streams, DynamoDB table, SQS and Kafka readers.
fn aws_manifest(
    p: &mut Problems,
    o: &Obj<'_>,
    manifest_type: ManifestType,
    concurrency: Option<u32>,
) -> Option<Manifest> {
    match manifest_type {
        ManifestType::KinesisStream => {
            stream_manifest(p, o, "kinesisReaderTask", true).map(Manifest::Kinesis)
        }
        ManifestType::DynamoDbStream => {
            stream_manifest(p, o, "dynamoDBReaderTask", false).map(Manifest::DynamoDbStreams)
        }
        ManifestType::Kafka => stream_manifest(p, o, "kafkaReaderTask", true).map(Manifest::Kafka),
        ManifestType::DynamoDbTable => {
            o.check_unknown(
                p,
                &[
                    "manifestType",
                    "dynamoDBTableReaderSegments",
                    "dynamoDBTableReaderTaskStopCondition",
                ],
                &[],
            );
            let segments = o.integer(
                p,
                "dynamoDBTableReaderSegments",
                (1, 1000),
                None,
                concurrency.unwrap_or(1),
            );
            let mode = o.optional_choice(
                p,
                "dynamoDBTableReaderTaskStopCondition",
                &TABLE_MODES,
                TableScanMode::SingleTableScan,
            );
            Some(Manifest::DynamoDbTable(TableManifest {
                segments: segments?,
                mode: mode?,
            }))
        }
        ManifestType::Sqs => {
            o.check_unknown(
                p,
                &[
                    "manifestType",
                    "sqsReaderTaskStopCondition",
                    "sqsReaderTaskStopAfterConsecutiveEmptyReceives",
                ],
                &[],
            );
            let stop = o.optional_choice(
                p,
                "sqsReaderTaskStopCondition",
                &QUEUE_STOPS,
                QueueStopKind::DrainQueues,
            );
            let empty = o.integer(
                p,
                "sqsReaderTaskStopAfterConsecutiveEmptyReceives",
                (1, 1000),
                None,
                10,
            );
            if stop == Some(QueueStopKind::Continuous)
                && o.has("sqsReaderTaskStopAfterConsecutiveEmptyReceives")
            {
                p.push(
                    o.field_path("sqsReaderTaskStopAfterConsecutiveEmptyReceives"),
                    "is only used with sqsReaderTaskStopCondition DrainQueues; remove it",
                );
                return None;
            }
            let stop = match (stop?, empty?) {
                (QueueStopKind::DrainQueues, empty_receives) => {
                    QueueStop::DrainQueues { empty_receives }
                }
                (QueueStopKind::Continuous, _) => QueueStop::Continuous,
            };
            Some(Manifest::Sqs(QueueManifest {
                stop,
                tasks: concurrency?,
            }))
        }
        ManifestType::Text | ManifestType::S3Link => None,
    }
}

/// `<prefix>StopCondition`, `<prefix>StopAfterConsecutiveEmptyPolls`,
/// `<prefix>StartFromCondition`, `<prefix>StartTimestamp` and `<prefix>ContinuousPollFrequency`.
fn stream_manifest(
    p: &mut Problems,
    o: &Obj<'_>,
    prefix: &str,
    at_timestamp: bool,
) -> Option<StreamManifest> {
    let f = |name: &str| format!("{prefix}{name}");
    let (stop_f, empty_f, start_f, ts_f, poll_f) = (
        f("StopCondition"),
        f("StopAfterConsecutiveEmptyPolls"),
        f("StartFromCondition"),
        f("StartTimestamp"),
        f("ContinuousPollFrequency"),
    );
    let mut accepted = vec![
        "manifestType",
        stop_f.as_str(),
        empty_f.as_str(),
        start_f.as_str(),
        poll_f.as_str(),
    ];
    if at_timestamp {
        accepted.push(ts_f.as_str());
    }
    o.check_unknown(p, &accepted, &[]);
    let stop = o.optional_choice(p, &stop_f, &STREAM_STOPS, StopKind::Continuous);
    let empty = o.integer(p, &empty_f, (1, 1000), None, 3);
    let mut ok = true;
    if stop == Some(StopKind::Continuous) && o.has(&empty_f) {
        p.push(
            o.field_path(&empty_f),
            format!("is only used with {stop_f} StopWhenNoNewRecords; remove it"),
        );
        ok = false;
    }
    let start = o.optional_choice(p, &start_f, &STREAM_STARTS, StartKind::Earliest);
    if start == Some(StartKind::AtTimestamp) && !at_timestamp {
        p.push(
            o.field_path(&start_f),
            "AtTimestamp is not available for DynamoDB Streams (they have no timestamp iterator); use Earliest or Latest",
        );
        return None;
    }
    let timestamp = if at_timestamp {
        timestamp(p, o, &ts_f)
    } else {
        Ok(None)
    };
    if let Some(freq) = o.string(p, &poll_f, None)
        && super::fields::normalize(freq) != super::fields::normalize(POLL_FREQUENCY)
    {
        p.push(
            o.field_path(&poll_f),
            format!(
                "{} is not a poll frequency; accepted values: {POLL_FREQUENCY}",
                quote(freq)
            ),
        );
        ok = false;
    }
    let start = match (start?, timestamp) {
        (StartKind::Earliest, Ok(None)) => StreamStart::Earliest,
        (StartKind::Latest, Ok(None)) => StreamStart::Latest,
        (StartKind::AtTimestamp, Ok(Some(ms))) => StreamStart::AtTimestamp(ms),
        (StartKind::AtTimestamp, Ok(None)) => {
            p.push(
                o.field_path(&ts_f),
                format!("is required with {start_f} AtTimestamp: when to start reading, e.g. \"2026-01-31T12:00:00Z\" or epoch milliseconds"),
            );
            return None;
        }
        (_, Ok(Some(_))) => {
            p.push(
                o.field_path(&ts_f),
                format!("is only used with {start_f} AtTimestamp; remove it"),
            );
            return None;
        }
        (_, Err(())) => return None,
    };
    let stop = match (stop?, empty?) {
        (StopKind::Continuous, _) => StreamStop::Continuous,
        (StopKind::StopWhenNoNewRecords, n) => StreamStop::AfterEmptyPolls(n),
    };
    ok.then_some(StreamManifest { start, stop })
}

/// An RFC 3339 time or epoch milliseconds.
fn timestamp(p: &mut Problems, o: &Obj<'_>, field: &str) -> Result<Option<i64>, ()> {
    match o.get(field) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => Ok(n.as_i64()),
        Some(Value::String(s)) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => Ok(Some(t.timestamp_millis())),
            Err(e) => {
                p.push(
                    o.field_path(field),
                    format!(
                        "{} is not an RFC 3339 time ({e}); e.g. \"2026-01-31T12:00:00Z\"",
                        quote(s)
                    ),
                );
                Err(())
            }
        },
        Some(v) => {
            p.push(
                o.field_path(field),
                format!(
                    "must be an RFC 3339 time string or epoch milliseconds, found {} {}",
                    json_type(v),
                    show(v)
                ),
            );
            Err(())
        }
    }
}
