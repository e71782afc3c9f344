//! Invocations of stream, queue and table tasks: a Kinesis or DynamoDB Streams shard, an SQS
//! queue, a segment of a DynamoDB table scan.
//!
//! Each poll's records go through the implementation (a built-in parser over each record's
//! data, or the component's reader interface) into the task's output, exactly like file
//! records. The output is rolled (made durable) and the position checkpointed between polls:
//! every 5 s while records arrive, when a part is full, when the source goes idle, and at the
//! end. Positions are the last sequence number processed (shards), the scan's last evaluated
//! key (tables), and for queues nothing: messages are deleted once their documents and error
//! records are durable, and their visibility is extended while they wait.
//!
//! Idle sources are polled with exponential back-off (200 ms doubling to at most 1 minute).
//! A task ends when its shard is closed and read, after one scan of its segment
//! (`SingleTableScan`), after the configured number of consecutive empty polls or receives
//! (`StopWhenNoNewRecords`, `DrainQueues`), or, when `Continuous`, only when stopped.

use super::output::{ErrorContext, PartOutput};
use super::wasm::{Invocation, drain_guest_log, write_document};
use super::{InvokeError, Outcome, Runner, STOPPED, State, log_completed};
use letsdata_connectors::ConnectorError;
use letsdata_connectors::aws::attribute_value::JsonObject;
use letsdata_connectors::aws::dynamodb::{DynamoDbClient, ScanFilter, ScanKey, ScanRequest};
use letsdata_connectors::aws::dynamodb_streams::{DynamoDbStreamRecord, DynamoDbStreamShardReader};
use letsdata_connectors::aws::kinesis::{KinesisRecord, KinesisShardReader, gunzip};
use letsdata_connectors::aws::sqs::{ReceiveOptions, SqsClient, SqsMessage, VisibilityChange};
use letsdata_connectors::aws::{AwsClients, ShardStart};
use letsdata_model::spec::{
    Implementation, LogLevel, Manifest, QueueStop, ReadConnector, StreamStart, StreamStop,
    TableScanMode,
};
use letsdata_model::task::{Checkpoint, TaskDefinition};
use letsdata_records::{ParseOutcome, Record, RecordParser, builtin_parser};
use letsdata_sandbox::wit::{Document, ParseDocumentResult, ParseDocumentResultStatus};
use letsdata_sandbox::{RecordReader, StreamRecordArgs};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Output is made durable and the position checkpointed at least this often while records
/// arrive.
const ROLL_INTERVAL: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// SQS: how long received messages stay invisible (extended while they wait for a roll).
const QUEUE_VISIBILITY: Duration = Duration::from_secs(120);
/// SQS: long-poll time of one receive.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// Where a source stands, for the checkpoint.
#[derive(Debug, Clone, Default)]
pub(super) struct SourcePosition {
    pub sequence_number: Option<String>,
    pub latest_start_millis: Option<i64>,
    pub last_evaluated_key: Option<String>,
    pub completed_scans: u64,
}

enum Source {
    Kinesis {
        reader: KinesisShardReader,
        arn: String,
        shard: String,
    },
    Streams {
        reader: DynamoDbStreamShardReader,
        arn: String,
        shard: String,
    },
    Table {
        ddb: DynamoDbClient,
        request: ScanRequest,
        /// The table's key attribute names (document ids are their values).
        keys: Vec<String>,
        mode: TableScanMode,
        segment: u32,
    },
    Queue {
        sqs: SqsClient,
        url: String,
        name: String,
        /// Receipt handles of messages processed but not yet deleted, and when the oldest
        /// was received.
        in_flight: Vec<String>,
        oldest: Option<Instant>,
    },
}

/// One poll's records.
enum Batch {
    Kinesis(Vec<KinesisRecord>),
    Streams(Vec<DynamoDbStreamRecord>),
    Items(Vec<JsonObject>, Option<ScanKey>),
    Messages(Vec<SqsMessage>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Self::Kinesis(r) => r.len(),
            Self::Streams(r) => r.len(),
            Self::Items(r, _) => r.len(),
            Self::Messages(r) => r.len(),
        }
    }
}

/// The implementation records go through.
enum Parse {
    Builtin(Box<dyn RecordParser>),
    Wasm(Box<RecordReader>),
}

/// When the task ends on its own.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Never,
    AfterEmpty(u32),
}

fn millis(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Epoch milliseconds as a time.
fn at_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn shard_start(start: StreamStart, def: &TaskDefinition, checkpoint: &Checkpoint) -> ShardStart {
    if let Some(seq) = &checkpoint.sequence_number {
        return ShardStart::AfterSequenceNumber(seq.clone());
    }
    if def.parent_shard_id.is_some() {
        // A child found when its parent closed: every record of it is new to the dataset.
        return ShardStart::Earliest;
    }
    if let (StreamStart::Latest, Some(ms)) = (start, checkpoint.latest_start_millis) {
        // Resuming a `Latest` task that has not seen a record yet: from when it first read.
        return ShardStart::AtTimestamp(at_millis(ms));
    }
    match start {
        StreamStart::Earliest => ShardStart::Earliest,
        StreamStart::Latest => ShardStart::Latest,
        StreamStart::AtTimestamp(ms) => ShardStart::AtTimestamp(at_millis(ms)),
    }
}

fn definition_field<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str, InvokeError> {
    v.as_deref().ok_or_else(|| {
        InvokeError::Failed(format!(
            "the task definition has no {what}; the task database may be from another version"
        ))
    })
}

impl Runner {
    /// Runs one invocation of a stream, queue or table task.
    pub(super) async fn invoke_source(&self, run: Invocation<'_>) -> Result<Outcome, InvokeError> {
        let task = &run.lease.task;
        let aws = self.aws.clone().ok_or_else(|| {
            InvokeError::Failed("no AWS clients for the stream, queue or table reader".into())
        })?;
        let (mut source, stop) = self
            .open_source(&aws, &task.task_definition, &run.checkpoint)
            .await?;
        let (file_type, file_name) = match &source {
            Source::Kinesis { shard, .. } | Source::Streams { shard, .. } => {
                ("SHARD", shard.clone())
            }
            Source::Table {
                request, segment, ..
            } => ("SEGMENT", format!("{}#{segment}", request.table_name)),
            Source::Queue { name, .. } => ("QUEUE", name.clone()),
        };
        let mut parse = self.source_parse(&run, &file_name).await?;
        let mut out = self
            .part_output(&task.task_id, run.checkpoint.next_part)
            .await?;
        out.set_source(file_type, &file_name);
        let mut st = State::new(&run.checkpoint, file_type, 0);
        let latest_start_millis = match (&self.spec.manifest, &source) {
            (Manifest::Kinesis(m), Source::Kinesis { .. })
                if m.start == StreamStart::Latest && run.checkpoint.sequence_number.is_none() =>
            {
                Some(
                    run.checkpoint
                        .latest_start_millis
                        .unwrap_or_else(letsdata_model::time::now_millis),
                )
            }
            _ => None,
        };
        st.position = Some(SourcePosition {
            sequence_number: run.checkpoint.sequence_number.clone(),
            latest_start_millis,
            last_evaluated_key: run.checkpoint.last_evaluated_key.clone(),
            completed_scans: run.checkpoint.completed_scans,
        });
        run.log.log(
            LogLevel::Info,
            format!(
                "invocation started: {file_type} {file_name}{}, part {}",
                run.checkpoint
                    .sequence_number
                    .as_deref()
                    .map(|s| format!(" after sequence number {s}"))
                    .unwrap_or_default(),
                run.checkpoint.next_part
            ),
        );
        let ctx = ErrorContext {
            dataset_name: &self.dataset.dataset_name,
            dataset_id: &self.dataset.dataset_id,
            task_id: &task.task_id,
            file_type,
            file_name: &file_name,
        };

        let mut empty = 0u32;
        let mut backoff = FIRST_BACKOFF;
        let mut last_roll = Instant::now();
        loop {
            if run.signals.lost.load(Ordering::Relaxed) {
                out.abort().await;
                return Err(InvokeError::LeaseLost);
            }
            if run.signals.stop.load(Ordering::Relaxed) {
                self.roll_source(&run, &mut out, &mut st, &mut source, false)
                    .await?;
                run.log
                    .log(LogLevel::Warn, "stopped by request: checkpointed");
                return Ok(Outcome::Errored(STOPPED.to_string()));
            }
            if run.started.elapsed() >= run.budget {
                self.roll_source(&run, &mut out, &mut st, &mut source, false)
                    .await?;
                run.log.log(
                    LogLevel::Info,
                    format!(
                        "time budget of {}s nearly used: checkpointed, task queued again (RERUN)",
                        self.spec.compute_engine.timeout_in_seconds
                    ),
                );
                return Ok(Outcome::Rerun);
            }
            let (batch, after) = match source.poll().await {
                Ok(polled) => polled,
                Err(e) => {
                    self.roll_source(&run, &mut out, &mut st, &mut source, false)
                        .await?;
                    return Err(e.into());
                }
            };
            let n = batch.len();
            let processed = self
                .process_batch(
                    &run,
                    &mut parse,
                    &mut source,
                    batch,
                    &mut out,
                    &mut st,
                    &ctx,
                )
                .await;
            if let Err(message) = processed {
                self.roll_source(&run, &mut out, &mut st, &mut source, false)
                    .await?;
                return Err(InvokeError::Failed(message));
            }
            if out.chunk_full() {
                out.maybe_flush().await?;
            }
            self.publish(&mut st);
            match after {
                After::Finished => {
                    self.add_child_shards(&aws, &source, run.lease).await?;
                    break;
                }
                After::PassDone => {
                    self.roll_source(&run, &mut out, &mut st, &mut source, false)
                        .await?;
                    last_roll = Instant::now();
                    run.log.log(
                        LogLevel::Info,
                        format!(
                            "scan of the segment completed; the next one starts in {backoff:?}"
                        ),
                    );
                    wait(&run, backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                After::More => {}
                After::CaughtUp => {
                    if out.pending_bytes() >= self.settings.part_target_bytes
                        || last_roll.elapsed() >= ROLL_INTERVAL
                    {
                        self.roll_source(&run, &mut out, &mut st, &mut source, false)
                            .await?;
                        last_roll = Instant::now();
                    }
                    empty = 0;
                    backoff = FIRST_BACKOFF;
                    wait(&run, FIRST_BACKOFF).await;
                    continue;
                }
            }
            if n > 0 {
                empty = 0;
                backoff = FIRST_BACKOFF;
                if out.pending_bytes() >= self.settings.part_target_bytes
                    || last_roll.elapsed() >= ROLL_INTERVAL
                {
                    self.roll_source(&run, &mut out, &mut st, &mut source, false)
                        .await?;
                    last_roll = Instant::now();
                }
                continue;
            }
            empty += 1;
            if let Stop::AfterEmpty(k) = stop
                && empty >= k
            {
                run.log.log(
                    LogLevel::Info,
                    format!("{empty} consecutive polls found no new records: the task ends"),
                );
                break;
            }
            // Idle: make what was read durable, then wait.
            if st.pending != Default::default() || source.has_in_flight() {
                self.roll_source(&run, &mut out, &mut st, &mut source, false)
                    .await?;
                last_roll = Instant::now();
            }
            if !matches!(source, Source::Queue { .. }) || matches!(stop, Stop::Never) {
                wait(&run, backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        self.roll_source(&run, &mut out, &mut st, &mut source, true)
            .await?;
        log_completed(run.log, &st);
        Ok(Outcome::Completed)
    }

    /// A closed shard's children (after a split or merge) get tasks of their own, read from
    /// their start, unless they have them already (task ids derive from the shard id).
    async fn add_child_shards(
        &self,
        aws: &AwsClients,
        source: &Source,
        lease: &letsdata_store::Lease,
    ) -> Result<(), InvokeError> {
        let children: Vec<String> = match source {
            Source::Kinesis { arn, shard, .. } => aws
                .kinesis()
                .list_shards(arn)
                .await?
                .into_iter()
                .filter(|s| s.parent_ids().any(|p| p == shard))
                .map(|s| s.shard_id)
                .collect(),
            Source::Streams { arn, shard, .. } => aws
                .dynamodb_streams()
                .list_shards(arn)
                .await?
                .into_iter()
                .filter(|s| s.parent_shard_id.as_deref() == Some(shard.as_str()))
                .map(|s| s.shard_id)
                .collect(),
            _ => return Ok(()),
        };
        if children.is_empty() {
            return Ok(());
        }
        let parent = &lease.task;
        let tasks: Vec<letsdata_store::NewTask> = children
            .iter()
            .map(|child| {
                let definition = TaskDefinition {
                    reader_type: parent.task_definition.reader_type.clone(),
                    manifest_line: child.clone(),
                    manifest_index: parent.task_definition.manifest_index,
                    source: parent.task_definition.source.clone(),
                    shard_id: Some(child.clone()),
                    parent_shard_id: parent.task_definition.shard_id.clone(),
                    ..Default::default()
                };
                letsdata_store::NewTask {
                    task_id: crate::manifest::task_id_for(&self.dataset.dataset_id, 0, child),
                    ordinal: parent.task_definition.manifest_index,
                    task_type: parent.task_type.clone(),
                    definition,
                }
            })
            .collect();
        let added = self.tasks.insert_tasks(&tasks).await?;
        tracing::info!(parent = ?parent.task_definition.shard_id, ?children, added, "shard closed: tasks for its children");
        Ok(())
    }

    /// Rolls the output and checkpoints, then deletes the queue messages it covers.
    async fn roll_source(
        &self,
        run: &Invocation<'_>,
        out: &mut PartOutput,
        st: &mut State,
        source: &mut Source,
        end: bool,
    ) -> Result<(), InvokeError> {
        source.extend_visibility().await?;
        self.roll(run.lease, out, st, end, run.log).await?;
        source.acknowledge().await?;
        Ok(())
    }

    async fn open_source(
        &self,
        aws: &AwsClients,
        def: &TaskDefinition,
        checkpoint: &Checkpoint,
    ) -> Result<(Source, Stop), InvokeError> {
        let spec = &self.spec;
        let stream_stop = |s: StreamStop| match s {
            StreamStop::Continuous => Stop::Never,
            StreamStop::AfterEmptyPolls(n) => Stop::AfterEmpty(n),
        };
        Ok(match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::Kinesis(r), Manifest::Kinesis(m)) => {
                let shard = definition_field(&def.shard_id, "shard id")?.to_string();
                let reader = aws.kinesis().shard_reader(
                    &r.stream_arn,
                    &shard,
                    shard_start(m.start, def, checkpoint),
                );
                (
                    Source::Kinesis {
                        reader,
                        arn: r.stream_arn.clone(),
                        shard,
                    },
                    stream_stop(m.stop),
                )
            }
            (ReadConnector::DynamoDbStreams(r), Manifest::DynamoDbStreams(m)) => {
                let shard = definition_field(&def.shard_id, "shard id")?.to_string();
                let reader = aws.dynamodb_streams().shard_reader(
                    &r.stream_arn,
                    &shard,
                    shard_start(m.start, def, checkpoint),
                );
                (
                    Source::Streams {
                        reader,
                        arn: r.stream_arn.clone(),
                        shard,
                    },
                    stream_stop(m.stop),
                )
            }
            (ReadConnector::DynamoDb(r), Manifest::DynamoDbTable(m)) => {
                let ddb = aws.dynamodb();
                let segment = def.segment.unwrap_or(0);
                let total = def.total_segments.unwrap_or(m.segments);
                let info = ddb.describe_table(&r.table_name).await?.ok_or_else(|| {
                    InvokeError::Failed(format!(
                        "DynamoDB table {:?} does not exist; it was deleted after the dataset was created",
                        r.table_name
                    ))
                })?;
                let mut keys = vec![info.key_schema.hash_key.name.clone()];
                keys.extend(info.key_schema.range_key.as_ref().map(|k| k.name.clone()));
                let mut request = ScanRequest::segment(
                    &r.table_name,
                    i32::try_from(segment).unwrap_or(0),
                    i32::try_from(total).unwrap_or(1),
                );
                request.limit = Some(1000);
                request.filter = r.filter.as_ref().map(|f| ScanFilter {
                    expression: f.expression.clone(),
                    attribute_names: f.attribute_names.clone(),
                    attribute_values: f.attribute_values.clone(),
                });
                request.exclusive_start_key = checkpoint
                    .last_evaluated_key
                    .as_deref()
                    .map(ScanKey::from_checkpoint)
                    .transpose()?;
                (
                    Source::Table {
                        ddb,
                        request,
                        keys,
                        mode: m.mode,
                        segment,
                    },
                    Stop::Never,
                )
            }
            (ReadConnector::Sqs(r), Manifest::Sqs(m)) => {
                let sqs = aws.sqs();
                let url = sqs.queue_url(&r.queue_name).await?;
                let stop = match m.stop {
                    QueueStop::DrainQueues { empty_receives } => Stop::AfterEmpty(empty_receives),
                    QueueStop::Continuous => Stop::Never,
                };
                (
                    Source::Queue {
                        sqs,
                        url,
                        name: r.queue_name.clone(),
                        in_flight: Vec::new(),
                        oldest: None,
                    },
                    stop,
                )
            }
            _ => {
                return Err(InvokeError::Failed(
                    "the read connector and the manifest do not match".into(),
                ));
            }
        })
    }

    /// The built-in parser, or the component's reader instance.
    async fn source_parse(&self, run: &Invocation<'_>, name: &str) -> Result<Parse, InvokeError> {
        match self.spec.read_connector.implementation() {
            Implementation::Builtin(p) => Ok(Parse::Builtin(builtin_parser(p, name))),
            Implementation::Wasm(_) => {
                let interface = crate::code::interface_of(&self.spec.read_connector);
                let (sandbox, code, limits) = self.user_code(run, interface).await?;
                let reader = RecordReader::new(&sandbox, &code, limits, interface)
                    .await
                    .map_err(|e| InvokeError::Failed(e.to_string()))?;
                Ok(Parse::Wasm(Box::new(reader)))
            }
        }
    }

    /// Turns one poll's records into documents and error records, advancing the position
    /// record by record. A failure of user code returns its message after the records before
    /// it were handled (the caller checkpoints them, then fails the attempt).
    #[allow(clippy::too_many_arguments)]
    async fn process_batch(
        &self,
        run: &Invocation<'_>,
        parse: &mut Parse,
        source: &mut Source,
        batch: Batch,
        out: &mut PartOutput,
        st: &mut State,
        ctx: &ErrorContext<'_>,
    ) -> Result<(), String> {
        let mut id = String::new();
        let mut doc_id = String::new();
        match (batch, &mut *source) {
            (Batch::Kinesis(records), Source::Kinesis { arn, shard, .. }) => {
                for r in &records {
                    id.clear();
                    let _ = write!(id, "{shard}:{}", r.sequence_number);
                    let result = match parse {
                        Parse::Builtin(p) => {
                            let data = if r.data.starts_with(&[0x1f, 0x8b]) {
                                gunzip(&r.data).map_err(|e| e.to_string())
                            } else {
                                Ok(r.data.clone())
                            };
                            match data {
                                Ok(data) => {
                                    builtin(p.as_mut(), &data, &id, &mut doc_id, out, st, ctx);
                                    Ok(())
                                }
                                Err(e) => {
                                    record_error(out, st, ctx, &id, &e, &r.data);
                                    Ok(())
                                }
                            }
                        }
                        Parse::Wasm(reader) => {
                            let result = reader
                                .parse_kinesis_record(
                                    arn,
                                    shard,
                                    &r.partition_key,
                                    &r.sequence_number,
                                    millis(r.arrival_timestamp),
                                    &r.data,
                                )
                                .await;
                            drain_guest_log(run.log, reader.drain_log());
                            user_result(result, out, st, ctx, &id, &r.data)
                        }
                    };
                    result?;
                    st.resume += r.data.len() as u64;
                    if let Some(p) = st.position.as_mut() {
                        p.sequence_number = Some(r.sequence_number.clone());
                    }
                }
                Ok(())
            }
            (Batch::Streams(records), Source::Streams { arn, shard, .. }) => {
                for r in &records {
                    let json = stream_record_json(r);
                    let result = match parse {
                        Parse::Builtin(p) => {
                            builtin(
                                p.as_mut(),
                                json.as_bytes(),
                                &r.event_id,
                                &mut doc_id,
                                out,
                                st,
                                ctx,
                            );
                            Ok(())
                        }
                        Parse::Wasm(reader) => {
                            let keys = serde_json::to_string(&r.keys).unwrap_or_default();
                            let old = r
                                .old_image
                                .as_ref()
                                .map(|i| serde_json::to_string(i).unwrap_or_default());
                            let new = r
                                .new_image
                                .as_ref()
                                .map(|i| serde_json::to_string(i).unwrap_or_default());
                            let args = StreamRecordArgs {
                                stream_arn: arn,
                                shard_id: shard,
                                event_id: &r.event_id,
                                event_name: r.event_name.as_str(),
                                identity_principal_id: None,
                                identity_type: None,
                                sequence_number: &r.sequence_number,
                                size_bytes: u64::try_from(r.size_bytes).unwrap_or(0),
                                stream_view_type: r.stream_view_type.as_deref().unwrap_or(""),
                                approximate_creation_date_time: millis(r.approximate_creation_time),
                                keys: &keys,
                                old_image: old.as_deref(),
                                new_image: new.as_deref(),
                            };
                            let result = reader.parse_dynamodb_stream_record(&args).await;
                            drain_guest_log(run.log, reader.drain_log());
                            user_result(result, out, st, ctx, &r.event_id, json.as_bytes())
                        }
                    };
                    result?;
                    st.resume += json.len() as u64;
                    if let Some(p) = st.position.as_mut() {
                        p.sequence_number = Some(r.sequence_number.clone());
                    }
                }
                Ok(())
            }
            (
                Batch::Items(items, next),
                Source::Table {
                    request,
                    keys,
                    segment,
                    mode,
                    ..
                },
            ) => {
                for item in &items {
                    let json = serde_json::to_string(item).unwrap_or_default();
                    id.clear();
                    for (i, k) in keys.iter().enumerate() {
                        if i > 0 {
                            id.push('|');
                        }
                        match item.get(k) {
                            Some(serde_json::Value::String(s)) => id.push_str(s),
                            Some(v) => {
                                let _ = write!(id, "{v}");
                            }
                            None => {}
                        }
                    }
                    let result = match parse {
                        Parse::Builtin(p) => {
                            builtin(p.as_mut(), json.as_bytes(), &id, &mut doc_id, out, st, ctx);
                            Ok(())
                        }
                        Parse::Wasm(reader) => {
                            let key: serde_json::Map<String, serde_json::Value> = keys
                                .iter()
                                .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
                                .collect();
                            let key = serde_json::to_string(&key).unwrap_or_default();
                            let result = reader
                                .parse_dynamodb_item(&request.table_name, *segment, &key, &json)
                                .await;
                            drain_guest_log(run.log, reader.drain_log());
                            user_result(result, out, st, ctx, &id, json.as_bytes())
                        }
                    };
                    result?;
                    st.resume += json.len() as u64;
                }
                // The page is done: the scan resumes after it.
                request.exclusive_start_key = next;
                if let Some(p) = st.position.as_mut() {
                    p.last_evaluated_key = match &request.exclusive_start_key {
                        Some(k) => Some(k.to_checkpoint().map_err(|e| e.to_string())?),
                        None => None,
                    };
                    if request.exclusive_start_key.is_none() && *mode == TableScanMode::Continuous {
                        p.completed_scans += 1;
                    }
                }
                Ok(())
            }
            (
                Batch::Messages(messages),
                Source::Queue {
                    in_flight,
                    oldest,
                    sqs,
                    url,
                    ..
                },
            ) => {
                let mut failure = None;
                let mut handled = 0;
                for m in &messages {
                    let result = match parse {
                        Parse::Builtin(p) => {
                            builtin(
                                p.as_mut(),
                                m.body.as_bytes(),
                                &m.message_id,
                                &mut doc_id,
                                out,
                                st,
                                ctx,
                            );
                            Ok(())
                        }
                        Parse::Wasm(reader) => {
                            let attributes: Vec<(String, String)> = m
                                .message_attributes
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect();
                            let result = reader
                                .parse_queue_message(
                                    &m.message_id,
                                    m.message_group_id.as_deref(),
                                    m.deduplication_id.as_deref(),
                                    &attributes,
                                    &m.body,
                                )
                                .await;
                            drain_guest_log(run.log, reader.drain_log());
                            user_result(result, out, st, ctx, &m.message_id, m.body.as_bytes())
                        }
                    };
                    if let Err(e) = result {
                        failure = Some(e);
                        break;
                    }
                    handled += 1;
                    st.resume += m.body.len() as u64;
                    in_flight.push(m.receipt_handle.clone());
                    oldest.get_or_insert_with(Instant::now);
                }
                if let Some(e) = failure {
                    // Give the messages not handled back to the queue at once.
                    let back: Vec<VisibilityChange> = messages[handled..]
                        .iter()
                        .map(|m| VisibilityChange {
                            receipt_handle: m.receipt_handle.clone(),
                            timeout: Duration::ZERO,
                        })
                        .collect();
                    let (sqs, url) = (sqs.clone(), url.clone());
                    tokio::spawn(async move {
                        let _ = sqs.change_visibility_batch(&url, &back).await;
                    });
                    return Err(e);
                }
                Ok(())
            }
            _ => Err("internal error: a batch from another source".to_string()),
        }
    }
}

/// What follows a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Poll again (at once when records came, after a pause when none did).
    More,
    /// Records came, and the reader is at the tip of its shard: pause briefly before the next
    /// poll (Kinesis allows five reads a second per shard).
    CaughtUp,
    /// The source is finished: shard closed and read, or the single scan done.
    Finished,
    /// A `Continuous` scan completed a pass: pause before the next one.
    PassDone,
}

impl Source {
    /// The next records.
    async fn poll(&mut self) -> Result<(Batch, After), ConnectorError> {
        match self {
            Self::Kinesis { reader, .. } => {
                let b = reader.poll().await?;
                let after = if b.shard_closed {
                    After::Finished
                } else if !b.records.is_empty() && b.millis_behind_latest == Some(0) {
                    After::CaughtUp
                } else {
                    After::More
                };
                Ok((Batch::Kinesis(b.records), after))
            }
            Self::Streams { reader, .. } => {
                let b = reader.poll().await?;
                let after = if b.shard_closed {
                    After::Finished
                } else {
                    After::More
                };
                Ok((Batch::Streams(b.records), after))
            }
            Self::Table {
                ddb, request, mode, ..
            } => {
                let page = ddb.scan(request).await?;
                let after = match (page.last_evaluated_key.is_none(), *mode) {
                    (false, _) => After::More,
                    (true, TableScanMode::SingleTableScan) => After::Finished,
                    (true, TableScanMode::Continuous) => After::PassDone,
                };
                Ok((Batch::Items(page.items, page.last_evaluated_key), after))
            }
            Self::Queue { sqs, url, .. } => {
                let options = ReceiveOptions {
                    max_messages: 10,
                    wait_time: QUEUE_WAIT,
                    visibility_timeout: Some(QUEUE_VISIBILITY),
                };
                Ok((
                    Batch::Messages(sqs.receive(url, &options).await?),
                    After::More,
                ))
            }
        }
    }

    fn has_in_flight(&self) -> bool {
        matches!(self, Self::Queue { in_flight, .. } if !in_flight.is_empty())
    }

    /// Queues: keeps messages waiting for a roll invisible.
    async fn extend_visibility(&mut self) -> Result<(), ConnectorError> {
        if let Self::Queue {
            sqs,
            url,
            in_flight,
            oldest,
            ..
        } = self
            && oldest.is_some_and(|t| t.elapsed() >= QUEUE_VISIBILITY / 2)
        {
            let changes: Vec<VisibilityChange> = in_flight
                .iter()
                .map(|h| VisibilityChange {
                    receipt_handle: h.clone(),
                    timeout: QUEUE_VISIBILITY,
                })
                .collect();
            sqs.change_visibility_batch(url, &changes).await?;
            *oldest = Some(Instant::now());
        }
        Ok(())
    }

    /// Queues: deletes the messages whose output is durable now.
    async fn acknowledge(&mut self) -> Result<(), ConnectorError> {
        if let Self::Queue {
            sqs,
            url,
            in_flight,
            oldest,
            ..
        } = self
            && !in_flight.is_empty()
        {
            let report = sqs.delete_batch(url, in_flight).await?;
            if !report.rejected.is_empty() {
                tracing::warn!(
                    queue = %url,
                    rejected = report.rejected.len(),
                    "some processed messages could not be deleted (their visibility expired); they will be read again"
                );
            }
            in_flight.clear();
            *oldest = None;
        }
        Ok(())
    }
}

/// Waits `pause`, returning early when the task is asked to stop or loses its lease.
async fn wait(run: &Invocation<'_>, pause: Duration) {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if run.signals.lost.load(Ordering::Relaxed)
            || run.signals.stop.load(Ordering::Relaxed)
            || run.started.elapsed() >= run.budget
        {
            return;
        }
        tokio::time::sleep((until - Instant::now()).min(Duration::from_millis(100))).await;
    }
}

/// A DynamoDB Streams record as the JSON document built-in parsers see.
fn stream_record_json(r: &DynamoDbStreamRecord) -> String {
    let mut v = serde_json::json!({
        "eventID": r.event_id,
        "eventName": r.event_name.as_str(),
        "sequenceNumber": r.sequence_number,
        "sizeBytes": r.size_bytes,
        "keys": r.keys,
    });
    if let Some(t) = r.approximate_creation_time {
        v["approximateCreationDateTime"] = millis(Some(t)).into();
    }
    if let Some(vt) = &r.stream_view_type {
        v["streamViewType"] = vt.clone().into();
    }
    if let Some(i) = &r.old_image {
        v["oldImage"] = serde_json::Value::Object(i.clone());
    }
    if let Some(i) = &r.new_image {
        v["newImage"] = serde_json::Value::Object(i.clone());
    }
    v.to_string()
}

/// Parses one record's data with a built-in parser. `id` is the record's own id (used when
/// the parser finds no `documentIdField`).
fn builtin(
    parser: &mut dyn RecordParser,
    data: &[u8],
    id: &str,
    doc_id: &mut String,
    out: &mut PartOutput,
    st: &mut State,
    ctx: &ErrorContext<'_>,
) {
    let rec = Record {
        bytes: data,
        start_offset: st.resume,
        end_offset: st.resume + data.len() as u64,
        next_offset: st.resume + data.len() as u64,
        truncated: false,
    };
    st.pending.records_read += 1;
    doc_id.clear();
    match parser.parse(&rec, &mut out.docs, doc_id) {
        ParseOutcome::Document => {
            out.end_doc(if doc_id.is_empty() { id } else { doc_id });
            st.pending.documents_written += 1;
        }
        ParseOutcome::Skip => st.pending.skip_records += 1,
        ParseOutcome::Header => st.pending.records_read -= 1,
        ParseOutcome::Error(message) => {
            let id = if doc_id.is_empty() {
                id
            } else {
                doc_id.as_str()
            };
            record_error(out, st, ctx, id, &message, data);
        }
    }
}

/// An error record for one record of a stream, queue or table.
fn record_error(
    out: &mut PartOutput,
    st: &mut State,
    ctx: &ErrorContext<'_>,
    id: &str,
    message: &str,
    raw: &[u8],
) {
    let at = [(ctx.file_type.to_string(), id.to_string())];
    out.push_error_doc(ctx, &at, &at, message, Some(id), raw);
    st.pending.error_records += 1;
}

/// Handles a reader component's result for one record.
fn user_result(
    result: Result<ParseDocumentResult, letsdata_sandbox::SandboxError>,
    out: &mut PartOutput,
    st: &mut State,
    ctx: &ErrorContext<'_>,
    id: &str,
    raw: &[u8],
) -> Result<(), String> {
    let result = result.map_err(|e| e.to_string())?;
    st.pending.records_read += 1;
    match (result.document, result.status) {
        // An error document without content of its own: the record it is about is the raw record.
        (Some(Document::Error(e)), _) if e.serialized.is_none() => {
            out.push_error_doc(
                ctx,
                &e.error_start_offset_map,
                &e.error_end_offset_map,
                &e.error_message,
                Some(e.document_id.as_deref().unwrap_or(id)),
                raw,
            );
            st.pending.error_records += 1;
        }
        (Some(doc), status) => write_document(out, st, ctx, doc, status),
        (None, ParseDocumentResultStatus::Skip) => st.pending.skip_records += 1,
        (None, status) => record_error(
            out,
            st,
            ctx,
            id,
            &format!("the reader returned status {status:?} without a document"),
            raw,
        ),
    }
    Ok(())
}
