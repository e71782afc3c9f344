//! Property tests over damaged compressed input (fuzzing's equivalent that runs in CI):
//! gzip and zstd files with flipped bytes, cut short, or holding long runs of zeros (a
//! compression bomb in small), cut into records the way the engine reads them. Whatever the
//! damage, reading ends (in records or an error, never a panic or a hang), no record is longer
//! than the maximum, the reader's memory stays bounded, and a file that is only cut short
//! yields a prefix of its records.

mod common;

use std::io::Write;

use common::Chunked;
use letsdata_records::{FileCompression, Framing, RecordReader, decompress};
use proptest::prelude::*;
use tokio::io::BufReader;

const MAX_RECORD: usize = 4096;
const CAPACITY: usize = 512;

fn compress(data: &[u8], zstd: bool) -> Vec<u8> {
    if zstd {
        zstd::encode_all(data, 3).expect("zstd")
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }
}

/// How reading ended: the records (bytes, truncated), and whether it ended in an error.
struct Outcome {
    records: Vec<(Vec<u8>, bool)>,
    failed: bool,
}

/// Reads `body` (compressed as `name` says) in `chunk`-byte reads, checking on every step
/// that no record is over the maximum and that the reader's memory stays bounded.
fn read(name: &str, body: &[u8], chunk: usize) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let input = decompress(
            FileCompression::from_file_name(name),
            BufReader::with_capacity(64, Chunked::new(body, chunk)),
        );
        let mut reader = RecordReader::new(input, Framing::Lines, 0)
            .with_max_record_bytes(MAX_RECORD)
            .with_buffer_capacity(CAPACITY);
        let mut records = Vec::new();
        for _ in 0..10_000_000u64 {
            while let Some(r) = reader.try_next() {
                assert!(
                    r.bytes.len() <= MAX_RECORD,
                    "a record of {} bytes, over the maximum {MAX_RECORD}",
                    r.bytes.len()
                );
                records.push((r.bytes.to_vec(), r.truncated));
            }
            let bound = 4 * (MAX_RECORD + CAPACITY);
            assert!(
                reader.allocated() <= bound,
                "the reader holds {} bytes (bound {bound})",
                reader.allocated()
            );
            match reader.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome {
                        records,
                        failed: false,
                    };
                }
                Err(_) => {
                    return Outcome {
                        records,
                        failed: true,
                    };
                }
            }
        }
        panic!("reading did not end");
    })
}

/// Lines of printable text, some empty, some long runs of zeros.
fn content() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        8 => "[ -~]{0,200}".prop_map(String::into_bytes),
        1 => (0usize..2_000_000).prop_map(|n| vec![0u8; n]),
        1 => (0usize..200_000).prop_map(|n| vec![0xFF; n]),
    ];
    prop::collection::vec(line, 0..40).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn damaged_compressed_files_end_in_bounded_records_or_an_error(
        data in content(),
        zstd in any::<bool>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        chunk in 1usize..300,
    ) {
        let name = if zstd { "f.jsonl.zst" } else { "f.jsonl.gz" };
        let mut body = compress(&data, zstd);
        for (at, mask) in &flips {
            let i = at.index(body.len());
            body[i] ^= mask;
        }
        read(name, &body, chunk);
    }

    #[test]
    fn a_compressed_file_cut_short_yields_a_prefix_of_its_records(
        data in content(),
        zstd in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..300,
    ) {
        let name = if zstd { "f.jsonl.zst" } else { "f.jsonl.gz" };
        let whole = read("f.jsonl", &data, 4096);
        prop_assert!(!whole.failed);
        let body = compress(&data, zstd);
        prop_assert_eq!(&read(name, &body, chunk).records, &whole.records);

        let short = &body[..cut.index(body.len())];
        let got = read(name, short, chunk);
        // A cut is noticed (the stream ends inside a frame), never read as a shorter file.
        prop_assert!(got.failed || short.is_empty(), "a file cut short ended without an error");
        prop_assert!(got.records.len() <= whole.records.len());
        if let Some((last, rest)) = got.records.split_last() {
            prop_assert_eq!(rest, &whole.records[..rest.len()]);
            let (full, _) = &whole.records[rest.len()];
            prop_assert!(
                full.starts_with(&last.0),
                "the last record read is not the start of the file's record"
            );
        }
    }
}
