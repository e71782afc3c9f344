//! `readConnector`: the S3 reader and its builtin parser.

use super::fields::{Choice, Choices, Obj, Problems, quote};
use super::validate::{READER_TYPES, RESOURCE_LOCATIONS};
use super::write_connectors::bucket;
use super::{
    BuiltinParser, Implementation, ReadConnector, ReaderType, ResourceLocation, S3ReadConnector,
    WasmArtifact,
};
use crate::location::ObjectLocation;

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
];

/// Fields of a Wasm implementation.
const WASM_FIELDS: &[&str] = &["artifactFileS3Link", "artifactFileS3LinkResourceLocation"];

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
const READ_OTHER_DESTINATION_FIELDS: &[&str] =
    &["streamArn", "queueName", "tableName", "resourceLocation"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadDestination {
    S3,
    Sqs,
    Kinesis,
    DynamoDbStreams,
    DynamoDb,
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
    ],
    note: "only S3 is supported in this version",
};
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
    note: "only Builtin is supported in this version",
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
    pub reader_type: Option<ReaderType>,
    pub bucket_location: Option<ResourceLocation>,
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
    let also_known = [READ_IMPLEMENTATION_FIELDS, READ_OTHER_DESTINATION_FIELDS].concat();
    o.check_unknown(p, READ_FIELDS, &also_known);

    let destination = o.required_choice(
        p,
        "connectorDestination",
        &READ_DESTINATIONS,
        "where the input is read from",
    );
    if let Some(d) = destination.filter(|d| *d != ReadDestination::S3) {
        p.push(
            o.field_path("connectorDestination"),
            format!(
                "{} read connectors are not supported yet; supported: S3",
                quote(READ_DESTINATIONS.name_of(d))
            ),
        );
        return ReadParts::default();
    }
    // Missing or unrecognised destinations are validated as S3, the only supported one.
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
        "the implementation that turns records into documents: Builtin, or Wasm with artifactFileS3Link",
    );
    let lang_path = o.field_path("artifactImplementationLanguage");
    match language {
        Some(Language::Builtin) => {
            for field in READ_IMPLEMENTATION_FIELDS.iter().chain(WASM_FIELDS) {
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
        Some(l @ (Language::Java | Language::Python | Language::Javascript)) => p.push(
            lang_path,
            format!(
                "{} implementations are not supported: letsdata cannot run Java jars or container \
                 images; use Builtin, or compile your implementation to a WebAssembly component \
                 and use Wasm (see docs/wasm.md)",
                quote(LANGUAGES.name_of(l))
            ),
        ),
        Some(Language::Wasm) => {
            for field in READ_IMPLEMENTATION_FIELDS.iter().chain(BUILTIN_FIELDS) {
                if o.has(field) {
                    let why = if field.ends_with("ClassName") || field.ends_with("ClassNameMap") {
                        "is not needed with artifactImplementationLanguage Wasm: the component's exports and readerType choose the interface; remove it"
                    } else {
                        "is not used with artifactImplementationLanguage Wasm; remove it"
                    };
                    p.push(o.field_path(field), why);
                }
            }
        }
        None => {}
    }
    let parser = builtin_parser(p, &o, language == Some(Language::Builtin));
    let wasm = if language == Some(Language::Wasm) {
        wasm_artifact(p, &o)
    } else {
        None
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
        (Some(reader_type), Some(bucket_name), Some(loc), Some(Language::Wasm), _) => {
            wasm.map(|artifact| {
                ReadConnector::S3(S3ReadConnector {
                    reader_type,
                    bucket_name,
                    bucket_resource_location: loc,
                    implementation: Implementation::Wasm(artifact),
                })
            })
        }
        _ => None,
    };
    ReadParts {
        reader_type,
        bucket_location,
        connector,
    }
}

/// `artifactFileS3Link` and `artifactFileS3LinkResourceLocation`.
fn wasm_artifact(p: &mut Problems, o: &Obj<'_>) -> Option<WasmArtifact> {
    let link = o.string(
        p,
        "artifactFileS3Link",
        Some("the s3://<bucketName>/<key>.wasm link of the implementation, a WebAssembly component (required with artifactImplementationLanguage Wasm)"),
    );
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
    match (parsed, location) {
        (Some(loc), Some(resource_location)) => Some(WasmArtifact {
            bucket: loc.bucket,
            key: loc.key,
            resource_location,
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
