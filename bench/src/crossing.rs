//! User code in the sandbox without the rest of the engine, on one core (each figure the
//! fastest of five rounds):
//!
//! - the cost of crossing into the sandbox: a pass-through `SingleFileParser` component called
//!   in the engine's batches, and one record per call, on records like the benchmark's input;
//! - `examples/json-transform`'s `parse-documents` calls on the benchmark's own records, which
//!   is the guest's share of the end-to-end Wasm run.
//!
//! Calls are awaited on a current-thread runtime, as the engine awaits them on its workers.

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

/// Nanoseconds per record over `calls` calls of `batch`.
async fn time_calls(parser: &mut FileParser, batch: &Batch, calls: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    for _ in 0..calls {
        let results = parser
            .parse_documents("DATA", "bench", &batch.bytes, &batch.spans)
            .await?;
        anyhow::ensure!(results.len() == batch.spans.len(), "short result");
    }
    Ok(started.elapsed().as_nanos() as f64 / (calls * batch.spans.len()) as f64)
}

/// Nanoseconds per record in calls of `batch`: the fastest of five rounds of at least
/// `records / 5` records each (the least disturbed by whatever else the machine is doing).
async fn per_record(parser: &mut FileParser, batch: &Batch, records: usize) -> anyhow::Result<f64> {
    let calls = (records / 5).div_ceil(batch.spans.len());
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        best = best.min(time_calls(parser, batch, calls).await?);
    }
    Ok(best)
}

async fn instance(sandbox: &Sandbox, component: &Path) -> anyhow::Result<FileParser> {
    let wasm = std::fs::read(component).with_context(|| format!("read {}", component.display()))?;
    let (code, _) = sandbox.load(&wasm)?;
    let limits = Limits {
        memory_megabytes: 1024,
        timeout: Duration::from_secs(600),
        deadline: Instant::now() + Duration::from_secs(600),
    };
    Ok(FileParser::new(sandbox, &code, limits).await?)
}

/// A batch as the engine hands it over (`BATCH_BYTES` in crates/engine/src/exec/wasm.rs).
const ENGINE_BATCH_BYTES: usize = 1024 * 1024;

/// One engine batch of the benchmark's own lines.
fn event_batch() -> Batch {
    let mut line = String::new();
    let mut lines = Vec::new();
    let mut bytes = 0;
    for n in 0.. {
        super::event_line(&mut line, 0, n);
        bytes += line.len();
        lines.push(line.clone().into_bytes());
        if bytes >= ENGINE_BATCH_BYTES {
            break;
        }
    }
    Batch::new(lines)
}

/// Times two builds of json-transform on the benchmark's records, alternating call for call
/// so that both see the same machine; reports the fastest of 40 rounds of each.
pub fn compare(this: &Path, other: &Path, work: &Path) -> anyhow::Result<()> {
    runtime()?.block_on(compare_on(this, other, work))
}

async fn compare_on(this: &Path, other: &Path, work: &Path) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(&work.join("compiled"))?;
    let batch = event_batch();
    let mut parsers = [
        instance(&sandbox, this).await?,
        instance(&sandbox, other).await?,
    ];
    let mut best = [f64::INFINITY; 2];
    for _ in 0..40 {
        for (parser, best) in parsers.iter_mut().zip(&mut best) {
            *best = best.min(time_calls(parser, &batch, 10).await?);
        }
    }
    println!(
        "{}: {:.0} ns/record\n{}: {:.0} ns/record ({:+.1}%)",
        this.display(),
        best[0],
        other.display(),
        best[1],
        100.0 * (best[1] / best[0] - 1.0)
    );
    Ok(())
}

/// Reports both, for the components built into `wasm_dir`.
pub fn report(wasm_dir: &Path, work: &Path) -> anyhow::Result<()> {
    runtime()?.block_on(report_on(wasm_dir, work))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn report_on(wasm_dir: &Path, work: &Path) -> anyhow::Result<()> {
    let passthrough = &wasm_dir.join("letsdata_test_passthrough.wasm");
    let json_transform = &wasm_dir.join("json_transform.wasm");
    let sandbox = Sandbox::new(&work.join("compiled"))?;

    let mut parser = instance(&sandbox, passthrough).await?;
    let per_batch = ENGINE_BATCH_BYTES / RECORD.len();
    let batched = Batch::new((0..per_batch).map(|_| RECORD.to_vec()));
    let single = Batch::new([RECORD.to_vec()]);
    // Warm up, then measure.
    per_record(&mut parser, &batched, 100_000).await?;
    let in_batches = per_record(&mut parser, &batched, 2_000_000).await?;
    let one_per_call = per_record(&mut parser, &single, 200_000).await?;
    println!(
        "crossing into the sandbox ({}-byte records, pass-through parser, one core): {:.0} ns/record in batches of {per_batch} (~1 MiB, as the engine calls), {:.0} ns/record one record per call",
        RECORD.len(),
        in_batches,
        one_per_call
    );

    let mut parser = instance(&sandbox, json_transform).await?;
    let batch = event_batch();
    per_record(&mut parser, &batch, 100_000).await?;
    let guest = per_record(&mut parser, &batch, 2_000_000).await?;
    println!(
        "json-transform in the sandbox (the benchmark's records, {} per call, one core): {:.0} ns/record, {:.0} MB/s",
        batch.spans.len(),
        guest,
        batch.bytes.len() as f64 / batch.spans.len() as f64 / guest * 1e3
    );
    Ok(())
}
