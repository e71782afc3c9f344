//! Errors of this crate.
//!
//! The reader's API is `std::io::Result` (it sits on top of async IO), so the
//! crate-specific failures are a [`RecordsError`] that converts into an
//! [`std::io::Error`] with a matching [`std::io::ErrorKind`]; callers can get it back
//! with `io::Error::get_ref()` / `downcast`. Per-record problems are not errors here:
//! they are reported as data (`Record::truncated`, `ParseOutcome::Error`).

use std::io;

/// Something went wrong positioning or reading a record stream.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// `skip_to` asked for an offset whose bytes were already discarded.
    /// `earliest` is the first offset the reader still buffers.
    #[error(
        "cannot skip back to offset {offset}: bytes before offset {earliest} were already discarded"
    )]
    SkipBackwards { offset: u64, earliest: u64 },
    /// `skip_to` asked for an offset beyond the end of the (decompressed) stream.
    #[error("cannot skip to offset {offset}: the stream ends at offset {end}")]
    SkipPastEnd { offset: u64, end: u64 },
}

impl From<RecordsError> for io::Error {
    fn from(err: RecordsError) -> Self {
        let kind = match err {
            RecordsError::SkipBackwards { .. } => io::ErrorKind::InvalidInput,
            RecordsError::SkipPastEnd { .. } => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, err)
    }
}
