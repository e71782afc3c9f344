//! `writeConnector` and `errorConnector`.

use super::fields::{Choice, Choices, Obj, Problems, quote};
use super::validate::RESOURCE_LOCATIONS;
use super::{Compression, ErrorConnector, ResourceLocation, S3WriteConnector, WriteConnector};
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
    "writerType",
    "sparkFileFormat",
    "sparkWriteOptions",
];

const ERROR_FIELDS: &[&str] = &["connectorDestination", "resourceLocation", "bucketName"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteDestination {
    S3,
    Kinesis,
    Sqs,
    DynamoDb,
    Kafka,
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
            value: WriteDestination::Momento,
            name: "Momento",
            alias: "",
        },
    ],
    note: "only S3 is supported in this version",
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
    let bucket_name = if location == Some(ResourceLocation::Customer) && !o.has("bucketName") {
        p.push(o.field_path("bucketName"), required);
        None
    } else if o.has("bucketName") {
        bucket(p, o, None).map(Some)
    } else {
        Some(None)
    };
    (location, bucket_name)
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
    o.check_unknown(p, WRITE_FIELDS, WRITE_OTHER_DESTINATION_FIELDS);
    let destination = o.required_choice(
        p,
        "connectorDestination",
        &WRITE_DESTINATIONS,
        "where the documents are written",
    );
    if let Some(d) = destination.filter(|d| *d != WriteDestination::S3) {
        p.push(
            o.field_path("connectorDestination"),
            format!(
                "{} write connectors are not supported yet; supported: S3",
                quote(WRITE_DESTINATIONS.name_of(d))
            ),
        );
        return WriteParts::default();
    }
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
