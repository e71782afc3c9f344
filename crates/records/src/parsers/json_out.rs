//! Minimal JSON writing into a byte buffer: escaped strings and unsigned integers.
//!
//! The parsers build documents directly into the caller's `Vec<u8>` instead of going
//! through `serde_json::Value`; clean text is scanned 8 bytes at a time and nothing is
//! allocated. Escaping follows RFC 8259 (the same set as serde_json): '"', '\\' and
//! control characters; everything else, including non-ASCII UTF-8, is copied verbatim.

/// For each byte: 0 = copy, `u` = \u00XX, otherwise the letter after the backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any of the 8 bytes in `word` needs escaping ('"', '\\' or < 0x20). Exact
/// "has a matching byte" tests with the classic SWAR zero-byte trick.
#[inline]
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let q = word ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let b = word ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH != 0
}

/// Appends `text` (valid UTF-8) as a quoted, escaped JSON string. Clean 8-byte words
/// are skipped with one test each; only words that contain a byte to escape are looked
/// at byte by byte.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        while let Some(chunk) = text.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if word_needs_escape(u64::from_le_bytes(word)) {
                break;
            }
            i += 8;
        }
        let stop = (i + 8).min(text.len());
        while i < stop {
            let byte = text[i];
            let escape = ESCAPE[byte as usize];
            if escape != 0 {
                out.extend_from_slice(&text[copied..i]);
                if escape == b'u' {
                    let hex = [HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]];
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]]);
                } else {
                    out.extend_from_slice(&[b'\\', escape]);
                }
                copied = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&text[copied..]);
    out.push(b'"');
}

/// Appends `n` in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s.as_bytes());
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}",
            "é ü 漢 🎉",
            "\u{7f}/",
        ] {
            let ours = escaped(s);
            assert_eq!(ours, serde_json::to_string(s).expect("json"), "{s:?}");
            assert_eq!(serde_json::from_str::<String>(&ours).expect("parse"), s);
        }
    }

    #[test]
    fn every_byte_in_every_word_position() {
        for byte in 0u8..0x80 {
            for pos in 0..17 {
                let mut text = vec![b'a'; 17];
                text[pos] = byte;
                let s = std::str::from_utf8(&text).expect("ascii");
                assert_eq!(
                    escaped(s),
                    serde_json::to_string(s).expect("json"),
                    "byte {byte} at {pos}"
                );
            }
        }
    }

    #[test]
    fn writes_numbers() {
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
