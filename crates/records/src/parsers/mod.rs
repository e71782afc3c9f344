//! Parsers: one record in, at most one JSON document out.
//!
//! A [`RecordParser`] appends the serialized document to a caller-owned buffer and writes
//! the document id into a caller-owned `String`, both reused across records, so the
//! built-in parsers do not allocate per record (only error messages allocate). Each
//! built-in parser pairs with a [`Framing`] chosen by [`framing_for`].

mod csv;
mod csv_split;
mod json_out;
mod jsonl;
mod jsonl_id;
mod text;

pub use self::csv::CsvParser;
pub use self::jsonl::JsonlParser;
pub use self::text::{TextParser, unescape_pattern};

use letsdata_model::spec::BuiltinParser;

use crate::framing::Framing;
use crate::reader::Record;

/// What a parser did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseOutcome {
    /// A document was appended to `out` (and `doc_id` set).
    Document,
    /// The record produces no document and is not an error.
    Skip,
    /// The record is invalid; nothing was appended to `out`.
    Error(String),
    /// The record was consumed as a CSV header (not counted as a record).
    Header,
}

/// Turns records into JSON documents.
pub trait RecordParser: Send {
    /// Parses one record. On Document: the serialized JSON document (one line, no trailing
    /// newline) has been appended to `out`, and `doc_id` holds the document id ("" when
    /// none). On Error: the message says what is wrong with the record, and nothing was
    /// appended to `out`. `Header` = the record was consumed as a CSV header.
    fn parse(
        &mut self,
        record: &Record<'_>,
        out: &mut Vec<u8>,
        doc_id: &mut String,
    ) -> ParseOutcome;
}

/// The parser for a built-in implementation; `file_name` is recorded by the text parser.
pub fn builtin_parser(parser: &BuiltinParser, file_name: &str) -> Box<dyn RecordParser> {
    match parser {
        BuiltinParser::Jsonl { document_id_field } => {
            Box::new(JsonlParser::new(document_id_field.clone()))
        }
        BuiltinParser::Csv {
            delimiter,
            has_header,
        } => Box::new(CsvParser::new(*delimiter, *has_header)),
        BuiltinParser::Text { .. } => Box::new(TextParser::new(file_name)),
    }
}

/// The framing a built-in parser reads its records with.
pub fn framing_for(parser: &BuiltinParser) -> Framing {
    match parser {
        BuiltinParser::Jsonl { .. } => Framing::Lines,
        BuiltinParser::Csv { delimiter, .. } => Framing::Csv {
            delimiter: *delimiter,
        },
        BuiltinParser::Text {
            record_start_pattern,
            record_end_pattern,
        } => Framing::Patterns {
            start: record_start_pattern.as_deref().map(unescape_pattern),
            end: record_end_pattern.as_deref().map(unescape_pattern),
        }
        .normalized(),
    }
}

/// A UTF-8 byte order mark, stripped from the first record of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The record's bytes without a byte order mark if it is the file's first record.
fn strip_bom<'a>(record: &Record<'a>) -> &'a [u8] {
    match record.bytes.strip_prefix(BOM) {
        Some(rest) if record.start_offset == 0 => rest,
        _ => record.bytes,
    }
}

/// The error message for bytes that are not UTF-8.
fn utf8_error(err: std::str::Utf8Error) -> ParseOutcome {
    ParseOutcome::Error(format!(
        "record is not valid UTF-8 (invalid byte at offset {})",
        err.valid_up_to()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_for_builtins() {
        assert_eq!(
            framing_for(&BuiltinParser::Jsonl {
                document_id_field: None
            }),
            Framing::Lines
        );
        assert_eq!(
            framing_for(&BuiltinParser::Csv {
                delimiter: b'\t',
                has_header: true
            }),
            Framing::Csv { delimiter: b'\t' }
        );
        let text = BuiltinParser::Text {
            record_start_pattern: None,
            record_end_pattern: None,
        };
        assert_eq!(framing_for(&text), Framing::Lines);
        let text = BuiltinParser::Text {
            record_start_pattern: Some("WARC/1.0\\r\\n".into()),
            record_end_pattern: Some(String::new()),
        };
        assert_eq!(
            framing_for(&text),
            Framing::Patterns {
                start: Some(b"WARC/1.0\r\n".to_vec()),
                end: None
            }
        );
    }

    #[test]
    fn builtin_parser_dispatch() {
        let rec = Record {
            bytes: b"{\"a\":1}",
            start_offset: 3,
            end_offset: 10,
            next_offset: 11,
            truncated: false,
        };
        let mut out = Vec::new();
        let mut id = String::new();
        let mut p = builtin_parser(
            &BuiltinParser::Jsonl {
                document_id_field: Some("a".into()),
            },
            "f",
        );
        assert_eq!(p.parse(&rec, &mut out, &mut id), ParseOutcome::Document);
        assert_eq!(id, "1");
        let mut p = builtin_parser(
            &BuiltinParser::Text {
                record_start_pattern: None,
                record_end_pattern: None,
            },
            "f",
        );
        out.clear();
        assert_eq!(p.parse(&rec, &mut out, &mut id), ParseOutcome::Document);
        assert_eq!(out, br#"{"fileName":"f","offset":3,"text":"{\"a\":1}"}"#);
        assert_eq!(id, "");
    }

    #[test]
    fn bom_only_stripped_at_offset_zero() {
        let mut rec = Record {
            bytes: b"\xEF\xBB\xBFx",
            start_offset: 0,
            end_offset: 4,
            next_offset: 4,
            truncated: false,
        };
        assert_eq!(strip_bom(&rec), b"x");
        rec.start_offset = 1;
        assert_eq!(strip_bom(&rec), b"\xEF\xBB\xBFx");
    }
}
