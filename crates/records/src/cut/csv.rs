//! CSV framing: RFC 4180 rows, with csv_core as the authority on quoted fields.
//!
//! Row terminators ('\n', '\r', "\r\n") between rows are skipped, so every record starts
//! with a real byte and empty lines never become records. Inside a row two modes:
//!
//! * fast: `memchr3` looks for '"', '\n' and '\r'. A terminator before any quote ends the
//!   row (unquoted fields cannot contain one), so quote-free rows cost one SIMD scan.
//! * csv_core: at the first quote, csv_core's streaming DFA takes over for the rest of the
//!   row. It is put in the state it would have reached at that byte (row start, field start
//!   after a delimiter, or inside an unquoted field, where a quote is a literal) by feeding
//!   it a synthetic prefix, so the row's head never needs to be re-read (it may already be
//!   discarded for an oversize row). csv_core's state survives across windows, so quoted
//!   fields with newlines may span any number of buffer refills; field contents go to a
//!   scratch buffer and are ignored (the parser re-splits the record).
//!
//! A UTF-8 byte order mark at stream offset 0 is skipped (it belongs to no record),
//! independently of how many bytes the first read returned; csv_core's own BOM handling
//! (which depends on the first input being at least 3 bytes long) is disabled with
//! [`prime`].

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use memchr::memchr3;

use super::{Step, Window};

const BOM: &[u8] = b"\xEF\xBB\xBF";
const SCRATCH_BYTES: usize = 16 * 1024;
const SCRATCH_ENDS: usize = 256;

/// Makes `reader` behave as if it had already read input, which turns off its byte order
/// mark stripping (done only on a first input of 3+ bytes, so it would depend on buffer
/// boundaries). Feeding one '\n' at the start of a row changes nothing else: blank lines
/// between rows are skipped.
pub(crate) fn prime(reader: &mut Reader) {
    let _ = reader.read_record(b"\n", &mut [0u8; 1], &mut [0usize; 1]);
}

pub(crate) struct CsvCutter {
    reader: Reader,
    delimiter: u8,
    /// Field bytes are written here and ignored.
    scratch: Box<[u8]>,
    scratch_ends: Box<[usize]>,
    /// First byte of the current row, once a non-terminator byte was seen.
    record: Option<u64>,
    /// Bytes before `scan` were scanned (fast mode) or fed to `reader` (csv_core mode).
    scan: u64,
    /// The current row has a quote: `reader` is in charge until the row ends.
    quoted: bool,
    /// A byte order mark may still start at offset 0.
    bom_pending: bool,
}

impl CsvCutter {
    pub fn new(delimiter: u8, pos: u64) -> Self {
        Self {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
            scratch_ends: vec![0; SCRATCH_ENDS].into_boxed_slice(),
            record: None,
            scan: pos,
            quoted: false,
            bom_pending: pos == 0,
        }
    }

    pub fn reset(&mut self, pos: u64) {
        self.record = None;
        self.scan = pos;
        self.quoted = false;
        self.bom_pending = pos == 0;
    }

    pub fn next(&mut self, w: &Window<'_>) -> Step {
        let start = match self.record {
            Some(start) => start,
            None => {
                if self.bom_pending {
                    let head = w.from(self.scan);
                    if head.len() < BOM.len() && BOM.starts_with(head) && !w.eof {
                        return Step::NeedMore {
                            record_start: Some(self.scan),
                            keep_from: self.scan,
                        };
                    }
                    self.bom_pending = false;
                    if head.starts_with(BOM) {
                        self.scan += BOM.len() as u64;
                    }
                }
                let rest = w.from(self.scan);
                match rest.iter().position(|&b| b != b'\n' && b != b'\r') {
                    Some(i) => {
                        self.scan += i as u64;
                        self.record = Some(self.scan);
                        self.scan
                    }
                    None => {
                        self.scan = w.end();
                        if w.eof {
                            return Step::End;
                        }
                        return Step::NeedMore {
                            record_start: None,
                            keep_from: self.scan,
                        };
                    }
                }
            }
        };
        if !self.quoted {
            let rest = w.from(self.scan);
            match memchr3(b'"', b'\n', b'\r', rest) {
                Some(i) if rest[i] != b'"' => {
                    let end = self.scan + i as u64;
                    self.scan = end + 1;
                    self.record = None;
                    return Step::Record {
                        start,
                        end,
                        next: end + 1,
                    };
                }
                Some(i) => {
                    let quote = self.scan + i as u64;
                    self.enter_quoted(start, quote, w);
                }
                None => {
                    self.scan = w.end();
                    if w.eof {
                        self.record = None;
                        return Step::Record {
                            start,
                            end: self.scan,
                            next: self.scan,
                        };
                    }
                    // Keep the last byte: a quote arriving next needs to see it.
                    let keep_from = self.scan.saturating_sub(1).max(start);
                    return Step::NeedMore {
                        record_start: Some(start),
                        keep_from,
                    };
                }
            }
        }
        self.feed(start, w)
    }

    /// Hands the row over to csv_core at the quote at `quote`, in the state csv_core would
    /// be in had it read the row from `start`.
    fn enter_quoted(&mut self, start: u64, quote: u64, w: &Window<'_>) {
        self.reader.reset();
        prime(&mut self.reader);
        let prefix: &[u8] = if quote == start {
            b""
        } else if w.byte(quote - 1) == Some(self.delimiter) {
            &[b'x', self.delimiter]
        } else {
            b"x"
        };
        if !prefix.is_empty() {
            let _ = self
                .reader
                .read_record(prefix, &mut self.scratch, &mut self.scratch_ends);
        }
        self.scan = quote;
        self.quoted = true;
    }

    /// Feeds the window to csv_core until the row that began at `start` ends.
    fn feed(&mut self, start: u64, w: &Window<'_>) -> Step {
        loop {
            let input = w.from(self.scan);
            if input.is_empty() && !w.eof {
                return Step::NeedMore {
                    record_start: Some(start),
                    keep_from: self.scan,
                };
            }
            // An empty input tells csv_core the data ended: it finishes the last row.
            let (result, consumed, _, _) =
                self.reader
                    .read_record(input, &mut self.scratch, &mut self.scratch_ends);
            self.scan += consumed as u64;
            match result {
                ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull
                | ReadRecordResult::OutputEndsFull
                    if !input.is_empty() =>
                {
                    continue;
                }
                ReadRecordResult::Record => {
                    // A row ended by a terminator consumed exactly that one byte ('\r' of a
                    // "\r\n" ends the row; the '\n' is skipped before the next row). At EOF
                    // nothing was consumed and the row runs to the end.
                    let end = if consumed > 0 {
                        self.scan - 1
                    } else {
                        self.scan
                    };
                    self.record = None;
                    self.quoted = false;
                    return Step::Record {
                        start,
                        end,
                        next: self.scan,
                    };
                }
                // csv_core always finishes a started row on its final (empty) input; this
                // only rules out spinning forever.
                _ => {
                    self.record = None;
                    self.quoted = false;
                    self.scan = w.end();
                    return Step::Record {
                        start,
                        end: self.scan,
                        next: self.scan,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
