//! `readConnector`: the S3 reader and its builtin parser.

use super::fields::{Choice, Choices, Obj, Problems, quote};
use super::validate::{READER_TYPES, RESOURCE_LOCATIONS};
use super::write_connectors::bucket;
use super::{
    BuiltinParser, CodeLanguage, Implementation, QueueReadConnector, ReadConnector, ReaderType,
    RecordErrorPolicy, ResourceLocation, S3ReadConnector, StreamReadConnector, TableFilter,
    TableReadConnector, UserCode,
};
use crate::location::ObjectLocation;
use serde_json::Value;

const READ_FIELDS: &[&str] = &[
    "connectorDestination",
    "readerType",
    "bucketName",
    "bucketResourceLocation",
    "artifactImplementationLanguage",
    "builtinParser",
    "documentIdField",
    "csvDelimiter",
    "csvHasHeader",
    "recordStartPattern",
    "recordEndPattern",
    "artifactFileS3Link",
    "artifactFileS3LinkResourceLocation",
    "onRecordError",
    "onRecordErrorDeleteMessage",
];

/// Fields of user code (Wasm, Python, Javascript).
const CODE_FIELDS: &[&str] = &[
    "artifactFileS3Link",
    "artifactFileS3LinkResourceLocation",
    "onRecordError",
    "onRecordErrorDeleteMessage",
];

/// The reader error policy's fields (stream, queue and table readers with user code).
const RECORD_ERROR_FIELDS: &[&str] = &["onRecordError", "onRecordErrorDeleteMessage"];

/// Builtin parser fields.
const BUILTIN_FIELDS: &[&str] = &[
    "builtinParser",
    "documentIdField",
    "csvDelimiter",
    "csvHasHeader",
    "recordStartPattern",
    "recordEndPattern",
];

/// LetsData implementation fields of Java and container implementations.
const READ_IMPLEMENTATION_FIELDS: &[&str] = &[
    "interfaceECRImagePath",
    "interfaceECRImageResourceLocation",
    "singleFileParserImplementationClassName",
    "singleFileStateMachineParserImplementationClassName",
    "singleFileStateMachineReaderImplementationClassName",
    "singleFileStateMachineParserImplementationClassNameMap",
    "multipleFileStateMachineReaderClassName",
];

/// LetsData read connector fields of the other destinations.
const READ_OTHER_DESTINATION_FIELDS: &[&str] = &[
    "streamArn",
    "queueName",
    "tableName",
    "resourceLocation",
    "filterExpression",
    "expressionAttributeNames",
    "expressionAttributeValues",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadDestination {
    S3,
    Sqs,
    Kinesis,
    DynamoDbStreams,
    DynamoDb,
    Kafka,
}

const READ_DESTINATIONS: Choices<ReadDestination> = Choices {
    what: "a read connector destination",
    items: &[
        Choice {
            value: ReadDestination::S3,
            name: "S3",
            alias: "",
        },
        Choice {
            value: ReadDestination::Sqs,
            name: "SQS",
            alias: "",
        },
        Choice {
            value: ReadDestination::Kinesis,
            name: "KINESIS",
            alias: "",
        },
        Choice {
            value: ReadDestination::DynamoDbStreams,
            name: "DYNAMODBSTREAMS",
            alias: "",
        },
        Choice {
            value: ReadDestination::DynamoDb,
            name: "DYNAMODB",
            alias: "",
        },
        Choice {
            value: ReadDestination::Kafka,
            name: "KAFKA",
            alias: "",
        },
    ],
    note: "",
};

impl ReadDestination {
    /// The manifest type this destination's tasks are listed with.
    pub(super) fn manifest_type(self) -> &'static str {
        match self {
            Self::S3 => "S3ReaderTextManifestFile or S3ReaderS3LinkManifestFile",
            Self::Kinesis => "KinesisStreamReaderManifest",
            Self::DynamoDbStreams => "DynamoDBStreamReaderManifest",
            Self::DynamoDb => "DynamoDBTableReaderManifest",
            Self::Sqs => "SQSReaderManifest",
            Self::Kafka => "KafkaReaderManifest",
        }
    }

    pub(super) fn name(self) -> &'static str {
        READ_DESTINATIONS.name_of(self)
    }
}

/// Fields of the Kinesis, DynamoDB Streams, SQS and DynamoDB table read connectors.
const KINESIS_FIELDS: &[&str] = &["readerType", "streamArn", "resourceLocation"];
const DYNAMODB_STREAMS_FIELDS: &[&str] = &["streamArn", "resourceLocation"];
const SQS_FIELDS: &[&str] = &["queueName", "resourceLocation"];
const DYNAMODB_FIELDS: &[&str] = &[
    "tableName",
    "resourceLocation",
    "filterExpression",
    "expressionAttributeNames",
    "expressionAttributeValues",
];
/// Implementation fields every read connector accepts.
const IMPLEMENTATION_FIELDS: &[&str] = &[
    "connectorDestination",
    "artifactImplementationLanguage",
    "builtinParser",
    "documentIdField",
    "recordStartPattern",
    "recordEndPattern",
    "artifactFileS3Link",
    "artifactFileS3LinkResourceLocation",
    "onRecordError",
    "onRecordErrorDeleteMessage",
];
/// S3-only fields, known to every read connector.
const S3_ONLY_FIELDS: &[&str] = &[
    "readerType",
    "bucketName",
    "bucketResourceLocation",
    "csvDelimiter",
    "csvHasHeader",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Builtin,
    Wasm,
    Java,
    Python,
    Javascript,
}

const LANGUAGES: Choices<Language> = Choices {
    what: "an implementation language",
    items: &[
        Choice {
            value: Language::Builtin,
            name: "Builtin",
            alias: "",
        },
        Choice {
            value: Language::Wasm,
            name: "Wasm",
            alias: "",
        },
        Choice {
            value: Language::Java,
            name: "Java",
            alias: "",
        },
        Choice {
            value: Language::Python,
            name: "Python",
            alias: "",
        },
        Choice {
            value: Language::Javascript,
            name: "Javascript",
            alias: "",
        },
    ],
    note: "",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParserKind {
    Jsonl,
    Csv,
    Text,
}

const PARSERS: Choices<ParserKind> = Choices {
    what: "a builtin parser",
    items: &[
        Choice {
            value: ParserKind::Jsonl,
            name: "jsonl",
            alias: "",
        },
        Choice {
            value: ParserKind::Csv,
            name: "csv",
            alias: "",
        },
        Choice {
            value: ParserKind::Text,
            name: "text",
            alias: "",
        },
    ],
    note: "",
};

/// Parser options and the parser they belong to.
const PARSER_OPTIONS: &[(&str, ParserKind)] = &[
    ("documentIdField", ParserKind::Jsonl),
    ("csvDelimiter", ParserKind::Csv),
    ("csvHasHeader", ParserKind::Csv),
    ("recordStartPattern", ParserKind::Text),
    ("recordEndPattern", ParserKind::Text),
];
/// What was learnt about `readConnector`, also when it is invalid.
#[derive(Debug, Default)]
pub(super) struct ReadParts {
    pub destination: Option<ReadDestination>,
    pub reader_type: Option<ReaderType>,
    /// Who owns what is read (`bucketResourceLocation` or `resourceLocation`), and its path.
    pub location: Option<(ResourceLocation, &'static str)>,
    pub connector: Option<ReadConnector>,
}

pub(super) fn read_connector(p: &mut Problems, root: &Obj<'_>) -> ReadParts {
    let Some(map) = root.object(
        p,
        "readConnector",
        Some("the connector that reads the input, e.g. {\"connectorDestination\": \"S3\", ...}"),
    ) else {
        return ReadParts::default();
    };
    let path = root.field_path("readConnector");
    let o = Obj::new(&path, map);

    let destination = o.required_choice(
        p,
        "connectorDestination",
        &READ_DESTINATIONS,
        "where the input is read from",
    );
    match destination {
        // Missing or unrecognised destinations are validated as S3.
        Some(ReadDestination::S3) | None => {}
        Some(ReadDestination::Kafka) => {
            let accepted = [IMPLEMENTATION_FIELDS, super::kafka::KAFKA_READ_FIELDS].concat();
            o.check_unknown(p, &accepted, READ_IMPLEMENTATION_FIELDS);
            let location = o.optional_choice(
                p,
                "resourceLocation",
                &RESOURCE_LOCATIONS,
                ResourceLocation::Customer,
            );
            return ReadParts {
                destination,
                reader_type: None,
                location: location.map(|l| (l, "readConnector.resourceLocation")),
                connector: super::kafka::kafka_read_connector(p, &o),
            };
        }
        Some(d) => return aws_read_connector(p, &o, d),
    }
    let also_known = [READ_IMPLEMENTATION_FIELDS, READ_OTHER_DESTINATION_FIELDS].concat();
    o.check_unknown(p, READ_FIELDS, &also_known);
    for field in READ_OTHER_DESTINATION_FIELDS {
        if o.has(field) {
            let hint = if *field == "resourceLocation" {
                "; use bucketResourceLocation for the input bucket"
            } else {
                "; remove it"
            };
            p.push(
                o.field_path(field),
                format!("is not applicable to S3 read connectors{hint}"),
            );
        }
    }

    let reader_type = o.required_choice(
        p,
        "readerType",
        &READER_TYPES,
        "how the input files are read",
    );
    let bucket_name = bucket(p, &o, Some("the S3 bucket to read files from"));
    let bucket_location = o.optional_choice(
        p,
        "bucketResourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let language = o.required_choice(
        p,
        "artifactImplementationLanguage",
        &LANGUAGES,
        LANGUAGE_HINT,
    );
    if language == Some(Language::Builtin) {
        for field in READ_IMPLEMENTATION_FIELDS.iter().chain(CODE_FIELDS) {
            if o.has(field) {
                p.push(
                    o.field_path(field),
                    "is not used with artifactImplementationLanguage Builtin; remove it",
                );
            }
        }
        if let Some(rt) = reader_type.filter(|rt| *rt != ReaderType::SingleFileReader) {
            p.push(
                o.field_path("readerType"),
                format!(
                    "builtin parsers work only with readerType Single File Reader \
                     (SINGLEFILEREADER), found {} ({})",
                    rt.display_name(),
                    rt.constant()
                ),
            );
        }
    }
    let parser = builtin_parser(p, &o, language == Some(Language::Builtin));
    let code = match language {
        Some(Language::Builtin) | None => None,
        Some(l) => user_code(p, &o, l, Some(reader_type)),
    };

    let connector = match (reader_type, bucket_name, bucket_location, language, parser) {
        (
            Some(reader_type),
            Some(bucket_name),
            Some(loc),
            Some(Language::Builtin),
            Some(parser),
        ) => Some(ReadConnector::S3(S3ReadConnector {
            reader_type,
            bucket_name,
            bucket_resource_location: loc,
            implementation: Implementation::Builtin(parser),
        })),
        (Some(reader_type), Some(bucket_name), Some(loc), Some(_), _) => code.map(|code| {
            ReadConnector::S3(S3ReadConnector {
                reader_type,
                bucket_name,
                bucket_resource_location: loc,
                implementation: Implementation::Code(code),
            })
        }),
        _ => None,
    };
    ReadParts {
        destination,
        reader_type,
        location: bucket_location.map(|l| (l, "readConnector.bucketResourceLocation")),
        connector,
    }
}

/// A Kinesis, DynamoDB Streams, SQS or DynamoDB table read connector.
fn aws_read_connector(p: &mut Problems, o: &Obj<'_>, destination: ReadDestination) -> ReadParts {
    let own = match destination {
        ReadDestination::Kinesis => KINESIS_FIELDS,
        ReadDestination::DynamoDbStreams => DYNAMODB_STREAMS_FIELDS,
        ReadDestination::Sqs => SQS_FIELDS,
        ReadDestination::DynamoDb => DYNAMODB_FIELDS,
        ReadDestination::S3 | ReadDestination::Kafka => {
            unreachable!("S3 and Kafka are validated by read_connector")
        }
    };
    let name = destination.name();
    let accepted = [IMPLEMENTATION_FIELDS, own].concat();
    let also_known = [
        READ_IMPLEMENTATION_FIELDS,
        S3_ONLY_FIELDS,
        KINESIS_FIELDS,
        DYNAMODB_STREAMS_FIELDS,
        SQS_FIELDS,
        DYNAMODB_FIELDS,
    ]
    .concat();
    o.check_unknown(p, &accepted, &also_known);
    for field in also_known.iter().filter(|f| !accepted.contains(f)) {
        if o.has(field) && !READ_IMPLEMENTATION_FIELDS.contains(field) {
            p.push(
                o.field_path(field),
                format!("is not applicable to {name} read connectors; remove it"),
            );
        }
    }
    let location = o.optional_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let implementation = stream_implementation(p, o, name);
    let connector = match destination {
        ReadDestination::Kinesis | ReadDestination::DynamoDbStreams => {
            if destination == ReadDestination::Kinesis
                && let Some(rt) = o.string(p, "readerType", None)
                && super::fields::normalize(rt) != "kinesisstreamreader"
            {
                p.push(
                    o.field_path("readerType"),
                    format!(
                        "{} is not the Kinesis reader type; use KINESISSTREAMREADER (or leave it out)",
                        quote(rt)
                    ),
                );
            }
            let arn = stream_arn(p, o, destination);
            match (arn, location, implementation) {
                (Some(stream_arn), Some(resource_location), Some(implementation)) => {
                    let c = StreamReadConnector {
                        stream_arn,
                        resource_location,
                        implementation,
                    };
                    Some(if destination == ReadDestination::Kinesis {
                        ReadConnector::Kinesis(c)
                    } else {
                        ReadConnector::DynamoDbStreams(c)
                    })
                }
                _ => None,
            }
        }
        ReadDestination::Sqs => {
            let queue = o
                .string(
                    p,
                    "queueName",
                    Some("the name of the SQS queue to read messages from"),
                )
                .and_then(|q| match validate_queue_name(q) {
                    Ok(()) => Some(q.to_string()),
                    Err(e) => {
                        p.push(o.field_path("queueName"), e);
                        None
                    }
                });
            match (queue, location, implementation) {
                (Some(queue_name), Some(resource_location), Some(implementation)) => {
                    Some(ReadConnector::Sqs(QueueReadConnector {
                        queue_name,
                        resource_location,
                        implementation,
                    }))
                }
                _ => None,
            }
        }
        ReadDestination::DynamoDb => {
            let table = o
                .string(
                    p,
                    "tableName",
                    Some("the name of the DynamoDB table to scan"),
                )
                .and_then(|t| match validate_table_name(t) {
                    Ok(()) => Some(t.to_string()),
                    Err(e) => {
                        p.push(o.field_path("tableName"), e);
                        None
                    }
                });
            let filter = table_filter(p, o);
            match (table, location, implementation, filter) {
                (Some(table_name), Some(resource_location), Some(implementation), Some(filter)) => {
                    Some(ReadConnector::DynamoDb(TableReadConnector {
                        table_name,
                        resource_location,
                        implementation,
                        filter,
                    }))
                }
                _ => None,
            }
        }
        ReadDestination::S3 | ReadDestination::Kafka => None,
    };
    ReadParts {
        destination: Some(destination),
        reader_type: None,
        location: location.map(|l| (l, "readConnector.resourceLocation")),
        connector,
    }
}

/// The implementation of a stream, queue or table reader: a built-in parser over each
/// record's data (default `jsonl`), or user code implementing the reader interface.
pub(super) fn stream_implementation(
    p: &mut Problems,
    o: &Obj<'_>,
    name: &str,
) -> Option<Implementation> {
    let language = o.required_choice(
        p,
        "artifactImplementationLanguage",
        &LANGUAGES,
        LANGUAGE_HINT,
    );
    match language? {
        Language::Builtin => {
            for field in READ_IMPLEMENTATION_FIELDS.iter().chain(CODE_FIELDS) {
                if o.has(field) {
                    p.push(
                        o.field_path(field),
                        "is not used with artifactImplementationLanguage Builtin; remove it",
                    );
                }
            }
            if !o.has("builtinParser") {
                // Every record (message, item) is one JSON document.
                let document_id_field = o.non_empty_string(p, "documentIdField");
                for field in ["recordStartPattern", "recordEndPattern"] {
                    if o.has(field) {
                        p.push(
                            o.field_path(field),
                            "is only used with builtinParser text, not jsonl; remove it",
                        );
                    }
                }
                return Some(Implementation::Builtin(BuiltinParser::Jsonl {
                    document_id_field: document_id_field.map(str::to_string),
                }));
            }
            let parser = builtin_parser(p, o, true)?;
            if matches!(parser, BuiltinParser::Csv { .. }) {
                p.push(
                    o.field_path("builtinParser"),
                    format!(
                        "csv parses files with a header row; {name} records are parsed one at a time: use jsonl or text"
                    ),
                );
                return None;
            }
            Some(Implementation::Builtin(parser))
        }
        l => user_code(p, o, l, None).map(Implementation::Code),
    }
}

/// What `artifactImplementationLanguage` names.
const LANGUAGE_HINT: &str = "the implementation that turns records into documents: Builtin, \
     or Wasm, Python or Javascript with artifactFileS3Link";

/// The user code of a read connector whose language is not Builtin: its artifact, checked
/// against the language, and the LetsData fields that do not apply (the Java and container
/// image wiring: warnings when the code is there, since a published LetsData config carries
/// them). `reader_type` is the S3 reader type (`Some`, possibly unknown, for files; `None`
/// for stream, queue and table readers, which take the reader error policy).
fn user_code(
    p: &mut Problems,
    o: &Obj<'_>,
    language: Language,
    reader_type: Option<Option<ReaderType>>,
) -> Option<UserCode> {
    let files = reader_type.is_some();
    let reader_type = reader_type.flatten();
    let path = o.field_path("artifactImplementationLanguage");
    let language = match language {
        Language::Wasm => CodeLanguage::Wasm,
        Language::Python => CodeLanguage::Python,
        Language::Javascript => CodeLanguage::Javascript,
        Language::Java => {
            p.push(
                path,
                "Java implementations cannot run here (letsdata does not run Java jars); \
                 supported: Builtin (built-in parsers), Python and Javascript (LetsData's \
                 Lambda handler projects, unchanged) and Wasm (a WebAssembly component; see \
                 docs/wasm.md)",
            );
            return None;
        }
        Language::Builtin => unreachable!("a builtin parser is not user code"),
    };
    for field in BUILTIN_FIELDS {
        if o.has(field) {
            p.push(
                o.field_path(field),
                format!("is not used with artifactImplementationLanguage {language}; remove it"),
            );
        }
    }
    if language.is_handler()
        && let Some(rt) = reader_type.filter(|rt| *rt != ReaderType::SingleFileReader)
    {
        p.push(
            o.field_path("readerType"),
            format!(
                "{language} implementations implement LetsData's SingleFileParser, which reads \
                 with readerType Single File Reader (SINGLEFILEREADER), found {} ({}); \
                 state-machine readers are written as Wasm components (docs/wasm.md)",
                rt.display_name(),
                rt.constant()
            ),
        );
    }
    let has_link = o.has("artifactFileS3Link");
    for field in READ_IMPLEMENTATION_FIELDS {
        if !o.has(field) {
            continue;
        }
        let image = field.starts_with("interfaceECRImage");
        if language.is_handler() && image && !has_link {
            // Reported once, below, where the code must come from.
            continue;
        }
        let why = match (language, image) {
            (CodeLanguage::Wasm, _) => {
                if image {
                    "is not used with artifactImplementationLanguage Wasm (a container image \
                     cannot run here); remove it"
                        .to_string()
                } else {
                    "is not needed with artifactImplementationLanguage Wasm: the component's \
                     exports and readerType choose the interface; remove it"
                        .to_string()
                }
            }
            (_, true) => format!(
                "is ignored: a container image cannot be pulled here, so letsdata runs the \
                 {language} project at artifactFileS3Link instead"
            ),
            (_, false) => format!(
                "is ignored: {language} handlers are called through LetsData's request \
                 protocol (interface and function names), not by class name"
            ),
        };
        if language.is_handler() {
            p.warn(o.field_path(field), why);
        } else {
            p.push(o.field_path(field), why);
        }
    }
    if language.is_handler() && !has_link && o.has("interfaceECRImagePath") {
        let entry = match language {
            CodeLanguage::Python => "letsdata_lambda_function.py and requirements.txt",
            _ => "index.js and package.json",
        };
        p.push(
            o.field_path("interfaceECRImagePath"),
            format!(
                "a container image cannot be pulled here: pack your {language} project \
                 directory (the one your dockerfile copies, with {entry}) as a .zip or \
                 .tar.gz, upload it to a bucket and name it in artifactFileS3Link \
                 (s3://<bucketName>/<key>.zip); letsdata installs its dependencies and runs \
                 the handler unchanged"
            ),
        );
        return None;
    }
    let policy = record_error_policy(p, o, files)?;
    code_artifact(p, o, language).map(|code| UserCode {
        on_record_error: policy,
        ..code
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnRecordError {
    FailTask,
    WriteErrorAndContinue,
}

const ON_RECORD_ERROR: Choices<OnRecordError> = Choices {
    what: "a reader error policy",
    items: &[
        Choice {
            value: OnRecordError::FailTask,
            name: "FailTask",
            alias: "",
        },
        Choice {
            value: OnRecordError::WriteErrorAndContinue,
            name: "WriteErrorAndContinue",
            alias: "",
        },
    ],
    note: "",
};

/// `onRecordError` and `onRecordErrorDeleteMessage`: what user code failing on a record does
/// to a stream, queue or table task. Files fail the task (LetsData's rule for parsers).
fn record_error_policy(p: &mut Problems, o: &Obj<'_>, files: bool) -> Option<RecordErrorPolicy> {
    if files {
        for field in RECORD_ERROR_FIELDS {
            if o.has(field) {
                p.push(
                    o.field_path(field),
                    "applies to stream, queue and table readers; a file parser that fails on a \
                     record fails its task (redrive it after a code update); remove it",
                );
            }
        }
        return Some(RecordErrorPolicy::FailTask);
    }
    let policy = o.optional_choice(
        p,
        "onRecordError",
        &ON_RECORD_ERROR,
        OnRecordError::WriteErrorAndContinue,
    )?;
    let sqs = o
        .string(p, "connectorDestination", None)
        .is_some_and(|d| super::fields::normalize(d) == "sqs");
    let delete = o.boolean(p, "onRecordErrorDeleteMessage");
    if delete.is_some() && !sqs {
        p.push(
            o.field_path("onRecordErrorDeleteMessage"),
            "applies to SQS readers (whether a message the code failed on is deleted); remove it",
        );
        return None;
    }
    Some(match policy {
        OnRecordError::FailTask => {
            if delete.is_some() {
                p.push(
                    o.field_path("onRecordErrorDeleteMessage"),
                    "applies with onRecordError WriteErrorAndContinue (with FailTask the \
                     message stays in the queue); remove it",
                );
                return None;
            }
            RecordErrorPolicy::FailTask
        }
        OnRecordError::WriteErrorAndContinue => RecordErrorPolicy::WriteErrorAndContinue {
            delete_message: delete.unwrap_or(true),
        },
    })
}

/// `streamArn` of a Kinesis stream (`arn:aws:kinesis:<region>:<account>:stream/<name>`) or a
/// DynamoDB table stream (`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`).
fn stream_arn(p: &mut Problems, o: &Obj<'_>, destination: ReadDestination) -> Option<String> {
    let (service, example, what) = if destination == ReadDestination::Kinesis {
        (
            "kinesis",
            "arn:aws:kinesis:us-east-1:123456789012:stream/clickstream",
            "the ARN of the Kinesis stream to read",
        )
    } else {
        (
            "dynamodb",
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000",
            "the ARN of the DynamoDB table stream to read (the table's LatestStreamArn)",
        )
    };
    let arn = o.string(p, "streamArn", Some(&format!("{what}, e.g. {example}")))?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let resource_ok = match parts.get(5) {
        Some(r) if service == "kinesis" => r.strip_prefix("stream/").is_some_and(|n| !n.is_empty()),
        Some(r) => r.starts_with("table/") && r.contains("/stream/"),
        None => false,
    };
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == service && resource_ok {
        Some(arn.to_string())
    } else {
        p.push(
            o.field_path("streamArn"),
            format!("{} is not {what}; expected e.g. {example}", quote(arn)),
        );
        None
    }
}

/// SQS queue names: 1 to 80 ASCII letters, digits, `-` and `_` (`.fifo` suffix allowed).
pub(super) fn validate_queue_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty() || name.len() > 80 {
        return Err(format!(
            "{} must be 1 to 80 characters long (SQS queue names)",
            quote(name)
        ));
    }
    if let Some(c) = base
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{} contains {c:?}; SQS queue names use only ASCII letters, digits, '-' and '_' (and may end in .fifo)",
            quote(name)
        ));
    }
    Ok(())
}

/// DynamoDB table names: 3 to 255 ASCII letters, digits, `_`, `-` and `.`.
pub(super) fn validate_table_name(name: &str) -> Result<(), String> {
    if !(3..=255).contains(&name.len()) {
        return Err(format!(
            "{} must be 3 to 255 characters long (DynamoDB table names)",
            quote(name)
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "{} contains {c:?}; DynamoDB table names use only ASCII letters, digits, '_', '-' and '.'",
            quote(name)
        ));
    }
    Ok(())
}

/// `filterExpression` with `expressionAttributeNames` and `expressionAttributeValues`.
/// `Some(None)` when there is no filter; `None` when invalid (reported).
fn table_filter(p: &mut Problems, o: &Obj<'_>) -> Option<Option<TableFilter>> {
    let expression = o.non_empty_string(p, "filterExpression");
    let names = o.object(p, "expressionAttributeNames", None);
    let values = o.object(p, "expressionAttributeValues", None);
    let Some(expression) = expression else {
        let mut ok = !o.has("filterExpression");
        for field in ["expressionAttributeNames", "expressionAttributeValues"] {
            if o.has(field) && ok {
                p.push(
                    o.field_path(field),
                    "is only used with filterExpression; add the filter or remove it",
                );
                ok = false;
            }
        }
        return ok.then_some(None);
    };
    let mut ok = true;
    let mut attribute_names = std::collections::BTreeMap::new();
    for (k, v) in names.into_iter().flatten() {
        match v {
            Value::String(s) if k.starts_with('#') => {
                attribute_names.insert(k.clone(), s.clone());
            }
            _ => {
                p.push(
                    o.field_path("expressionAttributeNames"),
                    format!(
                        "{}: maps a #placeholder to an attribute name, e.g. {{\"#s\": \"status\"}}",
                        quote(k)
                    ),
                );
                ok = false;
            }
        }
    }
    let mut attribute_values = serde_json::Map::new();
    for (k, v) in values.into_iter().flatten() {
        if k.starts_with(':') {
            attribute_values.insert(k.clone(), v.clone());
        } else {
            p.push(
                o.field_path("expressionAttributeValues"),
                format!(
                    "{}: maps a :placeholder to a JSON value, e.g. {{\":active\": \"ACTIVE\"}}",
                    quote(k)
                ),
            );
            ok = false;
        }
    }
    ok.then(|| {
        Some(TableFilter {
            expression: expression.to_string(),
            attribute_names,
            attribute_values,
        })
    })
}

/// `artifactFileS3Link` and `artifactFileS3LinkResourceLocation`.
fn code_artifact(p: &mut Problems, o: &Obj<'_>, language: CodeLanguage) -> Option<UserCode> {
    let what = match language {
        CodeLanguage::Wasm => {
            "the s3://<bucketName>/<key>.wasm link of the implementation, a WebAssembly component (required with artifactImplementationLanguage Wasm)"
        }
        CodeLanguage::Python => {
            "the s3://<bucketName>/<key>.zip (or .tar.gz) link of the implementation, your Python project directory with letsdata_lambda_function.py (required with artifactImplementationLanguage Python)"
        }
        CodeLanguage::Javascript => {
            "the s3://<bucketName>/<key>.zip (or .tar.gz) link of the implementation, your JavaScript project directory with index.js and package.json (required with artifactImplementationLanguage Javascript)"
        }
    };
    let link = o.string(p, "artifactFileS3Link", Some(what));
    let location = o.optional_choice(
        p,
        "artifactFileS3LinkResourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let parsed = link.and_then(|l| match ObjectLocation::parse_s3_link(l) {
        Ok(loc) => Some(loc),
        Err(e) => {
            p.push(o.field_path("artifactFileS3Link"), e.to_string());
            None
        }
    });
    let parsed = parsed.filter(|loc| {
        if language.is_handler() && crate::archive::ArchiveFormat::of(&loc.key).is_none() {
            p.push(
                o.field_path("artifactFileS3Link"),
                format!(
                    "{} is not a .zip, .tar.gz or .tgz archive: a {language} implementation is \
                     its project directory packed as one of those",
                    quote(&loc.key)
                ),
            );
            return false;
        }
        true
    });
    match (parsed, location) {
        (Some(loc), Some(resource_location)) => Some(UserCode {
            language,
            bucket: loc.bucket,
            key: loc.key,
            resource_location,
            on_record_error: RecordErrorPolicy::FailTask,
        }),
        _ => None,
    }
}

/// `builtinParser` and its options.
fn builtin_parser(p: &mut Problems, o: &Obj<'_>, builtin: bool) -> Option<BuiltinParser> {
    let kind = if builtin {
        o.required_choice(
            p,
            "builtinParser",
            &PARSERS,
            "the builtin parser (required with artifactImplementationLanguage Builtin)",
        )
    } else {
        o.choice(p, "builtinParser", &PARSERS)
    };
    let document_id_field = o.non_empty_string(p, "documentIdField");
    let delimiter = csv_delimiter(p, o);
    let has_header = o.boolean(p, "csvHasHeader");
    let record_start_pattern = o.non_empty_string(p, "recordStartPattern");
    let record_end_pattern = o.non_empty_string(p, "recordEndPattern");
    let kind = kind?;
    for (field, owner) in PARSER_OPTIONS {
        if *owner != kind && o.has(field) {
            p.push(
                o.field_path(field),
                format!(
                    "is only used with builtinParser {}, not {}; remove it",
                    PARSERS.name_of(*owner),
                    PARSERS.name_of(kind)
                ),
            );
        }
    }
    Some(match kind {
        ParserKind::Jsonl => BuiltinParser::Jsonl {
            document_id_field: document_id_field.map(str::to_string),
        },
        ParserKind::Csv => BuiltinParser::Csv {
            delimiter: delimiter.unwrap_or(b','),
            has_header: has_header.unwrap_or(true),
        },
        ParserKind::Text => BuiltinParser::Text {
            record_start_pattern: record_start_pattern.map(str::to_string),
            record_end_pattern: record_end_pattern.map(str::to_string),
        },
    })
}

/// `csvDelimiter`: exactly one ASCII character other than a quote or a line break.
fn csv_delimiter(p: &mut Problems, o: &Obj<'_>) -> Option<u8> {
    let s = o.string(p, "csvDelimiter", None)?;
    match s.as_bytes() {
        [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Some(*b),
        [b'"' | b'\n' | b'\r'] => {
            p.push(
                o.field_path("csvDelimiter"),
                format!(
                    "{} cannot be the delimiter; use e.g. \",\", \";\", \"|\" or \"\\t\"",
                    quote(s)
                ),
            );
            None
        }
        _ => {
            p.push(
                o.field_path("csvDelimiter"),
                format!(
                    "must be exactly one ASCII character, e.g. \",\" or \"\\t\", found {}",
                    quote(s)
                ),
            );
            None
        }
    }
}
