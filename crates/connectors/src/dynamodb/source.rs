//! The DynamoDB table read source: one task per segment of a parallel scan, resumed at the
//! scan's `LastEvaluatedKey`. Items are plain JSON (rule in [`crate::aws::attribute_value`]);
//! an item's id is its key values joined by `|`.

use super::{DYNAMODB_TABLE, DynamoDbClient, ScanFilter, ScanKey, ScanRequest};
use crate::aws::{Access, clients, describe, existence_problem};
use crate::source::{
    Next, ReadSource, RecordBatch, RecordSource, SourceRecord, TaskInput, TaskSeed, TaskSeeds,
    from_fields, seeds, to_fields,
};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{TableManifest, TableReadConnector, TableScanMode};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use std::fmt::Write as _;
use std::sync::Arc;

/// Scans a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbSource {
    pub(super) read: TableReadConnector,
    pub(super) manifest: TableManifest,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

/// A segment task's own fields.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentTask {
    /// The table's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    segment: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total_segments: Option<u32>,
}

/// A segment task's position: where the scan resumes (typed JSON of the key), and how many
/// scans of the segment completed (`Continuous` scans repeat).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_evaluated_key: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    completed_scans: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[async_trait]
impl ReadSource for DynamoDbSource {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: DYNAMODB_TABLE.to_string(),
            resource_location: self.read.resource_location.to_string(),
            name: self.read.table_name.clone(),
            ..Default::default()
        }
    }

    fn task_type(&self) -> &'static str {
        "DYNAMODB_TABLE"
    }

    fn wasm_interface(&self) -> &'static str {
        "DynamoDBTableItemReader"
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let found = async {
            clients(ctx, self.region, &self.access)
                .await?
                .dynamodb()
                .exists(&self.read.table_name)
                .await
        }
        .await;
        existence_problem(
            "readConnector.tableName",
            &describe("DynamoDB table", &self.resource()),
            self.region,
            "",
            found,
        )
        .into_iter()
        .collect()
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        // The table was checked at create time; it may be gone.
        let ddb = clients(ctx, self.region, &self.access).await?.dynamodb();
        if !ddb.exists(&self.read.table_name).await? {
            return Err(ConnectorError::User(format!(
                "the {} does not exist in region {}; create it first, or fix the name",
                describe("DynamoDB table", &self.resource()),
                self.region
            )));
        }
        let n = self.manifest.segments;
        Ok(seeds(
            (0..n)
                .map(|segment| {
                    let line = format!("segment {segment} of {n}");
                    TaskSeed {
                        identity: format!("{segment}:{line}"),
                        ordinal: u64::from(segment),
                        definition: TaskDefinition {
                            reader_type: "DYNAMODBTABLEREADER".into(),
                            manifest_line: line,
                            manifest_index: u64::from(segment),
                            input: to_fields(&SegmentTask {
                                source: Some(self.read.table_name.clone()),
                                segment: Some(segment),
                                total_segments: Some(n),
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
        task: &TaskDefinition,
        position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError> {
        let own: SegmentTask = from_fields(&task.input, "segment task")?;
        let position: SegmentPosition = from_fields(position, "scan position")?;
        let ddb = clients(ctx, self.region, &self.access).await?.dynamodb();
        let segment = own.segment.unwrap_or(0);
        let total = own.total_segments.unwrap_or(self.manifest.segments);
        let info = ddb
            .describe_table(&self.read.table_name)
            .await?
            .ok_or_else(|| {
                ConnectorError::User(format!(
                    "DynamoDB table {:?} does not exist; it was deleted after the dataset was created",
                    self.read.table_name
                ))
            })?;
        let mut keys = vec![info.key_schema.hash_key.name.clone()];
        keys.extend(info.key_schema.range_key.as_ref().map(|k| k.name.clone()));
        let mut request = ScanRequest::segment(
            &self.read.table_name,
            i32::try_from(segment).unwrap_or(0),
            i32::try_from(total).unwrap_or(1),
        );
        request.limit = Some(1000);
        request.filter = self.read.filter.as_ref().map(|f| ScanFilter {
            expression: f.expression.clone(),
            attribute_names: f.attribute_names.clone(),
            attribute_values: f.attribute_values.clone(),
        });
        request.exclusive_start_key = position
            .last_evaluated_key
            .as_deref()
            .map(ScanKey::from_checkpoint)
            .transpose()?;
        Ok(TaskInput::Records(Box::new(SegmentSource {
            ddb,
            label: format!("{}#{segment}", self.read.table_name),
            table: Arc::from(self.read.table_name.as_str()),
            request,
            keys,
            mode: self.manifest.mode,
            segment,
            completed_scans: position.completed_scans,
            page_end: None,
            page_left: 0,
        })))
    }
}

/// One segment task's items.
struct SegmentSource {
    ddb: DynamoDbClient,
    label: String,
    table: Arc<str>,
    request: ScanRequest,
    /// The table's key attribute names (an item's id is their values).
    keys: Vec<String>,
    mode: TableScanMode,
    segment: u32,
    completed_scans: u64,
    /// Where the last page ended, and how many of its items are not consumed yet.
    page_end: Option<Option<ScanKey>>,
    page_left: usize,
}

impl SegmentSource {
    /// The key values of an item joined by `|`, and its key attributes as a JSON object.
    fn identify(&self, item: &serde_json::Map<String, serde_json::Value>) -> (String, String) {
        let mut id = String::new();
        let mut key = serde_json::Map::new();
        for (i, k) in self.keys.iter().enumerate() {
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
            if let Some(v) = item.get(k) {
                key.insert(k.clone(), v.clone());
            }
        }
        (id, serde_json::Value::Object(key).to_string())
    }
}

#[async_trait]
impl RecordSource for SegmentSource {
    fn label(&self) -> (&str, &str) {
        ("SEGMENT", &self.label)
    }

    async fn poll(&mut self) -> Result<RecordBatch, ConnectorError> {
        let page = self.ddb.scan(&self.request).await?;
        let next = match (page.last_evaluated_key.is_none(), self.mode) {
            (false, _) => Next::More,
            (true, TableScanMode::SingleTableScan) => {
                Next::Finished(format!("the scan of segment {} is complete", self.segment))
            }
            (true, TableScanMode::Continuous) => Next::PassDone,
        };
        let records: Vec<SourceRecord> = page
            .items
            .iter()
            .map(|item| {
                let (id, keys) = self.identify(item);
                SourceRecord {
                    id,
                    raw: Bytes::from(serde_json::to_string(item).unwrap_or_default()),
                    decoded: None,
                    meta: RecordMeta::TableItem {
                        table_name: self.table.clone(),
                        segment_number: self.segment,
                        keys,
                    },
                }
            })
            .collect();
        self.page_left = records.len();
        self.page_end = Some(page.last_evaluated_key);
        if records.is_empty() {
            // A page the filter emptied is done at once.
            self.consume(0);
        }
        Ok(RecordBatch { records, next })
    }

    fn consume(&mut self, n: usize) {
        self.page_left = self.page_left.saturating_sub(n);
        if self.page_left > 0 {
            return;
        }
        // The page is done: the scan resumes after it.
        if let Some(end) = self.page_end.take() {
            if end.is_none() && self.mode == TableScanMode::Continuous {
                self.completed_scans += 1;
            }
            self.request.exclusive_start_key = end;
        }
    }

    fn position(&self) -> Result<ConnectorFields, ConnectorError> {
        let position = SegmentPosition {
            last_evaluated_key: self
                .request
                .exclusive_start_key
                .as_ref()
                .map(ScanKey::to_checkpoint)
                .transpose()?,
            completed_scans: self.completed_scans,
        };
        Ok(to_fields(&position))
    }
}
