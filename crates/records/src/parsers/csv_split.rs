//! Splitting one CSV row (as cut by `Framing::Csv`) into unquoted fields.
//!
//! Same rules as csv_core with its defaults (double-quote escaping, no escape character):
//! a field that starts with '"' is quoted until a '"' not followed by another '"' ("" is a
//! literal quote); bytes after the closing quote up to the delimiter are kept literally; a
//! quote anywhere else is a literal; an unclosed quote runs to the end of the row. The
//! work is memchr jumps rather than a per-byte state machine. A row without any quote is
//! split in place (fields borrow the row); otherwise fields are copied, unquoted, into a
//! reused buffer. The unit tests check agreement with csv_core on random rows.

use memchr::memchr;

/// Splits `row` into `spans`. Returns true when the spans index into `row` itself, false
/// when they index into `fields`.
pub(crate) fn split_row(
    row: &[u8],
    delimiter: u8,
    fields: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize)>,
) -> bool {
    spans.clear();
    if memchr(b'"', row).is_none() {
        let mut start = 0;
        for end in memchr::memchr_iter(delimiter, row) {
            spans.push((start, end));
            start = end + 1;
        }
        spans.push((start, row.len()));
        return true;
    }
    fields.clear();
    let mut pos = 0;
    loop {
        let field_start = fields.len();
        if row.get(pos) == Some(&b'"') {
            pos = unquote(row, pos + 1, fields);
        }
        // Unquoted bytes (the whole field, or what follows a closing quote).
        let end = memchr(delimiter, &row[pos..]).map_or(row.len(), |i| pos + i);
        fields.extend_from_slice(&row[pos..end]);
        spans.push((field_start, fields.len()));
        if end == row.len() {
            return false;
        }
        pos = end + 1;
    }
}

/// Copies the quoted field content starting at `pos` (after the opening quote) into
/// `fields`; returns the position after the closing quote (or the row end if unclosed).
fn unquote(row: &[u8], mut pos: usize, fields: &mut Vec<u8>) -> usize {
    loop {
        let Some(i) = memchr(b'"', &row[pos..]) else {
            fields.extend_from_slice(&row[pos..]);
            return row.len();
        };
        let quote = pos + i;
        fields.extend_from_slice(&row[pos..quote]);
        if row.get(quote + 1) == Some(&b'"') {
            fields.push(b'"');
            pos = quote + 2;
        } else {
            return quote + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cut::csv::prime;
    use csv_core::{ReadRecordResult, ReaderBuilder};

    fn ours(row: &[u8], delimiter: u8) -> Vec<Vec<u8>> {
        let (mut fields, mut spans) = (Vec::new(), Vec::new());
        let in_row = split_row(row, delimiter, &mut fields, &mut spans);
        let source = if in_row { row } else { &fields[..] };
        spans.iter().map(|&(s, e)| source[s..e].to_vec()).collect()
    }

    fn csv_core(row: &[u8], delimiter: u8) -> Vec<Vec<u8>> {
        let mut reader = ReaderBuilder::new().delimiter(delimiter).build();
        prime(&mut reader);
        let (mut out, mut ends) = (vec![0u8; 4096], vec![0usize; 256]);
        let (mut input, mut nout, mut nend) = (row, 0, 0);
        loop {
            let (result, nin, o, e) =
                reader.read_record(input, &mut out[nout..], &mut ends[nend..]);
            let exhausted = input.is_empty();
            input = &input[nin..];
            nout += o;
            nend += e;
            if result == ReadRecordResult::Record || result == ReadRecordResult::End || exhausted {
                break;
            }
        }
        let mut start = 0;
        ends[..nend]
            .iter()
            .map(|&end| {
                let field = out[start..end].to_vec();
                start = end;
                field
            })
            .collect()
    }

    #[test]
    fn examples() {
        assert_eq!(ours(b"a,,b,", b','), vec![&b"a"[..], b"", b"b", b""]);
        assert_eq!(
            ours(b"\"x,\"\"y\"\"\",z", b','),
            vec![&b"x,\"y\""[..], b"z"]
        );
        assert_eq!(ours(b"\"ab\"cd\"e,f", b','), vec![&b"abcd\"e"[..], b"f"]);
        assert_eq!(
            ours(b"a\"b,\"unclosed,", b','),
            vec![&b"a\"b"[..], b"unclosed,"]
        );
        assert_eq!(ours(b"\"l1\nl2\";x", b';'), vec![&b"l1\nl2"[..], b"x"]);
    }

    #[test]
    fn agrees_with_csv_core_on_random_rows() {
        let tokens: [&[u8]; 8] = [b"a", b"bc", b",", b"\"", b"\"\"", b"\n", b" ", b",\""];
        let mut seed = 99u64;
        let mut compared = 0;
        for _ in 0..5000 {
            let mut row = Vec::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..1 + (seed >> 33) % 12 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                row.extend_from_slice(tokens[((seed >> 33) % tokens.len() as u64) as usize]);
            }
            // Rows as framed: they never start with a terminator, and an unquoted newline
            // would have ended the row, so only test rows csv_core reads as one record.
            if row[0] == b'\n' {
                continue;
            }
            let expected = csv_core(&row, b',');
            let mut reader = ReaderBuilder::new().build();
            prime(&mut reader);
            let (r, _, _, _) = reader.read_record(&row, &mut [0u8; 4096], &mut [0usize; 256]);
            if r == ReadRecordResult::Record {
                continue;
            }
            assert_eq!(
                ours(&row, b','),
                expected,
                "{:?}",
                String::from_utf8_lossy(&row)
            );
            compared += 1;
        }
        assert!(compared > 2000, "only {compared} rows compared");
    }
}
