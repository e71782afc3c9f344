//! A `SingleFileParser`'s batch results as `parse-documents` returns them
//! (`parsed-documents` in `wit/letsdata.wit`): the strings letsdata writes, back to back in
//! one byte list, and one fixed-size entry per result saying where they are. The host lifts
//! two lists per batch instead of a variant, options and strings per record.

use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser::{
    DataRange, DocumentKind, ParsedDocument, ParsedDocuments,
};
use crate::{Document, ParseDocumentResult, ParseDocumentResultStatus};

const EMPTY: DataRange = DataRange { start: 0, end: 0 };

/// Where a [`SingleFileParser`](crate::SingleFileParser) puts the results of one batch of
/// records, one per record, in order (see
/// [`write_document`](crate::SingleFileParser::write_document)).
///
/// [`push`](Self::push) takes a [`ParseDocumentResult`]; [`single`](Self::single),
/// [`error`](Self::error) and [`skip`](Self::skip) write a result in place: the document is
/// written straight into the batch's buffer, so a record costs no allocation.
#[derive(Default)]
pub struct DocumentWriter {
    data: String,
    documents: Vec<ParsedDocument>,
}

/// One result of a [`DocumentWriter`], as letsdata reads it (see [`DocumentWriter::results`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenDocument<'a> {
    /// The result's status.
    pub status: ParseDocumentResultStatus,
    /// A single document's serialized form; an error document's content to keep (`None`:
    /// the record's bytes are kept).
    pub serialized: Option<&'a str>,
    /// The document id of a single or error document.
    pub document_id: Option<&'a str>,
    /// An error document's message (empty otherwise).
    pub error_message: &'a str,
    /// Whether the result carries a skip document (`status` is then `Skip`).
    pub skip_document: bool,
}

impl DocumentWriter {
    /// A writer with room for `data` bytes of strings and `documents` results.
    pub(crate) fn with_capacity(data: usize, documents: usize) -> Self {
        Self {
            data: String::with_capacity(data),
            documents: Vec::with_capacity(documents),
        }
    }

    fn put(&mut self, s: &str) -> DataRange {
        let start = self.data.len();
        self.data.push_str(s);
        self.range(start)
    }

    /// `data[start..]`. Offsets fit in u32: a wasm32 guest's memory is at most 4 GiB.
    fn range(&self, start: usize) -> DataRange {
        DataRange {
            start: start as u32,
            end: self.data.len() as u32,
        }
    }

    /// Adds the next record's result.
    pub fn push(&mut self, result: ParseDocumentResult) {
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

    /// Adds a single document for the next record (status `Success`): `write` appends its
    /// serialized form (one JSON document, no newline) to the string it is handed, which
    /// holds the batch's earlier strings: append, never clear or rewrite it. If `write`
    /// returns an error message, whatever it appended is dropped and the record becomes an
    /// error document with that message (the record's bytes are kept).
    pub fn single(
        &mut self,
        document_id: Option<&str>,
        write: impl FnOnce(&mut String) -> Result<(), String>,
    ) {
        let mark = self.data.len();
        let document_id = document_id.map(|id| self.put(id));
        let start = self.data.len();
        let written = write(&mut self.data);
        assert!(
            self.data.len() >= start,
            "DocumentWriter::single: the document writer must append to the string it is handed, not shorten it"
        );
        match written {
            Ok(()) => {
                let serialized = self.range(start);
                self.documents.push(ParsedDocument {
                    status: ParseDocumentResultStatus::Success,
                    kind: DocumentKind::Single,
                    serialized: Some(serialized),
                    document_id,
                    error_message: EMPTY,
                });
            }
            Err(message) => {
                self.data.truncate(mark);
                self.error(&message);
            }
        }
    }

    /// Adds an error document for the next record (status `Error`): it goes to the error
    /// destination with `message`, the record's offsets and the record's bytes.
    pub fn error(&mut self, message: &str) {
        let error_message = self.put(message);
        self.documents.push(ParsedDocument {
            status: ParseDocumentResultStatus::Error,
            kind: DocumentKind::Error,
            serialized: None,
            document_id: None,
            error_message,
        });
    }

    /// Adds a skip document for the next record (status `Skip`): counted as skipped.
    pub fn skip(&mut self) {
        self.documents.push(ParsedDocument {
            status: ParseDocumentResultStatus::Skip,
            kind: DocumentKind::Skip,
            serialized: None,
            document_id: None,
            error_message: EMPTY,
        });
    }

    /// The number of results written so far.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether no result has been written yet.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// The results written so far, in order, as letsdata reads them (for tests).
    pub fn results(&self) -> impl ExactSizeIterator<Item = WrittenDocument<'_>> + '_ {
        let text = |r: DataRange| &self.data[r.start as usize..r.end as usize];
        self.documents.iter().map(move |d| WrittenDocument {
            status: d.status,
            serialized: d.serialized.map(text),
            document_id: d.document_id.map(text),
            error_message: text(d.error_message),
            skip_document: d.kind == DocumentKind::Skip,
        })
    }

    /// The batch's results, in the order they were written.
    pub(crate) fn finish(self) -> ParsedDocuments {
        ParsedDocuments {
            data: self.data.into_bytes(),
            documents: self.documents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorDoc, SingleDoc, SkipDoc};

    fn text(out: &ParsedDocuments, r: Option<DataRange>) -> Option<&str> {
        r.map(|r| std::str::from_utf8(&out.data[r.start as usize..r.end as usize]).expect("utf8"))
    }

    #[test]
    fn every_kind_of_result_is_encoded_with_its_strings() {
        let mut batch = DocumentWriter::default();
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

    #[test]
    fn documents_written_in_place_read_back_like_pushed_ones() {
        let mut out = DocumentWriter::default();
        out.single(Some("a-1"), |doc| {
            doc.push_str(r#"{"a":1}"#);
            Ok(())
        });
        out.single(None, |doc| {
            doc.push_str("half a docu");
            Err("value cannot be doubled".to_string())
        });
        out.error("bad record");
        out.skip();
        out.push(ParseDocumentResult::success(SingleDoc::new("{}")));
        assert_eq!(out.len(), 5);
        let r: Vec<WrittenDocument<'_>> = out.results().collect();
        assert_eq!(r[0].status, ParseDocumentResultStatus::Success);
        assert_eq!(r[0].serialized, Some(r#"{"a":1}"#));
        assert_eq!(r[0].document_id, Some("a-1"));
        assert_eq!(r[1].status, ParseDocumentResultStatus::Error);
        assert_eq!(r[1].serialized, None, "what the writer appended is dropped");
        assert_eq!(r[1].error_message, "value cannot be doubled");
        assert_eq!(r[2].error_message, "bad record");
        assert_eq!(r[2].document_id, None);
        assert!(r[3].skip_document && r[3].status == ParseDocumentResultStatus::Skip);
        assert_eq!(r[4].serialized, Some("{}"));

        let raw = out.finish();
        assert_eq!(
            std::str::from_utf8(&raw.data).expect("utf8"),
            r#"a-1{"a":1}value cannot be doubledbad record{}"#,
            "nothing left of the failed document"
        );
    }

    #[test]
    #[should_panic(expected = "must append to the string")]
    fn a_writer_that_shortens_the_buffer_is_a_bug() {
        let mut out = DocumentWriter::default();
        out.error("first");
        out.single(None, |doc| {
            doc.clear();
            Ok(())
        });
    }
}
