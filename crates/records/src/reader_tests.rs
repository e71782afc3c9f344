//! Unit tests of `RecordReader`: buffer boundaries, truncation, skip_to, offsets.

use super::*;
use crate::test_support::{Chunked, assert_boundary_independent, collect, drain, texts};

fn s(t: &str, a: u64, b: u64, c: u64) -> (String, u64, u64, u64) {
    (t.to_string(), a, b, c)
}

fn patterns(start: Option<&str>, end: Option<&str>) -> Framing {
    Framing::Patterns {
        start: start.map(|p| p.as_bytes().to_vec()),
        end: end.map(|p| p.as_bytes().to_vec()),
    }
}

#[tokio::test]
async fn lines_across_boundaries_crlf_blank_and_no_trailing_newline() {
    let data = b"alpha\r\n\r\n   \nbeta gamma\n\t\ndelta\r";
    let recs = assert_boundary_independent(data, &Framing::Lines).await;
    assert_eq!(
        texts(&recs),
        vec![
            s("alpha", 0, 5, 7),
            s("beta gamma", 13, 23, 24),
            s("delta", 26, 31, 32)
        ]
    );
}

#[tokio::test]
async fn empty_and_blank_inputs_have_no_records() {
    for framing in [
        Framing::Lines,
        patterns(None, Some("E")),
        patterns(Some("S"), None),
        Framing::Csv { delimiter: b',' },
    ] {
        assert!(assert_boundary_independent(b"", &framing).await.is_empty());
    }
    assert!(
        assert_boundary_independent(b" \n\r\n\t", &Framing::Lines)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn patterns_split_across_boundaries() {
    let data = b"head<rec>one</rec>\n<rec>two</rec>junk<rec>three";
    let both = assert_boundary_independent(data, &patterns(Some("<rec>"), Some("</rec>"))).await;
    assert_eq!(
        texts(&both),
        vec![
            s("<rec>one</rec>", 4, 18, 12),
            s("<rec>two</rec>", 19, 33, 27),
            s("<rec>three", 37, 47, 47)
        ]
    );
    let start = assert_boundary_independent(data, &patterns(Some("<rec>"), None)).await;
    assert_eq!(
        texts(&start),
        vec![
            s("<rec>one</rec>\n", 4, 19, 19),
            s("<rec>two</rec>junk", 19, 37, 37),
            s("<rec>three", 37, 47, 47)
        ]
    );
    let end = assert_boundary_independent(data, &patterns(None, Some("</rec>"))).await;
    assert_eq!(
        texts(&end),
        vec![
            s("head<rec>one</rec>", 0, 18, 18),
            s("\n<rec>two</rec>", 18, 33, 33),
            s("junk<rec>three", 33, 47, 47)
        ]
    );
}

#[tokio::test]
async fn warc_like_identical_patterns() {
    let data = b"WARC/1.0\r\nA: 1\r\n\r\nWARC/1.0\r\nB: 2\r\n\r\n";
    let recs =
        assert_boundary_independent(data, &patterns(Some("WARC/1.0"), Some("WARC/1.0"))).await;
    assert_eq!(
        texts(&recs),
        vec![
            s("WARC/1.0\r\nA: 1\r\n\r\nWARC/1.0", 0, 26, 18),
            s("WARC/1.0\r\nB: 2\r\n\r\n", 18, 36, 36)
        ]
    );
}

#[tokio::test]
async fn repetitive_pattern_prefixes() {
    // Partial matches ("aab" inside "aaab") must not be lost at buffer ends.
    let data = b"xaaabyaabzaab";
    let recs = assert_boundary_independent(data, &patterns(None, Some("aab"))).await;
    assert_eq!(
        texts(&recs),
        vec![
            s("xaaab", 0, 5, 5),
            s("yaab", 5, 9, 9),
            s("zaab", 9, 13, 13)
        ]
    );
}

#[tokio::test]
async fn csv_rows_across_boundaries() {
    let data = b"a,b\r\n\"x\r\ny\",\"q\"\"\"\n\nlast,row";
    let recs = assert_boundary_independent(data, &Framing::Csv { delimiter: b',' }).await;
    assert_eq!(
        texts(&recs),
        vec![
            s("a,b", 0, 3, 4),
            s("\"x\r\ny\",\"q\"\"\"", 5, 17, 18),
            s("last,row", 19, 27, 27)
        ]
    );
}

#[tokio::test]
async fn oversize_lines_are_truncated_with_true_offsets() {
    let long = "x".repeat(1000);
    let data = format!("ok\n{long}\r\nafter\n{long}");
    for capacity in [1, 4, 16, 4096] {
        let mut reader = RecordReader::new(Chunked::new(data.as_bytes(), 7), Framing::Lines, 0)
            .with_buffer_capacity(capacity)
            .with_max_record_bytes(10);
        let recs = drain(&mut reader).await;
        assert_eq!(recs.len(), 4, "capacity {capacity}");
        assert_eq!(recs[0], (b"ok".to_vec(), 0, 2, 3, false));
        assert_eq!(recs[1], (b"x".repeat(10), 3, 1003, 1005, true));
        assert_eq!(recs[2], (b"after".to_vec(), 1005, 1010, 1011, false));
        assert_eq!(recs[3], (b"x".repeat(10), 1011, 2011, 2011, true));
        // Memory stays bounded: max + slack, never the record size.
        assert!(
            reader.buf.len() <= capacity.max(10 + SLACK),
            "buffer grew to {}",
            reader.buf.len()
        );
    }
}

#[tokio::test]
async fn record_of_exactly_max_bytes_is_not_truncated() {
    let data = b"0123456789\r\n0123456789x\n";
    let mut reader = RecordReader::new(Chunked::new(data, 1), Framing::Lines, 0)
        .with_buffer_capacity(1)
        .with_max_record_bytes(10);
    let recs = drain(&mut reader).await;
    assert_eq!(recs[0], (b"0123456789".to_vec(), 0, 10, 12, false));
    assert_eq!(recs[1], (b"0123456789".to_vec(), 12, 23, 24, true));
}

#[tokio::test]
async fn oversize_pattern_records_are_truncated() {
    let body = "y".repeat(500);
    let data = format!("<r>{body}</r><r>z</r>");
    let framing = patterns(Some("<r>"), Some("</r>"));
    let mut reader = RecordReader::new(Chunked::new(data.as_bytes(), 3), framing, 0)
        .with_buffer_capacity(2)
        .with_max_record_bytes(8);
    let recs = drain(&mut reader).await;
    assert_eq!(recs[0], (b"<r>yyyyy".to_vec(), 0, 507, 503, true));
    assert_eq!(recs[1], (b"<r>z</r>".to_vec(), 507, 515, 511, false));
    assert!(reader.buf.len() <= 8 + 4 + SLACK);
}

#[tokio::test]
async fn oversize_csv_row_is_truncated() {
    let field = "q".repeat(300);
    let data = format!("a\n\"{field}\nmore\",b\nc\n");
    let mut reader = RecordReader::new(
        Chunked::new(data.as_bytes(), 5),
        Framing::Csv { delimiter: b',' },
        0,
    )
    .with_buffer_capacity(4)
    .with_max_record_bytes(6);
    let recs = drain(&mut reader).await;
    assert_eq!(
        texts(&recs),
        vec![
            s("a", 0, 1, 2),
            s("\"qqqqq", 2, 311, 312),
            s("c", 312, 313, 314)
        ]
    );
    assert!(recs[1].4);
}

#[tokio::test]
async fn buffer_grows_for_a_large_record_and_shrinks_back() {
    let mut data = b"x".repeat(5000);
    data.push(b'\n');
    for _ in 0..200 {
        data.extend_from_slice(b"short\n");
    }
    let mut reader = RecordReader::new(Chunked::new(&data, 1000), Framing::Lines, 0)
        .with_buffer_capacity(64)
        .with_max_record_bytes(2000);
    let mut grown = 0;
    let mut count = 0;
    loop {
        while let Some(r) = reader.try_next() {
            count += 1;
            assert_eq!(r.truncated, count == 1);
        }
        grown = grown.max(reader.buf.len());
        if !reader.fill().await.expect("fill") {
            break;
        }
    }
    assert_eq!(count, 201);
    assert!(grown > 2000 && grown <= 2000 + SLACK, "grew to {grown}");
    assert_eq!(reader.buf.len(), 64, "shrunk back");
    assert_eq!(reader.head.capacity(), 0, "oversize head freed");
}

#[tokio::test]
async fn non_zero_start_offset_shifts_all_offsets() {
    let data = b"a\nbb\n";
    let mut reader =
        RecordReader::new(Chunked::new(data, 1), Framing::Lines, 1000).with_buffer_capacity(2);
    let recs = drain(&mut reader).await;
    assert_eq!(
        texts(&recs),
        vec![s("a", 1000, 1001, 1002), s("bb", 1002, 1004, 1005)]
    );
    assert_eq!(reader.position(), 1005);
}

#[tokio::test]
async fn skip_to_then_continue() {
    let data = b"zero\none\ntwo\nthree\n";
    for capacity in [1, 3, 1 << 20] {
        // Skip before any read.
        let mut reader = RecordReader::new(Chunked::new(data, 2), Framing::Lines, 0)
            .with_buffer_capacity(capacity);
        reader.skip_to(9).await.expect("skip");
        let recs = drain(&mut reader).await;
        assert_eq!(
            texts(&recs),
            vec![s("two", 9, 12, 13), s("three", 13, 18, 19)],
            "capacity {capacity}"
        );

        // Read one record (the header use case), then skip inside or past the buffer.
        let mut reader = RecordReader::new(Chunked::new(data, 4), Framing::Lines, 0)
            .with_buffer_capacity(capacity);
        let first = loop {
            if let Some(r) = reader.try_next() {
                break r.bytes.to_vec();
            }
            assert!(reader.fill().await.expect("fill"));
        };
        assert_eq!(first, b"zero");
        reader.skip_to(13).await.expect("skip");
        let recs = drain(&mut reader).await;
        assert_eq!(
            texts(&recs),
            vec![s("three", 13, 18, 19)],
            "capacity {capacity}"
        );
    }
}

#[tokio::test]
async fn skip_to_with_start_offset_and_errors() {
    let data = b"a\nb\nc\n";
    let mut reader = RecordReader::new(Chunked::new(data, 1), Framing::Lines, 100);
    reader.skip_to(102).await.expect("skip");
    assert_eq!(
        texts(&drain(&mut reader).await),
        vec![s("b", 102, 103, 104), s("c", 104, 105, 106)]
    );

    let mut reader = RecordReader::new(Chunked::new(data, 1), Framing::Lines, 100);
    let err = reader.skip_to(50).await.expect_err("backwards");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = reader.skip_to(200).await.expect_err("past end");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

    // Skipping exactly to the end leaves nothing.
    let mut reader = RecordReader::new(Chunked::new(data, 4), Framing::Lines, 0);
    reader.skip_to(6).await.expect("skip to end");
    assert!(drain(&mut reader).await.is_empty());
}

#[tokio::test]
async fn skip_to_resets_pattern_and_csv_state() {
    let data = b"<r>1</r><r>2</r><r>3</r>";
    let framing = patterns(Some("<r>"), Some("</r>"));
    let mut reader = RecordReader::new(Chunked::new(data, 5), framing, 0).with_buffer_capacity(3);
    reader.skip_to(8).await.expect("skip");
    assert_eq!(
        texts(&drain(&mut reader).await),
        vec![s("<r>2</r>", 8, 16, 12), s("<r>3</r>", 16, 24, 20)]
    );

    let data = b"h1,h2\n\"a\nb\",c\nd,e\n";
    let mut reader = RecordReader::new(Chunked::new(data, 64), Framing::Csv { delimiter: b',' }, 0);
    assert!(reader.fill().await.expect("fill"));
    assert_eq!(
        reader.try_next().map(|r| r.bytes.to_vec()),
        Some(b"h1,h2".to_vec())
    );
    reader.skip_to(14).await.expect("skip");
    assert_eq!(texts(&drain(&mut reader).await), vec![s("d,e", 14, 17, 18)]);
}

#[tokio::test]
async fn fill_reports_end_only_after_last_record() {
    let mut reader = RecordReader::new(Chunked::new(b"tail", 64), Framing::Lines, 0);
    assert!(reader.try_next().is_none());
    assert!(reader.fill().await.expect("fill"));
    assert!(reader.try_next().is_none());
    assert!(reader.fill().await.expect("fill: eof seen"));
    assert_eq!(
        reader.try_next().map(|r| r.bytes.to_vec()),
        Some(b"tail".to_vec())
    );
    assert!(reader.try_next().is_none());
    assert!(!reader.fill().await.expect("fill: done"));
    assert!(!reader.fill().await.expect("fill: still done"));
}

#[tokio::test]
async fn big_buffer_matches_tiny_reads_on_many_records() {
    let mut data = Vec::new();
    for i in 0..2000 {
        data.extend_from_slice(format!("{{\"i\":{i}}}\r\n").as_bytes());
        if i % 7 == 0 {
            data.extend_from_slice(b"  \n");
        }
    }
    let big = collect(&data, &Framing::Lines, 1 << 20, 1 << 20).await;
    assert_eq!(big.len(), 2000);
    assert_eq!(collect(&data, &Framing::Lines, 13, 3).await, big);
}

#[tokio::test]
async fn fixed_length_records_across_boundaries() {
    let recs = assert_boundary_independent(b"aaabbbcc", &Framing::Fixed { len: 3 }).await;
    assert_eq!(
        texts(&recs),
        vec![s("aaa", 0, 3, 3), s("bbb", 3, 6, 6), s("cc", 6, 8, 8)]
    );
}

/// Cuts a state-machine file: the framing changes before every record.
async fn alternate(data: &[u8], capacity: usize, chunk: usize) -> Vec<(String, u64, u64, u64)> {
    let header = patterns(Some("H:"), Some("\n"));
    let body = Framing::Fixed { len: 4 };
    let mut reader = RecordReader::new(Chunked::new(data, chunk), header.clone(), 0)
        .with_buffer_capacity(capacity);
    let mut out = Vec::new();
    let mut at = 0;
    for i in 0.. {
        let framing = if i % 2 == 0 { &header } else { &body };
        reader.set_framing(framing, at).expect("set framing");
        let rec = loop {
            if let Some(r) = reader.try_next() {
                break Some((
                    String::from_utf8_lossy(r.bytes).into_owned(),
                    r.start_offset,
                    r.end_offset,
                    r.next_offset,
                ));
            }
            if !reader.fill().await.expect("fill") {
                break None;
            }
        };
        match rec {
            Some(r) => {
                at = r.3;
                out.push(r);
            }
            None => break,
        }
    }
    out
}

#[tokio::test]
async fn framing_can_change_between_records() {
    let data = b"junkH:1\nabcdH:2\nefgh";
    let expected = alternate(data, 1 << 20, 1 << 20).await;
    assert_eq!(
        expected,
        vec![
            s("H:1\n", 4, 8, 7),
            s("\nabc", 7, 11, 11),
            s("H:2\n", 12, 16, 15),
            s("\nefg", 15, 19, 19),
        ]
    );
    for capacity in [1, 3, 64] {
        for chunk in [1, 2, 5] {
            assert_eq!(
                alternate(data, capacity, chunk).await,
                expected,
                "{capacity} {chunk}"
            );
        }
    }
}

#[tokio::test]
async fn records_between_fills_can_be_borrowed_as_one_slice() {
    let data = b"one\n\ntwo\r\nthree\nfour";
    for chunk in [1, 3, 7, 64] {
        let mut reader =
            RecordReader::new(Chunked::new(data, chunk), Framing::Lines, 0).with_buffer_capacity(8);
        let mut seen = Vec::new();
        loop {
            let mut window: Option<(u64, u64)> = None;
            let mut records = Vec::new();
            while let Some(r) = reader.try_next() {
                records.push((r.start_offset, r.end_offset, r.bytes.to_vec()));
                window = Some((window.map_or(r.start_offset, |w| w.0), r.end_offset));
            }
            if let Some((start, end)) = window {
                let all = reader.buffered(start, end).expect("still buffered");
                assert_eq!(all, &data[start as usize..end as usize], "chunk {chunk}");
                for (a, b, bytes) in records {
                    let one = reader.buffered(a, b).expect("still buffered");
                    assert_eq!(one, &bytes[..]);
                    seen.push(bytes);
                }
            }
            if !reader.fill().await.expect("fill") {
                break;
            }
        }
        assert_eq!(
            seen,
            [&b"one"[..], b"two", b"three", b"four"],
            "chunk {chunk}"
        );
        let end = data.len() as u64;
        assert_eq!(reader.buffered(end + 1, end + 2), None, "not read");
        assert_eq!(reader.buffered(3, 2), None, "backwards");
    }
}
