//! Unit tests of the CSV cutter, including agreement with plain csv_core on random data
//! with stray quotes, across buffer sizes and with truncation.

use super::*;

fn cut_all(data: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut c = CsvCutter::new(b',', 0);
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
fn rows_terminators_and_quotes() {
    assert_eq!(cut_all(b"a,b\nc,d"), vec![(0, 3, 4), (4, 7, 7)]);
    assert_eq!(cut_all(b"a\r\n\r\nb\r\n"), vec![(0, 1, 2), (5, 6, 7)]);
    assert_eq!(cut_all(b"\"x\ny\",z\nw\n"), vec![(0, 7, 8), (8, 9, 10)]);
    assert_eq!(cut_all(b""), vec![]);
    assert_eq!(cut_all(b"\n\n"), vec![]);
    assert_eq!(cut_all(b"\xEF\xBB\xBF\"a\nb\"\n"), vec![(3, 8, 9)]);
    assert_eq!(cut_all(b"\xEF\xBB\xBF\r\na"), vec![(5, 6, 6)]);
    assert_eq!(cut_all(b"\xEF\xBB"), vec![(0, 2, 2)]);
}

/// Row boundaries from csv_core alone, fed the whole input at once.
fn reference(data: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut reader = ReaderBuilder::new().build();
    prime(&mut reader);
    let (mut scratch, mut ends) = (vec![0u8; 1 << 16], vec![0usize; 1024]);
    let mut out = Vec::new();
    let mut pos = if data.starts_with(BOM) { 3 } else { 0 };
    loop {
        while pos < data.len() && (data[pos] == b'\n' || data[pos] == b'\r') {
            pos += 1;
        }
        if pos >= data.len() {
            return out;
        }
        let start = pos;
        loop {
            let input = &data[pos..];
            let (result, nin, _, _) = reader.read_record(input, &mut scratch, &mut ends);
            pos += nin;
            match result {
                ReadRecordResult::Record => {
                    let end = if input.is_empty() { pos } else { pos - 1 };
                    out.push((start as u64, end as u64, pos as u64));
                    break;
                }
                ReadRecordResult::End => return out,
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn fast_path_matches_csv_core_including_stray_quotes() {
    let tokens: [&[u8]; 10] = [
        b"a", b"bc", b",", b"\"", b"\"\"", b"\n", b"\r", b"\r\n", b" ", b",\"",
    ];
    let mut seed = 17u64;
    for round in 0..300 {
        let mut data = Vec::new();
        if round % 5 == 0 {
            data.extend_from_slice(BOM);
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for _ in 0..(seed >> 33) % 40 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            data.extend_from_slice(tokens[((seed >> 33) % tokens.len() as u64) as usize]);
        }
        let want = reference(&data);
        for (capacity, chunk) in [(1, 1), (2, 3), (7, 2), (1 << 20, 1 << 20)] {
            let framing = crate::Framing::Csv { delimiter: b',' };
            let got = crate::test_support::collect(&data, &framing, capacity, chunk).await;
            let got: Vec<(u64, u64, u64)> = got.iter().map(|r| (r.1, r.2, r.3)).collect();
            assert_eq!(
                got,
                want,
                "capacity {capacity} data {:?}",
                String::from_utf8_lossy(&data)
            );
        }
        // Oversize rows: same boundaries, bytes cut to the maximum.
        for max in [2u64, 5] {
            let input = crate::test_support::Chunked::new(&data, 2);
            let mut reader =
                crate::RecordReader::new(input, crate::Framing::Csv { delimiter: b',' }, 0)
                    .with_buffer_capacity(1)
                    .with_max_record_bytes(max as usize);
            let got = crate::test_support::drain(&mut reader).await;
            let expected: Vec<_> = want
                .iter()
                .map(|&(s, e, n)| {
                    (
                        data[s as usize..e.min(s + max) as usize].to_vec(),
                        s,
                        e,
                        n,
                        e - s > max,
                    )
                })
                .collect();
            assert_eq!(
                got,
                expected,
                "max {max} data {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}

#[test]
fn row_spanning_windows() {
    let mut c = CsvCutter::new(b',', 0);
    let w = Window {
        data: b"\"a\n",
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
        data: b"b\"\nc",
        offset: 3,
        eof: false,
    };
    assert_eq!(
        c.next(&w),
        Step::Record {
            start: 0,
            end: 5,
            next: 6
        }
    );
    assert_eq!(
        c.next(&w),
        Step::NeedMore {
            record_start: Some(6),
            keep_from: 6
        }
    );
    let w = Window {
        data: b"",
        offset: 7,
        eof: true,
    };
    assert_eq!(
        c.next(&w),
        Step::Record {
            start: 6,
            end: 7,
            next: 7
        }
    );
    assert_eq!(c.next(&w), Step::End);
}
