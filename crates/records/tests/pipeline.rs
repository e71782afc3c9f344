//! End-to-end tests: compressed bytes → `decompress` → `RecordReader` → built-in parser,
//! used the way the engine uses them.

mod common;

use std::io::{Cursor, Write};

use common::{Chunked, drain};
use letsdata_model::spec::BuiltinParser;
use letsdata_records::{
    FileCompression, ParseOutcome, RecordReader, builtin_parser, decompress, framing_for,
};
use tokio::io::BufReader;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("write");
    enc.finish().expect("finish")
}

/// Runs a whole file through decompression, framing and the parser; returns one line per
/// record: the document, `error: ...` or `header`.
async fn run(
    parser: &BuiltinParser,
    file_name: &str,
    body: Vec<u8>,
    capacity: usize,
) -> Vec<String> {
    let input = decompress(
        FileCompression::from_file_name(file_name),
        BufReader::with_capacity(7, Chunked::new(&body, 5)),
    );
    let mut reader =
        RecordReader::new(input, framing_for(parser), 0).with_buffer_capacity(capacity);
    let mut parser = builtin_parser(parser, file_name);
    let (mut out, mut id, mut lines) = (Vec::new(), String::new(), Vec::new());
    loop {
        while let Some(rec) = reader.try_next() {
            out.clear();
            let line = match parser.parse(&rec, &mut out, &mut id) {
                ParseOutcome::Document if id.is_empty() => {
                    String::from_utf8(out.clone()).expect("utf8")
                }
                ParseOutcome::Document => format!("{} id={id}", String::from_utf8_lossy(&out)),
                ParseOutcome::Error(msg) => format!("error@{}: {msg}", rec.start_offset),
                ParseOutcome::Header => "header".to_string(),
                ParseOutcome::Skip => "skip".to_string(),
            };
            lines.push(line);
        }
        if !reader.fill().await.expect("fill") {
            break;
        }
    }
    lines
}

#[tokio::test]
async fn gzip_multi_member_records_span_members() {
    let mut body = gzip(b"{\"id\":1}\n{\"id\":");
    body.extend(gzip(b"2}\r\n\n{\"id\":\"three\"}"));
    let parser = BuiltinParser::Jsonl {
        document_id_field: Some("id".into()),
    };
    for capacity in [1, 3, 1 << 20] {
        let lines = run(&parser, "part-0001.jsonl.gz", body.clone(), capacity).await;
        assert_eq!(
            lines,
            vec![
                "{\"id\":1} id=1",
                "{\"id\":2} id=2",
                "{\"id\":\"three\"} id=three"
            ]
        );
    }
}

#[tokio::test]
async fn zstd_frames_through_the_reader_with_exact_offsets() {
    let mut body = zstd::encode_all(&b"alpha\nbe"[..], 3).expect("zstd");
    body.extend(zstd::encode_all(&b"ta\ngamma"[..], 3).expect("zstd"));
    let input = decompress(FileCompression::Zstd, Cursor::new(body));
    let mut reader = RecordReader::new(
        input,
        framing_for(&BuiltinParser::Jsonl {
            document_id_field: None,
        }),
        0,
    )
    .with_buffer_capacity(2);
    let recs = drain(&mut reader).await;
    let got: Vec<(&[u8], u64, u64, u64)> = recs.iter().map(|r| (&r.0[..], r.1, r.2, r.3)).collect();
    assert_eq!(
        got,
        vec![
            (&b"alpha"[..], 0, 5, 6),
            (b"beta", 6, 10, 11),
            (b"gamma", 11, 16, 16)
        ]
    );
    assert_eq!(reader.position(), 16);
}

#[tokio::test]
async fn gzip_resume_with_skip_to() {
    let body = gzip(b"r0\nr1\nr2\nr3\n");
    let input = decompress(FileCompression::Gzip, Cursor::new(body));
    let mut reader = RecordReader::new(
        input,
        framing_for(&BuiltinParser::Jsonl {
            document_id_field: None,
        }),
        0,
    )
    .with_buffer_capacity(4);
    reader.skip_to(6).await.expect("skip");
    let recs = drain(&mut reader).await;
    assert_eq!(
        recs,
        vec![
            (b"r2".to_vec(), 6, 8, 9, false),
            (b"r3".to_vec(), 9, 11, 12, false)
        ]
    );
}

#[tokio::test]
async fn jsonl_errors_and_ids() {
    let body = b"{\"id\":\"a\",\"v\":1}\n{\"v\":2}\n{\"id\":3} trailing\n  \n{\"id\":null}\n{\"id\":4.5}\n[1]\n".to_vec();
    let parser = BuiltinParser::Jsonl {
        document_id_field: Some("id".into()),
    };
    let lines = run(&parser, "data.jsonl", body, 4).await;
    assert_eq!(
        lines,
        vec![
            "{\"id\":\"a\",\"v\":1} id=a",
            "error@17: document has no \"id\" field (documentIdField)",
            "error@25: invalid JSON at column 10: trailing characters",
            "error@46: document has no \"id\" field (documentIdField)",
            "{\"id\":4.5} id=4.5",
            "error@69: document is not a JSON object, so it has no \"id\" field (documentIdField)",
        ]
    );
}

#[tokio::test]
async fn csv_header_quoted_newlines_and_field_counts() {
    let body = b"\xEF\xBB\xBFid,name,comment\r\n1,\"Doe, J\",\"two\r\nlines\"\r\n\r\n2,x\r\n3,\"q\"\"\",\xE2\x82\xAC".to_vec();
    let parser = BuiltinParser::Csv {
        delimiter: b',',
        has_header: true,
    };
    for capacity in [1, 5, 1 << 20] {
        let lines = run(&parser, "people.csv.gz", gzip(&body), capacity).await;
        assert_eq!(
            lines,
            vec![
                "header",
                r#"{"id":"1","name":"Doe, J","comment":"two\r\nlines"}"#,
                "error@47: row has 2 fields, header has 3",
                r#"{"id":"3","name":"q\"","comment":"€"}"#,
            ]
        );
    }
    let no_header = BuiltinParser::Csv {
        delimiter: b'\t',
        has_header: false,
    };
    let lines = run(&no_header, "t.tsv", b"a\tb\n\"c\td\"\n".to_vec(), 2).await;
    assert_eq!(lines, vec![r#"["a","b"]"#, r#"["c\td"]"#]);
}

#[tokio::test]
async fn text_with_patterns_and_lines() {
    let parser = BuiltinParser::Text {
        record_start_pattern: Some("<doc>".into()),
        record_end_pattern: Some("</doc>\\n".into()),
    };
    let body = b"prologue\n<doc>one \"1\"</doc>\n<doc>two\n</doc>\nepilogue".to_vec();
    let lines = run(&parser, "docs.txt", body, 3).await;
    assert_eq!(
        lines,
        vec![
            r#"{"fileName":"docs.txt","offset":9,"text":"<doc>one \"1\"</doc>\n"}"#,
            r#"{"fileName":"docs.txt","offset":28,"text":"<doc>two\n</doc>\n"}"#,
        ]
    );
    let lines_parser = BuiltinParser::Text {
        record_start_pattern: None,
        record_end_pattern: None,
    };
    let lines = run(&lines_parser, "l.txt", b"x\r\n\n\xFF\n".to_vec(), 1).await;
    assert_eq!(
        lines,
        vec![
            r#"{"fileName":"l.txt","offset":0,"text":"x"}"#,
            "error@4: record is not valid UTF-8 (invalid byte at offset 0)",
        ]
    );
}

#[tokio::test]
async fn oversize_records_become_errors_and_reading_continues() {
    let mut body = b"{\"a\":1}\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 100_000));
    body.extend(b"\n{\"b\":2}\n");
    let input = decompress(FileCompression::Gzip, Cursor::new(gzip(&body)));
    let mut reader = RecordReader::new(
        input,
        framing_for(&BuiltinParser::Jsonl {
            document_id_field: None,
        }),
        0,
    )
    .with_buffer_capacity(1024)
    .with_max_record_bytes(4096);
    let recs = drain(&mut reader).await;
    let summary: Vec<(usize, u64, u64, bool)> =
        recs.iter().map(|r| (r.0.len(), r.1, r.2, r.4)).collect();
    assert_eq!(
        summary,
        vec![
            (7, 0, 7, false),
            (4096, 8, 100_008, true),
            (7, 100_009, 100_016, false)
        ]
    );
}
