//! `letsdata metrics view`: per-minute metrics, as JSON or (on a terminal) a table.

use crate::output::Output;
use clap::Subcommand;
use letsdata_engine::{DatasetMetrics, Engine};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Per minute: tasks completed and errored, task success rate, average task latency,
    /// records read/written/errored, bytes read.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[command(flatten)]
        page: super::PageArgs,
    },
}

pub async fn run(command: MetricsCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    let MetricsCommand::View { dataset_name, page } = command;
    let metrics = engine.metrics(&dataset_name).await?;
    if let Some(limit) = page.limit() {
        let (metrics, next) = metrics.page(page.next_token.as_deref(), limit)?;
        let mut value = serde_json::to_value(&metrics)?;
        value["nextToken"] = serde_json::json!(next);
        out.print(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_whole(&metrics, out)
}

/// The whole metrics: a table on a terminal, else JSON.
fn print_whole(metrics: &DatasetMetrics, out: &Output) -> anyhow::Result<ExitCode> {
    if !out.is_pretty() && std::io::stdout().is_terminal() {
        print_table(metrics)?;
    } else {
        out.print(metrics)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The command through a server: a page, or every page put together.
pub async fn remote(
    command: MetricsCommand,
    remote: &crate::remote::Remote,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let MetricsCommand::View { dataset_name, page } = command;
    let query =
        |after: Option<String>, limit: usize| super::page_query(&dataset_name, limit, after, &[]);
    if let Some(limit) = page.limit() {
        out.print(
            &remote
                .get("metrics", &query(page.next_token.clone(), limit))
                .await?,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut whole: Option<DatasetMetrics> = None;
    let mut after = None;
    loop {
        let mut page = remote
            .get("metrics", &query(after, letsdata_server::MAX_PAGE))
            .await?;
        let next = page["nextToken"].as_str().map(str::to_string);
        if let Some(map) = page.as_object_mut() {
            map.remove("nextToken");
        }
        let part: DatasetMetrics = serde_json::from_value(page)
            .map_err(|e| anyhow::anyhow!("the server's metrics page is not valid: {e}"))?;
        match &mut whole {
            Some(whole) => whole.metrics.extend(part.metrics),
            None => whole = Some(part),
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    match whole {
        Some(metrics) => print_whole(&metrics, out),
        None => anyhow::bail!("the server answered no metrics"),
    }
}

fn print_table(m: &DatasetMetrics) -> anyhow::Result<()> {
    let mut w = std::io::stdout().lock();
    writeln!(
        w,
        "metrics of dataset {} ({})",
        m.dataset_name, m.dataset_id
    )?;
    writeln!(
        w,
        "{:<20} {:>9} {:>7} {:>8} {:>12} {:>12} {:>12} {:>9} {:>12}",
        "minute (UTC)",
        "completed",
        "errored",
        "success",
        "latency ms",
        "records",
        "written",
        "errors",
        "bytes read"
    )?;
    for r in &m.metrics {
        writeln!(
            w,
            "{:<20} {:>9} {:>7} {:>8} {:>12} {:>12} {:>12} {:>9} {:>12}",
            r.minute,
            r.tasks_completed,
            r.tasks_errored,
            r.task_success_rate
                .map(|s| format!("{:.0}%", s * 100.0))
                .unwrap_or_else(|| "-".into()),
            r.average_task_latency_millis
                .map(|l| l.to_string())
                .unwrap_or_else(|| "-".into()),
            r.records_read,
            r.documents_written,
            r.error_records,
            r.bytes_read
        )?;
    }
    Ok(())
}
