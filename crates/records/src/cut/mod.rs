//! Record cutting state machines, one per framing.
//!
//! A cutter never owns bytes. The reader shows it a [`Window`]: the bytes it currently
//! buffers, the stream offset of the first one and whether the input has ended. The
//! cutter answers with a [`Step`] expressed in absolute stream offsets:
//!
//! * `Record`: a complete record, with where reading resumes after it;
//! * `NeedMore`: nothing complete in the window. It says which bytes it still needs:
//!   `record_start` (the unfinished record's first byte, kept so the record can be
//!   handed out whole) and `keep_from` (the earliest byte it will search again — e.g.
//!   the last `pattern.len() - 1` bytes, in case a pattern is cut in half by the buffer
//!   end). Everything before those may be discarded;
//! * `End`: the input has ended and every record was returned.
//!
//! Because all state is in absolute offsets, the reader is free to compact, grow or
//! discard its buffer between calls (that is how oversize records are skipped in
//! bounded memory: only `keep_from` onwards is kept). Searches resume where the
//! previous one stopped, so every byte is scanned a bounded number of times.

pub(crate) mod csv;
mod lines;
mod patterns;

use crate::framing::Framing;

/// The bytes a cutter may look at.
pub(crate) struct Window<'a> {
    pub data: &'a [u8],
    /// Stream offset of `data[0]`.
    pub offset: u64,
    /// The input has ended: `data` is all there is.
    pub eof: bool,
}

impl<'a> Window<'a> {
    /// Stream offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    /// The bytes from stream offset `pos` to the end of the window.
    pub fn from(&self, pos: u64) -> &'a [u8] {
        debug_assert!(
            pos >= self.offset && pos <= self.end(),
            "position outside window"
        );
        let index = pos.saturating_sub(self.offset) as usize;
        self.data.get(index..).unwrap_or_default()
    }

    /// The byte at stream offset `pos`, if it is in the window.
    pub fn byte(&self, pos: u64) -> Option<u8> {
        let index = pos.checked_sub(self.offset)?;
        self.data.get(usize::try_from(index).ok()?).copied()
    }
}

/// Tracks whether the unfinished record `[start, ..)` is blank (ASCII whitespace only) so
/// far, so that blankness is still known after the head of an oversize record was
/// discarded. `advance` looks at each byte at most once and stops at the first
/// non-whitespace byte, so for ordinary records it costs one byte per refill.
pub(crate) struct BlankTracker {
    /// Bytes from the record start up to `to` are whitespace (when `!nonblank`).
    to: u64,
    nonblank: bool,
}

impl BlankTracker {
    pub fn new(start: u64) -> Self {
        Self {
            to: start,
            nonblank: false,
        }
    }

    /// A new record starts at `start`.
    pub fn reset(&mut self, start: u64) {
        self.to = start;
        self.nonblank = false;
    }

    /// Records what the window shows of the unfinished record. `to` must be in the window
    /// (cutters keep at least the last byte of an unfinished record).
    pub fn advance(&mut self, w: &Window<'_>) {
        if self.nonblank {
            return;
        }
        let from = self.to.max(w.offset);
        match w.from(from).iter().position(|b| !b.is_ascii_whitespace()) {
            Some(_) => self.nonblank = true,
            None => self.to = w.end(),
        }
    }

    /// Whether the finished record `[start, end)` (start = the reset position) is blank.
    pub fn is_blank(&self, w: &Window<'_>, start: u64, end: u64) -> bool {
        if self.nonblank {
            return false;
        }
        let from = self.to.max(start);
        if from >= end {
            return true;
        }
        if from < w.offset {
            return false;
        }
        w.from(from)
            .get(..(end - from) as usize)
            .is_some_and(|bytes| bytes.iter().all(u8::is_ascii_whitespace))
    }
}

/// What a cutter found in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Record bytes are `[start, end)`; reading resumes at `next`.
    Record { start: u64, end: u64, next: u64 },
    /// No complete record; bytes before `min(record_start, keep_from)` are not needed.
    NeedMore {
        record_start: Option<u64>,
        keep_from: u64,
    },
    /// Input ended and everything was returned.
    End,
}

/// Fixed-length records: `[cursor, cursor + len)`, the last one possibly shorter.
pub(crate) struct FixedCutter {
    len: u64,
    cursor: u64,
}

impl FixedCutter {
    fn next(&mut self, w: &Window<'_>) -> Step {
        let start = self.cursor;
        let end = start + self.len;
        if end <= w.end() {
            self.cursor = end;
            return Step::Record {
                start,
                end,
                next: end,
            };
        }
        if !w.eof {
            return Step::NeedMore {
                record_start: Some(start),
                keep_from: start,
            };
        }
        if start < w.end() {
            self.cursor = w.end();
            return Step::Record {
                start,
                end: w.end(),
                next: w.end(),
            };
        }
        Step::End
    }
}

/// A framing's state machine.
pub(crate) enum Cutter {
    Fixed(FixedCutter),
    Lines(lines::LineCutter),
    End(patterns::EndCutter),
    Start(patterns::StartCutter),
    StartEnd(patterns::StartEndCutter),
    Csv(csv::CsvCutter),
}

impl Cutter {
    /// A cutter whose first record starts at (or is searched from) stream offset `pos`.
    pub fn new(framing: &Framing, pos: u64) -> Self {
        match framing.normalized() {
            Framing::Lines => Cutter::Lines(lines::LineCutter::new(pos)),
            Framing::Patterns {
                start: None,
                end: Some(end),
            } => Cutter::End(patterns::EndCutter::new(&end, pos)),
            Framing::Patterns {
                start: Some(start),
                end: None,
            } => Cutter::Start(patterns::StartCutter::new(&start, pos)),
            Framing::Patterns {
                start: Some(start),
                end: Some(end),
            } => Cutter::StartEnd(patterns::StartEndCutter::new(&start, &end, pos)),
            // `normalized` turns pattern-less framing into `Lines`.
            Framing::Patterns {
                start: None,
                end: None,
            } => Cutter::Lines(lines::LineCutter::new(pos)),
            Framing::Csv { delimiter } => Cutter::Csv(csv::CsvCutter::new(delimiter, pos)),
            Framing::Fixed { len } => Cutter::Fixed(FixedCutter {
                len: u64::from(len.max(1)),
                cursor: pos,
            }),
        }
    }

    /// The next step; see the module docs.
    #[inline]
    pub fn next(&mut self, window: &Window<'_>) -> Step {
        match self {
            Cutter::Fixed(c) => c.next(window),
            Cutter::Lines(c) => c.next(window),
            Cutter::End(c) => c.next(window),
            Cutter::Start(c) => c.next(window),
            Cutter::StartEnd(c) => c.next(window),
            Cutter::Csv(c) => c.next(window),
        }
    }

    /// Forgets all state: the next record starts at (or is searched from) `pos`.
    pub fn reset(&mut self, pos: u64) {
        match self {
            Cutter::Fixed(c) => c.cursor = pos,
            Cutter::Lines(c) => c.reset(pos),
            Cutter::End(c) => c.reset(pos),
            Cutter::Start(c) => c.reset(pos),
            Cutter::StartEnd(c) => c.reset(pos),
            Cutter::Csv(c) => c.reset(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_helpers() {
        let w = Window {
            data: b"  x ",
            offset: 10,
            eof: false,
        };
        assert_eq!(w.end(), 14);
        assert_eq!(w.from(12), b"x ");
        assert_eq!(w.from(14), b"");
        assert_eq!(w.byte(9), None);
        assert_eq!(w.byte(12), Some(b'x'));
        assert_eq!(w.byte(14), None);
    }

    #[test]
    fn blank_tracker_survives_discarded_heads() {
        let w = Window {
            data: b"  x ",
            offset: 10,
            eof: false,
        };
        let t = BlankTracker::new(10);
        assert!(t.is_blank(&w, 10, 12));
        assert!(!t.is_blank(&w, 10, 13));
        assert!(t.is_blank(&w, 10, 10));
        // A blank head seen in one window, then discarded.
        let mut t = BlankTracker::new(0);
        t.advance(&Window {
            data: b" \t ",
            offset: 0,
            eof: false,
        });
        let later = Window {
            data: b" \r",
            offset: 2,
            eof: false,
        };
        assert!(t.is_blank(&later, 0, 4));
        t.advance(&Window {
            data: b" \rx",
            offset: 2,
            eof: false,
        });
        assert!(!t.is_blank(&later, 0, 4));
    }
}
