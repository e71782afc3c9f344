//! The platform's side of LetsData's `SystemFileReader`: a cursor over one file, which the
//! engine implements and the sandbox hands to state-machine readers as a resource.

use crate::wit::{FileRecord, RecordParseHint, SingleFileReaderState};

/// A cursor over one file of a task (see `system-file-reader` in `wit/letsdata.wit`).
///
/// Called from inside a guest call: implementations may block (the engine runs guest calls
/// where blocking is allowed).
pub trait FileCursor: Send {
    /// Cuts the next record of `record_type` with the given hints. `Ok(None)` at the end of
    /// the file; `Err` = the file could not be read (fails the task attempt).
    fn next_record(
        &mut self,
        record_type: &str,
        start: &RecordParseHint,
        end: &RecordParseHint,
        peek: bool,
    ) -> Result<Option<FileRecord>, String>;
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
