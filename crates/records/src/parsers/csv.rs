//! The csv parser: one CSV row (as cut by `Framing::Csv`) → one JSON document.
//!
//! Fields are found by `csv_split` (memchr jumps; quote-free rows are borrowed in place,
//! others unquoted into a reused buffer). With a header, the first record the parser sees
//! is the header (the engine feeds the header record first even when resuming mid-file);
//! its names are escaped once into ready-made `"name":` keys, and each row becomes
//! `{"name":"value",...}` (values are strings). Without a header each row becomes
//! `["value",...]`. UTF-8 is checked on the raw row: delimiters and quotes are ASCII, so
//! the row is valid exactly when every field is.

use super::csv_split::split_row;
use super::json_out::write_str;
use super::{ParseOutcome, RecordParser, strip_bom, utf8_error};
use crate::reader::Record;

/// Parser for CSV files.
#[derive(Debug)]
pub struct CsvParser {
    delimiter: u8,
    has_header: bool,
    /// Escaped `"name":` per header column, once the header was seen.
    keys: Option<Vec<Vec<u8>>>,
    /// Unquoted field bytes of the current row (rows with quotes only).
    fields: Vec<u8>,
    /// Field `i` of the current row is `source[spans[i].0..spans[i].1]`, where the source
    /// is the row itself (no quotes) or `fields`.
    spans: Vec<(usize, usize)>,
}

impl CsvParser {
    pub fn new(delimiter: u8, has_header: bool) -> Self {
        Self {
            delimiter,
            has_header,
            keys: None,
            fields: Vec::with_capacity(1024),
            spans: Vec::with_capacity(64),
        }
    }
}

impl RecordParser for CsvParser {
    fn parse(
        &mut self,
        record: &Record<'_>,
        out: &mut Vec<u8>,
        doc_id: &mut String,
    ) -> ParseOutcome {
        doc_id.clear();
        let row = strip_bom(record);
        if row.is_empty() {
            return ParseOutcome::Skip;
        }
        if let Err(err) = std::str::from_utf8(row) {
            if self.has_header && self.keys.is_none() {
                return ParseOutcome::Error(format!(
                    "header row is not valid UTF-8 (invalid byte at offset {})",
                    err.valid_up_to()
                ));
            }
            return utf8_error(err);
        }
        let in_row = split_row(row, self.delimiter, &mut self.fields, &mut self.spans);
        let source: &[u8] = if in_row { row } else { &self.fields };
        let fields = self.spans.iter().map(|&(start, end)| &source[start..end]);
        if self.has_header && self.keys.is_none() {
            let keys = fields
                .map(|name| {
                    let mut key = Vec::with_capacity(name.len() + 3);
                    write_str(&mut key, name);
                    key.push(b':');
                    key
                })
                .collect();
            self.keys = Some(keys);
            return ParseOutcome::Header;
        }
        match &self.keys {
            Some(keys) => {
                if self.spans.len() != keys.len() {
                    return ParseOutcome::Error(format!(
                        "row has {} fields, header has {}",
                        self.spans.len(),
                        keys.len()
                    ));
                }
                out.push(b'{');
                for (i, (key, field)) in keys.iter().zip(fields).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(key);
                    write_str(out, field);
                }
                out.push(b'}');
            }
            None => {
                out.push(b'[');
                for (i, field) in fields.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, field);
                }
                out.push(b']');
            }
        }
        ParseOutcome::Document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parser: &mut CsvParser, row: &[u8], offset: u64) -> (ParseOutcome, String) {
        let rec = Record {
            bytes: row,
            start_offset: offset,
            end_offset: offset + row.len() as u64,
            next_offset: 0,
            truncated: false,
        };
        let mut out = Vec::new();
        let mut id = String::from("stale");
        let outcome = parser.parse(&rec, &mut out, &mut id);
        assert_eq!(id, "");
        (outcome, String::from_utf8(out).expect("utf8"))
    }

    #[test]
    fn header_then_rows() {
        let mut p = CsvParser::new(b',', true);
        assert_eq!(
            run(&mut p, b"\xEF\xBB\xBFid,\"na\"\"me\",note", 0),
            (ParseOutcome::Header, String::new())
        );
        let (outcome, doc) = run(&mut p, b"1,\"Smith, J\",\"line1\nline2 \"\"q\"\"\"", 20);
        assert_eq!(outcome, ParseOutcome::Document);
        assert_eq!(
            doc,
            r#"{"id":"1","na\"me":"Smith, J","note":"line1\nline2 \"q\""}"#
        );
        let value: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
        assert_eq!(value["na\"me"], "Smith, J");
        assert_eq!(
            run(&mut p, b"2,,", 60),
            (
                ParseOutcome::Document,
                r#"{"id":"2","na\"me":"","note":""}"#.into()
            )
        );
    }

    #[test]
    fn wrong_field_count() {
        let mut p = CsvParser::new(b',', true);
        assert_eq!(run(&mut p, b"a,b,c,d", 0).0, ParseOutcome::Header);
        assert_eq!(
            run(&mut p, b"1,2,3", 8).0,
            ParseOutcome::Error("row has 3 fields, header has 4".into())
        );
        assert_eq!(
            run(&mut p, b"1,2,3,4,5", 14).0,
            ParseOutcome::Error("row has 5 fields, header has 4".into())
        );
    }

    #[test]
    fn no_header_gives_arrays() {
        let mut p = CsvParser::new(b';', false);
        assert_eq!(
            run(&mut p, b"a;\"b;c\";\xC3\xA9", 0),
            (ParseOutcome::Document, r#"["a","b;c","é"]"#.into())
        );
        assert_eq!(
            run(&mut p, b"x", 9),
            (ParseOutcome::Document, r#"["x"]"#.into())
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut p = CsvParser::new(b',', false);
        // Each half of "é" in a different field: the row is invalid even though the
        // concatenated field bytes would not be.
        let (outcome, doc) = run(&mut p, b"a,\xC3,\xA9", 0);
        assert_eq!(
            outcome,
            ParseOutcome::Error("record is not valid UTF-8 (invalid byte at offset 2)".into())
        );
        assert_eq!(doc, "");
    }

    #[test]
    fn large_rows_grow_buffers() {
        let mut p = CsvParser::new(b',', false);
        let row: Vec<String> = (0..500)
            .map(|i| format!("field{i}{}", "z".repeat(20)))
            .collect();
        let (outcome, doc) = run(&mut p, row.join(",").as_bytes(), 0);
        assert_eq!(outcome, ParseOutcome::Document);
        let value: Vec<String> = serde_json::from_str(&doc).expect("array");
        assert_eq!(value, row);
    }
}
