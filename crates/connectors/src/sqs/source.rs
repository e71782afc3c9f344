//! The SQS read source: `concurrency` tasks receive from one queue. A message is deleted only
//! once its documents and error records are durable (at the commit after it was handled), and
//! stays invisible to other readers until then; a crash redelivers it (at least once).

use super::{ReceiveOptions, SQS_QUEUE, SqsClient, VisibilityChange};
use crate::aws::{Access, clients, describe, existence_problem};
use crate::source::{
    Next, ReadSource, RecordBatch, RecordSource, SourceRecord, TaskInput, TaskSeed, TaskSeeds,
    seeds, to_fields,
};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{QueueManifest, QueueReadConnector, QueueStop};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use std::time::{Duration, Instant};

/// How long received messages stay invisible (extended while they wait for a commit); the
/// failpoint `sqs-visibility-seconds` (a number) shortens it for tests that kill a reader.
fn visibility() -> Duration {
    Duration::from_secs(crate::failpoints::number("sqs-visibility-seconds").unwrap_or(120))
}
/// Long-poll time of one receive.
const WAIT: Duration = Duration::from_secs(1);

/// Reads the messages of a queue.
#[derive(Debug, Clone)]
pub struct SqsSource {
    pub(super) read: QueueReadConnector,
    pub(super) manifest: QueueManifest,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

/// A queue task's own fields.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct QueueTask {
    /// The queue's name.
    source: Option<String>,
}

#[async_trait]
impl ReadSource for SqsSource {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: SQS_QUEUE.to_string(),
            resource_location: self.read.resource_location.to_string(),
            name: self.read.queue_name.clone(),
            ..Default::default()
        }
    }

    fn task_type(&self) -> &'static str {
        "SQS"
    }

    fn wasm_interface(&self) -> &'static str {
        "QueueMessageReader"
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let found = async {
            clients(ctx, self.region, &self.access)
                .await?
                .sqs()
                .exists(&self.read.queue_name)
                .await
        }
        .await;
        existence_problem(
            "readConnector.queueName",
            &describe("SQS queue", &self.resource()),
            self.region,
            "",
            found,
        )
        .into_iter()
        .collect()
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        // The queue was checked at create time; it may be gone.
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        sqs.queue_url(&self.read.queue_name).await?;
        let n = self.manifest.tasks;
        Ok(seeds(
            (0..n)
                .map(|i| {
                    let line = format!("queue reader {i} of {n}");
                    TaskSeed {
                        identity: format!("{i}:{line}"),
                        ordinal: u64::from(i),
                        definition: TaskDefinition {
                            reader_type: "SQSQUEUEREADER".into(),
                            manifest_line: line,
                            manifest_index: u64::from(i),
                            input: to_fields(&QueueTask {
                                source: Some(self.read.queue_name.clone()),
                            }),
                        },
                    }
                })
                .collect(),
        ))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        _task: &TaskDefinition,
        _position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError> {
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        let url = sqs.queue_url(&self.read.queue_name).await?;
        Ok(TaskInput::Records(Box::new(QueueSource {
            sqs,
            url,
            name: self.read.queue_name.clone(),
            stop: self.manifest.stop,
            empty_receives: 0,
            visibility: visibility(),
            left: Vec::new(),
            batch: Vec::new(),
            in_flight: Vec::new(),
            oldest: None,
        })))
    }
}

/// One queue task's messages.
struct QueueSource {
    sqs: SqsClient,
    url: String,
    name: String,
    stop: QueueStop,
    empty_receives: u32,
    visibility: Duration,
    /// When the task left each message it failed on in the queue (`leave`): its own until
    /// its visibility ends.
    left: Vec<Instant>,
    /// Receipt handles of the last batch not consumed yet.
    batch: Vec<String>,
    /// Receipt handles of messages handled but not yet deleted, and when the oldest of them
    /// was received.
    in_flight: Vec<String>,
    oldest: Option<Instant>,
}

#[async_trait]
impl RecordSource for QueueSource {
    fn label(&self) -> (&str, &str) {
        ("QUEUE", &self.name)
    }

    async fn poll(&mut self) -> Result<RecordBatch, ConnectorError> {
        let options = ReceiveOptions {
            max_messages: 10,
            wait_time: WAIT,
            visibility_timeout: Some(self.visibility),
        };
        let messages = self.sqs.receive(&self.url, &options).await?;
        let next = if !messages.is_empty() {
            self.empty_receives = 0;
            Next::More
        } else {
            self.empty_receives += 1;
            match self.stop {
                QueueStop::DrainQueues { empty_receives }
                    if self.empty_receives >= empty_receives =>
                {
                    // Empty receives do not make a drained queue: messages a reader that
                    // died had received come back when their visibility ends, and others'
                    // may be given back. The task ends once none is left but its own.
                    let counts = self.sqs.message_counts(&self.url).await?;
                    // Messages this task left (its reader error policy keeps failed ones)
                    // are its own until their visibility ends.
                    let visibility = self.visibility;
                    self.left.retain(|at| at.elapsed() < visibility);
                    let own = (self.in_flight.len() + self.batch.len() + self.left.len()) as u64;
                    let elsewhere =
                        counts.visible + counts.delayed + counts.in_flight.saturating_sub(own);
                    if elsewhere > 0 {
                        Next::Idle { pause: true }
                    } else {
                        Next::Finished(format!(
                            "{} consecutive polls found no new records and the queue holds no \
                             other message: the task ends",
                            self.empty_receives
                        ))
                    }
                }
                // A drained queue's receive waited already (long poll).
                QueueStop::DrainQueues { .. } => Next::Idle { pause: false },
                QueueStop::Continuous => Next::Idle { pause: true },
            }
        };
        self.batch = messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let records = messages
            .into_iter()
            .map(|m| SourceRecord {
                id: m.message_id.clone(),
                raw: Bytes::from(m.body),
                decoded: None,
                meta: RecordMeta::Queue {
                    message_id: m.message_id,
                    message_group_id: m.message_group_id,
                    message_deduplication_id: m.deduplication_id,
                    message_attributes: m.message_attributes.into_iter().collect(),
                },
            })
            .collect();
        Ok(RecordBatch { records, next })
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.batch.len());
        if n > 0 {
            self.in_flight.extend(self.batch.drain(..n));
            self.oldest.get_or_insert_with(Instant::now);
        }
    }

    fn leave(&mut self, n: usize) {
        // Not deleted, not made visible: SQS delivers them again after their visibility
        // timeout (its redrive policy moves them to a dead-letter queue after maxReceiveCount).
        let n = n.min(self.batch.len());
        self.batch.drain(..n);
        self.left.extend(std::iter::repeat_n(Instant::now(), n));
    }

    fn position(&self) -> Result<ConnectorFields, ConnectorError> {
        // Messages are deleted, not positioned.
        Ok(ConnectorFields::new())
    }

    async fn before_commit(&mut self) -> Result<(), ConnectorError> {
        // Keep messages waiting for the commit invisible.
        if self
            .oldest
            .is_some_and(|t| t.elapsed() >= self.visibility / 2)
        {
            let changes: Vec<VisibilityChange> = self
                .in_flight
                .iter()
                .map(|h| VisibilityChange {
                    receipt_handle: h.clone(),
                    timeout: self.visibility,
                })
                .collect();
            self.sqs
                .change_visibility_batch(&self.url, &changes)
                .await?;
            self.oldest = Some(Instant::now());
        }
        Ok(())
    }

    async fn after_commit(&mut self) -> Result<(), ConnectorError> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        // The commit made the messages' output durable; a crash here reads them again.
        crate::failpoints::hit("sqs-before-delete");
        let report = self.sqs.delete_batch(&self.url, &self.in_flight).await?;
        if !report.rejected.is_empty() {
            tracing::warn!(
                queue = %self.url,
                rejected = report.rejected.len(),
                "some processed messages could not be deleted (their visibility expired); they will be read again"
            );
        }
        self.in_flight.clear();
        self.oldest = None;
        Ok(())
    }

    async fn release(&mut self) {
        // Give the messages not handled back to the queue at once.
        let back: Vec<VisibilityChange> = self
            .batch
            .drain(..)
            .map(|receipt_handle| VisibilityChange {
                receipt_handle,
                timeout: Duration::ZERO,
            })
            .collect();
        if back.is_empty() {
            return;
        }
        let (sqs, url) = (self.sqs.clone(), self.url.clone());
        tokio::spawn(async move {
            let _ = sqs.change_visibility_batch(&url, &back).await;
        });
    }
}
