//! Test component (not an example): a `SingleFileParser` that writes each line as it is,
//! except lines that ask it to misbehave:
//!
//! - a line containing `PANIC` panics (a trap in one record's parsing);
//! - `LOOP` loops forever (the time limit);
//! - `BOMB` allocates until memory runs out (the memory limit);
//! - `PRINT` prints the line to stdout and stderr (the task log);
//! - `HUGE` returns a 200 MB document (more than the sandbox copies out in one call);
//! - `BAD` returns an error document; `SKIP` a skip document;
//! - `PROBE <host:port>` tries to reach outside the sandbox (read and write files, list the
//!   environment, connect to `host:port`) and returns what each attempt got.

use letsdata_sdk::{
    ErrorDoc, ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser, SkipDoc,
};

#[derive(Default)]
pub struct Misbehave;

impl SingleFileParser for Misbehave {
    fn get_s3_file_type(&self) -> String {
        "LINES".into()
    }

    fn get_record_start_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::none()
    }

    fn get_record_end_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::pattern("\n")
    }

    fn parse_document(
        &mut self,
        file_type: &str,
        _file_name: &str,
        offset_bytes: u64,
        record: &[u8],
    ) -> ParseDocumentResult {
        let line = String::from_utf8_lossy(record).trim().to_string();
        if line.contains("PANIC") {
            panic!("asked to panic at offset {offset_bytes}");
        }
        if line.contains("LOOP") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if line.contains("BOMB") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if let Some(address) = line.strip_prefix("PROBE ") {
            return ParseDocumentResult::success(SingleDoc::new(probe(address.trim())));
        }
        if line.contains("PRINT") {
            println!("stdout says {line}");
            eprintln!("stderr says {line}");
        }
        if line.contains("HUGE") {
            return ParseDocumentResult::success(SingleDoc::new("x".repeat(200 << 20)));
        }
        if line.contains("BAD") {
            return ParseDocumentResult::error(ErrorDoc::for_record(
                file_type,
                offset_bytes,
                record.len(),
                "asked for an error document",
            ));
        }
        if line.contains("SKIP") {
            return ParseDocumentResult::skip(SkipDoc::for_record(
                file_type,
                offset_bytes,
                record.len(),
                "asked to skip",
            ));
        }
        ParseDocumentResult::success(SingleDoc::new(line))
    }
}

/// What each attempt to reach outside the sandbox got, as a JSON document: `"denied: <the
/// error>"` or what it found.
fn probe(address: &str) -> String {
    fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> String {
        match r {
            Ok(found) => format!("allowed: {found:?}"),
            Err(e) => format!("denied: {e}"),
        }
    }
    let read = outcome(std::fs::read_to_string("/etc/hostname"));
    let list = outcome(std::fs::read_dir("/").map(|d| d.count()));
    let write = outcome(std::fs::write("probe.txt", b"x"));
    let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let connect = outcome(std::net::TcpStream::connect(address));
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "{{\"read\":\"{}\",\"list\":\"{}\",\"write\":\"{}\",\"env\":{},\"connect\":\"{}\"}}",
        escape(&read),
        escape(&list),
        escape(&write),
        env.len(),
        escape(&connect)
    )
}

letsdata_sdk::export!(single_file_parser: Misbehave);
