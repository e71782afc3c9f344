//! The results of one `parse-documents` call, as the host reads them.
//!
//! A `SingleFileParser` returns a batch's results flat (`parsed-documents` in
//! `wit/letsdata.wit`): the strings of every result back to back in one byte list, and four
//! numbers per result: its document kind and status, and the lengths of its strings. Lifting
//! that costs two copies per batch, where a list of `parse-document-result`s cost a variant,
//! options and a host allocation per string of every record.
//!
//! [`ParsedBatch::new`] checks the whole batch once (result count, kinds and statuses, UTF-8,
//! the lengths adding up to the data, every string on character boundaries); reading a
//! result afterwards borrows from the batch and allocates nothing.

use crate::SandboxError;
use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser as sfp;
use crate::wit::ParseDocumentResultStatus;

pub use sfp::DocumentKind;

/// Numbers per result in `parsed-documents.results`.
const FIELDS: usize = 4;
/// The length of a string a result does not have.
const ABSENT: u32 = u32::MAX;

/// One record's result, borrowed from its [`ParsedBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDocument<'a> {
    /// The result's status.
    pub status: ParseDocumentResultStatus,
    /// Which document the result carries.
    pub kind: DocumentKind,
    /// A single document's serialized form; an error document's content to keep (`None`:
    /// keep the record's bytes).
    pub serialized: Option<&'a str>,
    /// The document id of a single or error document.
    pub document_id: Option<&'a str>,
    /// An error document's message (empty for the other kinds).
    pub error_message: &'a str,
}

/// The checked results of one `parse-documents` call: one per record handed over, in order.
/// Implementations that are not components (Python, JavaScript handlers) fill one with
/// [`ParsedBatch::push`].
#[derive(Debug, Default)]
pub struct ParsedBatch {
    data: String,
    results: Vec<u32>,
}

/// A result's kind and status from its first number (kind + 4 x status).
fn decode_tag(tag: u32) -> Option<(DocumentKind, ParseDocumentResultStatus)> {
    let kind = match tag % 4 {
        0 => DocumentKind::None,
        1 => DocumentKind::Single,
        2 => DocumentKind::Error,
        _ => DocumentKind::Skip,
    };
    let status = match tag / 4 {
        0 => ParseDocumentResultStatus::Success,
        1 => ParseDocumentResultStatus::Error,
        2 => ParseDocumentResultStatus::Skip,
        _ => return None,
    };
    Some((kind, status))
}

impl ParsedBatch {
    /// Checks what the guest returned for `records` records.
    pub(crate) fn new(raw: sfp::ParsedDocuments, records: usize) -> Result<Self, SandboxError> {
        let sfp::ParsedDocuments { data, results } = raw;
        let trap = |why: String| {
            Err(SandboxError::Trap(format!(
                "parse-documents returned {why}"
            )))
        };
        if results.len() != records * FIELDS {
            return trap(format!(
                "{} numbers for {records} records ({FIELDS} per result)",
                results.len()
            ));
        }
        let data = match String::from_utf8(data) {
            Ok(d) => d,
            Err(e) => return trap(format!("strings that are not UTF-8 ({})", e.utf8_error())),
        };
        // Every string must start and end on a character boundary inside the data, and the
        // strings must fill the data exactly.
        let mut at = 0usize;
        for (i, r) in results.chunks_exact(FIELDS).enumerate() {
            if decode_tag(r[0]).is_none() {
                return trap(format!("{} as the kind and status of result {i}", r[0]));
            }
            for (&len, what) in r[1..]
                .iter()
                .zip(["document id", "serialized", "error message"])
            {
                if len == ABSENT {
                    if what == "error message" {
                        return trap(format!("an absent error message for result {i}"));
                    }
                    continue;
                }
                let end = at.saturating_add(len as usize);
                if data.get(at..end).is_none() {
                    return trap(format!(
                        "a {what} of {len} bytes at {at} of its {} bytes of data (result {i}), not a whole string inside it",
                        data.len()
                    ));
                }
                at = end;
            }
        }
        if at != data.len() {
            return trap(format!(
                "{} bytes of data, but its results' strings add up to {at}",
                data.len()
            ));
        }
        Ok(Self { data, results })
    }

    /// Adds a result (for implementations whose results are not a guest's flat batch).
    pub fn push(
        &mut self,
        kind: DocumentKind,
        status: ParseDocumentResultStatus,
        document_id: Option<&str>,
        serialized: Option<&str>,
        error_message: &str,
    ) {
        let kind_tag = match kind {
            DocumentKind::None => 0,
            DocumentKind::Single => 1,
            DocumentKind::Error => 2,
            DocumentKind::Skip => 3,
        };
        let status_tag = match status {
            ParseDocumentResultStatus::Success => 0,
            ParseDocumentResultStatus::Error => 1,
            ParseDocumentResultStatus::Skip => 2,
        };
        self.results.push(kind_tag + 4 * status_tag);
        for text in [document_id, serialized, Some(error_message)] {
            match text {
                Some(t) => {
                    self.results.push(t.len() as u32);
                    self.data.push_str(t);
                }
                None => self.results.push(ABSENT),
            }
        }
    }

    /// The number of results.
    pub fn len(&self) -> usize {
        self.results.len() / FIELDS
    }

    /// Whether the batch has no result.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The results in record order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ParsedDocument<'_>> + '_ {
        let mut at = 0;
        let mut text = move |len: u32| {
            (len != ABSENT).then(|| {
                // Checked in `new`.
                let s = &self.data[at..at + len as usize];
                at += len as usize;
                s
            })
        };
        self.results.chunks_exact(FIELDS).map(move |r| {
            let (kind, status) = decode_tag(r[0]).expect("checked in new");
            ParsedDocument {
                status,
                kind,
                document_id: text(r[1]),
                serialized: text(r[2]),
                error_message: text(r[3]).unwrap_or(""),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: u32 = ABSENT;

    fn batch(data: &[u8], results: &[[u32; 4]]) -> sfp::ParsedDocuments {
        sfp::ParsedDocuments {
            data: data.to_vec(),
            results: results.concat(),
        }
    }

    #[test]
    fn results_borrow_their_strings_from_the_data() {
        // A single document with status success (1 + 4 x 0), an error document with status
        // error (2 + 4 x 1) and an id, no document with status skip (0 + 4 x 2), a skip
        // document (3 + 4 x 2).
        let raw = batch(
            br#"{"a":1}2badid{}"#,
            &[
                [1, X, 7, 0],
                [6, 1, X, 3],
                [8, X, X, 0],
                [11, X, X, 0],
                [1, 2, 2, 0],
            ],
        );
        let b = ParsedBatch::new(raw, 5).expect("valid");
        let results: Vec<ParsedDocument<'_>> = b.iter().collect();
        assert_eq!(results[0].status, ParseDocumentResultStatus::Success);
        assert_eq!(results[0].kind, DocumentKind::Single);
        assert_eq!(results[0].serialized, Some(r#"{"a":1}"#));
        assert_eq!(results[0].document_id, None);
        assert_eq!(results[0].error_message, "");
        assert_eq!(results[1].status, ParseDocumentResultStatus::Error);
        assert_eq!(results[1].kind, DocumentKind::Error);
        assert_eq!(results[1].serialized, None);
        assert_eq!(results[1].document_id, Some("2"));
        assert_eq!(results[1].error_message, "bad");
        assert_eq!(results[2].kind, DocumentKind::None);
        assert_eq!(results[2].status, ParseDocumentResultStatus::Skip);
        assert_eq!(results[3].kind, DocumentKind::Skip);
        assert_eq!(results[4].document_id, Some("id"));
        assert_eq!(results[4].serialized, Some("{}"));
    }

    #[test]
    fn pushed_results_read_back_as_guest_ones_do() {
        let mut b = ParsedBatch::default();
        b.push(
            DocumentKind::Single,
            ParseDocumentResultStatus::Success,
            Some("id-1"),
            Some(r#"{"a":"é"}"#),
            "",
        );
        b.push(
            DocumentKind::Error,
            ParseDocumentResultStatus::Error,
            None,
            None,
            "bad",
        );
        b.push(
            DocumentKind::None,
            ParseDocumentResultStatus::Skip,
            None,
            None,
            "",
        );
        let results: Vec<ParsedDocument<'_>> = b.iter().collect();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].document_id, Some("id-1"));
        assert_eq!(results[0].serialized, Some(r#"{"a":"é"}"#));
        assert_eq!(results[1].kind, DocumentKind::Error);
        assert_eq!(results[1].error_message, "bad");
        assert_eq!(results[1].document_id, None);
        assert_eq!(results[2].status, ParseDocumentResultStatus::Skip);
    }

    #[test]
    fn a_wrong_number_of_results_is_an_error() {
        let e = ParsedBatch::new(batch(b"", &[[11, X, X, 0]]), 2).expect_err("short");
        assert!(e.to_string().contains("4 numbers for 2 records"), "{e}");
    }

    #[test]
    fn an_unknown_kind_and_status_is_an_error() {
        let e = ParsedBatch::new(batch(b"", &[[12, X, X, 0]]), 1).expect_err("status 3");
        assert!(
            e.to_string()
                .contains("12 as the kind and status of result 0"),
            "{e}"
        );
    }

    #[test]
    fn lengths_beyond_the_data_inside_a_character_or_short_of_it_are_errors() {
        let data = "é-abc".as_bytes();
        for bad in [[1, X, 9, 0], [1, 1, 5, 0], [1, X, X, 1]] {
            let e = ParsedBatch::new(batch(data, &[bad]), 1).expect_err("bad length");
            assert!(e.to_string().contains("not a whole string"), "{bad:?}: {e}");
        }
        let e = ParsedBatch::new(batch(data, &[[1, X, 2, 0]]), 1).expect_err("data left");
        assert!(e.to_string().contains("add up to 2"), "{e}");
        let e = ParsedBatch::new(batch(data, &[[2, X, 6, X]]), 1).expect_err("no message");
        assert!(e.to_string().contains("absent error message"), "{e}");
        assert!(ParsedBatch::new(batch(data, &[[6, X, 2, 4]]), 1).is_ok());
    }

    #[test]
    fn data_that_is_not_utf8_is_an_error() {
        let e = ParsedBatch::new(batch(b"\xff\xfe", &[[1, X, 2, 0]]), 1).expect_err("not utf-8");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
}
