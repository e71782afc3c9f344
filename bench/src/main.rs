//! End-to-end benchmarks to a local bucket.
//!
//! Generates `--total-mb` of JSON lines over `--files` files (1 in 4 lines with a nested
//! object, 1 in 10,000 malformed), runs the release `letsdata datasets create` on them with
//! `concurrency` = 2 (this machine's cores), and reports input MB/s and the child's peak RSS:
//!
//! 1. the jsonl built-in parser, on files a quarter of the size and then full size (peak RSS
//!    does not depend on file size);
//! 2. `examples/json-transform` (a WebAssembly `SingleFileParser`) on the full-size input, and
//!    its throughput as a share of the built-in's (`--runs N` alternates N runs of each and
//!    compares the medians);
//! 3. the cost of crossing into the sandbox per record: a pass-through component called in
//!    batches (as the engine does) and one record per call; and json-transform's calls alone
//!    on the benchmark's records (the guest's share of the Wasm run).
//!
//! Not a test: nothing here asserts a speed.

#![allow(unsafe_code)] // getrusage for the child's peak RSS, sync between runs

use anyhow::{Context, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Args {
    /// Where the example components are (`<target>/guests/wasm32-wasip2/release`).
    wasm_dir: Option<PathBuf>,
    total_mb: u64,
    files: u64,
    concurrency: u64,
    /// Runs of the full-size built-in and Wasm benchmarks (the share uses their medians).
    runs: u64,
    keep: bool,
    /// Only the sandbox figures (crossing cost, json-transform's calls alone): no input.
    sandbox_only: bool,
    /// Another build of json-transform to time against this one's, call for call.
    compare: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        wasm_dir: std::env::var_os("LETSDATA_BENCH_WASM_DIR").map(PathBuf::from),
        total_mb: 1024,
        files: 8,
        concurrency: 2,
        runs: 1,
        keep: false,
        sandbox_only: false,
        compare: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || -> anyhow::Result<u64> {
            it.next()
                .context("missing value")?
                .parse()
                .context("not a number")
        };
        match a.as_str() {
            "--total-mb" => args.total_mb = value()?,
            "--files" => args.files = value()?,
            "--concurrency" => args.concurrency = value()?,
            "--runs" => args.runs = value()?.max(1),
            "--sandbox-only" => args.sandbox_only = true,
            "--compare" => {
                args.compare = Some(PathBuf::from(it.next().context("--compare needs a .wasm")?))
            }
            "--keep" => args.keep = true,
            other => {
                bail!(
                    "unknown argument {other}; use --total-mb N --files N --concurrency N --runs N --keep --sandbox-only --compare OTHER.wasm"
                )
            }
        }
    }
    Ok(args)
}

/// Line `n` of input file `seed`: 1 in 4 with a nested object, 1 in 10,000 malformed.
fn event_line(line: &mut String, seed: u64, n: u64) {
    use std::fmt::Write as _;
    line.clear();
    let id = seed * 1_000_000_000 + n;
    let _ = if n % 10_000 == 9_999 {
        writeln!(line, "{{\"id\":{id},\"event\":\"broken")
    } else if n.is_multiple_of(4) {
        writeln!(
            line,
            "{{\"id\":{id},\"ts\":\"2026-11-25T10:{:02}:{:02}Z\",\"event\":\"purchase\",\"user\":{{\"id\":\"u{}\",\"country\":\"NZ\",\"tags\":[\"a\",\"b\"]}},\"value\":{}.{:02},\"msg\":\"order placed from the mobile app\"}}",
            n % 60,
            (n / 60) % 60,
            n % 9973,
            n % 500,
            n % 100
        )
    } else {
        writeln!(
            line,
            "{{\"id\":{id},\"ts\":\"2026-11-25T10:{:02}:{:02}Z\",\"event\":\"view\",\"user\":{{\"id\":\"u{}\",\"country\":\"DE\"}},\"value\":{},\"msg\":\"page viewed: /products/{}\"}}",
            n % 60,
            (n / 60) % 60,
            n % 9973,
            n % 1000,
            n % 777
        )
    };
}

/// Writes `bytes` of JSON lines; returns the number of lines.
fn generate(path: &Path, bytes: u64, seed: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    let mut n = 0u64;
    let mut line = String::with_capacity(256);
    while written < bytes {
        event_line(&mut line, seed, n);
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        n += 1;
    }
    w.flush()?;
    // Flush the generated input to disk so its writeback does not compete with the run.
    w.get_ref().sync_all()?;
    Ok(n)
}

fn children_max_rss_kb() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 { usage.ru_maxrss } else { -1 }
}

struct Outcome {
    /// What the code build step said (Wasm runs).
    code_build: Option<String>,
    input_bytes: u64,
    seconds: f64,
    peak_rss_mb: f64,
    documents: u64,
    errors: u64,
}

/// Generated input: a directory of files and the manifest naming them.
struct Input {
    dir: PathBuf,
    manifest: String,
    bytes: u64,
}

fn make_input(work: &Path, total_mb: u64, files: u64) -> anyhow::Result<Input> {
    let dir = work.join(format!("input-{total_mb}mb"));
    let _ = std::fs::remove_dir_all(&dir);
    let per_file = total_mb * 1024 * 1024 / files;
    let mut manifest = String::new();
    let mut bytes = 0;
    for f in 0..files {
        let key = format!("events/part-{f:03}.jsonl");
        let path = dir.join(&key);
        std::fs::create_dir_all(path.parent().context("parent")?)?;
        generate(&path, per_file, f)?;
        bytes += std::fs::metadata(&path)?.len();
        manifest.push_str(&key);
        manifest.push('\n');
    }
    Ok(Input {
        dir,
        manifest,
        bytes,
    })
}

fn run_once(
    letsdata: &Path,
    work: &Path,
    input: &Input,
    args: &Args,
    name: &str,
    wasm: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let concurrency = args.concurrency;
    let home = work.join(name);
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join("buckets"))?;
    // One compiled-code cache for every run, as on one installation: the first dataset that
    // uses a component compiles it ("Create Dataset Code Builds"), later ones load it.
    let cache = work.join("cache");
    std::fs::create_dir_all(&cache)?;
    std::os::unix::fs::symlink(&cache, home.join("cache"))?;
    std::os::unix::fs::symlink(&input.dir, home.join("buckets").join("bench-input"))?;
    let manifest = &input.manifest;
    let input_bytes = input.bytes;
    let read = match wasm {
        None => {
            serde_json::json!({"connectorDestination": "S3", "readerType": "Single File Reader", "bucketName": "bench-input",
            "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl", "documentIdField": "id"})
        }
        Some(component) => {
            let code = home.join("buckets").join("bench-code");
            std::fs::create_dir_all(&code)?;
            std::fs::copy(component, code.join("component.wasm"))
                .with_context(|| format!("copy {}", component.display()))?;
            serde_json::json!({"connectorDestination": "S3", "readerType": "Single File Reader", "bucketName": "bench-input",
                "artifactImplementationLanguage": "Wasm", "artifactFileS3Link": "s3://bench-code/component.wasm"})
        }
    };
    let config = serde_json::json!({
        "datasetName": name,
        "region": "us-east-1",
        "readConnector": read,
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": concurrency},
        "manifestFile": {"manifestType": "S3ReaderTextManifestFile", "readerType": "SINGLEFILEREADER", "fileContents": manifest}
    });
    let config_path = home.join("dataset.json");
    std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
    // Write back what earlier runs wrote (1 GB of output each), so that it does not compete
    // with this run.
    // SAFETY: sync() takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let rss_before = children_max_rss_kb();
    let start = Instant::now();
    let out = Command::new(letsdata)
        .args(["datasets", "create", "--configFile"])
        .arg(&config_path)
        .env("LETSDATA_HOME", &home)
        .output()
        .context("run letsdata")?;
    let seconds = start.elapsed().as_secs_f64();
    let rss = children_max_rss_kb();
    if !out.status.success() {
        bail!("letsdata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let ds: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    if rss < rss_before {
        bail!("getrusage went backwards");
    }
    if !args.keep {
        // Its output (1 GB) would only crowd the page cache for the next runs.
        std::fs::remove_dir_all(&home)?;
    }
    Ok(Outcome {
        code_build: ds["initializationWorkflow"]["Create Dataset Code Builds"]["message"]
            .as_str()
            .map(str::to_string),
        input_bytes,
        seconds,
        peak_rss_mb: rss as f64 / 1024.0,
        documents: ds["datasetProgress"]["documentsWritten"]
            .as_u64()
            .unwrap_or(0),
        errors: ds["datasetProgress"]["errorRecords"].as_u64().unwrap_or(0),
    })
}

mod crossing;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let exe = std::env::current_exe()?;
    let letsdata: PathBuf = exe.with_file_name("letsdata");
    if !letsdata.exists() {
        bail!(
            "{} not found; run bench/run.sh (it builds letsdata in release mode)",
            letsdata.display()
        );
    }
    let work = std::env::temp_dir().join("letsdata-bench");
    std::fs::create_dir_all(&work)?;
    if args.sandbox_only {
        let dir = args
            .wasm_dir
            .as_ref()
            .context("--sandbox-only needs LETSDATA_BENCH_WASM_DIR (bench/run.sh sets it)")?;
        return match &args.compare {
            Some(other) => crossing::compare(&dir.join("json_transform.wasm"), other, &work),
            None => crossing::report(dir, &work),
        };
    }
    println!(
        "jsonl built-in and examples/json-transform (a Wasm SingleFileParser) -> local bucket, {} files, concurrency {}",
        args.files, args.concurrency
    );
    let report = |label: &str, o: &Outcome| {
        let mb = o.input_bytes as f64 / 1e6;
        println!(
            "{label:<14} {:>6.0} MB input ({:>4.0} MB/file): {:>6.2} s  {:>6.0} MB/s  {:>9} docs  {:>5} errors  peak RSS {:>5.1} MB",
            mb,
            mb / args.files as f64,
            o.seconds,
            mb / o.seconds,
            o.documents,
            o.errors,
            o.peak_rss_mb
        );
        mb / o.seconds
    };
    let component = args
        .wasm_dir
        .as_ref()
        .map(|dir| dir.join("json_transform.wasm"));
    // Small first: getrusage(RUSAGE_CHILDREN) reports the maximum over all children so far.
    // The small Wasm run is the first dataset to use the component: it compiles it.
    let small = make_input(&work, args.total_mb / 4, args.files)?;
    report(
        "built-in",
        &run_once(&letsdata, &work, &small, &args, "Bench0", None)?,
    );
    if let Some(component) = &component {
        let o = run_once(
            &letsdata,
            &work,
            &small,
            &args,
            "BenchWasm0",
            Some(component),
        )?;
        report("json-transform", &o);
        println!(
            "  code build of the first dataset to use json-transform: {} (the runs below load the compiled code)",
            o.code_build.as_deref().unwrap_or("?")
        );
    }
    std::fs::remove_dir_all(&small.dir)?;
    let input = make_input(&work, args.total_mb, args.files)?;
    // Alternate the two, so that both see the same drift in the machine's state.
    let (mut builtin, mut wasm) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let o = run_once(
            &letsdata,
            &work,
            &input,
            &args,
            &format!("Bench{run}"),
            None,
        )?;
        builtin.push(report("built-in", &o));
        if let Some(component) = &component {
            let name = format!("BenchWasm{run}");
            let o = run_once(&letsdata, &work, &input, &args, &name, Some(component))?;
            wasm.push(report("json-transform", &o));
        }
    }

    match &args.wasm_dir {
        None => {
            println!("(set LETSDATA_BENCH_WASM_DIR, as bench/run.sh does, for the Wasm benchmarks)")
        }
        Some(dir) => {
            // Each Wasm run against the built-in run just before it: how much the share moves
            // with the machine.
            let mut pairs: Vec<f64> = wasm
                .iter()
                .zip(&builtin)
                .map(|(w, b)| 100.0 * w / b)
                .collect();
            pairs.sort_by(f64::total_cmp);
            let spread = match (pairs.first(), pairs.last()) {
                (Some(lo), Some(hi)) if args.runs > 1 => {
                    format!(" (medians; run by run {lo:.0}–{hi:.0}%)")
                }
                _ => String::new(),
            };
            println!(
                "json-transform throughput = {:.0}% of the jsonl built-in{spread}",
                100.0 * median(&mut wasm) / median(&mut builtin),
            );
            crossing::report(dir, &work)?;
        }
    }
    if !args.keep {
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}
