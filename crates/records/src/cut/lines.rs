//! Line framing: one record per '\n'-terminated line.
//!
//! `memchr` finds the next '\n' from where the last search stopped. The record excludes
//! the '\n' and one '\r' before it; blank lines (empty or ASCII whitespace only) are
//! skipped. While waiting for more input the cutter asks to keep the last byte seen so it
//! can still tell whether a '\n' arriving next is preceded by '\r'.

use memchr::memchr;

use super::{BlankTracker, Step, Window};

pub(crate) struct LineCutter {
    /// Start of the current (unfinished) line.
    cursor: u64,
    /// Where the '\n' search resumes.
    scan: u64,
    blank: BlankTracker,
}

impl LineCutter {
    pub fn new(pos: u64) -> Self {
        Self {
            cursor: pos,
            scan: pos,
            blank: BlankTracker::new(pos),
        }
    }

    pub fn reset(&mut self, pos: u64) {
        *self = Self::new(pos);
    }

    pub fn next(&mut self, w: &Window<'_>) -> Step {
        loop {
            let (start, term_start, next) = match memchr(b'\n', w.from(self.scan)) {
                Some(i) => {
                    let nl = self.scan + i as u64;
                    (self.cursor, nl, nl + 1)
                }
                None if !w.eof => {
                    self.blank.advance(w);
                    let end = w.end();
                    self.scan = end;
                    return Step::NeedMore {
                        record_start: Some(self.cursor),
                        keep_from: end.saturating_sub(1).max(self.cursor),
                    };
                }
                None => {
                    let end = w.end();
                    if self.cursor >= end {
                        return Step::End;
                    }
                    (self.cursor, end, end)
                }
            };
            let mut end = term_start;
            if end > start && w.byte(end - 1) == Some(b'\r') {
                end -= 1;
            }
            let blank = self.blank.is_blank(w, start, end);
            self.cursor = next;
            self.scan = next;
            self.blank.reset(next);
            if blank {
                continue;
            }
            return Step::Record { start, end, next };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_all(data: &[u8]) -> Vec<(u64, u64, u64)> {
        let mut c = LineCutter::new(0);
        let w = Window {
            data,
            offset: 0,
            eof: true,
        };
        let mut out = Vec::new();
        while let Step::Record { start, end, next } = c.next(&w) {
            out.push((start, end, next));
        }
        out
    }

    #[test]
    fn lines_crlf_blank_and_last_line() {
        assert_eq!(cut_all(b"a\r\n\n  \t\r\nbc"), vec![(0, 1, 3), (9, 11, 11)]);
        assert_eq!(cut_all(b""), vec![]);
        assert_eq!(cut_all(b"\n\n"), vec![]);
        assert_eq!(cut_all(b"x\r"), vec![(0, 1, 2)]);
        assert_eq!(cut_all(b"\r\r\n"), vec![]);
    }

    #[test]
    fn need_more_keeps_last_byte() {
        let mut c = LineCutter::new(5);
        let w = Window {
            data: b"abc\r",
            offset: 5,
            eof: false,
        };
        assert_eq!(
            c.next(&w),
            Step::NeedMore {
                record_start: Some(5),
                keep_from: 8
            }
        );
        let w = Window {
            data: b"\r\nz",
            offset: 8,
            eof: false,
        };
        assert_eq!(
            c.next(&w),
            Step::Record {
                start: 5,
                end: 8,
                next: 10
            }
        );
    }
}
