//! DynamoDB tables: parallel scan segments, the `BatchWriteItem` writer, table admin.
//!
//! **Reading.** A table reader task owns one segment of a parallel scan
//! ([`DynamoDbClient::scan`] with `segment` of `total_segments`); each page returns items as
//! plain JSON (rule in [`super::attribute_value`]) and the `LastEvaluatedKey`, a [`ScanKey`]
//! whose [`ScanKey::to_checkpoint`] string is the task's checkpoint. The segment is done when
//! a page has no `last_evaluated_key`. Every item belongs to exactly one segment.
//!
//! **Writing.** [`DynamoDbWriter::write`] puts JSON documents with `BatchWriteItem`, 25 per
//! call (a call never holds two items with the same key, which DynamoDB refuses; a later one
//! goes to the next call, so the last write of a key wins). Before sending, a document is
//! rejected back to the caller when a key attribute of the table is missing or of the wrong
//! type, when its partition key is over 2048 bytes or its sort key over 1024 bytes, or when
//! the item is over 400 KB. `UnprocessedItems` are sent again with back-off until the retry
//! policy's attempts run out, then the call fails (transient). When DynamoDB refuses a whole
//! call as invalid, its items are put one by one so that only the offending ones are rejected.

use crate::aws::attribute_value::{
    Item, JsonObject, from_json, item_from_json, item_from_typed_json, item_size, item_to_json,
    item_to_typed_json,
};
use crate::aws::{BatchReport, RetryPolicy, aws_error, has_code, retry, sdk_error};
use crate::{ConnectorError, FailureKind};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus, Tag, WriteRequest,
};
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Most items in one `BatchWriteItem` call.
pub const MAX_BATCH_ITEMS: usize = 25;
/// Largest item (attribute names and values).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Largest partition key value.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Largest sort key value.
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// DynamoDB calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoDbClient {
    client: Client,
    retry: RetryPolicy,
}

/// The scalar type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAttributeType {
    /// `S`.
    String,
    /// `N`.
    Number,
    /// `B` (base64 strings in JSON documents).
    Binary,
}

impl KeyAttributeType {
    fn to_sdk(self) -> ScalarAttributeType {
        match self {
            Self::String => ScalarAttributeType::S,
            Self::Number => ScalarAttributeType::N,
            Self::Binary => ScalarAttributeType::B,
        }
    }

    fn from_sdk(t: &ScalarAttributeType) -> Option<Self> {
        match t {
            ScalarAttributeType::S => Some(Self::String),
            ScalarAttributeType::N => Some(Self::Number),
            ScalarAttributeType::B => Some(Self::Binary),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Number => "a number",
            Self::Binary => "a base64 string",
        }
    }
}

/// A key attribute: name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type.
    pub attribute_type: KeyAttributeType,
}

impl KeyAttribute {
    /// A string key attribute.
    pub fn string(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attribute_type: KeyAttributeType::String,
        }
    }
}

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKeySchema {
    /// Partition (hash) key.
    pub hash_key: KeyAttribute,
    /// Sort (range) key, if any.
    pub range_key: Option<KeyAttribute>,
}

/// A table to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// Primary key.
    pub key_schema: TableKeySchema,
    /// Enable a stream with `NEW_AND_OLD_IMAGES`.
    pub stream_enabled: bool,
    /// Tags (key, value) the table is created with.
    pub tags: Vec<(String, String)>,
}

impl TableSpec {
    /// An on-demand table keyed by the string attribute `id`, without a stream.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            key_schema: TableKeySchema {
                hash_key: KeyAttribute::string("id"),
                range_key: None,
            },
            stream_enabled: false,
            tags: Vec::new(),
        }
    }

    /// Enables or disables the table's stream.
    pub fn with_stream(mut self, enabled: bool) -> Self {
        self.stream_enabled = enabled;
        self
    }
}

/// A table, as `DescribeTable` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Table ARN.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, ...
    pub status: String,
    /// Primary key.
    pub key_schema: TableKeySchema,
    /// ARN of the latest stream, when the table has a stream enabled.
    pub stream_arn: Option<String>,
    /// `NEW_AND_OLD_IMAGES`, ... when the table has a stream enabled.
    pub stream_view_type: Option<String>,
    /// Approximate item count (updated by DynamoDB about every six hours).
    pub item_count: Option<i64>,
}

/// The position after the last item of a scan page (`LastEvaluatedKey`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanKey(Item);

impl ScanKey {
    /// Serializes the key losslessly (typed DynamoDB JSON, `{"id":{"S":"a"}}`) for a
    /// checkpoint.
    pub fn to_checkpoint(&self) -> Result<String, ConnectorError> {
        let typed = item_to_typed_json(&self.0)?;
        Ok(Value::Object(typed).to_string())
    }

    /// Parses a checkpoint made by [`ScanKey::to_checkpoint`].
    pub fn from_checkpoint(checkpoint: &str) -> Result<Self, ConnectorError> {
        let value: Value = serde_json::from_str(checkpoint).map_err(|e| {
            aws_error(
                "invalid DynamoDB scan checkpoint",
                e.to_string(),
                FailureKind::User,
            )
        })?;
        let object = value.as_object().ok_or_else(|| {
            aws_error(
                "invalid DynamoDB scan checkpoint",
                format!("expected an object, got {value}"),
                FailureKind::User,
            )
        })?;
        Ok(Self(item_from_typed_json(object)?))
    }

    /// The key as plain JSON.
    pub fn to_json(&self) -> Result<JsonObject, ConnectorError> {
        item_to_json(&self.0)
    }
}

/// A filter applied by the scan (`FilterExpression`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanFilter {
    /// The filter expression (`#s = :done`).
    pub expression: String,
    /// `#name` placeholders.
    pub attribute_names: BTreeMap<String, String>,
    /// `:value` placeholders, as plain JSON.
    pub attribute_values: JsonObject,
}

/// One page of one scan segment.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    /// Table name.
    pub table_name: String,
    /// This segment (0-based).
    pub segment: i32,
    /// Segments in the parallel scan (1 = a plain scan).
    pub total_segments: i32,
    /// Where the previous page ended; `None` for the first page.
    pub exclusive_start_key: Option<ScanKey>,
    /// Most items evaluated in this page (before the filter).
    pub limit: Option<i32>,
    /// Filter applied by DynamoDB.
    pub filter: Option<ScanFilter>,
    /// Strongly consistent reads.
    pub consistent_read: bool,
}

impl ScanRequest {
    /// The first page of `segment` of `total_segments`.
    pub fn segment(table_name: impl Into<String>, segment: i32, total_segments: i32) -> Self {
        Self {
            table_name: table_name.into(),
            segment,
            total_segments,
            exclusive_start_key: None,
            limit: None,
            filter: None,
            consistent_read: false,
        }
    }
}

/// One scan page.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPage {
    /// Items that passed the filter, as plain JSON.
    pub items: Vec<JsonObject>,
    /// Where to continue; `None` when the segment is fully scanned.
    pub last_evaluated_key: Option<ScanKey>,
    /// Items evaluated (before the filter).
    pub scanned_count: i32,
}

impl DynamoDbClient {
    /// Wraps an SDK client.
    pub fn new(client: Client, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// Creates an on-demand table; `false` when a table of that name exists already (left as
    /// it is). The table is `CREATING` at first; see [`DynamoDbClient::wait_active`].
    pub async fn create_table(&self, spec: &TableSpec) -> Result<bool, ConnectorError> {
        let what = format!("cannot create DynamoDB table {:?}", spec.name);
        let build_err = |e: aws_sdk_dynamodb::error::BuildError| {
            aws_error(&what, e.to_string(), FailureKind::Internal)
        };
        let mut keys = vec![(&spec.key_schema.hash_key, KeyType::Hash)];
        if let Some(range) = &spec.key_schema.range_key {
            keys.push((range, KeyType::Range));
        }
        let mut req = self
            .client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest);
        for (attr, key_type) in keys {
            req = req
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(&attr.name)
                        .attribute_type(attr.attribute_type.to_sdk())
                        .build()
                        .map_err(build_err)?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(&attr.name)
                        .key_type(key_type)
                        .build()
                        .map_err(build_err)?,
                );
        }
        if spec.stream_enabled {
            req = req.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(build_err)?,
            );
        }
        for (k, v) in &spec.tags {
            req = req.tags(Tag::builder().key(k).value(v).build().map_err(build_err)?);
        }
        match retry(&self.retry, &what, || req.clone().send()).await {
            Ok(_) => Ok(true),
            Err(e) if has_code(&e, "ResourceInUseException") => Ok(false),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// The tags of the table with this ARN.
    pub async fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, ConnectorError> {
        let what = format!("cannot list the tags of DynamoDB table {arn}");
        let (mut tags, mut next) = (Vec::new(), None);
        loop {
            let out = retry(&self.retry, &what, || {
                self.client
                    .list_tags_of_resource()
                    .resource_arn(arn)
                    .set_next_token(next.clone())
                    .send()
            })
            .await
            .map_err(|e| sdk_error(&what, e))?;
            tags.extend(
                out.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t.key, t.value)),
            );
            next = out.next_token;
            if next.is_none() {
                return Ok(tags);
            }
        }
    }

    /// Whether the table holds no item (one `Scan` of at most one item).
    pub async fn is_empty(&self, name: &str) -> Result<bool, ConnectorError> {
        let what = format!("cannot scan DynamoDB table {name:?}");
        let out = retry(&self.retry, &what, || {
            self.client.scan().table_name(name).limit(1).send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        Ok(out.items.unwrap_or_default().is_empty() && out.last_evaluated_key.is_none())
    }

    /// Describes a table; `None` when it does not exist.
    pub async fn describe_table(&self, name: &str) -> Result<Option<TableInfo>, ConnectorError> {
        let what = format!("cannot describe DynamoDB table {name:?}");
        let out = match retry(&self.retry, &what, || {
            self.client.describe_table().table_name(name).send()
        })
        .await
        {
            Ok(out) => out,
            Err(e) if has_code(&e, "ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(sdk_error(what, e)),
        };
        let Some(t) = out.table else {
            return Ok(None);
        };
        let types: HashMap<String, ScalarAttributeType> = t
            .attribute_definitions
            .unwrap_or_default()
            .into_iter()
            .map(|d| (d.attribute_name, d.attribute_type))
            .collect();
        let mut hash_key = None;
        let mut range_key = None;
        for k in t.key_schema.unwrap_or_default() {
            let attribute_type = types
                .get(&k.attribute_name)
                .and_then(KeyAttributeType::from_sdk)
                .ok_or_else(|| {
                    aws_error(
                        &what,
                        format!("no type for key attribute {:?}", k.attribute_name),
                        FailureKind::Internal,
                    )
                })?;
            let attr = KeyAttribute {
                name: k.attribute_name,
                attribute_type,
            };
            match k.key_type {
                KeyType::Range => range_key = Some(attr),
                _ => hash_key = Some(attr),
            }
        }
        let hash_key =
            hash_key.ok_or_else(|| aws_error(&what, "no partition key", FailureKind::Internal))?;
        let stream_enabled = t
            .stream_specification
            .as_ref()
            .is_some_and(|s| s.stream_enabled);
        Ok(Some(TableInfo {
            name: t.table_name.unwrap_or_else(|| name.to_string()),
            arn: t.table_arn.unwrap_or_default(),
            status: t
                .table_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            key_schema: TableKeySchema {
                hash_key,
                range_key,
            },
            stream_arn: t.latest_stream_arn.filter(|_| stream_enabled),
            stream_view_type: t
                .stream_specification
                .filter(|s| s.stream_enabled)
                .and_then(|s| s.stream_view_type)
                .map(|v| v.as_str().to_string()),
            item_count: t.item_count,
        }))
    }

    /// Whether a table of that name exists, in any status.
    pub async fn exists(&self, name: &str) -> Result<bool, ConnectorError> {
        Ok(self.describe_table(name).await?.is_some())
    }

    /// Waits until the table is `ACTIVE`; fails when it does not exist or the timeout passes
    /// first.
    pub async fn wait_active(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<TableInfo, ConnectorError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.describe_table(name).await? {
                Some(info) if info.status == TableStatus::Active.as_str() => return Ok(info),
                Some(_) if Instant::now() < deadline => {}
                Some(info) => {
                    return Err(aws_error(
                        format!("DynamoDB table {name:?} is not active"),
                        format!("still {} after {timeout:?}", info.status),
                        FailureKind::Transient,
                    ));
                }
                None => {
                    return Err(aws_error(
                        format!("DynamoDB table {name:?} is not active"),
                        "the table does not exist",
                        FailureKind::User,
                    ));
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Deletes a table (and its stream). Idempotent.
    pub async fn delete_table(&self, name: &str) -> Result<(), ConnectorError> {
        let what = format!("cannot delete DynamoDB table {name:?}");
        match retry(&self.retry, &what, || {
            self.client.delete_table().table_name(name).send()
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if has_code(&e, "ResourceNotFoundException") => Ok(()),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// Reads one page of one scan segment.
    pub async fn scan(&self, request: &ScanRequest) -> Result<ScanPage, ConnectorError> {
        let what = format!(
            "cannot scan segment {} of {} of DynamoDB table {:?}",
            request.segment, request.total_segments, request.table_name
        );
        let mut req = self
            .client
            .scan()
            .table_name(&request.table_name)
            .consistent_read(request.consistent_read)
            .set_limit(request.limit)
            .set_exclusive_start_key(request.exclusive_start_key.as_ref().map(|k| k.0.clone()));
        if request.total_segments > 1 {
            req = req
                .segment(request.segment)
                .total_segments(request.total_segments);
        }
        if let Some(f) = &request.filter {
            req = req.filter_expression(&f.expression);
            for (k, v) in &f.attribute_names {
                req = req.expression_attribute_names(k, v);
            }
            for (k, v) in &f.attribute_values {
                req = req.expression_attribute_values(k, from_json(v));
            }
        }
        let out = retry(&self.retry, &what, || req.clone().send())
            .await
            .map_err(|e| sdk_error(&what, e))?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(item_to_json)
            .collect::<Result<_, _>>()?;
        Ok(ScanPage {
            items,
            last_evaluated_key: out
                .last_evaluated_key
                .filter(|k| !k.is_empty())
                .map(ScanKey),
            scanned_count: out.scanned_count,
        })
    }

    /// A writer to the table, with its key schema read from DynamoDB.
    pub async fn writer(&self, table_name: &str) -> Result<DynamoDbWriter, ConnectorError> {
        let info = self
            .describe_table(table_name)
            .await?
            .ok_or_else(|| ConnectorError::Aws {
                what: format!("DynamoDB table {table_name:?} does not exist"),
                code: Some("ResourceNotFoundException".to_string()),
                message: "create the table or fix tableName".to_string(),
                kind: FailureKind::User,
            })?;
        Ok(self.writer_with_schema(table_name, info.key_schema))
    }

    /// A writer to a table whose key schema the caller knows.
    pub fn writer_with_schema(
        &self,
        table_name: &str,
        key_schema: TableKeySchema,
    ) -> DynamoDbWriter {
        DynamoDbWriter {
            ddb: self.clone(),
            table_name: table_name.to_string(),
            key_schema,
        }
    }
}

/// Writes JSON documents to one table; see the module docs.
#[derive(Debug, Clone)]
pub struct DynamoDbWriter {
    ddb: DynamoDbClient,
    table_name: String,
    key_schema: TableKeySchema,
}

/// An item ready to send: input index, key identity, item.
type Prepared = (usize, String, Item);

impl DynamoDbWriter {
    /// The table written.
    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// The table's key schema.
    pub fn key_schema(&self) -> &TableKeySchema {
        &self.key_schema
    }

    /// Puts the documents (replacing items with the same key). Returns how many were written
    /// and which were rejected and why.
    pub async fn write(&self, documents: &[JsonObject]) -> Result<BatchReport, ConnectorError> {
        let mut report = BatchReport::default();
        let mut batch: Vec<Prepared> = Vec::new();
        let mut keys_in_batch: HashSet<String> = HashSet::new();
        for (index, doc) in documents.iter().enumerate() {
            let item = match prepare_item(doc, &self.key_schema) {
                Ok(item) => item,
                Err(reason) => {
                    report.reject(index, reason);
                    continue;
                }
            };
            let key = key_identity(&item, &self.key_schema);
            if batch.len() == MAX_BATCH_ITEMS || keys_in_batch.contains(&key) {
                self.send(std::mem::take(&mut batch), &mut report).await?;
                keys_in_batch.clear();
            }
            keys_in_batch.insert(key.clone());
            batch.push((index, key, item));
        }
        if !batch.is_empty() {
            self.send(batch, &mut report).await?;
        }
        Ok(report.finish())
    }

    /// One `BatchWriteItem` call, then calls for its unprocessed items, until none are left.
    async fn send(
        &self,
        mut pending: Vec<Prepared>,
        report: &mut BatchReport,
    ) -> Result<(), ConnectorError> {
        let what = format!("cannot write to DynamoDB table {:?}", self.table_name);
        let policy = &self.ddb.retry;
        let mut attempt = 1;
        loop {
            let mut requests = Vec::with_capacity(pending.len());
            for (_, _, item) in &pending {
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| aws_error(&what, e.to_string(), FailureKind::Internal))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let r = retry(policy, &what, || {
                self.ddb
                    .client
                    .batch_write_item()
                    .request_items(&self.table_name, requests.clone())
                    .send()
            })
            .await;
            let out = match r {
                Ok(out) => out,
                Err(e) if has_code(&e, "ValidationException") => {
                    return self.put_one_by_one(pending, report).await;
                }
                Err(e) => return Err(sdk_error(what, e)),
            };
            let unprocessed: HashSet<String> = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table_name))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|w| w.put_request)
                .map(|p| key_identity(&p.item, &self.key_schema))
                .collect();
            let before = pending.len();
            pending.retain(|(_, key, _)| unprocessed.contains(key));
            report.succeeded += before - pending.len();
            if pending.is_empty() {
                return Ok(());
            }
            if attempt >= policy.max_attempts {
                return Err(aws_error(
                    what,
                    format!(
                        "{} items still unprocessed after {attempt} attempts",
                        pending.len()
                    ),
                    FailureKind::Transient,
                ));
            }
            tokio::time::sleep(policy.backoff(attempt - 1)).await;
            attempt += 1;
        }
    }

    /// Puts items one by one, rejecting those DynamoDB refuses as invalid.
    async fn put_one_by_one(
        &self,
        items: Vec<Prepared>,
        report: &mut BatchReport,
    ) -> Result<(), ConnectorError> {
        let what = format!(
            "cannot put an item into DynamoDB table {:?}",
            self.table_name
        );
        for (index, _, item) in items {
            let r = retry(&self.ddb.retry, &what, || {
                self.ddb
                    .client
                    .put_item()
                    .table_name(&self.table_name)
                    .set_item(Some(item.clone()))
                    .send()
            })
            .await;
            match r {
                Ok(_) => report.succeeded += 1,
                Err(e) if has_code(&e, "ValidationException") => {
                    let e = sdk_error(&what, e);
                    let reason = match &e {
                        ConnectorError::Aws { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    report.reject(index, reason);
                }
                Err(e) => return Err(sdk_error(what, e)),
            }
        }
        Ok(())
    }
}

/// Converts a document to an item, checking what DynamoDB would refuse; the error is the
/// rejection reason.
fn prepare_item(doc: &JsonObject, schema: &TableKeySchema) -> Result<Item, String> {
    let mut item = item_from_json(doc);
    let keys = std::iter::once((&schema.hash_key, "partition", MAX_PARTITION_KEY_BYTES)).chain(
        schema
            .range_key
            .as_ref()
            .map(|r| (r, "sort", MAX_SORT_KEY_BYTES)),
    );
    for (attr, role, limit) in keys {
        let name = &attr.name;
        let value = match doc.get(name) {
            None | Some(Value::Null) => {
                return Err(format!("the document has no {role} key attribute {name:?}"));
            }
            Some(v) => v,
        };
        let (key_value, size) = match (attr.attribute_type, value) {
            (KeyAttributeType::String, Value::String(s)) => (AttributeValue::S(s.clone()), s.len()),
            (KeyAttributeType::Number, Value::Number(n)) => {
                (AttributeValue::N(n.to_string()), n.to_string().len())
            }
            (KeyAttributeType::Binary, Value::String(s)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| format!("{role} key attribute {name:?} is not base64: {e}"))?;
                let len = bytes.len();
                (AttributeValue::B(Blob::new(bytes)), len)
            }
            (t, v) => {
                return Err(format!(
                    "{role} key attribute {name:?} must be {}, got {}",
                    t.describe(),
                    letsdata_model::json_kind(v)
                ));
            }
        };
        if size == 0 {
            return Err(format!("{role} key attribute {name:?} is empty"));
        }
        if size > limit {
            return Err(format!(
                "{role} key attribute {name:?} is {size} bytes, over the DynamoDB limit of {limit} bytes"
            ));
        }
        item.insert(name.clone(), key_value);
    }
    let size = item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(format!(
            "item of about {size} bytes exceeds the DynamoDB limit of {MAX_ITEM_BYTES} bytes"
        ));
    }
    Ok(item)
}

/// A string identifying an item's key, to find duplicates and unprocessed items.
fn key_identity(item: &Item, schema: &TableKeySchema) -> String {
    let part = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => format!("S:{}:{s}", s.len()),
        Some(AttributeValue::N(n)) => format!("N:{}:{n}", n.len()),
        Some(AttributeValue::B(b)) => format!(
            "B:{}",
            base64::engine::general_purpose::STANDARD.encode(b.as_ref())
        ),
        Some(other) => format!("?:{other:?}"),
        None => String::from("-"),
    };
    let mut id = part(&schema.hash_key.name);
    if let Some(r) = &schema.range_key {
        id.push('|');
        id.push_str(&part(&r.name));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> TableKeySchema {
        TableKeySchema {
            hash_key: KeyAttribute::string("id"),
            range_key: Some(KeyAttribute {
                name: "n".into(),
                attribute_type: KeyAttributeType::Number,
            }),
        }
    }

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn documents_without_valid_keys_are_rejected_with_a_reason() {
        let s = schema();
        assert!(prepare_item(&obj(json!({"id": "a", "n": 1, "x": [1]})), &s).is_ok());
        let missing = prepare_item(&obj(json!({"n": 1})), &s).expect_err("missing");
        assert!(
            missing.contains("partition key attribute \"id\""),
            "{missing}"
        );
        let wrong = prepare_item(&obj(json!({"id": "a", "n": "1"})), &s).expect_err("type");
        assert!(wrong.contains("must be a number"), "{wrong}");
        let empty = prepare_item(&obj(json!({"id": "", "n": 1})), &s).expect_err("empty");
        assert!(empty.contains("empty"), "{empty}");
        let long =
            prepare_item(&obj(json!({"id": "k".repeat(2049), "n": 1})), &s).expect_err("too long");
        assert!(long.contains("2049 bytes"), "{long}");
        assert!(prepare_item(&obj(json!({"id": "k".repeat(2048), "n": 1})), &s).is_ok());
        let big = prepare_item(
            &obj(json!({"id": "a", "n": 1, "b": "x".repeat(410_000)})),
            &s,
        )
        .expect_err("too big");
        assert!(big.contains("limit of 409600 bytes"), "{big}");
    }

    #[test]
    fn binary_keys_are_decoded_from_base64() {
        let s = TableKeySchema {
            hash_key: KeyAttribute {
                name: "k".into(),
                attribute_type: KeyAttributeType::Binary,
            },
            range_key: None,
        };
        let item = prepare_item(&obj(json!({"k": "aGk="})), &s).expect("ok");
        assert_eq!(item["k"], AttributeValue::B(Blob::new(b"hi".to_vec())));
        assert!(prepare_item(&obj(json!({"k": "!!"})), &s).is_err());
    }

    #[test]
    fn scan_keys_survive_a_checkpoint() {
        let key = ScanKey(
            [
                ("id".to_string(), AttributeValue::S("7".into())),
                ("n".to_string(), AttributeValue::N("7".into())),
            ]
            .into_iter()
            .collect(),
        );
        let text = key.to_checkpoint().expect("checkpoint");
        assert_eq!(text, r#"{"id":{"S":"7"},"n":{"N":"7"}}"#);
        assert_eq!(ScanKey::from_checkpoint(&text).expect("parse"), key);
        assert!(ScanKey::from_checkpoint("[1]").is_err());
    }

    #[test]
    fn key_identity_distinguishes_types_and_parts() {
        let s = schema();
        let a = prepare_item(&obj(json!({"id": "a|N:1:1", "n": 1})), &s).expect("a");
        let b = prepare_item(&obj(json!({"id": "a", "n": 1})), &s).expect("b");
        assert_ne!(key_identity(&a, &s), key_identity(&b, &s));
    }
}
