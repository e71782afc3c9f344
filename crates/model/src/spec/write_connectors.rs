//! `writeConnector` and `errorConnector`.

use super::fields::{Choice, Choices, Obj, Problems};
use super::read_connector::{validate_queue_name, validate_table_name};
use super::validate::RESOURCE_LOCATIONS;
use super::{
    Compression, DynamoDbWriteConnector, ErrorConnector, KinesisWriteConnector, ResourceLocation,
    S3WriteConnector, SqsWriteConnector, WriteConnector,
};
use crate::location::validate_bucket_name;

const WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "bucketName",
    "compression",
];

/// LetsData write connector fields of the other destinations.
const WRITE_OTHER_DESTINATION_FIELDS: &[&str] = &[
    "kinesisShardCount",
    "messageIdAttributeName",
    "streamName",
    "streamArn",
    "queueName",
    "tableName",
    "partitionKeyName",
    "writerType",
    "sparkFileFormat",
    "sparkWriteOptions",
];

const KINESIS_WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "streamName",
    "streamArn",
    "kinesisShardCount",
];
const SQS_WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "queueName",
    "messageIdAttributeName",
];
const DYNAMODB_WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "tableName",
    "partitionKeyName",
];

const ERROR_FIELDS: &[&str] = &["connectorDestination", "resourceLocation", "bucketName"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteDestination {
    S3,
    Kinesis,
    Sqs,
    DynamoDb,
    Kafka,
    Redis,
    Momento,
}

const WRITE_DESTINATIONS: Choices<WriteDestination> = Choices {
    what: "a write connector destination",
    items: &[
        Choice {
            value: WriteDestination::S3,
            name: "S3",
            alias: "",
        },
        Choice {
            value: WriteDestination::Kinesis,
            name: "Kinesis",
            alias: "",
        },
        Choice {
            value: WriteDestination::Sqs,
            name: "SQS",
            alias: "",
        },
        Choice {
            value: WriteDestination::DynamoDb,
            name: "DynamoDB",
            alias: "",
        },
        Choice {
            value: WriteDestination::Kafka,
            name: "Kafka",
            alias: "",
        },
        Choice {
            value: WriteDestination::Redis,
            name: "Redis",
            alias: "",
        },
        Choice {
            value: WriteDestination::Momento,
            name: "Momento",
            alias: "",
        },
    ],
    note: "Momento is not supported: use Redis",
};

const ERROR_DESTINATIONS: Choices<()> = Choices {
    what: "an error connector destination",
    items: &[Choice {
        value: (),
        name: "S3",
        alias: "",
    }],
    note: "",
};
const COMPRESSIONS: Choices<Compression> = Choices {
    what: "a compression",
    items: &[
        Choice {
            value: Compression::None,
            name: "none",
            alias: "",
        },
        Choice {
            value: Compression::Gzip,
            name: "gzip",
            alias: "",
        },
    ],
    note: "",
};
/// A bucket name field, validated with S3's naming rules.
pub(super) fn bucket(p: &mut Problems, o: &Obj<'_>, required: Option<&str>) -> Option<String> {
    let name = o.string(p, "bucketName", required)?;
    match validate_bucket_name(name) {
        Ok(()) => Some(name.to_string()),
        Err(e) => {
            p.push(o.field_path("bucketName"), e.to_string());
            None
        }
    }
}

/// `resourceLocation` and `bucketName` of the write and error connectors: the bucket is
/// required for `Customer` and optional (generated) for `LetsData`.
fn owned_bucket(
    p: &mut Problems,
    o: &Obj<'_>,
    purpose: &str,
) -> (Option<ResourceLocation>, Option<Option<String>>) {
    let location = o.required_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        "who owns the bucket: LetsData (letsdata creates it) or Customer (it must exist)",
    );
    let required = format!("is required when resourceLocation is Customer: {purpose}");
    let bucket_name = match location {
        Some(ResourceLocation::Customer) if !o.has("bucketName") => {
            p.push(o.field_path("bucketName"), required);
            None
        }
        Some(ResourceLocation::LetsData) if o.has("bucketName") => {
            refuse_letsdata_name(p, o, "bucketName", "bucket");
            None
        }
        _ if o.has("bucketName") => bucket(p, o, None).map(Some),
        _ => Some(None),
    };
    (location, bucket_name)
}

/// A `LetsData` resource is one letsdata creates, under a name of its own made from the
/// dataset's, and deletes with the dataset: naming it could make letsdata take over (and later
/// delete) a bucket, stream, queue, table or topic that already exists, so a name is refused.
pub(super) fn refuse_letsdata_name(p: &mut Problems, o: &Obj<'_>, field: &str, what: &str) {
    p.push(
        o.field_path(field),
        format!(
            "names the {what}, but with resourceLocation LetsData letsdata creates the {what} \
             itself, under a name made from the dataset's, and deletes it with the dataset (so \
             it never takes over one that exists); remove {field}, or set resourceLocation to \
             Customer to write to your existing {what}"
        ),
    );
}

/// What was learnt about `writeConnector`, also when it is invalid.
#[derive(Debug, Default)]
pub(super) struct WriteParts {
    pub resource_location: Option<ResourceLocation>,
    pub connector: Option<WriteConnector>,
}

pub(super) fn write_connector(p: &mut Problems, root: &Obj<'_>) -> WriteParts {
    let Some(map) = root.object(
        p,
        "writeConnector",
        Some("the connector that writes the documents, e.g. {\"connectorDestination\": \"S3\", \"resourceLocation\": \"LetsData\"}"),
    ) else {
        return WriteParts::default();
    };
    let path = root.field_path("writeConnector");
    let o = Obj::new(&path, map);
    let destination = o.required_choice(
        p,
        "connectorDestination",
        &WRITE_DESTINATIONS,
        "where the documents are written",
    );
    match destination {
        Some(WriteDestination::Momento) => {
            p.push(
                o.field_path("connectorDestination"),
                "\"Momento\" is not supported: letsdata writes its cache destination to Redis; use \"connectorDestination\": \"Redis\" with redisUrl (your Redis) or resourceLocation LetsData (this installation's), and keyPrefix, ttlInSeconds as needed",
            );
            return WriteParts::default();
        }
        Some(WriteDestination::Kafka) => {
            let (resource_location, connector) = super::kafka::kafka_write_connector(p, &o);
            return WriteParts {
                resource_location,
                connector,
            };
        }
        Some(WriteDestination::Redis) => {
            let (resource_location, connector) = super::redis::redis_write_connector(p, &o);
            return WriteParts {
                resource_location,
                connector,
            };
        }
        _ => {}
    }
    if let Some(
        d @ (WriteDestination::Kinesis | WriteDestination::Sqs | WriteDestination::DynamoDb),
    ) = destination
    {
        return aws_write_connector(p, &o, d);
    }
    o.check_unknown(p, WRITE_FIELDS, WRITE_OTHER_DESTINATION_FIELDS);
    for field in WRITE_OTHER_DESTINATION_FIELDS {
        if o.has(field) {
            p.push(
                o.field_path(field),
                "is not applicable to S3 write connectors; remove it",
            );
        }
    }
    let (location, bucket_name) =
        owned_bucket(p, &o, "the existing S3 bucket to write documents to");
    let compression = o.optional_choice(p, "compression", &COMPRESSIONS, Compression::None);
    let connector = match (location, bucket_name, compression) {
        (Some(resource_location), Some(bucket_name), Some(compression)) => {
            Some(WriteConnector::S3(S3WriteConnector {
                resource_location,
                bucket_name,
                compression,
            }))
        }
        _ => None,
    };
    WriteParts {
        resource_location: location,
        connector,
    }
}

/// A Kinesis, SQS or DynamoDB write connector.
fn aws_write_connector(p: &mut Problems, o: &Obj<'_>, destination: WriteDestination) -> WriteParts {
    let own = match destination {
        WriteDestination::Kinesis => KINESIS_WRITE_FIELDS,
        WriteDestination::Sqs => SQS_WRITE_FIELDS,
        _ => DYNAMODB_WRITE_FIELDS,
    };
    let name = WRITE_DESTINATIONS.name_of(destination);
    let also_known = [WRITE_FIELDS, WRITE_OTHER_DESTINATION_FIELDS].concat();
    o.check_unknown(p, own, &also_known);
    for field in also_known.iter().filter(|f| !own.contains(f)) {
        if o.has(field) {
            p.push(
                o.field_path(field),
                format!("is not applicable to {name} write connectors; remove it"),
            );
        }
    }
    let location = o.required_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        "who owns the destination: LetsData (letsdata creates it) or Customer (it must exist)",
    );
    let customer = location == Some(ResourceLocation::Customer);
    let connector = match destination {
        WriteDestination::Kinesis => {
            let mut stream = None;
            let mut ok = true;
            for field in ["streamName", "streamArn"] {
                if location == Some(ResourceLocation::LetsData) && o.has(field) {
                    refuse_letsdata_name(p, o, field, "stream");
                    ok = false;
                } else if let Some(s) = o.non_empty_string(p, field) {
                    if stream.is_some() {
                        p.push(
                            o.field_path(field),
                            "give either streamName or streamArn, not both",
                        );
                        ok = false;
                    }
                    stream = Some(s.to_string());
                } else if o.has(field) {
                    ok = false;
                }
            }
            if customer && stream.is_none() && ok {
                p.push(
                    o.field_path("streamName"),
                    "is required when resourceLocation is Customer: the existing Kinesis stream to write documents to (or give streamArn)",
                );
                ok = false;
            }
            let shard_count = o.integer(p, "kinesisShardCount", (1, 500), None, 1);
            if customer && o.has("kinesisShardCount") {
                p.push(
                    o.field_path("kinesisShardCount"),
                    "sizes a stream letsdata creates (resourceLocation LetsData); a Customer stream keeps its shards; remove it",
                );
                ok = false;
            }
            match (location, shard_count, ok) {
                (Some(resource_location), Some(shard_count), true) => {
                    Some(WriteConnector::Kinesis(KinesisWriteConnector {
                        resource_location,
                        stream,
                        shard_count,
                    }))
                }
                _ => None,
            }
        }
        WriteDestination::Sqs => {
            let queue = named(
                p,
                o,
                "queueName",
                location,
                "queue",
                "the existing SQS queue to write documents to",
                validate_queue_name,
            );
            let attribute = o.non_empty_string(p, "messageIdAttributeName");
            match (location, queue) {
                (Some(resource_location), Some(queue_name)) => {
                    Some(WriteConnector::Sqs(SqsWriteConnector {
                        resource_location,
                        queue_name,
                        message_id_attribute_name: attribute.map(str::to_string),
                    }))
                }
                _ => None,
            }
        }
        _ => {
            let table = named(
                p,
                o,
                "tableName",
                location,
                "table",
                "the existing DynamoDB table to write documents to",
                validate_table_name,
            );
            let key = o.non_empty_string(p, "partitionKeyName");
            if customer && key.is_some() {
                p.push(
                    o.field_path("partitionKeyName"),
                    "names the key of a table letsdata creates (resourceLocation LetsData); a Customer table keeps its key schema; remove it",
                );
            }
            match (location, table, customer && key.is_some()) {
                (Some(resource_location), Some(table_name), false) => {
                    Some(WriteConnector::DynamoDb(DynamoDbWriteConnector {
                        resource_location,
                        table_name,
                        partition_key_name: key.unwrap_or("documentId").to_string(),
                    }))
                }
                _ => None,
            }
        }
    };
    WriteParts {
        resource_location: location,
        connector,
    }
}

/// The name of a queue or table: required for `Customer`, refused (generated) for `LetsData`. `Some(None)` when absent and optional; `None` when invalid (reported).
fn named(
    p: &mut Problems,
    o: &Obj<'_>,
    field: &str,
    location: Option<ResourceLocation>,
    what: &str,
    purpose: &str,
    validate: fn(&str) -> Result<(), String>,
) -> Option<Option<String>> {
    let required = location == Some(ResourceLocation::Customer);
    if location == Some(ResourceLocation::LetsData) && o.has(field) {
        refuse_letsdata_name(p, o, field, what);
        return None;
    }
    match o.string(p, field, None) {
        Some(name) => match validate(name) {
            Ok(()) => Some(Some(name.to_string())),
            Err(e) => {
                p.push(o.field_path(field), e);
                None
            }
        },
        None if o.has(field) => None,
        None if required => {
            p.push(
                o.field_path(field),
                format!("is required when resourceLocation is Customer: {purpose}"),
            );
            None
        }
        None => Some(None),
    }
}

/// What was learnt about `errorConnector`, also when it is invalid.
#[derive(Debug, Default)]
pub(super) struct ErrorParts {
    pub resource_location: Option<ResourceLocation>,
    pub connector: Option<ErrorConnector>,
}

pub(super) fn error_connector(p: &mut Problems, root: &Obj<'_>) -> ErrorParts {
    let Some(map) = root.object(
        p,
        "errorConnector",
        Some("the connector that writes error records, e.g. {\"connectorDestination\": \"S3\", \"resourceLocation\": \"LetsData\"}"),
    ) else {
        return ErrorParts::default();
    };
    let path = root.field_path("errorConnector");
    let o = Obj::new(&path, map);
    o.check_unknown(p, ERROR_FIELDS, &[]);
    o.required_choice(
        p,
        "connectorDestination",
        &ERROR_DESTINATIONS,
        "where error records are written",
    );
    let (location, bucket_name) =
        owned_bucket(p, &o, "the existing S3 bucket to write error records to");
    let connector = match (location, bucket_name) {
        (Some(resource_location), Some(bucket_name)) => Some(ErrorConnector {
            resource_location,
            bucket_name,
        }),
        _ => None,
    };
    ErrorParts {
        resource_location: location,
        connector,
    }
}
