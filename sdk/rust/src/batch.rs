//! A `SingleFileParser`'s batch results as `parse-documents` returns them
//! (`parsed-documents` in `wit/letsdata.wit`): the strings letsdata writes, back to back in
//! one byte list, and one fixed-size entry per result saying where they are. The host lifts
//! two lists per batch instead of a variant, options and strings per record.

use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser::{
    DataRange, DocumentKind, ParsedDocument, ParsedDocuments,
};
use crate::{Document, ParseDocumentResult};

const EMPTY: DataRange = DataRange { start: 0, end: 0 };

/// Collects the results of one batch.
pub(crate) struct BatchEncoder {
    data: Vec<u8>,
    documents: Vec<ParsedDocument>,
}

impl BatchEncoder {
    /// An encoder with room for `data` bytes of strings and `documents` results.
    pub(crate) fn with_capacity(data: usize, documents: usize) -> Self {
        Self {
            data: Vec::with_capacity(data),
            documents: Vec::with_capacity(documents),
        }
    }

    fn put(&mut self, s: &str) -> DataRange {
        // Offsets fit in u32: a wasm32 guest's memory is at most 4 GiB.
        let start = self.data.len() as u32;
        self.data.extend_from_slice(s.as_bytes());
        DataRange {
            start,
            end: self.data.len() as u32,
        }
    }

    /// Adds the next record's result.
    pub(crate) fn push(&mut self, result: ParseDocumentResult) {
        let (kind, serialized, document_id, error_message) = match &result.document {
            None => (DocumentKind::None, None, None, EMPTY),
            Some(Document::Single(d)) => (
                DocumentKind::Single,
                Some(self.put(&d.serialized)),
                d.document_id.as_deref().map(|id| self.put(id)),
                EMPTY,
            ),
            Some(Document::Error(e)) => (
                DocumentKind::Error,
                e.serialized.as_deref().map(|c| self.put(c)),
                e.document_id.as_deref().map(|id| self.put(id)),
                self.put(&e.error_message),
            ),
            Some(Document::Skip(_)) => (DocumentKind::Skip, None, None, EMPTY),
        };
        self.documents.push(ParsedDocument {
            status: result.status,
            kind,
            serialized,
            document_id,
            error_message,
        });
    }

    /// The batch's results, in the order they were pushed.
    pub(crate) fn finish(self) -> ParsedDocuments {
        ParsedDocuments {
            data: self.data,
            documents: self.documents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorDoc, ParseDocumentResultStatus, SingleDoc, SkipDoc};

    fn text(out: &ParsedDocuments, r: Option<DataRange>) -> Option<&str> {
        r.map(|r| std::str::from_utf8(&out.data[r.start as usize..r.end as usize]).expect("utf8"))
    }

    #[test]
    fn every_kind_of_result_is_encoded_with_its_strings() {
        let mut batch = BatchEncoder::with_capacity(0, 0);
        batch.push(ParseDocumentResult::success(
            SingleDoc::new(r#"{"a":1}"#).with_document_id("a-1"),
        ));
        batch.push(ParseDocumentResult::error(
            ErrorDoc::for_record("DATA", 10, 5, "bad record").with_document_id("b"),
        ));
        batch.push(ParseDocumentResult::error(
            ErrorDoc::for_record("DATA", 15, 5, "kept").with_serialized("content"),
        ));
        batch.push(ParseDocumentResult::skip(SkipDoc::for_record(
            "DATA", 20, 5, "skipped",
        )));
        let mut no_document = ParseDocumentResult::success(SingleDoc::new("x"));
        no_document.document = None;
        no_document.status = ParseDocumentResultStatus::Skip;
        batch.push(no_document);
        batch.push(ParseDocumentResult::success(SingleDoc::new("")));
        let out = batch.finish();
        let d = &out.documents;
        assert_eq!(d.len(), 6);

        assert_eq!(d[0].status, ParseDocumentResultStatus::Success);
        assert_eq!(d[0].kind, DocumentKind::Single);
        assert_eq!(text(&out, d[0].serialized), Some(r#"{"a":1}"#));
        assert_eq!(text(&out, d[0].document_id), Some("a-1"));

        assert_eq!(d[1].status, ParseDocumentResultStatus::Error);
        assert_eq!(d[1].kind, DocumentKind::Error);
        assert_eq!(text(&out, d[1].serialized), None, "keep the record's bytes");
        assert_eq!(text(&out, d[1].document_id), Some("b"));
        assert_eq!(text(&out, Some(d[1].error_message)), Some("bad record"));

        assert_eq!(text(&out, d[2].serialized), Some("content"));
        assert_eq!(text(&out, d[2].document_id), None);
        assert_eq!(text(&out, Some(d[2].error_message)), Some("kept"));

        assert_eq!(d[3].status, ParseDocumentResultStatus::Skip);
        assert_eq!(d[3].kind, DocumentKind::Skip);
        assert!(d[3].serialized.is_none() && d[3].document_id.is_none());

        assert_eq!(d[4].status, ParseDocumentResultStatus::Skip);
        assert_eq!(d[4].kind, DocumentKind::None);

        assert_eq!(d[5].kind, DocumentKind::Single);
        assert_eq!(text(&out, d[5].serialized), Some(""), "empty, not absent");
    }
}
