//! `metrics view`: per-minute dataset metrics (LetsData's Task Success & Volume and Task Latency
//! charts, plus record and byte counters).
//!
//! Task metrics come from the task execution logs: a task counts in the minute its execution
//! ended (COMPLETED or ERRORED), and its latency runs from the start of that execution's first
//! invocation (RERUNs included) to that end. Record and byte counters come from the per-minute
//! counters each checkpoint adds to the task database.

use crate::{Engine, EngineError};
use serde::Serialize;
use std::collections::BTreeMap;

/// One minute of a dataset's metrics.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteMetrics {
    /// The minute's start, RFC 3339 UTC.
    pub minute: String,
    pub minute_epoch_millis: i64,
    pub tasks_completed: u64,
    pub tasks_errored: u64,
    /// Completed / (completed + errored) among tasks ending this minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_success_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_task_latency_millis: Option<u64>,
    pub records_read: u64,
    pub documents_written: u64,
    pub error_records: u64,
    pub skip_records: u64,
    pub bytes_read: u64,
}

/// A dataset's metrics, minute by minute.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetMetrics {
    pub dataset_name: String,
    pub dataset_id: letsdata_model::DatasetId,
    pub metrics: Vec<MinuteMetrics>,
}

const MINUTE: i64 = 60_000;

impl Engine {
    pub async fn metrics(&self, dataset_name: &str) -> Result<DatasetMetrics, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        let mut minutes: BTreeMap<i64, MinuteSums> = BTreeMap::new();
        if let Some(store) = self.existing_task_store(&dataset).await? {
            for c in store.minute_counters().await? {
                let (m, _, _) = minutes.entry(c.minute).or_default();
                m.records_read += c.progress.records_read;
                m.documents_written += c.progress.documents_written;
                m.error_records += c.progress.error_records;
                m.skip_records += c.progress.skip_records;
                m.bytes_read += c.progress.bytes_read;
            }
            // A page at a time: memory flat in the number of tasks.
            let mut after = None;
            loop {
                let page = store
                    .list_tasks_page(None, after.as_ref(), METRICS_PAGE)
                    .await?;
                for task in &page.tasks {
                    add_executions(&mut minutes, task);
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        let metrics = minutes
            .into_iter()
            .map(|(minute, (mut m, latency_sum, ended))| {
                m.minute_epoch_millis = minute;
                m.minute = chrono::DateTime::from_timestamp_millis(minute)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                if ended > 0 {
                    m.task_success_rate = Some(m.tasks_completed as f64 / ended as f64);
                    m.average_task_latency_millis = Some(latency_sum / ended);
                }
                m
            })
            .collect();
        Ok(DatasetMetrics {
            dataset_name: dataset.dataset_name,
            dataset_id: dataset.dataset_id,
            metrics,
        })
    }
}

/// Tasks read at a time by `metrics view`.
const METRICS_PAGE: usize = 1000;

/// A minute's counters, the sum of its task latencies and how many executions ended in it.
type MinuteSums = (MinuteMetrics, u64, u64);

/// Adds the executions of `task` that ended (COMPLETED or ERRORED) to their minutes.
fn add_executions(minutes: &mut BTreeMap<i64, MinuteSums>, task: &letsdata_model::Task) {
    let mut execution_start = None;
    for log in &task.task_execution_logs {
        let start = *execution_start.get_or_insert(log.start_datetime);
        let (Some(outcome), Some(end)) = (log.outcome.as_deref(), log.end_datetime) else {
            continue;
        };
        if outcome != "COMPLETED" && outcome != "ERRORED" {
            continue;
        }
        execution_start = None;
        let (m, latency_sum, ended) = minutes.entry(end - end.rem_euclid(MINUTE)).or_default();
        if outcome == "COMPLETED" {
            m.tasks_completed += 1;
        } else {
            m.tasks_errored += 1;
        }
        *latency_sum += (end - start).max(0) as u64;
        *ended += 1;
    }
}

impl DatasetMetrics {
    /// The page of at most `limit` minutes from `next_token` (what an earlier page returned:
    /// the epoch millis of the page's first minute) on, and the next page's token (`None` on
    /// the last page).
    pub fn page(
        mut self,
        next_token: Option<&str>,
        limit: usize,
    ) -> Result<(DatasetMetrics, Option<String>), EngineError> {
        let from = match next_token {
            Some(token) => token.parse::<i64>().map_err(|_| {
                EngineError::Refused(format!(
                    "--nextToken: {token:?} is not a nextToken that metrics view returned"
                ))
            })?,
            None => i64::MIN,
        };
        self.metrics.retain(|m| m.minute_epoch_millis >= from);
        let next = self
            .metrics
            .get(limit)
            .map(|m| m.minute_epoch_millis.to_string());
        self.metrics.truncate(limit);
        Ok((self, next))
    }
}
