//! [`RecordReader`]: cuts a decompressed byte stream into [`Record`]s in bounded memory.
//!
//! The reader owns one buffer (default 1 MiB) and the input. `fill` compacts the buffer
//! (dropping bytes the framing no longer needs), grows it only while a single unfinished
//! record does not fit (up to `max_record_bytes` plus a little slack; shrunk back once that
//! record is gone) and performs one read. `try_next` is synchronous: it asks the framing's cutter for the next record in the
//! buffered window and hands it out as a borrowed slice, so the per-record path has no
//! await and no allocation.
//!
//! Oversize records: once an unfinished record holds more than `max_record_bytes` bytes,
//! its first bytes (at most [`OVERSIZE_HEAD_BYTES`]) are copied aside (once, into a reused
//! buffer) and the
//! reader keeps only what the cutter needs to find the record's end. The record is then
//! returned once with `truncated = true`, its true `end_offset`, and the cursor after it.
//!
//! Offsets are positions in the decompressed stream: `start_offset` passed to
//! [`RecordReader::new`] is the offset of the first byte the input yields, and
//! [`RecordReader::skip_to`] moves the cursor forward (discarding input) for resuming.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::cut::{Cutter, Step, Window};
use crate::error::RecordsError;
use crate::framing::Framing;

/// Default maximum record size: 64 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes of an oversize record handed out (`Record::bytes` of a truncated record): all
/// that is done with one is an error record, which keeps at most about this much of it.
pub const OVERSIZE_HEAD_BYTES: usize = 1024 * 1024;
/// Default read buffer: 1 MiB.
pub const DEFAULT_BUFFER_CAPACITY: usize = 1024 * 1024;
/// Room beyond `max_record_bytes + pattern length` the buffer may grow to, so an
/// unfinished record can be seen to exceed the maximum (a line's trailing '\r' is not
/// part of the record, so one extra byte is needed before a line is known to be too long).
const SLACK: usize = 64;
/// A buffer grown beyond this many times its initial capacity is shrunk back once the
/// large record in it is gone (one reallocation per large record, amortized by reading it).
const SHRINK_FACTOR: usize = 4;

/// One record, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub bytes: &'a [u8],
    /// Offset of `bytes[0]` in the decompressed stream.
    pub start_offset: u64,
    /// Offset one past the record's last byte (start_offset + full record length, even if
    /// truncated).
    pub end_offset: u64,
    /// Where reading resumes after this record (the value to checkpoint).
    pub next_offset: u64,
    /// The record was longer than max_record_bytes: `bytes` holds only its first
    /// `min(max_record_bytes, OVERSIZE_HEAD_BYTES)` bytes.
    pub truncated: bool,
}

/// Streams records out of an async byte stream; see the module docs.
pub struct RecordReader<R> {
    input: R,
    cutter: Cutter,
    /// `buf[..end]` holds stream bytes `[base, base + end)`; allocated on first use.
    buf: Vec<u8>,
    end: usize,
    base: u64,
    /// Bytes before this offset are no longer needed (from the cutter's last `NeedMore`).
    keep_from: u64,
    /// The input returned end-of-file.
    eof: bool,
    /// The cutter returned `End`: every record was handed out.
    finished: bool,
    max_record: usize,
    capacity: usize,
    pattern_len: usize,
    /// Start offset of the oversize record in progress; its head is in `head`.
    oversize: Option<u64>,
    head: Vec<u8>,
}

impl<R: AsyncRead + Unpin> RecordReader<R> {
    /// `start_offset` = offset (in the decompressed stream) of the first byte `input`
    /// yields (non-zero when resuming with a ranged read).
    pub fn new(input: R, framing: Framing, start_offset: u64) -> Self {
        Self {
            input,
            cutter: Cutter::new(&framing, start_offset),
            buf: Vec::new(),
            end: 0,
            base: start_offset,
            keep_from: start_offset,
            eof: false,
            finished: false,
            max_record: DEFAULT_MAX_RECORD_BYTES,
            capacity: DEFAULT_BUFFER_CAPACITY,
            pattern_len: framing.normalized().max_pattern_len(),
            oversize: None,
            head: Vec::new(),
        }
    }

    /// Maximum record size (default 64 MiB); longer records are returned truncated.
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record = max.max(1);
        self
    }

    /// Initial read buffer size (default 1 MiB). The buffer grows only while a single
    /// record is larger, up to about `max_record_bytes`, and shrinks back afterwards.
    pub fn with_buffer_capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }

    /// For input of `len` bytes: a buffer no larger than the input needs (a small file does not
    /// get a full-size one; it grows like any other if the input is longer after all).
    pub fn for_input_of(mut self, len: u64) -> Self {
        const SMALLEST: usize = 4096;
        let needed = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .max(SMALLEST);
        self.capacity = self.capacity.min(needed);
        self
    }

    /// Bytes the reader holds allocated (its buffer and an oversize record's head): bounded
    /// by about the buffer capacity plus `max_record_bytes`, whatever the input.
    pub fn allocated(&self) -> usize {
        self.buf.capacity() + self.head.capacity()
    }

    /// Decompressed bytes consumed from the input so far (from the start of the stream).
    pub fn position(&self) -> u64 {
        self.base + self.end as u64
    }

    /// The bytes between decompressed offsets `start` and `end` if they are all in the
    /// buffer. A record `try_next` hands out (unless truncated) stays there, at the same
    /// place, until the next `fill` or `skip_to`: a caller can collect several records'
    /// offsets and then borrow them as one slice.
    pub fn buffered(&self, start: u64, end: u64) -> Option<&[u8]> {
        let from = usize::try_from(start.checked_sub(self.base)?).ok()?;
        let to = usize::try_from(end.checked_sub(self.base)?).ok()?;
        if from > to || to > self.end {
            return None;
        }
        Some(&self.buf[from..to])
    }

    /// Next record already in the buffer, or None if more input is needed (call `fill`)
    /// or the input is exhausted.
    pub fn try_next(&mut self) -> Option<Record<'_>> {
        if self.finished {
            return None;
        }
        let window = Window {
            data: &self.buf[..self.end],
            offset: self.base,
            eof: self.eof,
        };
        match self.cutter.next(&window) {
            Step::Record { start, end, next } => {
                let full = end - start;
                let truncated = full > self.max_record as u64;
                // (An oversize record with another start was blank and skipped by the cutter.)
                let bytes = if self.oversize.take() == Some(start) {
                    let len = (full as usize).min(self.head.len());
                    &self.head[..len]
                } else {
                    let from = (start - self.base) as usize;
                    let len = if truncated {
                        self.max_record.min(OVERSIZE_HEAD_BYTES)
                    } else {
                        full as usize
                    };
                    &self.buf[from..from + len]
                };
                Some(Record {
                    bytes,
                    start_offset: start,
                    end_offset: end,
                    next_offset: next,
                    truncated,
                })
            }
            Step::NeedMore {
                record_start,
                keep_from,
            } => {
                if self.oversize.is_some() && self.oversize != record_start {
                    // The cutter dropped the oversize record (it was blank).
                    self.oversize = None;
                }
                self.keep_from = match record_start {
                    Some(start) if self.oversize.is_none() => {
                        if self.position() - start > (self.max_record as u64).saturating_add(1) {
                            self.begin_oversize(start);
                            keep_from
                        } else {
                            start.min(keep_from)
                        }
                    }
                    _ => keep_from,
                };
                None
            }
            Step::End => {
                self.oversize = None;
                self.finished = true;
                None
            }
        }
    }

    /// Copies the head of the oversize record starting at `start` aside, so the buffer can
    /// drop the rest of it while the cutter searches for its end.
    fn begin_oversize(&mut self, start: u64) {
        let from = (start - self.base) as usize;
        self.head.clear();
        let keep = self.max_record.min(OVERSIZE_HEAD_BYTES);
        self.head.extend_from_slice(&self.buf[from..from + keep]);
        self.oversize = Some(start);
    }

    /// Reads more input. Returns Ok(false) only when the input is exhausted AND every
    /// record has been returned by try_next; after EOF it makes try_next emit the final
    /// unterminated record.
    pub async fn fill(&mut self) -> io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        if self.eof {
            // try_next still has records (or the final `End`) to report.
            return Ok(true);
        }
        if self.oversize.is_none() && self.head.capacity() > 0 {
            // The oversize record was handed out; free its head.
            self.head = Vec::new();
        }
        if !self.make_room() {
            // Only when called again without draining try_next: nothing can be dropped yet.
            return Ok(true);
        }
        let n = self.input.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            self.eof = true;
        } else {
            self.end += n;
        }
        Ok(true)
    }

    /// Largest the buffer may grow to.
    fn buffer_limit(&self) -> usize {
        self.capacity.max(
            self.max_record
                .saturating_add(self.pattern_len)
                .saturating_add(SLACK),
        )
    }

    /// Drops unneeded bytes and makes sure there is space to read into. False if the
    /// buffer is full of needed bytes and may not grow.
    fn make_room(&mut self) -> bool {
        if self.buf.is_empty() {
            self.buf = vec![0; self.capacity];
        }
        let keep = (self.keep_from.saturating_sub(self.base) as usize).min(self.end);
        let free = self.buf.len() - self.end;
        if self.buf.len() > self.capacity.saturating_mul(SHRINK_FACTOR)
            && self.end - keep <= self.capacity / 2
        {
            // A large record grew the buffer and is gone: give the memory back.
            let mut smaller = vec![0; self.capacity];
            smaller[..self.end - keep].copy_from_slice(&self.buf[keep..self.end]);
            self.buf = smaller;
            self.end -= keep;
            self.base += keep as u64;
        } else if keep > 0 && free <= self.buf.len() / 2 {
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.base += keep as u64;
        }
        if self.end == self.buf.len() {
            let limit = self.buffer_limit();
            if self.buf.len() >= limit {
                return false;
            }
            let new_len = self.buf.len().saturating_mul(2).min(limit);
            self.buf.resize(new_len, 0);
        }
        true
    }

    /// Cuts the records after `at` with `framing` (state-machine readers change the patterns
    /// per record type). `at` must be the `next_offset` of the last record handed out, or a
    /// position not yet read past (the bytes from `at` on must still be buffered or unread).
    pub fn set_framing(&mut self, framing: &Framing, at: u64) -> Result<(), RecordsError> {
        if at < self.base || at > self.position() {
            return Err(RecordsError::SkipBackwards {
                offset: at,
                earliest: self.base,
            });
        }
        self.cutter = Cutter::new(framing, at);
        self.pattern_len = framing.normalized().max_pattern_len();
        self.keep_from = at;
        self.finished = false;
        self.oversize = None;
        Ok(())
    }

    /// Discards input up to decompressed offset `offset` and puts the cursor there; used
    /// to resume from a checkpoint. `offset` may be anywhere at or after the first byte
    /// still buffered (in particular anywhere at or after `position()`).
    pub async fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        if offset < self.base {
            return Err(RecordsError::SkipBackwards {
                offset,
                earliest: self.base,
            }
            .into());
        }
        if offset > self.position() {
            if self.eof {
                return Err(RecordsError::SkipPastEnd {
                    offset,
                    end: self.position(),
                }
                .into());
            }
            self.base = self.position();
            self.end = 0;
            if self.buf.is_empty() {
                self.buf = vec![0; self.capacity];
            }
            while self.base < offset {
                let n = self.input.read(&mut self.buf[..]).await?;
                if n == 0 {
                    self.eof = true;
                    return Err(RecordsError::SkipPastEnd {
                        offset,
                        end: self.base,
                    }
                    .into());
                }
                if n as u64 > offset - self.base {
                    self.end = n;
                    break;
                }
                self.base += n as u64;
            }
        }
        self.keep_from = offset;
        self.cutter.reset(offset);
        self.oversize = None;
        self.finished = false;
        Ok(())
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
