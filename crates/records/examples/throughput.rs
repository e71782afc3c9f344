use letsdata_model::spec::BuiltinParser;
use letsdata_records::*;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut jsonl = Vec::new();
    let mut i = 0u64;
    while jsonl.len() < 300_000_000 {
        jsonl.extend_from_slice(format!("{{\"id\":\"doc-{i}\",\"title\":\"Some title number {i} with text\",\"n\":{i},\"tags\":[\"a\",\"b\",\"c\"],\"body\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua \\\"quoted\\\" é\",\"nested\":{{\"x\":1.5,\"y\":null,\"z\":true}}}}\n").as_bytes());
        i += 1;
    }
    let mut csv = Vec::new();
    csv.extend_from_slice(b"id,name,comment,value\n");
    let mut i = 0u64;
    while csv.len() < 200_000_000 {
        csv.extend_from_slice(format!("{i},name {i},\"a comment, with comma and \"\"quotes\"\" and some more text here\",{}\n", i * 7).as_bytes());
        i += 1;
    }
    let only = std::env::args().nth(1);
    for (name, parser, data) in [
        (
            "jsonl",
            BuiltinParser::Jsonl {
                document_id_field: None,
            },
            &jsonl,
        ),
        (
            "jsonl",
            BuiltinParser::Jsonl {
                document_id_field: None,
            },
            &jsonl,
        ),
        (
            "jsonl+id",
            BuiltinParser::Jsonl {
                document_id_field: Some("id".into()),
            },
            &jsonl,
        ),
        (
            "text",
            BuiltinParser::Text {
                record_start_pattern: None,
                record_end_pattern: None,
            },
            &jsonl,
        ),
        (
            "text-pat",
            BuiltinParser::Text {
                record_start_pattern: Some("{\"id\"".into()),
                record_end_pattern: Some("}}\\n".into()),
            },
            &jsonl,
        ),
        (
            "csv",
            BuiltinParser::Csv {
                delimiter: b',',
                has_header: true,
            },
            &csv,
        ),
    ] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        // framing only
        let t = Instant::now();
        let mut reader = RecordReader::new(&data[..], framing_for(&parser), 0);
        let mut n = 0u64;
        loop {
            while let Some(r) = reader.try_next() {
                n += r.bytes.len() as u64 & 1;
            }
            if !reader.fill().await.unwrap() {
                break;
            }
        }
        let frame = t.elapsed();
        let t = Instant::now();
        let mut reader = RecordReader::new(&data[..], framing_for(&parser), 0);
        let mut p = builtin_parser(&parser, "file.txt");
        let (mut out, mut id) = (Vec::with_capacity(1 << 20), String::new());
        let mut docs = 0;
        loop {
            while let Some(r) = reader.try_next() {
                if let ParseOutcome::Document = p.parse(&r, &mut out, &mut id) {
                    docs += 1;
                }
                if out.len() > 900_000 {
                    out.clear();
                }
            }
            if !reader.fill().await.unwrap() {
                break;
            }
        }
        let all = t.elapsed();
        let mb = data.len() as f64 / 1e6;
        println!(
            "{name:9} framing {:7.0} MB/s   framing+parse {:7.0} MB/s  docs {docs} ({n})",
            mb / frame.as_secs_f64(),
            mb / all.as_secs_f64()
        );
    }
    // gzip decode
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&jsonl[..100_000_000]).unwrap();
    let gz = enc.finish().unwrap();
    let t = Instant::now();
    let input = decompress(FileCompression::Gzip, std::io::Cursor::new(gz));
    let mut reader = RecordReader::new(input, Framing::Lines, 0);
    let mut c = 0;
    loop {
        while let Some(_r) = reader.try_next() {
            c += 1;
        }
        if !reader.fill().await.unwrap() {
            break;
        }
    }
    println!(
        "gzip+lines {:7.0} MB/s (decompressed) {c}",
        100.0 / t.elapsed().as_secs_f64()
    );
}
