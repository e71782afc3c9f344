//! Pattern framing: records delimited by byte patterns (LetsData's recordStartPattern /
//! recordEndPattern), see [`crate::Framing::Patterns`] for the exact rules.
//!
//! Each pattern gets a `memchr::memmem::Finder` built once (SIMD substring search).
//! When a search fails on a non-final window, it resumes `pattern.len() - 1` bytes
//! before the window end, so a pattern cut in half by the buffer end is still found
//! once the rest arrives, and no byte is searched more than `pattern.len()` times.

use memchr::memmem::Finder;

use super::{BlankTracker, Step, Window};

/// Where to resume a failed search for a pattern of `len` bytes so that a match
/// straddling the window end is not missed.
fn resume_at(scan: u64, window_end: u64, len: usize) -> u64 {
    scan.max(window_end.saturating_sub(len.saturating_sub(1) as u64))
}

fn finder(pattern: &[u8]) -> Finder<'static> {
    Finder::new(pattern).into_owned()
}

/// End pattern only: a record runs from the cursor to the end of the next end pattern.
pub(crate) struct EndCutter {
    end: Finder<'static>,
    cursor: u64,
    scan: u64,
    /// Only the final record (after the last end pattern) is dropped when blank.
    blank: BlankTracker,
}

impl EndCutter {
    pub fn new(end: &[u8], pos: u64) -> Self {
        Self {
            end: finder(end),
            cursor: pos,
            scan: pos,
            blank: BlankTracker::new(pos),
        }
    }

    pub fn reset(&mut self, pos: u64) {
        self.cursor = pos;
        self.scan = pos;
        self.blank.reset(pos);
    }

    pub fn next(&mut self, w: &Window<'_>) -> Step {
        let len = self.end.needle().len();
        if let Some(i) = self.end.find(w.from(self.scan)) {
            let start = self.cursor;
            let next = self.scan + (i + len) as u64;
            self.cursor = next;
            self.scan = next;
            self.blank.reset(next);
            return Step::Record {
                start,
                end: next,
                next,
            };
        }
        let window_end = w.end();
        if !w.eof {
            self.blank.advance(w);
            self.scan = resume_at(self.scan, window_end, len);
            return Step::NeedMore {
                record_start: Some(self.cursor),
                keep_from: self.scan,
            };
        }
        let start = self.cursor;
        self.cursor = window_end;
        self.scan = window_end;
        if start >= window_end || self.blank.is_blank(w, start, window_end) {
            return Step::End;
        }
        Step::Record {
            start,
            end: window_end,
            next: window_end,
        }
    }
}

/// Start pattern only: a record runs from a start pattern to the next one (or EOF).
pub(crate) struct StartCutter {
    start: Finder<'static>,
    /// Where the search for the first start pattern resumes (while `record` is None).
    cursor: u64,
    /// Start of the current record, once its start pattern was found.
    record: Option<u64>,
    /// Where the search for the next start pattern resumes (while `record` is Some).
    scan: u64,
}

impl StartCutter {
    pub fn new(start: &[u8], pos: u64) -> Self {
        Self {
            start: finder(start),
            cursor: pos,
            record: None,
            scan: pos,
        }
    }

    pub fn reset(&mut self, pos: u64) {
        self.cursor = pos;
        self.record = None;
        self.scan = pos;
    }

    pub fn next(&mut self, w: &Window<'_>) -> Step {
        let len = self.start.needle().len();
        let window_end = w.end();
        let Some(start) = self.record else {
            let Some(i) = self.start.find(w.from(self.cursor)) else {
                if w.eof {
                    self.cursor = window_end;
                    return Step::End;
                }
                self.cursor = resume_at(self.cursor, window_end, len);
                return Step::NeedMore {
                    record_start: None,
                    keep_from: self.cursor,
                };
            };
            let found = self.cursor + i as u64;
            self.record = Some(found);
            self.scan = found + len as u64;
            return self.next(w);
        };
        if let Some(i) = self.start.find(w.from(self.scan)) {
            let next = self.scan + i as u64;
            self.cursor = next;
            self.record = Some(next);
            self.scan = next + len as u64;
            return Step::Record {
                start,
                end: next,
                next,
            };
        }
        if !w.eof {
            self.scan = resume_at(self.scan, window_end, len);
            return Step::NeedMore {
                record_start: Some(start),
                keep_from: self.scan,
            };
        }
        self.record = None;
        self.cursor = window_end;
        self.scan = window_end;
        Step::Record {
            start,
            end: window_end,
            next: window_end,
        }
    }
}

/// Start and end patterns: a record runs from a start pattern to the end of the next end
/// pattern; the search for the following start resumes at that end pattern.
pub(crate) struct StartEndCutter {
    start: Finder<'static>,
    end: Finder<'static>,
    /// Where the search for a start pattern resumes (while `record` is None).
    cursor: u64,
    /// Start of the current record, once its start pattern was found.
    record: Option<u64>,
    /// Where the search for the end pattern resumes (while `record` is Some).
    scan: u64,
}

impl StartEndCutter {
    pub fn new(start: &[u8], end: &[u8], pos: u64) -> Self {
        Self {
            start: finder(start),
            end: finder(end),
            cursor: pos,
            record: None,
            scan: pos,
        }
    }

    pub fn reset(&mut self, pos: u64) {
        self.cursor = pos;
        self.record = None;
        self.scan = pos;
    }

    pub fn next(&mut self, w: &Window<'_>) -> Step {
        let window_end = w.end();
        let start = match self.record {
            Some(start) => start,
            None => {
                let len = self.start.needle().len();
                let Some(i) = self.start.find(w.from(self.cursor)) else {
                    if w.eof {
                        self.cursor = window_end;
                        return Step::End;
                    }
                    self.cursor = resume_at(self.cursor, window_end, len);
                    return Step::NeedMore {
                        record_start: None,
                        keep_from: self.cursor,
                    };
                };
                let found = self.cursor + i as u64;
                self.record = Some(found);
                self.scan = found + len as u64;
                found
            }
        };
        let len = self.end.needle().len();
        if let Some(i) = self.end.find(w.from(self.scan)) {
            let end_match = self.scan + i as u64;
            self.record = None;
            self.cursor = end_match;
            return Step::Record {
                start,
                end: end_match + len as u64,
                next: end_match,
            };
        }
        if !w.eof {
            self.scan = resume_at(self.scan, window_end, len);
            return Step::NeedMore {
                record_start: Some(start),
                keep_from: self.scan,
            };
        }
        self.record = None;
        self.cursor = window_end;
        Step::Record {
            start,
            end: window_end,
            next: window_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cut::Cutter;
    use crate::framing::Framing;

    fn cut_all(start: Option<&str>, end: Option<&str>, data: &[u8]) -> Vec<(u64, u64, u64)> {
        let framing = Framing::Patterns {
            start: start.map(|s| s.as_bytes().to_vec()),
            end: end.map(|s| s.as_bytes().to_vec()),
        };
        let mut c = Cutter::new(&framing, 0);
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
    fn end_only() {
        assert_eq!(
            cut_all(None, Some("END"), b"aEND bEND c"),
            vec![(0, 4, 4), (4, 9, 9), (9, 11, 11)]
        );
        assert_eq!(cut_all(None, Some("END"), b"aEND \n"), vec![(0, 4, 4)]);
        assert_eq!(cut_all(None, Some("END"), b""), vec![]);
        assert_eq!(
            cut_all(None, Some("END"), b"ENDEND"),
            vec![(0, 3, 3), (3, 6, 6)]
        );
    }

    #[test]
    fn start_only() {
        assert_eq!(
            cut_all(Some("<"), None, b"junk<a<b"),
            vec![(4, 6, 6), (6, 8, 8)]
        );
        assert_eq!(cut_all(Some("<"), None, b"no start"), vec![]);
        assert_eq!(
            cut_all(Some("ab"), None, b"abab"),
            vec![(0, 2, 2), (2, 4, 4)]
        );
    }

    #[test]
    fn start_and_end() {
        let data = b"x<d>1</d>\n<d>2</d> <d>3";
        assert_eq!(
            cut_all(Some("<d>"), Some("</d>"), data),
            vec![(1, 9, 5), (10, 18, 14), (19, 23, 23)]
        );
    }

    #[test]
    fn identical_start_and_end_like_warc() {
        let data = b"WARC/1.0 a\nWARC/1.0 b\n";
        assert_eq!(
            cut_all(Some("WARC/1.0"), Some("WARC/1.0"), data),
            vec![(0, 19, 11), (11, 22, 22)]
        );
    }

    #[test]
    fn partial_pattern_at_window_end() {
        let mut c = EndCutter::new(b"END", 0);
        let w = Window {
            data: b"abcEN",
            offset: 0,
            eof: false,
        };
        assert_eq!(
            c.next(&w),
            Step::NeedMore {
                record_start: Some(0),
                keep_from: 3
            }
        );
        let w = Window {
            data: b"abcEND",
            offset: 0,
            eof: false,
        };
        assert_eq!(
            c.next(&w),
            Step::Record {
                start: 0,
                end: 6,
                next: 6
            }
        );
    }
}
