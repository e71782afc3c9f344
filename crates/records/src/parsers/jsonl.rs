//! The jsonl parser: each record must be exactly one JSON value; the document is the
//! record itself (surrounding whitespace trimmed), written unchanged.
//!
//! Validation runs serde_json over the text once without building a tree (into
//! `IgnoredAny`, or through the id-extracting visitor when `documentIdField` is set), then
//! requires nothing but whitespace after the value. UTF-8 is checked up front with
//! `std::str::from_utf8` (serde_json does not validate bytes inside strings it skips).
//! Syntax errors read `invalid JSON at column 17: expected `,` or `}`` (positions are
//! in the record as read, after a leading byte order mark of the file).

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny};

use super::jsonl_id::{IdSeed, IdStatus};
use super::{ParseOutcome, RecordParser, strip_bom, utf8_error};
use crate::reader::Record;

/// Parser for `jsonl` files.
#[derive(Debug)]
pub struct JsonlParser {
    document_id_field: Option<String>,
}

impl JsonlParser {
    pub fn new(document_id_field: Option<String>) -> Self {
        Self { document_id_field }
    }
}

impl RecordParser for JsonlParser {
    fn parse(
        &mut self,
        record: &Record<'_>,
        out: &mut Vec<u8>,
        doc_id: &mut String,
    ) -> ParseOutcome {
        doc_id.clear();
        let bytes = strip_bom(record);
        let document = bytes.trim_ascii();
        if document.is_empty() {
            return ParseOutcome::Skip;
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => return utf8_error(err),
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let status = match &self.document_id_field {
            None => IgnoredAny::deserialize(&mut de).map(|_| IdStatus::Found),
            Some(field) => IdSeed { field, id: doc_id }.deserialize(&mut de),
        };
        let status = match status.and_then(|status| de.end().map(|()| status)) {
            Ok(status) => status,
            Err(err) => {
                doc_id.clear();
                return ParseOutcome::Error(syntax_error(&err));
            }
        };
        let field = self.document_id_field.as_deref().unwrap_or_default();
        match status {
            IdStatus::Found => {
                out.extend_from_slice(document);
                ParseOutcome::Document
            }
            IdStatus::Missing => {
                doc_id.clear();
                ParseOutcome::Error(format!(
                    "document has no \"{field}\" field (documentIdField)"
                ))
            }
            IdStatus::NotObject => ParseOutcome::Error(format!(
                "document is not a JSON object, so it has no \"{field}\" field (documentIdField)"
            )),
            IdStatus::BadType => {
                doc_id.clear();
                ParseOutcome::Error(format!(
                    "document field \"{field}\" is not a string, number or boolean"
                ))
            }
        }
    }
}

/// `invalid JSON at column C: message` (with the line when the record has several).
fn syntax_error(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full
        .strip_suffix(&suffix)
        .unwrap_or(&full)
        .replace('`', "'");
    if err.line() > 1 {
        format!(
            "invalid JSON at line {} column {}: {message}",
            err.line(),
            err.column()
        )
    } else {
        format!("invalid JSON at column {}: {message}", err.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(field: Option<&str>, text: &[u8]) -> (ParseOutcome, String, String) {
        let mut parser = JsonlParser::new(field.map(str::to_string));
        let rec = Record {
            bytes: text,
            start_offset: 0,
            end_offset: text.len() as u64,
            next_offset: 0,
            truncated: false,
        };
        let mut out = b"prev|".to_vec();
        let mut id = "stale".to_string();
        let outcome = parser.parse(&rec, &mut out, &mut id);
        (outcome, String::from_utf8_lossy(&out).into_owned(), id)
    }

    fn error(field: Option<&str>, text: &[u8]) -> String {
        match parse(field, text) {
            (ParseOutcome::Error(msg), out, id) => {
                assert_eq!(out, "prev|", "nothing appended on error");
                assert_eq!(id, "", "no id on error");
                msg
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn valid_documents_are_copied_trimmed() {
        assert_eq!(
            parse(None, b"  {\"a\": [1, 2, {\"b\": null}]} \t"),
            (
                ParseOutcome::Document,
                "prev|{\"a\": [1, 2, {\"b\": null}]}".into(),
                String::new()
            )
        );
        assert_eq!(parse(None, b"42").0, ParseOutcome::Document);
        assert_eq!(parse(None, b"\"s\"").1, "prev|\"s\"");
        assert_eq!(parse(None, b"\xEF\xBB\xBF{}").1, "prev|{}");
        assert_eq!(parse(None, b"  ").0, ParseOutcome::Skip);
    }

    #[test]
    fn invalid_json_reports_column() {
        assert_eq!(
            error(None, b"{\"a\":1 \"b\":2}"),
            "invalid JSON at column 8: expected ',' or '}'"
        );
        assert_eq!(
            error(None, b"{\"a\":1} x"),
            "invalid JSON at column 9: trailing characters"
        );
        assert_eq!(
            error(None, b"{\"a\":1}{}"),
            "invalid JSON at column 8: trailing characters"
        );
        assert_eq!(
            error(None, b"{\"a\":"),
            "invalid JSON at column 5: EOF while parsing a value"
        );
        assert!(
            error(None, b"{\"a\":\"\xFF\"}").contains("not valid UTF-8 (invalid byte at offset 6)")
        );
    }

    #[test]
    fn document_id_field() {
        assert_eq!(
            parse(Some("id"), br#"{"x":{"id":9},"id":"abc","y":[1]}"#).2,
            "abc"
        );
        assert_eq!(
            parse(Some("id"), br#"{"id":12345678901234}"#).2,
            "12345678901234"
        );
        assert_eq!(parse(Some("id"), br#"{"id":-7}"#).2, "-7");
        assert_eq!(parse(Some("id"), br#"{"id":1.5}"#).2, "1.5");
        assert_eq!(parse(Some("id"), br#"{"id":true}"#).2, "true");
        assert_eq!(
            parse(Some("id"), br#"{"i\u0064":"escaped key"}"#).2,
            "escaped key"
        );
        assert_eq!(parse(Some("id"), br#"{"id":"a\"b"}"#).2, "a\"b");
        assert_eq!(parse(Some("id"), br#"{"id":1,"id":2}"#).2, "2");
        let (outcome, out, _) = parse(Some("id"), br#"{"id":"k","v":1}"#);
        assert_eq!(
            (outcome, out),
            (ParseOutcome::Document, "prev|{\"id\":\"k\",\"v\":1}".into())
        );
    }

    #[test]
    fn document_id_field_errors() {
        assert_eq!(
            error(Some("docId"), br#"{"id":1}"#),
            "document has no \"docId\" field (documentIdField)"
        );
        assert_eq!(
            error(Some("id"), br#"{"id":null}"#),
            "document has no \"id\" field (documentIdField)"
        );
        assert!(error(Some("id"), b"[1,2]").contains("not a JSON object"));
        assert!(
            error(Some("id"), br#"{"id":{"a":1}}"#).contains("is not a string, number or boolean")
        );
        assert!(error(Some("id"), br#"{"id":"x"} junk"#).starts_with("invalid JSON at column 12"));
        assert!(error(Some("id"), br#"{"id":"x","#).starts_with("invalid JSON"));
    }
}
