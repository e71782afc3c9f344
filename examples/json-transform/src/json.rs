//! A strict JSON reader for one record, in place: it checks the record against RFC 8259 as
//! it walks it and hands back where each value lies, so the parser copies values as written
//! and decodes only what it changes.
//!
//! It exists for speed inside the sandbox: general-purpose readers scan strings a byte at a
//! time on wasm32 (their SIMD paths are for x86_64 and aarch64), and strings are most of an
//! event's bytes. This one looks at eight bytes per step for the end of a string (a SWAR
//! test for `"`, `\`, control characters and non-ASCII bytes; wasm32 has native 64-bit
//! integers), and checks UTF-8 as it goes: outside strings JSON is ASCII, and inside them
//! each non-ASCII character is checked where it is found, so a record needs no separate
//! UTF-8 pass and every piece of text the reader hands back is a `&str`.
//!
//! Error messages follow serde_json's wording, with the 1-based column (byte) of the error.

use std::fmt;

/// Where a record stops being JSON, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub reason: &'static str,
    /// Byte index into the record.
    pub index: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.reason, self.index + 1)
    }
}

/// Objects and arrays nested deeper than this are refused (serde_json's limit).
const MAX_DEPTH: u32 = 128;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is `"`, `\`, below 0x20 or above 0x7f. Bytes above
/// a flagged byte may be flagged wrongly (borrows travel up), so only the lowest flag is exact.
#[inline]
fn string_specials(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (zero(quote) | zero(backslash) | control | w) & HIGHS
}

/// A cursor over one record.
pub struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    /// Whether the next `next_key` reads an object's first key (set by `enter_object`).
    first_key: bool,
}

impl<'a> Reader<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        Self {
            s,
            i: 0,
            first_key: false,
        }
    }

    /// `s[start..i]`, which the reader has read.
    #[inline(always)]
    fn text(&self, start: usize) -> &'a str {
        let read = &self.s[start..self.i];
        debug_assert!(std::str::from_utf8(read).is_ok());
        // SAFETY: every byte the reader moves past is checked: outside strings only ASCII is
        // accepted, and inside a string each non-ASCII byte starts a character that
        // `utf8_char` checked whole; so what it has read is UTF-8.
        unsafe { std::str::from_utf8_unchecked(read) }
    }

    fn error<T>(&self, reason: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            reason,
            index: self.i,
        })
    }

    /// Skips whitespace and returns the next byte, if any (not consumed).
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        // Most tokens follow the previous one directly.
        match self.s.get(self.i) {
            Some(&b) if b > b' ' => return Some(b),
            _ => {}
        }
        while let Some(&b) = self.s.get(self.i) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.i += 1;
        }
        None
    }

    /// Checks that only whitespace is left.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.error("trailing characters"),
        }
    }

    /// Consumes `{`, which `peek` returned; read its keys with `next_key` until `None`.
    #[inline(always)]
    pub fn enter_object(&mut self) {
        self.i += 1;
        self.first_key = true;
    }

    /// The next key of the object being read, as written between its quotes, with the `:`
    /// after it consumed; `None` at the object's end. (A nested object's keys are all read
    /// before its parent's next one, so one flag tells an object's first key from the rest.)
    #[inline(always)]
    pub fn next_key(&mut self) -> Result<Option<&'a [u8]>, JsonError> {
        let first = std::mem::replace(&mut self.first_key, false);
        let mut next = self.peek();
        if !first {
            match next {
                Some(b',') => {
                    self.i += 1;
                    next = self.peek();
                    if next == Some(b'}') {
                        return self.error("trailing comma");
                    }
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(None);
                }
                None => return self.error("EOF while parsing an object"),
                Some(_) => return self.error("expected `,` or `}`"),
            }
        } else if next == Some(b'}') {
            self.i += 1;
            return Ok(None);
        }
        match next {
            Some(b'"') => {}
            None => return self.error("EOF while parsing an object"),
            Some(_) => return self.error("key must be a string"),
        }
        let start = self.i;
        self.skip_string()?;
        let end = self.i;
        match self.peek() {
            Some(b':') => self.i += 1,
            None => return self.error("EOF while parsing an object"),
            Some(_) => return self.error("expected `:`"),
        }
        Ok(Some(&self.s[start + 1..end - 1]))
    }

    /// Reads the string at the cursor (at its `"`); returns it as written, quotes included.
    #[inline(always)]
    pub fn string(&mut self) -> Result<&'a str, JsonError> {
        let start = self.i;
        self.skip_string()?;
        Ok(self.text(start))
    }

    #[inline(always)]
    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.i += 1;
        loop {
            // Eight bytes per step while they last; stop at the first special byte.
            while let Some(chunk) = self.s.get(self.i..self.i + 8) {
                let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                let specials = string_specials(w);
                if specials != 0 {
                    self.i += (specials.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            match self.s.get(self.i) {
                None => return self.error("EOF while parsing a string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                Some(&b) if b >= 0x80 => self.utf8_char(b)?,
                Some(&b) if b < 0x20 => {
                    return self
                        .error("control character (\\u0000-\\u001F) found while parsing a string");
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// Checks the character at the cursor, whose first byte `lead` is not ASCII, and moves
    /// past it.
    fn utf8_char(&mut self, lead: u8) -> Result<(), JsonError> {
        let width = match lead {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return self.error("invalid UTF-8"),
        };
        match self.s.get(self.i..self.i + width) {
            Some(c) if std::str::from_utf8(c).is_ok() => {
                self.i += width;
                Ok(())
            }
            _ => self.error("invalid UTF-8"),
        }
    }

    /// Checks the escape at the cursor (at its `\`) and moves past it.
    fn escape(&mut self) -> Result<(), JsonError> {
        self.i += 1;
        match self.s.get(self.i) {
            None => self.error("EOF while parsing a string"),
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.i += 1;
                Ok(())
            }
            Some(b'u') => {
                for _ in 0..4 {
                    self.i += 1;
                    match self.s.get(self.i) {
                        Some(b) if b.is_ascii_hexdigit() => {}
                        None => return self.error("EOF while parsing a string"),
                        Some(_) => return self.error("invalid escape"),
                    }
                }
                self.i += 1;
                Ok(())
            }
            Some(_) => self.error("invalid escape"),
        }
    }

    /// Reads the number at the cursor; returns it as written and whether it has a fraction
    /// or an exponent.
    #[inline(always)]
    pub fn number(&mut self) -> Result<(&'a str, bool), JsonError> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            None => return self.error("EOF while parsing a value"),
            Some(_) => return self.error("invalid number"),
        }
        let mut float = false;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.some_digits()?;
            float = true;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
            float = true;
        }
        Ok((self.text(start), float))
    }

    #[inline(always)]
    fn digits(&mut self) {
        while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn some_digits(&mut self) -> Result<(), JsonError> {
        match self.s.get(self.i) {
            Some(b'0'..=b'9') => {
                self.digits();
                Ok(())
            }
            None => self.error("EOF while parsing a value"),
            Some(_) => self.error("invalid number"),
        }
    }

    /// Reads `literal` (`true`, `false` or `null`), whose first byte is at the cursor.
    fn literal(&mut self, literal: &[u8]) -> Result<(), JsonError> {
        for &want in literal {
            match self.s.get(self.i) {
                Some(&b) if b == want => self.i += 1,
                None => return self.error("EOF while parsing a value"),
                Some(_) => return self.error("expected ident"),
            }
        }
        Ok(())
    }

    /// Reads `null` if it is next; says whether it was.
    #[inline(always)]
    pub fn null(&mut self) -> Result<bool, JsonError> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads the next value, whatever it is; returns it as written.
    #[inline(always)]
    pub fn skip_value(&mut self) -> Result<&'a str, JsonError> {
        // Strings and numbers here; the rest (and nesting) in `value`.
        let start = match self.peek() {
            Some(b'"') => {
                let start = self.i;
                self.skip_string()?;
                start
            }
            Some(b'-' | b'0'..=b'9') => return Ok(self.number()?.0),
            _ => self.value(0)?,
        };
        Ok(self.text(start))
    }

    /// Reads the next value; returns where it starts.
    fn value(&mut self, depth: u32) -> Result<usize, JsonError> {
        let start = match self.peek() {
            None => return self.error("EOF while parsing a value"),
            Some(_) => self.i,
        };
        match self.s[start] {
            b'"' => self.skip_string()?,
            b'-' | b'0'..=b'9' => {
                self.number()?;
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'{' => {
                if depth >= MAX_DEPTH {
                    return self.error("recursion limit exceeded");
                }
                self.enter_object();
                while self.next_key()?.is_some() {
                    self.value(depth + 1)?;
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return self.error("recursion limit exceeded");
                }
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.value(depth + 1)?;
                        match self.peek() {
                            Some(b',') => {
                                self.i += 1;
                                if self.peek() == Some(b']') {
                                    return self.error("trailing comma");
                                }
                            }
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            None => return self.error("EOF while parsing a list"),
                            Some(_) => return self.error("expected `,` or `]`"),
                        }
                    }
                }
            }
            _ => return self.error("expected value"),
        }
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one value and checks nothing follows; the error's text otherwise.
    fn check(json: &str) -> Result<(), String> {
        let mut r = Reader::new(json.as_bytes());
        r.skip_value()
            .and_then(|_| r.finish())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for json in [
            r#"{"a":[1,-2.5e+3,0,0.25,1E-2,true,false,null,"x",{},[]],"b":{"c":"\u00e9\"\\\/\b\f\n\r\t"}}"#,
            " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n",
            "\"abcdefghijklmnopqrstuvwxyz\\\"0123456789\"",
            "\"é—ü 日本\"",
            "-0",
            "[]",
        ] {
            assert_eq!(check(json), Ok(()), "{json}");
            assert!(
                serde_json::from_str::<serde_json::Value>(json).is_ok(),
                "{json}"
            );
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses_with_its_reason() {
        for (json, message) in [
            (r#"{"a":1"#, "EOF while parsing an object at column 7"),
            (
                r#"{"a":"abcdefghijk"#,
                "EOF while parsing a string at column 18",
            ),
            (
                "\"ab\ncd\"",
                "control character (\\u0000-\\u001F) found while parsing a string at column 4",
            ),
            (
                "\"abcdefghij\u{1}\"",
                "control character (\\u0000-\\u001F) found while parsing a string at column 12",
            ),
            (r#""a\x""#, "invalid escape at column 4"),
            (r#""\u12g4""#, "invalid escape at column 6"),
            (r#"{"a":1,}"#, "trailing comma at column 8"),
            ("[1,]", "trailing comma at column 4"),
            (r#"{"a" 1}"#, "expected `:` at column 6"),
            (r#"{"a":1 "b":2}"#, "expected `,` or `}` at column 8"),
            ("{1:2}", "key must be a string at column 2"),
            ("[1 2]", "expected `,` or `]` at column 4"),
            ("01", "trailing characters at column 2"),
            ("1.", "EOF while parsing a value at column 3"),
            ("1.e3", "invalid number at column 3"),
            ("-", "EOF while parsing a value at column 2"),
            ("-a", "invalid number at column 2"),
            ("nul", "EOF while parsing a value at column 4"),
            ("tru e", "expected ident at column 4"),
            ("", "EOF while parsing a value at column 1"),
            ("{} x", "trailing characters at column 4"),
            ("?", "expected value at column 1"),
        ] {
            assert_eq!(check(json), Err(message.to_string()), "{json}");
            assert!(
                serde_json::from_str::<serde_json::Value>(json).is_err(),
                "{json}"
            );
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            check(&deep),
            Err("recursion limit exceeded at column 129".to_string())
        );
    }

    #[test]
    fn finds_the_end_of_a_string_at_any_position_in_a_word() {
        for len in 0..40 {
            for special in ["\"", "\\n\"", "\\u00e9\"", "é\"", "日本\"", "𝄞\""] {
                let json = format!("\"{}{special}", "a".repeat(len));
                let mut r = Reader::new(json.as_bytes());
                assert_eq!(r.string(), Ok(json.as_str()), "{json}");
            }
        }
    }

    #[test]
    fn checks_utf8_inside_strings_and_refuses_it_outside() {
        for (bytes, column) in [
            (&b"\"ab\xff\""[..], 4),
            (b"\"abcdefgh\xc3\"", 10),
            (b"\"\xc3", 2),
            (b"\"\xc0\x80\"", 2),
            (b"\"abc\xed\xa0\x80\"", 5),
            (b"\"\xf4\x90\x80\x80\"", 2),
            (b"\"\xe6\x97\"", 2),
        ] {
            let mut r = Reader::new(bytes);
            assert_eq!(
                r.skip_value().map_err(|e| e.to_string()),
                Err(format!("invalid UTF-8 at column {column}")),
                "{bytes:?}"
            );
            assert!(std::str::from_utf8(bytes).is_err());
        }
        let mut r = Reader::new(b"\xc3\xa9");
        assert_eq!(
            r.skip_value(),
            Err(JsonError {
                reason: "expected value",
                index: 0
            })
        );
        let mut r = Reader::new("[\"ü\", \"日本語のテキスト\", \"𝄞\"]".as_bytes());
        assert_eq!(r.skip_value(), Ok("[\"ü\", \"日本語のテキスト\", \"𝄞\"]"));
    }

    #[test]
    fn keys_are_read_as_written() {
        let mut r = Reader::new(br#"{"a\"b" : 1, "c":2}"#);
        assert_eq!(r.peek(), Some(b'{'));
        r.enter_object();
        assert_eq!(r.next_key(), Ok(Some(&br#"a\"b"#[..])));
        assert_eq!(r.skip_value(), Ok("1"));
        assert_eq!(r.next_key(), Ok(Some(&b"c"[..])));
        assert_eq!(r.number(), Ok(("2", false)));
        assert_eq!(r.next_key(), Ok(None));
        assert_eq!(r.finish(), Ok(()));
    }
}
