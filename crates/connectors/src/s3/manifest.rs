//! The manifest of the S3 readers: one task per non-empty line.
//!
//! For single-file readers each line is a key in the read bucket; for the Multiple File State
//! Machine Reader a line lists one key per file type (`TYPE1:key1|TYPE2:key2`). Lines are
//! trimmed, empty lines skipped, and keys checked so that they stay inside the bucket.

use super::ObjectStores;
use crate::ConnectorError;
use letsdata_model::Problem;
use letsdata_model::spec::{ManifestSource, ReaderType, manifest_line_files};
use std::collections::BTreeMap;

/// File type of the single file a built-in parser reads (LetsData's `getS3FileType()`).
pub const BUILTIN_FILE_TYPE: &str = "DATA";

/// The manifest's lines, checked. Problems name the line.
pub fn parse_manifest_lines(
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
pub(super) async fn read_manifest(
    objects: &ObjectStores,
    source: &ManifestSource,
    reader_type: ReaderType,
) -> Result<Vec<String>, ConnectorError> {
    let (text, path) = match source {
        ManifestSource::Text { file_contents } => {
            (file_contents.clone(), "manifestFile.fileContents")
        }
        ManifestSource::S3Link { bucket, key, .. } => {
            let bytes = objects.bucket(bucket)?.read_all(key).await?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ConnectorError::InvalidLocation(format!(
                    "the manifest s3://{bucket}/{key} is not UTF-8 text"
                ))
            })?;
            (text, "manifestFile.manifestFileS3Uri")
        }
    };
    parse_manifest_lines(&text, path, reader_type).map_err(|problems| {
        ConnectorError::InvalidLocation(
            problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The files of a manifest line (checked by [`parse_manifest_lines`]).
pub(super) fn line_files(reader_type: ReaderType, line: &str) -> BTreeMap<String, String> {
    manifest_line_files(reader_type, line, BUILTIN_FILE_TYPE).unwrap_or_else(|_| {
        let mut files = BTreeMap::new();
        files.insert(BUILTIN_FILE_TYPE.to_string(), line.to_string());
        files
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_and_checked() {
        let single = ReaderType::SingleFileReader;
        let lines = parse_manifest_lines("a.jsonl\r\n\n  b/c.gz  \n", "p", single).expect("valid");
        assert_eq!(lines, vec!["a.jsonl", "b/c.gz"]);
        let problems =
            parse_manifest_lines("ok\n../etc/passwd\n/abs", "p", single).expect_err("invalid");
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.starts_with("manifest line 2:"));
        assert!(problems[1].message.starts_with("manifest line 3:"));
    }

    #[test]
    fn multiple_file_lines_list_a_key_per_file_type() {
        let multi = ReaderType::MultipleFileStateMachineReader;
        let files = line_files(multi, "WARC:a.warc.gz|WAT:a.wat.gz");
        assert_eq!(files.len(), 2);
        assert_eq!(files["WAT"], "a.wat.gz");
        let problems =
            parse_manifest_lines("WARC:a|WARC:b\nplain.txt", "p", multi).expect_err("invalid");
        assert!(problems[0].message.contains("listed twice"), "{problems:?}");
        assert!(problems[1].message.contains("FILETYPE:key"), "{problems:?}");
    }
}
