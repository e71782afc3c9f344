//! The text parser: each record becomes
//! `{"fileName":"<file>","offset":<start offset>,"text":"<record>"}`.
//!
//! The record must be UTF-8; it is JSON-escaped as is (no trimming). The `"fileName":...`
//! prefix is escaped once per file. This module also interprets the configured record
//! patterns ([`unescape_pattern`]).

use super::json_out::{write_str, write_u64};
use super::{ParseOutcome, RecordParser, utf8_error};
use crate::reader::Record;

/// Parser for text files cut by lines or patterns.
#[derive(Debug)]
pub struct TextParser {
    /// `{"fileName":"...","offset":`
    prefix: Vec<u8>,
}

impl TextParser {
    pub fn new(file_name: &str) -> Self {
        let mut prefix = b"{\"fileName\":".to_vec();
        write_str(&mut prefix, file_name.as_bytes());
        prefix.extend_from_slice(b",\"offset\":");
        Self { prefix }
    }
}

impl RecordParser for TextParser {
    fn parse(
        &mut self,
        record: &Record<'_>,
        out: &mut Vec<u8>,
        doc_id: &mut String,
    ) -> ParseOutcome {
        doc_id.clear();
        if let Err(err) = std::str::from_utf8(record.bytes) {
            return utf8_error(err);
        }
        out.extend_from_slice(&self.prefix);
        write_u64(out, record.start_offset);
        out.extend_from_slice(b",\"text\":");
        write_str(out, record.bytes);
        out.push(b'}');
        ParseOutcome::Document
    }
}

/// Turns a configured record pattern into bytes, interpreting the escape sequences `\n`,
/// `\r`, `\t` and `\\` (so a pattern can be written as `"WARC/1.0\\r\\n"` in a JSON
/// config as well as with real control characters). Any other backslash is kept as is.
pub fn unescape_pattern(pattern: &str) -> Vec<u8> {
    let bytes = pattern.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'n')) => Some(b'\n'),
            (b'\\', Some(b'r')) => Some(b'\r'),
            (b'\\', Some(b't')) => Some(b'\t'),
            (b'\\', Some(b'\\')) => Some(b'\\'),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 2;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let mut p = TextParser::new("dir/a \"b\".txt");
        let rec = Record {
            bytes: "line \"1\"\r\n\tü".as_bytes(),
            start_offset: 1234,
            end_offset: 0,
            next_offset: 0,
            truncated: false,
        };
        let mut out = Vec::new();
        let mut id = String::from("x");
        assert_eq!(p.parse(&rec, &mut out, &mut id), ParseOutcome::Document);
        assert_eq!(id, "");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            doc,
            serde_json::json!({"fileName": "dir/a \"b\".txt", "offset": 1234, "text": "line \"1\"\r\n\tü"})
        );
        assert!(!out.contains(&b'\n'));
    }

    #[test]
    fn invalid_utf8() {
        let mut p = TextParser::new("f");
        let rec = Record {
            bytes: b"ok\xFE",
            start_offset: 0,
            end_offset: 3,
            next_offset: 3,
            truncated: false,
        };
        let mut out = Vec::new();
        let outcome = p.parse(&rec, &mut out, &mut String::new());
        assert_eq!(
            outcome,
            ParseOutcome::Error("record is not valid UTF-8 (invalid byte at offset 2)".into())
        );
        assert!(out.is_empty());
    }

    #[test]
    fn pattern_escapes() {
        assert_eq!(unescape_pattern("WARC/1.0\\r\\n"), b"WARC/1.0\r\n");
        assert_eq!(unescape_pattern("a\\tb\\\\n\\x"), b"a\tb\\n\\x");
        assert_eq!(unescape_pattern("real\nnewline"), b"real\nnewline");
        assert_eq!(unescape_pattern("trailing\\"), b"trailing\\");
        assert_eq!(unescape_pattern("é\\n"), "é\n".as_bytes());
    }
}
