//! How a byte stream is cut into records.
//!
//! [`Framing`] is the declarative description; the state machines that apply it live in
//! the private `cut` module. Patterns are plain bytes here: interpreting escape sequences
//! in configured strings is the parser's business (see `parsers::text::unescape_pattern`).

/// The rule that cuts a decompressed byte stream into records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// One record per line: records end at '\n'; the '\n' and one trailing '\r' are not
    /// part of the record. Lines that are empty or only ASCII whitespace are not records
    /// (skipped silently, not counted). The last line may lack a '\n'.
    Lines,
    /// Records cut by byte patterns (LetsData's recordStartPattern / recordEndPattern).
    ///  - end only: record = [cursor, endMatch + end.len()); the cursor moves past the end
    ///    pattern. Trailing bytes after the last end pattern form a final record if
    ///    non-empty (and not only whitespace).
    ///  - start only: record = [startMatch, nextStartMatch) where nextStartMatch is searched
    ///    from startMatch + start.len(); the last record extends to EOF. Bytes before the
    ///    first start match are skipped (not records).
    ///  - both: find start from cursor; then find end from startMatch + start.len();
    ///    record = [startMatch, endMatch + end.len()) and the cursor resumes at endMatch
    ///    (NOT after it), so an end pattern may also be the next record's start pattern.
    ///    If no end pattern before EOF, the record extends to EOF. Bytes between records
    ///    that do not start with the start pattern are skipped.
    ///  - neither: same as Lines.
    ///
    /// An empty pattern counts as absent.
    Patterns {
        start: Option<Vec<u8>>,
        end: Option<Vec<u8>>,
    },
    /// RFC 4180 CSV rows, cut with csv_core (quoted fields may contain delimiters, quotes
    /// and newlines). The record excludes the row terminator ('\n', "\r\n" or a lone
    /// '\r'). Empty lines are skipped. A UTF-8 byte order mark at offset 0 is skipped
    /// (part of no record).
    Csv { delimiter: u8 },
    /// Records of a fixed length (LetsData's `RecordHintType.OFFSET`): `[cursor, cursor +
    /// len)`; a shorter final record at the end of the input is returned as it is.
    Fixed { len: u32 },
}

impl Framing {
    /// The same framing with empty patterns removed and `Patterns` without any pattern
    /// turned into `Lines`.
    pub fn normalized(&self) -> Framing {
        match self {
            Framing::Patterns { start, end } => {
                let start = start.clone().filter(|p| !p.is_empty());
                let end = end.clone().filter(|p| !p.is_empty());
                if start.is_none() && end.is_none() {
                    Framing::Lines
                } else {
                    Framing::Patterns { start, end }
                }
            }
            other => other.clone(),
        }
    }

    /// Length of the longest pattern (0 for lines and CSV).
    pub(crate) fn max_pattern_len(&self) -> usize {
        match self {
            Framing::Patterns { start, end } => {
                let s = start.as_ref().map_or(0, Vec::len);
                let e = end.as_ref().map_or(0, Vec::len);
                s.max(e)
            }
            Framing::Lines | Framing::Csv { .. } | Framing::Fixed { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        let none = Framing::Patterns {
            start: None,
            end: Some(Vec::new()),
        };
        assert_eq!(none.normalized(), Framing::Lines);
        let end = Framing::Patterns {
            start: Some(Vec::new()),
            end: Some(b"x".to_vec()),
        };
        assert_eq!(
            end.normalized(),
            Framing::Patterns {
                start: None,
                end: Some(b"x".to_vec())
            }
        );
        assert_eq!(
            Framing::Csv { delimiter: b';' }.normalized(),
            Framing::Csv { delimiter: b';' }
        );
        assert_eq!(end.max_pattern_len(), 1);
    }
}
