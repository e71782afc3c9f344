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
    let mut metrics = engine.metrics(&dataset_name).await?;
    if let Some(limit) = page.limit() {
        // Minutes from the token's (the epoch millis of the first minute of the page) on.
        let from = match page.next_token.as_deref() {
            Some(token) => token.parse::<i64>().map_err(|_| {
                anyhow::anyhow!(
                    "--nextToken: {token:?} is not a nextToken that metrics view returned"
                )
            })?,
            None => i64::MIN,
        };
        metrics.metrics.retain(|m| m.minute_epoch_millis >= from);
        let next = metrics.metrics.get(limit).map(|m| m.minute_epoch_millis);
        metrics.metrics.truncate(limit);
        let mut value = serde_json::to_value(&metrics)?;
        value["nextToken"] = serde_json::json!(next.map(|m| m.to_string()));
        out.print(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !out.is_pretty() && std::io::stdout().is_terminal() {
        print_table(&metrics)?;
    } else {
        out.print(&metrics)?;
    }
    Ok(ExitCode::SUCCESS)
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
