//! `manifestFile`: which files the dataset reads.

use super::fields::{Choice, Choices, Obj, Problems, quote};
use super::types::text_manifest_entries;
use super::validate::{READER_TYPES, RESOURCE_LOCATIONS};
use super::{Manifest, ManifestSource, ReaderType, ResourceLocation};
use crate::location::ObjectLocation;

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
    ],
    note: "only S3ReaderTextManifestFile and S3ReaderS3LinkManifestFile are supported in this version",
};

/// What was learnt about `manifestFile`, also when it is invalid.
#[derive(Debug, Default)]
pub(super) struct ManifestParts {
    /// `readerManifestResourceLocation` of an `S3ReaderS3LinkManifestFile`.
    pub link_location: Option<ResourceLocation>,
    pub manifest: Option<Manifest>,
}

/// `read_reader_type` is `readConnector.readerType`, when known; the two must agree.
pub(super) fn manifest_file(
    p: &mut Problems,
    root: &Obj<'_>,
    read_reader_type: Option<ReaderType>,
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
    let manifest_type = o.required_choice(
        p,
        "manifestType",
        &MANIFEST_TYPES,
        "how the files to read are listed",
    );
    let (own, other, other_name): (&[&str], &[&str], &str) = match manifest_type {
        Some(ManifestType::Text) => (TEXT_FIELDS, LINK_FIELDS, LINK),
        Some(ManifestType::S3Link) => (LINK_FIELDS, TEXT_FIELDS, TEXT),
        Some(t) => {
            p.push(
                o.field_path("manifestType"),
                format!(
                    "{} manifests are not supported yet; supported: {TEXT}, {LINK}",
                    quote(MANIFEST_TYPES.name_of(t))
                ),
            );
            return ManifestParts::default();
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
        (Some(source), Some(reader_type)) => Some(Manifest {
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
