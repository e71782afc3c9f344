//! The platform's side of LetsData's `SystemFileReader`: a cursor over one file, which the
//! engine implements and the sandbox hands to state-machine readers as a resource.

use crate::wit::{FileRecord, RecordParseHint, SingleFileReaderState};
use std::future::Future;
use std::pin::Pin;

/// What [`FileCursor::next_record`] found in the input it holds.
#[derive(Debug)]
pub enum NextRecord {
    /// The next record; `None` at the end of the file.
    Record(Option<FileRecord>),
    /// No whole record is buffered: [`FileCursor::fill`] must read more of the file first.
    NeedInput,
}

/// A cursor over one file of a task (see `system-file-reader` in `wit/letsdata.wit`).
///
/// Called from inside a guest call: cutting records is synchronous, reading more of the file
/// is awaited (the guest's fiber is suspended meanwhile).
pub trait FileCursor: Send {
    /// Cuts the next record of `record_type` with the given hints from the buffered input.
    /// `Err` = the hints are unusable or the record too big (fails the task attempt).
    fn next_record(
        &mut self,
        record_type: &str,
        start: &RecordParseHint,
        end: &RecordParseHint,
        peek: bool,
    ) -> Result<NextRecord, String>;
    /// Reads more of the file, after [`NextRecord::NeedInput`]; at the end of the file the
    /// next [`FileCursor::next_record`] returns the last record or `None`. `Err` = the file
    /// could not be read (fails the task attempt).
    fn fill(&mut self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    /// LetsData's `SingleFileReaderState`.
    fn state(&self) -> SingleFileReaderState;
    /// Where reading resumes: just past the last record consumed.
    fn offset(&self) -> u64;
    fn file_type(&self) -> &str;
    fn file_name(&self) -> &str;
    /// The type of the last record consumed.
    fn last_record_type(&self) -> Option<&str>;
    /// Records consumed (not peeked) through this cursor so far.
    fn records_consumed(&self) -> u64;
}

/// The guest's handle to one of the task's cursors (the resource's representation).
#[derive(Debug, Clone, Copy)]
pub struct CursorHandle {
    pub(crate) index: usize,
}
