//! The manifest: one task per non-empty line.
//!
//! For single-file readers each line is a key in the read bucket; for the Multiple File State
//! Machine Reader a line lists one key per file type (`TYPE1:key1|TYPE2:key2`). Lines are trimmed, empty
//! lines skipped, and keys checked so that they stay inside the bucket. Task ids are derived
//! from the dataset id and the line (UUID v5), so creating tasks again after a crash yields the
//! same ids and inserts nothing twice.

use crate::Engine;
use letsdata_connectors::ConnectorError;
use letsdata_model::spec::{Manifest, ManifestSource, ReaderType, manifest_line_files};
use letsdata_model::task::TaskDefinition;
use letsdata_model::{DatasetSpec, Problem};
use std::collections::BTreeMap;

/// File type of the single file a built-in parser reads (LetsData's `getS3FileType()`).
pub(crate) const BUILTIN_FILE_TYPE: &str = "DATA";

/// The manifest's work items, checked. Errors name the line.
pub(crate) fn parse_lines(
    text: &str,
    path: &str,
    reader_type: ReaderType,
) -> Result<Vec<String>, Vec<Problem>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        match manifest_line_files(reader_type, line, BUILTIN_FILE_TYPE) {
            Ok(_) => lines.push(line.to_string()),
            Err(e) => problems.push(Problem {
                path: path.to_string(),
                message: format!("manifest line {}: {e}", n + 1),
            }),
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

/// Reads the manifest (inline or from a bucket) into its lines.
pub(crate) async fn read_manifest(
    engine: &Engine,
    spec: &DatasetSpec,
) -> Result<Vec<String>, ConnectorError> {
    let Manifest::Files {
        source,
        reader_type,
    } = &spec.manifest
    else {
        return Ok(Vec::new());
    };
    let (text, path) = match source {
        ManifestSource::Text { file_contents } => {
            (file_contents.clone(), "manifestFile.fileContents")
        }
        ManifestSource::S3Link { bucket, key, .. } => {
            let bytes = engine.objects.bucket(bucket)?.read_all(key).await?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ConnectorError::InvalidLocation(format!(
                    "the manifest s3://{bucket}/{key} is not UTF-8 text"
                ))
            })?;
            (text, "manifestFile.manifestFileS3Uri")
        }
    };
    parse_lines(&text, path, *reader_type).map_err(|problems| {
        ConnectorError::InvalidLocation(
            problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The task id of manifest line `index`.
pub(crate) fn task_id_for(dataset_id: &str, index: u64, line: &str) -> String {
    let namespace = uuid::Uuid::parse_str(dataset_id).unwrap_or(uuid::Uuid::NAMESPACE_OID);
    uuid::Uuid::new_v5(&namespace, format!("{index}:{line}").as_bytes()).to_string()
}

/// The task definition of a manifest line (checked by [`parse_lines`]).
pub(crate) fn definition(reader_type: ReaderType, index: u64, line: &str) -> TaskDefinition {
    let files = manifest_line_files(reader_type, line, BUILTIN_FILE_TYPE).unwrap_or_else(|_| {
        let mut files = BTreeMap::new();
        files.insert(BUILTIN_FILE_TYPE.to_string(), line.to_string());
        files
    });
    TaskDefinition {
        reader_type: reader_type.constant().to_string(),
        manifest_line: line.to_string(),
        manifest_index: index,
        files,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_and_checked() {
        let single = ReaderType::SingleFileReader;
        let lines = parse_lines("a.jsonl\r\n\n  b/c.gz  \n", "p", single).expect("valid");
        assert_eq!(lines, vec!["a.jsonl", "b/c.gz"]);
        let problems = parse_lines("ok\n../etc/passwd\n/abs", "p", single).expect_err("invalid");
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.starts_with("manifest line 2:"));
        assert!(problems[1].message.starts_with("manifest line 3:"));
    }

    #[test]
    fn multiple_file_lines_list_a_key_per_file_type() {
        let multi = ReaderType::MultipleFileStateMachineReader;
        let d = definition(multi, 0, "WARC:a.warc.gz|WAT:a.wat.gz");
        assert_eq!(d.files.len(), 2);
        assert_eq!(d.files["WAT"], "a.wat.gz");
        let problems = parse_lines("WARC:a|WARC:b\nplain.txt", "p", multi).expect_err("invalid");
        assert!(problems[0].message.contains("listed twice"), "{problems:?}");
        assert!(problems[1].message.contains("FILETYPE:key"), "{problems:?}");
    }

    #[test]
    fn task_ids_are_stable() {
        let id = "8f0e4f8e-6a43-4c1b-9d7e-2f1f4d7a9b10";
        assert_eq!(task_id_for(id, 0, "a"), task_id_for(id, 0, "a"));
        assert_ne!(task_id_for(id, 0, "a"), task_id_for(id, 1, "a"));
    }
}
