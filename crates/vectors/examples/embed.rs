//! Sentences per second through letsdata's in-process model (issue 21's benchmark; `bench/vectors.sh`
//! runs it beside sentence-transformers on the same sentences).
//!
//! `embed --model DIR --sentences FILE [--runs N]`: loads the sentence-transformers directory,
//! embeds the file's lines (one sentence each) once to warm up, then `--runs` times (default 3),
//! and prints one JSON line: the load time, each run's seconds, the median's sentences per second,
//! the vector length, how many sentences were cut to the model's maximum, and the process's peak
//! RSS (`VmHWM`).

use anyhow::{Context, bail};
use letsdata_vectors::SentenceModel;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut model = None;
    let mut sentences = None;
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--model" => model = Some(value()?),
            "--sentences" => sentences = Some(value()?),
            "--runs" => runs = value()?.parse().context("--runs")?,
            other => bail!("unknown argument {other}; use --model DIR --sentences FILE [--runs N]"),
        }
    }
    let (Some(model), Some(sentences)) = (model, sentences) else {
        bail!("use --model DIR --sentences FILE [--runs N]");
    };
    let text = std::fs::read_to_string(&sentences).with_context(|| sentences.clone())?;
    let lines: Vec<&str> = text.lines().collect();
    let started = Instant::now();
    let model = SentenceModel::load(std::path::Path::new(&model))?;
    let load_seconds = started.elapsed().as_secs_f64();
    let warm = model.embed(&lines)?;
    let truncated = warm.iter().filter(|e| e.truncated.is_some()).count();
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let out = model.embed(&lines)?;
        seconds.push(started.elapsed().as_secs_f64());
        std::hint::black_box(out);
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "sentences": lines.len(),
            "loadSeconds": load_seconds,
            "seconds": seconds,
            "sentencesPerSecond": lines.len() as f64 / median,
            "dimension": model.dimension(),
            "truncated": truncated,
            "peakRssMb": peak_kb as f64 / 1024.0,
        })
    );
    Ok(())
}
