//! User code in the sandbox without the rest of the engine, on one core:
//!
//! - the cost of crossing into the sandbox: a pass-through `SingleFileParser` component called
//!   in the engine's batches, and one record per call, on records like the benchmark's input;
//! - `examples/json-transform`'s `parse-documents` calls on the benchmark's own records, which
//!   is the guest's share of the end-to-end Wasm run.

use anyhow::Context;
use letsdata_sandbox::wit::RecordSpan;
use letsdata_sandbox::{FileParser, Limits, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

const RECORD: &[u8] = br#"{"id":123456,"ts":"2026-11-25T10:01:02Z","event":"view","user":{"id":"u42","country":"DE"},"value":17,"msg":"page viewed: /products/42"}
"#;

/// Records back to back and their spans: one call's batch.
struct Batch {
    bytes: Vec<u8>,
    spans: Vec<RecordSpan>,
}

impl Batch {
    fn new(records: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let mut b = Batch {
            bytes: Vec::new(),
            spans: Vec::new(),
        };
        for r in records {
            let start = b.bytes.len() as u32;
            b.bytes.extend_from_slice(&r);
            b.spans.push(RecordSpan {
                offset_bytes: u64::from(start),
                start,
                end: b.bytes.len() as u32,
            });
        }
        b
    }
}

/// Nanoseconds per record for at least `records` records in calls of `batch`.
fn per_record(parser: &mut FileParser, batch: &Batch, records: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut done = 0;
    while done < records {
        let results = parser.parse_documents("DATA", "bench", &batch.bytes, &batch.spans)?;
        anyhow::ensure!(results.len() == batch.spans.len(), "short result");
        done += batch.spans.len();
    }
    Ok(started.elapsed().as_nanos() as f64 / done as f64)
}

fn instance(sandbox: &Sandbox, component: &Path) -> anyhow::Result<FileParser> {
    let wasm = std::fs::read(component).with_context(|| format!("read {}", component.display()))?;
    let (code, _) = sandbox.load(&wasm)?;
    let limits = Limits {
        memory_megabytes: 1024,
        timeout: Duration::from_secs(600),
        deadline: Instant::now() + Duration::from_secs(600),
    };
    Ok(FileParser::new(sandbox, &code, limits)?)
}

/// Reports both, for the components built into `wasm_dir`.
pub fn report(wasm_dir: &Path, work: &Path) -> anyhow::Result<()> {
    let passthrough = &wasm_dir.join("letsdata_test_passthrough.wasm");
    let json_transform = &wasm_dir.join("json_transform.wasm");
    let sandbox = Sandbox::new(&work.join("compiled"))?;

    let mut parser = instance(&sandbox, passthrough)?;
    let batched = Batch::new((0..1_500).map(|_| RECORD.to_vec()));
    let single = Batch::new([RECORD.to_vec()]);
    // Warm up, then measure.
    per_record(&mut parser, &batched, 100_000)?;
    let in_batches = per_record(&mut parser, &batched, 2_000_000)?;
    let one_per_call = per_record(&mut parser, &single, 200_000)?;
    println!(
        "crossing into the sandbox ({}-byte records, pass-through parser, one core): {:.0} ns/record in batches of 1,500 (~256 KiB, as the engine calls), {:.0} ns/record one record per call",
        RECORD.len(),
        in_batches,
        one_per_call
    );

    // The engine's batches: up to 256 KiB of the benchmark's lines.
    let mut parser = instance(&sandbox, json_transform)?;
    let mut line = String::new();
    let mut lines = Vec::new();
    let mut bytes = 0;
    for n in 0.. {
        super::event_line(&mut line, 0, n);
        bytes += line.len();
        lines.push(line.clone().into_bytes());
        if bytes >= 256 * 1024 {
            break;
        }
    }
    let batch = Batch::new(lines);
    per_record(&mut parser, &batch, 100_000)?;
    let guest = per_record(&mut parser, &batch, 2_000_000)?;
    println!(
        "json-transform in the sandbox (the benchmark's records, {} per call, one core): {:.0} ns/record, {:.0} MB/s",
        batch.spans.len(),
        guest,
        batch.bytes.len() as f64 / batch.spans.len() as f64 / guest * 1e3
    );
    Ok(())
}
