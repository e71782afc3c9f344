//! The cost of crossing into the sandbox: a pass-through `SingleFileParser` component called
//! in the engine's batches, and one record per call, on records like the benchmark's input.

use anyhow::Context;
use letsdata_sandbox::wit::RecordSpan;
use letsdata_sandbox::{FileParser, Limits, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

const RECORD: &[u8] = br#"{"id":123456,"ts":"2026-11-25T10:01:02Z","event":"view","user":{"id":"u42","country":"DE"},"value":17,"msg":"page viewed: /products/42"}
"#;

/// Nanoseconds per record for `records` records in calls of `batch`.
fn per_record(parser: &mut FileParser, records: usize, batch: usize) -> anyhow::Result<f64> {
    let mut buf = Vec::with_capacity(batch * RECORD.len());
    let mut spans = Vec::with_capacity(batch);
    for i in 0..batch {
        let start = buf.len() as u32;
        buf.extend_from_slice(RECORD);
        spans.push(RecordSpan {
            offset_bytes: (i * RECORD.len()) as u64,
            start,
            end: buf.len() as u32,
        });
    }
    let started = Instant::now();
    let mut done = 0;
    while done < records {
        let results = parser.parse_documents("LINES", "bench", &buf, &spans)?;
        anyhow::ensure!(results.len() == batch, "short result");
        done += batch;
    }
    Ok(started.elapsed().as_nanos() as f64 / done as f64)
}

pub fn report(component: &Path, work: &Path) -> anyhow::Result<()> {
    let wasm = std::fs::read(component).with_context(|| format!("read {}", component.display()))?;
    let sandbox = Sandbox::new(&work.join("compiled"))?;
    let (code, _) = sandbox.load(&wasm)?;
    let limits = Limits {
        memory_megabytes: 1024,
        timeout: Duration::from_secs(600),
        deadline: Instant::now() + Duration::from_secs(600),
    };
    let mut parser = FileParser::new(&sandbox, &code, limits)?;
    // Warm up, then measure on one core.
    per_record(&mut parser, 100_000, 1_500)?;
    let batched = per_record(&mut parser, 2_000_000, 1_500)?;
    let single = per_record(&mut parser, 200_000, 1)?;
    println!(
        "crossing into the sandbox ({}-byte records, pass-through parser, one core): {:.0} ns/record in batches of 1,500 (~256 KiB, as the engine calls), {:.0} ns/record one record per call",
        RECORD.len(),
        batched,
        single
    );
    Ok(())
}
