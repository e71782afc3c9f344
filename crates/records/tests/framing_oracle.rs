//! Property-style tests: on pseudo-random data, every framing must produce exactly what a
//! naive whole-input implementation of the documented rules produces, for any buffer
//! capacity and read size, with truncation, with `skip_to` and with a non-zero start
//! offset.

mod common;

use common::{Chunked, Rec, Rng, collect, drain};
use letsdata_records::{Framing, RecordReader};

/// (start, end, next) of each record.
type Cut = (usize, usize, usize);

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

fn oracle_lines(d: &[u8]) -> Vec<Cut> {
    let (mut out, mut cur) = (Vec::new(), 0);
    while cur < d.len() {
        let (term, next) = match d[cur..].iter().position(|&b| b == b'\n') {
            Some(i) => (cur + i, cur + i + 1),
            None => (d.len(), d.len()),
        };
        let mut end = term;
        if end > cur && d[end - 1] == b'\r' {
            end -= 1;
        }
        if !blank(&d[cur..end]) {
            out.push((cur, end, next));
        }
        cur = next;
    }
    out
}

fn oracle_end(d: &[u8], e: &[u8]) -> Vec<Cut> {
    let (mut out, mut cur) = (Vec::new(), 0);
    loop {
        match find(d, e, cur) {
            Some(m) => {
                out.push((cur, m + e.len(), m + e.len()));
                cur = m + e.len();
            }
            None => {
                if cur < d.len() && !blank(&d[cur..]) {
                    out.push((cur, d.len(), d.len()));
                }
                return out;
            }
        }
    }
}

fn oracle_start(d: &[u8], s: &[u8]) -> Vec<Cut> {
    let mut out = Vec::new();
    let Some(mut st) = find(d, s, 0) else {
        return out;
    };
    loop {
        match find(d, s, st + s.len()) {
            Some(n) => {
                out.push((st, n, n));
                st = n;
            }
            None => {
                out.push((st, d.len(), d.len()));
                return out;
            }
        }
    }
}

fn oracle_both(d: &[u8], s: &[u8], e: &[u8]) -> Vec<Cut> {
    let (mut out, mut cur) = (Vec::new(), 0);
    while let Some(st) = find(d, s, cur) {
        match find(d, e, st + s.len()) {
            Some(m) => {
                out.push((st, m + e.len(), m));
                cur = m;
            }
            None => {
                out.push((st, d.len(), d.len()));
                break;
            }
        }
    }
    out
}

/// Quote-toggling row splitter; equals RFC 4180 for the generated data (quotes only
/// around fields and doubled inside them). A leading byte order mark is skipped.
fn oracle_csv(d: &[u8]) -> Vec<Cut> {
    let mut out = Vec::new();
    let mut cur = if d.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    loop {
        while cur < d.len() && (d[cur] == b'\r' || d[cur] == b'\n') {
            cur += 1;
        }
        if cur >= d.len() {
            return out;
        }
        let (start, mut quoted, mut i) = (cur, false, cur);
        while i < d.len() {
            match d[i] {
                b'"' => quoted = !quoted,
                b'\r' | b'\n' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        if i < d.len() {
            out.push((start, i, i + 1));
            cur = i + 1;
        } else {
            out.push((start, d.len(), d.len()));
            return out;
        }
    }
}

fn expected(d: &[u8], cuts: &[Cut], max: usize, shift: u64) -> Vec<Rec> {
    cuts.iter()
        .map(|&(s, e, n)| {
            (
                d[s..e.min(s.saturating_add(max))].to_vec(),
                s as u64 + shift,
                e as u64 + shift,
                n as u64 + shift,
                e - s > max,
            )
        })
        .collect()
}

const TEXT_TOKENS: &[&[u8]] = &[
    b"a",
    b"b",
    b"aab",
    b"<r>",
    b"</r>",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"  ",
    b"\t",
    b"xyz",
    b"WARC/1.0",
    b"WARC/1.0\r\n",
];

fn csv_data(rng: &mut Rng) -> Vec<u8> {
    let mut d = Vec::new();
    if rng.below(4) == 0 {
        d.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for _ in 0..rng.below(30) {
        for f in 0..1 + rng.below(4) {
            if f > 0 {
                d.push(b',');
            }
            if rng.below(2) == 0 {
                let n = rng.below(6);
                d.extend(rng.tokens(&[b"a", b"bc", b" "], n));
            } else {
                d.push(b'"');
                let n = rng.below(6);
                d.extend(rng.tokens(&[b"a", b",", b"\n", b"\r\n", b"\"\"", b"\r"], n));
                d.push(b'"');
            }
        }
        d.extend(rng.tokens(&[b"\n", b"\r\n", b"\r", b"\n\n"], 1));
    }
    if rng.below(2) == 0 {
        d.extend_from_slice(b"tail,\"no\nnewline\"");
    }
    d
}

type Oracle = fn(&[u8]) -> Vec<Cut>;

fn framings() -> Vec<(Framing, Oracle)> {
    fn p(s: Option<&str>, e: Option<&str>) -> Framing {
        Framing::Patterns {
            start: s.map(|x| x.as_bytes().to_vec()),
            end: e.map(|x| x.as_bytes().to_vec()),
        }
    }
    vec![
        (Framing::Lines, oracle_lines),
        (p(None, None), oracle_lines),
        (p(None, Some("aab")), |d| oracle_end(d, b"aab")),
        (p(None, Some("</r>")), |d| oracle_end(d, b"</r>")),
        (p(None, Some("\n")), |d| oracle_end(d, b"\n")),
        (p(Some("<r>"), None), |d| oracle_start(d, b"<r>")),
        (p(Some("aab"), None), |d| oracle_start(d, b"aab")),
        (p(Some("<r>"), Some("</r>")), |d| {
            oracle_both(d, b"<r>", b"</r>")
        }),
        (p(Some("WARC/1.0"), Some("WARC/1.0")), |d| {
            oracle_both(d, b"WARC/1.0", b"WARC/1.0")
        }),
        (p(Some("aab"), Some("ab")), |d| {
            oracle_both(d, b"aab", b"ab")
        }),
    ]
}

fn inputs(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut out = vec![Vec::new(), b"\n".to_vec(), b"   ".to_vec()];
    for _ in 0..count {
        let n = rng.below(120);
        out.push(rng.tokens(TEXT_TOKENS, n));
    }
    out
}

#[tokio::test]
async fn text_framings_match_oracle_for_any_buffer() {
    for (framing, oracle) in framings() {
        for d in inputs(7, 40) {
            let want = expected(&d, &oracle(&d), usize::MAX, 0);
            for (capacity, chunk) in [
                (1, 1),
                (2, 3),
                (3, 2),
                (7, 5),
                (7, 64),
                (64, 7),
                (1 << 20, 1 << 20),
            ] {
                let got = collect(&d, &framing, capacity, chunk, 1 << 20).await;
                assert_eq!(
                    got,
                    want,
                    "{framing:?} capacity {capacity} chunk {chunk} data {:?}",
                    String::from_utf8_lossy(&d)
                );
            }
        }
    }
}

#[tokio::test]
async fn csv_matches_oracle_for_any_buffer() {
    let framing = Framing::Csv { delimiter: b',' };
    let mut rng = Rng(11);
    for _ in 0..80 {
        let d = csv_data(&mut rng);
        let want = expected(&d, &oracle_csv(&d), usize::MAX, 0);
        for (capacity, chunk) in [(1, 1), (2, 3), (7, 2), (1 << 20, 1 << 20)] {
            let got = collect(&d, &framing, capacity, chunk, 1 << 20).await;
            assert_eq!(
                got,
                want,
                "capacity {capacity} chunk {chunk} data {:?}",
                String::from_utf8_lossy(&d)
            );
        }
    }
}

#[tokio::test]
async fn truncation_matches_oracle() {
    let mut all: Vec<(Framing, Oracle)> = framings();
    all.push((Framing::Csv { delimiter: b',' }, oracle_csv));
    let mut rng = Rng(5);
    for (framing, oracle) in all {
        let data: Vec<Vec<u8>> = if matches!(framing, Framing::Csv { .. }) {
            (0..30).map(|_| csv_data(&mut rng)).collect()
        } else {
            inputs(3, 30)
        };
        for d in data {
            for max in [1, 3, 8] {
                let want = expected(&d, &oracle(&d), max, 0);
                for (capacity, chunk) in [(1, 1), (3, 2), (1 << 20, 1 << 20)] {
                    let got = collect(&d, &framing, capacity, chunk, max).await;
                    assert_eq!(
                        got,
                        want,
                        "{framing:?} max {max} capacity {capacity} chunk {chunk} data {:?}",
                        String::from_utf8_lossy(&d)
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn resuming_at_any_checkpoint_matches_oracle() {
    let mut all: Vec<(Framing, Oracle, Vec<Vec<u8>>)> = framings()
        .into_iter()
        .map(|(f, o)| (f, o, inputs(9, 15)))
        .collect();
    let mut rng = Rng(13);
    all.push((
        Framing::Csv { delimiter: b',' },
        oracle_csv,
        (0..15).map(|_| csv_data(&mut rng)).collect(),
    ));
    for (framing, oracle, data) in all {
        for d in data {
            let cuts = oracle(&d);
            for k in 0..cuts.len() {
                let checkpoint = cuts[k].2;
                let rest: Vec<Cut> = cuts[k + 1..].to_vec();
                // skip_to on a reader of the whole stream.
                let mut reader = RecordReader::new(Chunked::new(&d, 3), framing.clone(), 0)
                    .with_buffer_capacity(2);
                reader.skip_to(checkpoint as u64).await.expect("skip");
                assert_eq!(
                    drain(&mut reader).await,
                    expected(&d, &rest, usize::MAX, 0),
                    "{framing:?} skip_to {checkpoint}"
                );
                // A ranged read starting at the checkpoint.
                let tail = &d[checkpoint..];
                let mut reader =
                    RecordReader::new(Chunked::new(tail, 2), framing.clone(), checkpoint as u64)
                        .with_buffer_capacity(3);
                let shifted: Vec<Cut> = rest
                    .iter()
                    .map(|&(s, e, n)| (s - checkpoint, e - checkpoint, n - checkpoint))
                    .collect();
                assert_eq!(
                    drain(&mut reader).await,
                    expected(tail, &shifted, usize::MAX, checkpoint as u64),
                    "{framing:?} ranged from {checkpoint}"
                );
            }
        }
    }
}
