//! Benchmark component (not an example): a `SingleFileParser` that returns each line as the
//! document, so that timing it measures what crossing into the sandbox costs per record.

use letsdata_sdk::{ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser};

#[derive(Default)]
pub struct Passthrough;

impl SingleFileParser for Passthrough {
    fn get_s3_file_type(&self) -> String {
        "LINES".into()
    }

    fn get_record_start_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::none()
    }

    fn get_record_end_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::pattern("\n")
    }

    fn parse_document(
        &mut self,
        _file_type: &str,
        _file_name: &str,
        _offset_bytes: u64,
        record: &[u8],
    ) -> ParseDocumentResult {
        let line = record.strip_suffix(b"\n").unwrap_or(record);
        // Documents are strings: check the line once (std's ASCII fast path), and replace
        // invalid bytes only when there are some.
        let document = match std::str::from_utf8(line) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(line).into_owned(),
        };
        ParseDocumentResult::success(SingleDoc::new(document))
    }
}

letsdata_sdk::export!(single_file_parser: Passthrough);
