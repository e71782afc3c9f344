//! The results of one `parse-documents` call, as the host reads them.
//!
//! A `SingleFileParser` returns a batch's results flat (`parsed-documents` in
//! `wit/letsdata.wit`): the strings of every result back to back in one byte list, and one
//! fixed-size entry per record naming its status, its document kind and where its strings
//! lie. Lifting that costs two copies per batch, where a list of `parse-document-result`s
//! cost a variant, options and a host allocation per string of every record.
//!
//! [`ParsedBatch::new`] checks the whole batch once (result count, UTF-8, every range inside
//! the data and on character boundaries); reading a result afterwards borrows from the batch
//! and allocates nothing.

use crate::SandboxError;
use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser as sfp;
use crate::wit::ParseDocumentResultStatus;

pub use sfp::DocumentKind;

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
#[derive(Debug)]
pub struct ParsedBatch {
    data: String,
    documents: Vec<sfp::ParsedDocument>,
}

impl ParsedBatch {
    /// Checks what the guest returned for `records` records.
    pub(crate) fn new(raw: sfp::ParsedDocuments, records: usize) -> Result<Self, SandboxError> {
        let sfp::ParsedDocuments { data, documents } = raw;
        if documents.len() != records {
            return Err(SandboxError::Trap(format!(
                "parse-documents returned {} results for {} records",
                documents.len(),
                records
            )));
        }
        let data = String::from_utf8(data).map_err(|e| {
            SandboxError::Trap(format!(
                "parse-documents returned strings that are not UTF-8 ({})",
                e.utf8_error()
            ))
        })?;
        for (i, d) in documents.iter().enumerate() {
            for range in [d.serialized, d.document_id, Some(d.error_message)]
                .into_iter()
                .flatten()
            {
                let (start, end) = (range.start as usize, range.end as usize);
                if data.get(start..end).is_none() {
                    return Err(SandboxError::Trap(format!(
                        "parse-documents returned a string at {start}..{end} of its {} bytes of data (result {i}), not a whole string inside it",
                        data.len()
                    )));
                }
            }
        }
        Ok(Self { data, documents })
    }

    /// The number of results.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether the batch has no result.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// The results in record order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ParsedDocument<'_>> + '_ {
        self.documents.iter().map(|d| ParsedDocument {
            status: d.status,
            kind: d.kind,
            serialized: d.serialized.map(|r| self.text(r)),
            document_id: d.document_id.map(|r| self.text(r)),
            error_message: self.text(d.error_message),
        })
    }

    fn text(&self, range: sfp::DataRange) -> &str {
        // Checked in `new`.
        &self.data[range.start as usize..range.end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u32, end: u32) -> sfp::DataRange {
        sfp::DataRange { start, end }
    }

    fn entry(
        kind: DocumentKind,
        serialized: Option<sfp::DataRange>,
        document_id: Option<sfp::DataRange>,
        error_message: sfp::DataRange,
    ) -> sfp::ParsedDocument {
        sfp::ParsedDocument {
            status: ParseDocumentResultStatus::Success,
            kind,
            serialized,
            document_id,
            error_message,
        }
    }

    fn batch(data: &[u8], documents: Vec<sfp::ParsedDocument>) -> sfp::ParsedDocuments {
        sfp::ParsedDocuments {
            data: data.to_vec(),
            documents,
        }
    }

    #[test]
    fn results_borrow_their_strings_from_the_data() {
        let mut error = entry(DocumentKind::Error, None, Some(range(7, 8)), range(8, 11));
        error.status = ParseDocumentResultStatus::Error;
        let raw = batch(
            br#"{"a":1}2bad"#,
            vec![
                entry(DocumentKind::Single, Some(range(0, 7)), None, range(0, 0)),
                error,
                entry(DocumentKind::None, None, None, range(0, 0)),
            ],
        );
        let b = ParsedBatch::new(raw, 3).expect("valid");
        let results: Vec<ParsedDocument<'_>> = b.iter().collect();
        assert_eq!(results[0].serialized, Some(r#"{"a":1}"#));
        assert_eq!(results[0].document_id, None);
        assert_eq!(results[0].error_message, "");
        assert_eq!(results[1].status, ParseDocumentResultStatus::Error);
        assert_eq!(results[1].kind, DocumentKind::Error);
        assert_eq!(results[1].serialized, None);
        assert_eq!(results[1].document_id, Some("2"));
        assert_eq!(results[1].error_message, "bad");
        assert_eq!(results[2].kind, DocumentKind::None);
    }

    #[test]
    fn a_wrong_number_of_results_is_an_error() {
        let raw = batch(
            b"",
            vec![entry(DocumentKind::Skip, None, None, range(0, 0))],
        );
        let e = ParsedBatch::new(raw, 2).expect_err("short");
        assert!(e.to_string().contains("1 results for 2 records"), "{e}");
    }

    #[test]
    fn ranges_outside_the_data_or_inside_a_character_are_errors() {
        for bad in [range(0, 9), range(3, 2), range(1, 3)] {
            let raw = batch(
                "é-abc".as_bytes(),
                vec![entry(DocumentKind::Single, Some(bad), None, range(0, 0))],
            );
            let e = ParsedBatch::new(raw, 1).expect_err("bad range");
            assert!(e.to_string().contains("not a whole string"), "{e}");
        }
        let raw = batch(
            "é-abc".as_bytes(),
            vec![entry(
                DocumentKind::Single,
                Some(range(0, 2)),
                None,
                range(3, 6),
            )],
        );
        assert!(ParsedBatch::new(raw, 1).is_ok());
    }

    #[test]
    fn data_that_is_not_utf8_is_an_error() {
        let raw = batch(
            b"\xff\xfe",
            vec![entry(
                DocumentKind::Single,
                Some(range(0, 2)),
                None,
                range(0, 0),
            )],
        );
        let e = ParsedBatch::new(raw, 1).expect_err("not utf-8");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
}
