//! A `SingleFileParser`'s batch results as `parse-documents` returns them
//! (`parsed-documents` in `wit/letsdata.wit`): the strings letsdata writes, back to back in
//! one byte list, and four numbers per result (its kind and status, its strings' lengths).
//! The host lifts two flat lists per batch instead of a variant, options and strings per
//! record.

use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser::{
    DocumentKind, ParsedDocuments,
};
use crate::{Document, ParseDocumentResult, ParseDocumentResultStatus};

/// The length of a string a result does not have.
const ABSENT: u32 = u32::MAX;
/// Numbers per result in `results`.
const FIELDS: usize = 4;

/// The first number of a result: its kind's case index plus 4 times its status's.
fn tag(kind: DocumentKind, status: ParseDocumentResultStatus) -> u32 {
    kind as u32 + 4 * status as u32
}

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
    /// [`FIELDS`] numbers per result: tag, document id, serialized and error message lengths.
    results: Vec<u32>,
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
            results: Vec::with_capacity(documents * FIELDS),
        }
    }

    /// Appends `s` to the data; returns its length. Lengths fit in u32: a wasm32 guest's
    /// memory is at most 4 GiB.
    fn put(&mut self, s: &str) -> u32 {
        self.data.push_str(s);
        s.len() as u32
    }

    fn put_opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(ABSENT, |s| self.put(s))
    }

    fn entry(&mut self, kind: DocumentKind, status: ParseDocumentResultStatus, lengths: [u32; 3]) {
        let [id, serialized, message] = lengths;
        self.results
            .extend_from_slice(&[tag(kind, status), id, serialized, message]);
    }

    /// Adds the next record's result.
    pub fn push(&mut self, result: ParseDocumentResult) {
        // Strings in the order the entry lists them: id, serialized, error message.
        let (kind, lengths) = match &result.document {
            None => (DocumentKind::None, [ABSENT, ABSENT, 0]),
            Some(Document::Single(d)) => {
                let id = self.put_opt(d.document_id.as_deref());
                (DocumentKind::Single, [id, self.put(&d.serialized), 0])
            }
            Some(Document::Error(e)) => {
                let id = self.put_opt(e.document_id.as_deref());
                let content = self.put_opt(e.serialized.as_deref());
                (
                    DocumentKind::Error,
                    [id, content, self.put(&e.error_message)],
                )
            }
            Some(Document::Skip(_)) => (DocumentKind::Skip, [ABSENT, ABSENT, 0]),
        };
        self.entry(kind, result.status, lengths);
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
        let id = self.put_opt(document_id);
        let start = self.data.len();
        let written = write(&mut self.data);
        assert!(
            self.data.len() >= start,
            "DocumentWriter::single: the document writer must append to the string it is handed, not shorten it"
        );
        match written {
            Ok(()) => {
                let serialized = (self.data.len() - start) as u32;
                self.entry(
                    DocumentKind::Single,
                    ParseDocumentResultStatus::Success,
                    [id, serialized, 0],
                );
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
        let message = self.put(message);
        self.entry(
            DocumentKind::Error,
            ParseDocumentResultStatus::Error,
            [ABSENT, ABSENT, message],
        );
    }

    /// Adds a skip document for the next record (status `Skip`): counted as skipped.
    pub fn skip(&mut self) {
        self.entry(
            DocumentKind::Skip,
            ParseDocumentResultStatus::Skip,
            [ABSENT, ABSENT, 0],
        );
    }

    /// The number of results written so far.
    pub fn len(&self) -> usize {
        self.results.len() / FIELDS
    }

    /// Whether no result has been written yet.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The results written so far, in order, as letsdata reads them (for tests).
    pub fn results(&self) -> impl ExactSizeIterator<Item = WrittenDocument<'_>> + '_ {
        let mut at = 0;
        let mut text = move |len: u32| {
            (len != ABSENT).then(|| {
                let s = &self.data[at..at + len as usize];
                at += len as usize;
                s
            })
        };
        self.results.chunks_exact(FIELDS).map(move |r| {
            let status = match r[0] / 4 {
                0 => ParseDocumentResultStatus::Success,
                1 => ParseDocumentResultStatus::Error,
                _ => ParseDocumentResultStatus::Skip,
            };
            WrittenDocument {
                status,
                document_id: text(r[1]),
                serialized: text(r[2]),
                error_message: text(r[3]).unwrap_or(""),
                skip_document: r[0] % 4 == DocumentKind::Skip as u32,
            }
        })
    }

    /// The batch's results, in the order they were written.
    pub(crate) fn finish(self) -> ParsedDocuments {
        ParsedDocuments {
            data: self.data.into_bytes(),
            results: self.results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorDoc, SingleDoc, SkipDoc};

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

        let d: Vec<WrittenDocument<'_>> = batch.results().collect();
        assert_eq!(d.len(), 6);
        assert_eq!(d[0].status, ParseDocumentResultStatus::Success);
        assert_eq!(d[0].serialized, Some(r#"{"a":1}"#));
        assert_eq!(d[0].document_id, Some("a-1"));

        assert_eq!(d[1].status, ParseDocumentResultStatus::Error);
        assert_eq!(d[1].serialized, None, "keep the record's bytes");
        assert_eq!(d[1].document_id, Some("b"));
        assert_eq!(d[1].error_message, "bad record");

        assert_eq!(d[2].serialized, Some("content"));
        assert_eq!(d[2].document_id, None);
        assert_eq!(d[2].error_message, "kept");

        assert_eq!(d[3].status, ParseDocumentResultStatus::Skip);
        assert!(d[3].skip_document);
        assert!(d[3].serialized.is_none() && d[3].document_id.is_none());

        assert_eq!(d[4].status, ParseDocumentResultStatus::Skip);
        assert!(!d[4].skip_document);

        assert_eq!(d[5].serialized, Some(""), "empty, not absent");

        // As the WIT describes it: kind + 4 x status, then the lengths of the document id,
        // serialized and error message (u32::MAX: absent), the strings back to back.
        let out = batch.finish();
        let x = u32::MAX;
        assert_eq!(
            out.results,
            [
                [1, 3, 7, 0],
                [6, 1, x, 10],
                [6, x, 7, 4],
                [11, x, x, 0],
                [8, x, x, 0],
                [1, x, 0, 0]
            ]
            .concat()
        );
        assert_eq!(
            std::str::from_utf8(&out.data).expect("utf8"),
            r#"a-1{"a":1}bbad recordcontentkept"#
        );
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
        assert_eq!(raw.results.len(), 5 * FIELDS);
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
