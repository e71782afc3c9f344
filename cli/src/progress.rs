//! A progress bar on stderr (only when stderr is a terminal): tasks done/total, records/s,
//! MB/s and errors.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use letsdata_engine::Engine;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Progress {
    handle: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts the bar for the named datasets, if stderr is a terminal.
    pub fn start(engine: Arc<Engine>, datasets: Vec<String>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self {
                handle: None,
                bar: None,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let b = bar.clone();
        let handle = tokio::spawn(async move {
            let stats = engine.stats();
            let started = Instant::now();
            loop {
                let mut total = 0;
                let mut done = 0;
                // On a shared store the workers do the work: what they recorded (the
                // datasets' progress); here, this process's live counters.
                let mut recorded = letsdata_engine::StatsSnapshot::default();
                for name in &datasets {
                    if let Ok(c) = engine.task_counts(name).await {
                        total += c.total;
                        done += c.completed + c.errored;
                        recorded.records_read += c.progress.records_read;
                        recorded.bytes_read += c.progress.bytes_read;
                        recorded.error_records += c.progress.error_records;
                        recorded.tasks_errored += c.errored;
                    }
                }
                let s = if engine.is_shared() {
                    recorded
                } else {
                    stats.snapshot()
                };
                let secs = started.elapsed().as_secs_f64().max(0.001);
                b.set_length(total);
                b.set_position(done);
                b.set_message(format!(
                    "{:.0} records/s  {:.1} MB/s  {} error records  {} tasks errored",
                    s.records_read as f64 / secs,
                    s.bytes_read as f64 / secs / 1e6,
                    s.error_records,
                    s.tasks_errored
                ));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Self {
            handle: Some(handle),
            bar: Some(bar),
        }
    }

    pub fn finish(self) {
        if let Some(h) = self.handle {
            h.abort();
        }
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// A dataset followed through a server until it ends: a progress bar on stderr (when it is a
/// terminal) from the dataset's recorded progress; returns the dataset as it ended.
pub async fn follow(
    remote: &crate::remote::Remote,
    dataset_name: &str,
) -> anyhow::Result<serde_json::Value> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let query = [("datasetName", dataset_name.to_string())];
    let result = loop {
        let dataset = match remote.get("dataset", &query).await {
            Ok(dataset) => dataset,
            Err(e) => break Err(e),
        };
        let status = dataset["datasetStatus"].as_str().unwrap_or_default();
        let unfinished = status
            .parse::<letsdata_model::DatasetStatus>()
            .is_ok_and(|s| s.is_unfinished());
        if !unfinished {
            break Ok(dataset);
        }
        if let Some(bar) = &bar {
            let p = &dataset["datasetProgress"];
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            let secs = started.elapsed().as_secs_f64().max(0.001);
            bar.set_length(n("totalTasks"));
            bar.set_position(n("completedTasks") + n("erroredTasks"));
            bar.set_message(format!(
                "{:.0} records/s  {:.1} MB/s  {} error records  {} tasks errored",
                n("recordsRead") as f64 / secs,
                n("bytesRead") as f64 / secs / 1e6,
                n("errorRecords"),
                n("erroredTasks")
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}
