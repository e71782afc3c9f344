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
        ParseDocumentResult::success(SingleDoc::new(String::from_utf8_lossy(line)))
    }
}

letsdata_sdk::export!(single_file_parser: Passthrough);
