//! The platform's `SystemFileReader` cursor for state-machine readers: one file of the task,
//! streamed through decompression and cut with the hints of each requested record type.
//!
//! The sandbox calls it from inside a guest call: records are cut from the buffered input,
//! and reading more of the file is awaited while the guest's call is suspended.

use letsdata_records::{Framing, RecordReader};
use letsdata_sandbox::wit::{FileRecord, RecordHintType, RecordParseHint, SingleFileReaderState};
use letsdata_sandbox::{FileCursor, NextRecord};
use std::future::Future;
use std::pin::Pin;
use tokio::io::AsyncRead;

type Input = Pin<Box<dyn AsyncRead + Send>>;

/// A hint as a comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hint {
    Pattern(String),
    Length(u32),
}

fn hint(h: &RecordParseHint) -> Hint {
    match h.record_hint_type {
        RecordHintType::Pattern => Hint::Pattern(h.pattern.clone()),
        RecordHintType::Offset => Hint::Length(h.offset),
    }
}

/// The framing for a record type's start and end hints (rules in docs/wasm.md): patterns
/// cut as the built-in pattern framing does; a fixed length (OFFSET) start hint cuts records
/// of that length; no pattern at all cuts lines.
pub(crate) fn framing_for_hints(
    start: &RecordParseHint,
    end: &RecordParseHint,
) -> Result<Framing, String> {
    if let RecordHintType::Offset = start.record_hint_type {
        if start.offset == 0 {
            return Err("a fixed-length (OFFSET) record hint needs a length above 0".into());
        }
        return Ok(Framing::Fixed { len: start.offset });
    }
    let pattern = |h: &RecordParseHint| match h.record_hint_type {
        RecordHintType::Pattern if !h.pattern.is_empty() => Some(h.pattern.as_bytes().to_vec()),
        _ => None,
    };
    Ok(Framing::Patterns {
        start: pattern(start),
        end: pattern(end),
    })
}

/// A record cut with `peek`, returned again by the next call.
struct Peeked {
    record_type: String,
    hints: (Hint, Hint),
    record: FileRecord,
    next: u64,
}

/// One file of a state-machine task.
pub(crate) struct RecordCursor {
    file_type: String,
    file_name: String,
    reader: RecordReader<Input>,
    hints: Option<(Hint, Hint)>,
    /// Where reading resumes: past the last record consumed.
    offset: u64,
    last_record_type: Option<String>,
    state: SingleFileReaderState,
    peeked: Option<Peeked>,
    /// The reader's last `fill` said every record with the current framing was returned.
    finished: bool,
    /// Records consumed so far in this invocation.
    consumed: u64,
}

impl RecordCursor {
    pub(crate) fn new(
        file_type: String,
        file_name: String,
        reader: RecordReader<Input>,
        offset: u64,
        last_record_type: Option<String>,
    ) -> Self {
        Self {
            file_type,
            file_name,
            reader,
            hints: None,
            offset,
            last_record_type,
            state: SingleFileReaderState::FileDownloaded,
            peeked: None,
            finished: false,
            consumed: 0,
        }
    }

    fn commit(&mut self, record_type: &str, next: u64) {
        self.offset = next;
        self.last_record_type = Some(record_type.to_string());
        self.state = SingleFileReaderState::Processing;
        self.consumed += 1;
    }
}

impl FileCursor for RecordCursor {
    fn next_record(
        &mut self,
        record_type: &str,
        start: &RecordParseHint,
        end: &RecordParseHint,
        peek: bool,
    ) -> Result<NextRecord, String> {
        let hints = (hint(start), hint(end));
        if let Some(p) = self.peeked.take() {
            if p.record_type != record_type || p.hints != hints {
                return Err(format!(
                    "{} {}: a record of type {:?} was peeked, then a record of type {:?} (or with other patterns) was asked for; the state-machine parser must ask for the peeked record again",
                    self.file_type, self.file_name, p.record_type, record_type
                ));
            }
            if peek {
                let record = p.record.clone();
                self.peeked = Some(p);
                return Ok(NextRecord::Record(Some(record)));
            }
            self.commit(record_type, p.next);
            return Ok(NextRecord::Record(Some(p.record)));
        }
        if self.hints.as_ref() != Some(&hints) {
            let framing = framing_for_hints(start, end)
                .map_err(|e| format!("record type {record_type:?}: {e}"))?;
            self.reader
                .set_framing(&framing, self.offset)
                .map_err(|e| format!("{} {}: {e}", self.file_type, self.file_name))?;
            self.hints = Some(hints.clone());
            // Cut anew from the offset: what is left is for `try_next` and `fill` to say.
            self.finished = false;
        }
        match self.reader.try_next() {
            Some(rec) => {
                if rec.truncated {
                    return Err(format!(
                        "{} {}: the record of type {record_type:?} at offset {} is {} bytes, more than the {} bytes a record may have; check the record type's start and end patterns",
                        self.file_type,
                        self.file_name,
                        rec.start_offset,
                        rec.end_offset - rec.start_offset,
                        letsdata_records::DEFAULT_MAX_RECORD_BYTES
                    ));
                }
                let record = FileRecord {
                    offset_bytes: rec.start_offset,
                    bytes: rec.bytes.to_vec(),
                };
                let next = rec.next_offset;
                if peek {
                    self.peeked = Some(Peeked {
                        record_type: record_type.to_string(),
                        hints,
                        record: record.clone(),
                        next,
                    });
                } else {
                    self.commit(record_type, next);
                }
                Ok(NextRecord::Record(Some(record)))
            }
            None if !self.finished => Ok(NextRecord::NeedInput),
            None => {
                self.state = SingleFileReaderState::Completed;
                // The cursor may be asked again with other patterns.
                self.hints = None;
                Ok(NextRecord::Record(None))
            }
        }
    }

    fn fill(&mut self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            match self.reader.fill().await {
                Ok(more) => {
                    self.finished = !more;
                    Ok(())
                }
                Err(e) => Err(format!(
                    "reading {} ({}) failed: {e}",
                    self.file_name, self.file_type
                )),
            }
        })
    }

    fn state(&self) -> SingleFileReaderState {
        self.state
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn file_type(&self) -> &str {
        &self.file_type
    }

    fn file_name(&self) -> &str {
        &self.file_name
    }

    fn last_record_type(&self) -> Option<&str> {
        self.last_record_type.as_deref()
    }

    fn records_consumed(&self) -> u64 {
        self.consumed
    }
}
