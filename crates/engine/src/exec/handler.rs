//! User code in Python or JavaScript: LetsData's Lambda handler projects, run unchanged in
//! an interpreter process per running task (`letsdata-lambda`), called with LetsData's
//! requests (`{requestId, interface, function, letsdataAuth, data, batchedData}`).
//!
//! A handler answers `{"StatusCode": 200, "body": {"statusCode": "SUCCESS", "data": R}}`, or
//! `StatusCode` 500 with `body.exception {errorType, stackTrace}` and `errorMessage` when the
//! user's code raised: that ends the attempt ERRORED with the exception (the records before
//! it are kept, as with a trapping component). A parse result R is
//! `{nextRecordType, document: {documentType, documentId, recordType, partitionKey,
//! documentMetadata, documentKeyValuesMap, ...}, status}`; the document written is
//! `documentKeyValuesMap` with `documentId`, `recordType`, `partitionKey` and
//! `documentMetadata` set from the document's own fields (when present).

use super::TaskLog;
use super::invocation::Invocation;
use super::records::RecordFailure;
use super::wasm::FileParsing;
use super::{InvokeError, Runner};
use crate::vectors::{Constructed, Extracted, Truncated, Vectors, VectorsDoc, VectorsInterface};
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_lambda::{Handler, HandlerError, Reply};
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::LogLevel;
use letsdata_sandbox::NamedVector;
use letsdata_sandbox::wit::{
    Document, ErrorDoc, ParseDocumentResult, ParseDocumentResultStatus, RecordHintType,
    RecordParseHint, RecordSpan, SingleDoc, SkipDoc,
};
use letsdata_sandbox::{DocumentKind, ParsedBatch};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::Arc;

/// `SingleFileParser.parseDocument`'s `data`, written straight into the request.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ParseDocumentData<'a> {
    s3_file_type: &'a str,
    file_name: &'a str,
    offset_bytes: u64,
    content: &'a str,
    start_index: u32,
    end_index: usize,
}

/// A running task's handler, and what its requests carry.
pub(super) struct HandlerCode {
    handler: Handler,
    interface: &'static str,
    /// `letsdataAuth`, serialized once for every request.
    auth: String,
    task_id: String,
    requests: u64,
    deadline: std::time::Instant,
    scratch: std::path::PathBuf,
}

impl Drop for HandlerCode {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
        // The dataset's scratch directory goes with its last task's (it is made again when
        // needed; one in use is not empty and stays).
        if let Some(parent) = self.scratch.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// A handler failure: the user's (their code hung, crashed or could not load).
fn failed(e: HandlerError) -> InvokeError {
    InvokeError::user(e.to_string())
}

impl Runner {
    /// Starts the dataset's current Python or JavaScript code for one invocation of `task_id`
    /// (building it on this machine first if it has not been).
    pub(super) async fn handler_code(
        &self,
        run: &Invocation<'_>,
        task_id: &str,
    ) -> Result<HandlerCode, InvokeError> {
        let interface = crate::code::interface(self.connectors_of.source.as_ref())
            .map_err(|e| InvokeError::internal(e.to_string()))?;
        self.start_handler(run, task_id, interface.letsdata_name(), "")
            .await
    }

    /// A process of the dataset's Python or JavaScript code answering the task's
    /// `SagemakerVectorsInterface` requests (the vectors engine), beside the reader's.
    pub(super) async fn handler_vectors(
        &self,
        run: &Invocation<'_>,
        task_id: &str,
        log: Arc<TaskLog>,
    ) -> Result<HandlerVectors, InvokeError> {
        let code = self
            .start_handler(run, task_id, VECTORS_INTERFACE, "-vectors")
            .await?;
        Ok(HandlerVectors { code, log })
    }

    /// Starts the handler for requests of `interface`, working in a scratch directory of the
    /// attempt (named with `suffix`).
    async fn start_handler(
        &self,
        run: &Invocation<'_>,
        task_id: &str,
        interface: &'static str,
        suffix: &str,
    ) -> Result<HandlerCode, InvokeError> {
        let code = crate::code::artifact_of(&self.spec)
            .ok_or_else(|| InvokeError::internal("the dataset has no user code"))?;
        let language = crate::code::handler_language(code.language)
            .ok_or_else(|| InvokeError::internal("the dataset's code is not a handler"))?;
        let Some(snapshot) = &self.dataset.code else {
            return Err(InvokeError::user(
                "the dataset has no code snapshot (its initialization did not copy the implementation)",
            ));
        };
        let built = crate::code::build_handler(
            &self.handlers,
            self.connectors.objects(),
            &snapshot.current,
            language,
        )
        .await
        .map_err(|e| InvokeError::user(e.message))?;
        let timeout =
            std::time::Duration::from_secs(u64::from(self.spec.compute_engine.timeout_in_seconds));
        let deadline = run.started + timeout;
        let scratch = self
            .scratch_dir
            .join(format!("{task_id}-{}{suffix}", run.lease.token.get()));
        let memory = u64::from(self.spec.compute_engine.memory_limit_in_megabytes);
        let options = letsdata_lambda::StartOptions {
            scratch_dir: scratch.clone(),
            function_name: format!("letsdata-{}", self.dataset.dataset_name),
            function_arn: format!(
                "arn:letsdata:lambda:{}:{}:function:letsdata-{}",
                self.spec.region.as_str(),
                self.dataset.tenant_id,
                self.dataset.dataset_name
            ),
            memory_megabytes: memory,
            log_level: self.spec.compute_engine.log_level.as_str().to_string(),
            stage: "Prod".into(),
            env: vec![("AWS_REGION".into(), self.spec.region.as_str().to_string())],
            deadline,
        };
        let started = std::time::Instant::now();
        let handler = Handler::start(&built, &options).await.map_err(failed)?;
        run.log.log(
            LogLevel::Info,
            format!(
                "user code {} ({} {}), loaded in {} ms, {} MB memory limit, {} s time limit",
                snapshot.current.sha256,
                code.language,
                interface,
                started.elapsed().as_millis(),
                memory,
                timeout.as_secs()
            ),
        );
        Ok(HandlerCode {
            handler,
            interface,
            auth: json!({
                "tenantId": self.dataset.tenant_id,
                "userId": self.dataset.user_id,
                "datasetName": self.dataset.dataset_name,
                "datasetId": self.dataset.dataset_id.to_string(),
            })
            .to_string(),
            task_id: task_id.to_string(),
            requests: 0,
            deadline,
            scratch,
        })
    }
}

impl HandlerCode {
    /// One request, serialized.
    fn request(&mut self, function: &str, data: &impl serde::Serialize) -> Vec<u8> {
        self.requests += 1;
        // Written field by field: the parts every request shares are not rebuilt as values.
        let text = |s: &str| Value::from(s).to_string();
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"requestId\":");
        out.extend_from_slice(text(&format!("{}-{}", self.task_id, self.requests)).as_bytes());
        out.extend_from_slice(b",\"interface\":");
        out.extend_from_slice(text(self.interface).as_bytes());
        out.extend_from_slice(b",\"function\":");
        out.extend_from_slice(text(function).as_bytes());
        out.extend_from_slice(b",\"letsdataAuth\":");
        out.extend_from_slice(self.auth.as_bytes());
        out.extend_from_slice(b",\"data\":");
        serde_json::to_writer(&mut out, data).expect("a request's data serializes");
        out.extend_from_slice(b",\"batchedData\":[]}");
        out
    }

    /// Calls `function` once and returns its result (`body.data`).
    async fn call(&mut self, function: &str, data: Value) -> Result<Value, InvokeError> {
        let request = self.request(function, &data);
        let mut replies = self
            .handler
            .call_many(&[request], self.deadline)
            .await
            .map_err(failed)?;
        let reply = replies.pop().expect("one reply per request");
        let data = answer(self.interface, function, &reply).map_err(InvokeError::user)?;
        serde_json::from_str(data.get()).map_err(|e| InvokeError::internal(e.to_string()))
    }

    /// What the handler printed.
    pub(super) fn drain_output(&mut self) -> (Vec<u8>, u64) {
        self.handler.drain_output()
    }

    /// Stops the handler: what it printed, to its last line.
    pub(super) async fn close(&mut self) -> (Vec<u8>, u64) {
        self.handler.stop().await
    }
}

/// LetsData's answer, read without building a tree of it:
/// `{"StatusCode": 200, "body": {"statusCode": "SUCCESS", "data": R}}`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "StatusCode", borrow, default)]
    status_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    body: Option<EnvelopeBody<'a>>,
}

#[derive(Deserialize)]
struct EnvelopeBody<'a> {
    #[serde(rename = "statusCode", borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
}

/// A field that is there, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

fn null() -> &'static RawValue {
    serde_json::from_str("null").expect("null is JSON")
}

/// The result (`body.data`, as JSON text) of one answer, or the user's exception as the
/// task's error.
fn answer<'a>(interface: &str, function: &str, reply: &'a Reply) -> Result<&'a RawValue, String> {
    let raw = match reply {
        Reply::Raised(e) => {
            return Err(format!(
                "{interface}.{function} raised {e} (the handler let the exception escape)\n{}",
                e.stack_trace.trim_end()
            ));
        }
        Reply::Result(raw) => raw,
    };
    if let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(raw.get()) {
        let body = envelope.body.as_ref();
        if envelope.status_code.map(RawValue::get) == Some("200")
            && body.and_then(|b| b.status).map(RawValue::get) == Some("\"SUCCESS\"")
        {
            return Ok(match body.and_then(|b| b.data) {
                Some(data) => data,
                None => null(),
            });
        }
    }
    // Not a success: the tree, for the exception's details.
    let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let status = value.get("StatusCode").and_then(Value::as_i64);
    let body_status = value
        .get("body")
        .and_then(|b| b.get("statusCode"))
        .and_then(Value::as_str);
    match (status, body_status) {
        (_, Some("EXCEPTION")) | (Some(500), _) => {
            let body = value.get("body").cloned().unwrap_or(Value::Null);
            let exception = body.get("exception").cloned().unwrap_or(Value::Null);
            let text = |v: &Value, k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let message = match text(&body, "errorMessage") {
                m if m.is_empty() => text(&exception, "errorMessage"),
                m => m,
            };
            let mut trace = text(&exception, "stackTrace");
            // JavaScript's interface sends the stack as a JSON string.
            if let Ok(Value::String(inner)) = serde_json::from_str::<Value>(&trace) {
                trace = inner;
            }
            Err(format!(
                "{interface}.{function} raised {}: {message}\n{}",
                text(&exception, "errorType"),
                trace.trim_end()
            ))
        }
        _ => Err(format!(
            "{interface}.{function} answered {}, not LetsData's {{\"StatusCode\": 200, \"body\": {{\"statusCode\": \"SUCCESS\", \"data\": ...}}}}",
            cut(&value.to_string())
        )),
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn string_result(interface: &str, function: &str, v: Value) -> Result<String, InvokeError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(InvokeError::user(format!(
            "{interface}.{function} returned {}, not a string",
            cut(&other.to_string())
        ))),
    }
}

/// A `RecordParseHint` result: `{recordHintType: PATTERN | OFFSET, pattern, offset}`.
fn hint(function: &str, v: &Value) -> Result<RecordParseHint, InvokeError> {
    let bad = |why: &str| {
        InvokeError::user(format!(
            "SingleFileParser.{function} returned {}: {why}; return a RecordParseHint(RecordHintType.PATTERN, pattern, -1) or (RecordHintType.OFFSET, None, length)",
            cut(&v.to_string())
        ))
    };
    let kind = v
        .get("recordHintType")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no recordHintType"))?;
    match kind.to_ascii_uppercase().as_str() {
        "PATTERN" => {
            let pattern = v
                .get("pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a PATTERN hint without a pattern string"))?;
            Ok(RecordParseHint {
                record_hint_type: RecordHintType::Pattern,
                pattern: pattern.to_string(),
                offset: 0,
            })
        }
        "OFFSET" => {
            let offset = v
                .get("offset")
                .and_then(Value::as_u64)
                .filter(|o| *o > 0 && *o <= u64::from(u32::MAX))
                .ok_or_else(|| bad("an OFFSET hint needs an offset (the record length) above 0"))?;
            Ok(RecordParseHint {
                record_hint_type: RecordHintType::Offset,
                pattern: String::new(),
                offset: offset as u32,
            })
        }
        _ => Err(bad("recordHintType is neither PATTERN nor OFFSET")),
    }
}

impl FileParsing for HandlerCode {
    async fn s3_file_type(&mut self) -> Result<String, InvokeError> {
        let v = self.call("getS3FileType", json!({})).await?;
        string_result(self.interface, "getS3FileType", v)
    }

    async fn resolved_s3_file_name(
        &mut self,
        file_type: &str,
        file_name: &str,
    ) -> Result<String, InvokeError> {
        let v = self
            .call(
                "getResolvedS3FileName",
                json!({"s3FileType": file_type, "fileName": file_name}),
            )
            .await?;
        string_result(self.interface, "getResolvedS3FileName", v)
    }

    async fn record_pattern(
        &mut self,
        file_type: &str,
        end: bool,
    ) -> Result<RecordParseHint, InvokeError> {
        let function = if end {
            "getRecordEndPattern"
        } else {
            "getRecordStartPattern"
        };
        let v = self
            .call(function, json!({"s3FileType": file_type}))
            .await?;
        hint(function, &v)
    }

    async fn parse_documents(
        &mut self,
        file_type: &str,
        file_name: &str,
        records: &[u8],
        spans: &[RecordSpan],
    ) -> Result<ParsedBatch, (ParsedBatch, String)> {
        let requests: Vec<Vec<u8>> = spans
            .iter()
            .map(|span| {
                let raw = &records[span.start as usize..span.end as usize];
                // LetsData sends the record as a UTF-8 string, indexes 0 to its byte length.
                let content = String::from_utf8_lossy(raw);
                let data = ParseDocumentData {
                    s3_file_type: file_type,
                    file_name,
                    offset_bytes: span.offset_bytes,
                    content: &content,
                    start_index: 0,
                    end_index: content.len(),
                };
                self.request("parseDocument", &data)
            })
            .collect();
        let replies = self
            .handler
            .call_many(&requests, self.deadline)
            .await
            .map_err(|e| (ParsedBatch::default(), e.to_string()))?;
        let mut batch = ParsedBatch::default();
        for reply in &replies {
            match answer(self.interface, "parseDocument", reply) {
                Ok(r) => push_result(&mut batch, r),
                // The records before it keep their results.
                Err(e) => return Err((batch, e)),
            }
        }
        Ok(batch)
    }

    fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.drain_output()
    }

    async fn close(&mut self) -> (Vec<u8>, u64) {
        HandlerCode::close(self).await
    }
}

impl HandlerCode {
    /// One stream, queue or table record through the reader interface (`parseMessage`,
    /// `parseRecord`, `parseDynamoDBItem`), as a component's result.
    pub(super) async fn parse_record(
        &mut self,
        meta: &RecordMeta,
        raw: &[u8],
    ) -> Result<ParseDocumentResult, RecordFailure> {
        let (function, data) = record_request(meta, raw).map_err(|message| RecordFailure {
            message,
            fatal: true,
        })?;
        let request = self.request(function, &data);
        let mut replies = self
            .handler
            .call_many(&[request], self.deadline)
            .await
            .map_err(|e| RecordFailure {
                // Its process is gone (killed at the time limit, or it exited).
                message: e.to_string(),
                fatal: true,
            })?;
        let reply = replies.pop().expect("one reply per request");
        let result = answer(self.interface, function, &reply).map_err(RecordFailure::of_record)?;
        reader_result(self.interface, function, result).map_err(RecordFailure::of_record)
    }
}

/// A JSON object from JSON text (an empty object when absent or not an object).
fn object_of(text: Option<&str>) -> Value {
    match text.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
        Some(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

/// The function and `data` of the request for one record, as LetsData's Python and
/// JavaScript interfaces expect them.
fn record_request(meta: &RecordMeta, raw: &[u8]) -> Result<(&'static str, Value), String> {
    Ok(match meta {
        RecordMeta::Kinesis {
            stream_arn,
            shard_id,
            partition_key,
            sequence_number,
            approximate_arrival_timestamp,
        } => (
            "parseMessage",
            json!({
                "streamArn": &**stream_arn,
                "shardId": &**shard_id,
                "partitionKey": partition_key,
                "sequenceNumber": sequence_number,
                "approximateArrivalTimestamp": approximate_arrival_timestamp,
                "data": String::from_utf8_lossy(raw),
            }),
        ),
        RecordMeta::Queue {
            message_id,
            message_group_id,
            message_deduplication_id,
            message_attributes,
        } => {
            let mut data = json!({
                "messageId": message_id,
                "messageAttributes": message_attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<Map<String, Value>>(),
                "messageBody": String::from_utf8_lossy(raw),
            });
            if let Some(g) = message_group_id {
                data["messageGroupId"] = g.as_str().into();
            }
            if let Some(d) = message_deduplication_id {
                data["messageDeduplicationId"] = d.as_str().into();
            }
            ("parseMessage", data)
        }
        RecordMeta::DynamoDbStreams {
            stream_arn,
            shard_id,
            event_id,
            event_name,
            identity_principal_id,
            identity_type,
            sequence_number,
            size_bytes,
            stream_view_type,
            approximate_creation_date_time,
            keys,
            old_image,
            new_image,
        } => (
            "parseRecord",
            json!({
                "streamArn": &**stream_arn,
                "shardId": &**shard_id,
                "eventId": event_id,
                "eventName": event_name,
                "identityPrincipalId": identity_principal_id,
                "identityType": identity_type,
                "sequenceNumber": sequence_number,
                "sizeBytes": size_bytes,
                "streamViewType": stream_view_type,
                // Epoch seconds, as LetsData sends it.
                "approximateCreationDateTime": approximate_creation_date_time / 1000,
                "data": {
                    "keys": object_of(Some(keys)),
                    "oldImage": object_of(old_image.as_deref()),
                    "newImage": object_of(new_image.as_deref()),
                },
            }),
        ),
        RecordMeta::TableItem {
            table_name,
            segment_number,
            keys,
        } => (
            "parseDynamoDBItem",
            json!({
                "tableName": &**table_name,
                "segmentNumber": segment_number,
                "data": {
                    "keys": object_of(Some(keys)),
                    "item": object_of(std::str::from_utf8(raw).ok()),
                },
            }),
        ),
        RecordMeta::Kafka { .. } => {
            return Err(
                "LetsData's Python and JavaScript interfaces have no Kafka reader".to_string(),
            );
        }
    })
}

/// A `ParseDocumentResult` as JSON text, read without building a tree of it:
/// `{nextRecordType, document, status}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultText<'a> {
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    document: Option<DocText<'a>>,
    #[serde(borrow, default)]
    next_record_type: Option<&'a RawValue>,
}

/// A `Document`, `ErrorDoc` or `SkipDoc`, its fields as JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocText<'a> {
    #[serde(borrow, default)]
    document_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    document_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    record_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    partition_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    document_metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    document_key_values_map: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error_message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    skip_message: Option<&'a RawValue>,
    #[serde(rename = "errorStartoffsetMap", borrow, default)]
    error_start_offset_map: Option<&'a RawValue>,
    #[serde(rename = "errorEndoffsetMap", borrow, default)]
    error_end_offset_map: Option<&'a RawValue>,
}

/// A string field's text (`None` when absent, null or not a string).
fn text(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?.get();
    if !raw.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(raw) {
        Ok(s) => Some(Cow::Borrowed(s)),
        // Escapes: unescaped into a string of its own.
        Err(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
    }
}

fn owned(raw: Option<&RawValue>) -> Option<String> {
    text(raw).map(Cow::into_owned)
}

/// An object field's entries.
fn object(raw: Option<&RawValue>) -> Map<String, Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

/// An offset map: `{fileType: offset}` with the offsets as strings.
fn offset_map(raw: Option<&RawValue>) -> Vec<(String, String)> {
    object(raw)
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

/// `documentMetadata` as (name, JSON text) pairs.
fn metadata(doc: &DocText<'_>) -> Vec<(String, String)> {
    object(doc.document_metadata)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

/// A reader's `ParseDocumentResult` as the component interface's.
fn reader_result(
    interface: &str,
    function: &str,
    raw: &RawValue,
) -> Result<ParseDocumentResult, String> {
    let not_a_result = || {
        format!(
            "{interface}.{function} returned {}, not a ParseDocumentResult with status SUCCESS, ERROR or SKIP",
            cut(raw.get())
        )
    };
    let r: ResultText<'_> = serde_json::from_str(raw.get()).map_err(|_| not_a_result())?;
    let status = status_of(r.status).ok_or_else(not_a_result)?;
    let document = r
        .document
        .map(|doc| match text(doc.document_type).as_deref() {
            Some("ErrorDoc") => Document::Error(ErrorDoc {
                error_start_offset_map: offset_map(doc.error_start_offset_map),
                error_end_offset_map: offset_map(doc.error_end_offset_map),
                error_message: owned(doc.error_message).unwrap_or_default(),
                document_id: owned(doc.document_id),
                record_type: owned(doc.record_type),
                partition_key: owned(doc.partition_key),
                document_metadata: metadata(&doc),
                serialized: None,
            }),
            Some("SkipDoc") => Document::Skip(SkipDoc {
                skip_start_offset_map: offset_map(doc.error_start_offset_map),
                skip_end_offset_map: offset_map(doc.error_end_offset_map),
                skip_message: owned(doc.skip_message).unwrap_or_default(),
                document_id: owned(doc.document_id),
                record_type: owned(doc.record_type),
            }),
            _ => Document::Single(SingleDoc {
                document_id: owned(doc.document_id),
                record_type: owned(doc.record_type),
                partition_key: owned(doc.partition_key),
                document_metadata: metadata(&doc),
                serialized: serialize(&doc),
            }),
        });
    Ok(ParseDocumentResult {
        next_record_type: owned(r.next_record_type),
        document,
        status,
    })
}

/// A `ParseDocumentResult`'s status (`SUCCESS`, `ERROR`, `SKIP`, any case).
fn status_of(raw: Option<&RawValue>) -> Option<ParseDocumentResultStatus> {
    let status = text(raw)?;
    if status.eq_ignore_ascii_case("SUCCESS") {
        Some(ParseDocumentResultStatus::Success)
    } else if status.eq_ignore_ascii_case("ERROR") {
        Some(ParseDocumentResultStatus::Error)
    } else if status.eq_ignore_ascii_case("SKIP") {
        Some(ParseDocumentResultStatus::Skip)
    } else {
        None
    }
}

/// Adds a `ParseDocumentResult` (JSON text) to a batch.
fn push_result(batch: &mut ParsedBatch, raw: &RawValue) {
    let parsed = serde_json::from_str::<ResultText<'_>>(raw.get())
        .ok()
        .and_then(|r| Some((status_of(r.status)?, r.document)));
    let Some((status, document)) = parsed else {
        let message = format!(
            "the parser returned {}, not a ParseDocumentResult with status SUCCESS, ERROR or SKIP",
            cut(raw.get())
        );
        batch.push(
            DocumentKind::Error,
            ParseDocumentResultStatus::Error,
            None,
            None,
            &message,
        );
        return;
    };
    let Some(doc) = document else {
        batch.push(DocumentKind::None, status, None, None, "");
        return;
    };
    let id = text(doc.document_id);
    let id = id.as_deref();
    match text(doc.document_type).as_deref() {
        Some("ErrorDoc") => {
            let message = text(doc.error_message);
            let message = message
                .as_deref()
                .unwrap_or("the parser returned an error document without a message");
            batch.push(DocumentKind::Error, status, id, None, message);
        }
        Some("SkipDoc") => batch.push(DocumentKind::Skip, status, id, None, ""),
        _ => {
            let serialized = serialize(&doc);
            batch.push(DocumentKind::Single, status, id, Some(&serialized), "");
        }
    }
}

/// The document's own fields that the written document carries, quoted as they would
/// appear as keys.
const OWN_FIELDS: [(&str, &str); 4] = [
    ("documentId", "\"documentId\""),
    ("recordType", "\"recordType\""),
    ("partitionKey", "\"partitionKey\""),
    ("documentMetadata", "\"documentMetadata\""),
];

/// The written form of a handler's document: `documentKeyValuesMap` with the document's
/// `documentId`, `recordType`, `partitionKey` and `documentMetadata` (when not null). The
/// texts are joined as they are; a map that holds one of those keys itself has it replaced
/// in place (through a tree).
fn serialize(doc: &DocText<'_>) -> String {
    let own = [
        doc.document_id,
        doc.record_type,
        doc.partition_key,
        doc.document_metadata,
    ];
    let map = doc
        .document_key_values_map
        .map(|m| m.get().trim())
        .filter(|m| m.starts_with('{') && m.ends_with('}'))
        .unwrap_or("{}");
    let clash = OWN_FIELDS.iter().zip(&own).any(|((_, quoted), v)| {
        v.is_some() && memchr::memmem::find(map.as_bytes(), quoted.as_bytes()).is_some()
    });
    if clash {
        let mut out: Map<String, Value> = serde_json::from_str(map).unwrap_or_default();
        for ((key, _), v) in OWN_FIELDS.iter().zip(own) {
            if let Some(v) = v {
                out.insert(
                    (*key).to_string(),
                    serde_json::from_str(v.get()).unwrap_or(Value::Null),
                );
            }
        }
        return Value::Object(out).to_string();
    }
    let inner = map[1..map.len() - 1].trim();
    let mut out = String::with_capacity(map.len() + 96);
    out.push('{');
    out.push_str(inner);
    let mut first = inner.is_empty();
    for ((key, _), v) in OWN_FIELDS.iter().zip(own) {
        if let Some(v) = v {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
            out.push_str(v.get());
        }
    }
    out.push('}');
    out
}

/// LetsData's name of the vectors engine's interface, as its requests carry it.
const VECTORS_INTERFACE: &str = "SagemakerVectorsInterface";

/// A handler's `SagemakerVectorsInterface`: requests pipelined per chunk of documents; what
/// the process prints goes to the task's log. The document a request carries is LetsData's
/// `Document` form: `{documentType: "Document", documentId, documentKeyValuesMap: <the
/// document>}` (and `documentMetadata.vectorsTruncated` for texts the model cut, in
/// `constructVectorDoc`).
pub(crate) struct HandlerVectors {
    code: HandlerCode,
    log: Arc<TaskLog>,
}

/// The `Document` form of a document of a chunk (its text must be JSON; `None` if not).
fn document_form<'a>(d: &VectorsDoc<'a>, truncated: Option<Truncated<'_>>) -> Option<Value> {
    let map: Value = serde_json::from_slice(d.text).ok()?;
    let mut doc = json!({
        "documentType": "Document",
        "documentId": d.id,
        "documentKeyValuesMap": map,
    });
    if let Some(t) = truncated.filter(|t| !t.is_empty()) {
        doc["documentMetadata"] = json!({ "vectorsTruncated": serde_json::to_value(&t).ok()? });
    }
    Some(doc)
}

impl HandlerVectors {
    /// The answers to one request per document that has one (`requests[i]`: its `data`, or
    /// why the document is refused before asking).
    async fn ask(
        &mut self,
        function: &str,
        requests: Vec<Result<Box<RawValue>, String>>,
    ) -> Result<Vec<Result<String, String>>, ConnectorError> {
        let bodies: Vec<Vec<u8>> = requests
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|data| self.code.request(function, data))
            .collect();
        let replies = if bodies.is_empty() {
            Vec::new()
        } else {
            self.code
                .handler
                .call_many(&bodies, self.code.deadline)
                .await
                .map_err(|e| ConnectorError::Io {
                    what: format!("{VECTORS_INTERFACE}.{function}"),
                    message: e.to_string(),
                    kind: FailureKind::User,
                })?
        };
        super::drain_guest_log(&self.log, self.code.drain_output());
        let mut replies = replies.iter();
        Ok(requests
            .into_iter()
            .map(|r| {
                r.and_then(|_| {
                    let reply = replies.next().expect("one reply per request");
                    // As text: numbers read into a tree would not all print back the same.
                    Ok(answer(VECTORS_INTERFACE, function, reply)?
                        .get()
                        .to_string())
                })
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl VectorsInterface for HandlerVectors {
    async fn extract(&mut self, docs: &[VectorsDoc<'_>]) -> Result<Vec<Extracted>, ConnectorError> {
        const FUNCTION: &str = "extractDocumentElementsForVectorization";
        let requests = docs
            .iter()
            .map(|d| {
                let doc = document_form(d, None).ok_or_else(|| {
                    "the document is not JSON; a handler's SagemakerVectorsInterface takes JSON documents".to_string()
                })?;
                serde_json::value::to_raw_value(&json!({ "document": doc }))
                    .map_err(|e| e.to_string())
            })
            .collect();
        let answers = self.ask(FUNCTION, requests).await?;
        Ok(answers
            .into_iter()
            .map(|a| {
                let Ok(Value::Object(map)) = serde_json::from_str(&a?) else {
                    return Err(format!(
                        "{VECTORS_INTERFACE}.{FUNCTION} returned no map of friendly names to texts"
                    ));
                };
                map.into_iter()
                    .map(|(name, text)| match text {
                        Value::String(s) => Ok((name, s)),
                        other => Err(format!(
                            "{VECTORS_INTERFACE}.{FUNCTION} returned {} for {name:?}, not a text",
                            letsdata_model::json_kind(&other)
                        )),
                    })
                    .collect()
            })
            .collect())
    }

    async fn construct(
        &mut self,
        docs: &[VectorsDoc<'_>],
        vectors: Vec<Vec<NamedVector>>,
    ) -> Result<Vec<Constructed>, ConnectorError> {
        const FUNCTION: &str = "constructVectorDoc";
        let requests = docs
            .iter()
            .zip(&vectors)
            .map(|(d, named)| {
                let doc = document_form(d, Some(Truncated(named)))
                    .ok_or_else(|| "the document is not JSON".to_string())?;
                // The numbers as the shortest texts of their f32s: what the handler writes
                // back stays as short.
                let data = ConstructData {
                    document_interface: doc,
                    vectors_map: Vectors(named),
                };
                serde_json::value::to_raw_value(&data).map_err(|e| e.to_string())
            })
            .collect();
        let answers = self.ask(FUNCTION, requests).await?;
        Ok(answers
            .into_iter()
            .map(|a| match a {
                Err(reason) => Constructed::Error(reason),
                Ok(doc) => constructed(&doc),
            })
            .collect())
    }
}

/// `constructVectorDoc`'s `data`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ConstructData<'a> {
    document_interface: Value,
    vectors_map: Vectors<'a>,
}

/// A `Document`, `ErrorDoc` or `SkipDoc` that `constructVectorDoc` returned.
fn constructed(json: &str) -> Constructed {
    let Ok(d) = serde_json::from_str::<DocText<'_>>(json) else {
        return Constructed::Error(format!(
            "{VECTORS_INTERFACE}.constructVectorDoc returned {}, not a Document",
            cut(json)
        ));
    };
    match text(d.document_type).as_deref() {
        Some("ErrorDoc") => Constructed::Error(owned(d.error_message).unwrap_or_else(|| {
            "constructVectorDoc returned an error document without a message".into()
        })),
        Some("SkipDoc") => Constructed::Skip,
        _ => Constructed::Document {
            serialized: serialize(&d).into_bytes(),
            id: owned(d.document_id),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).expect("JSON")
    }

    #[test]
    fn a_document_is_its_key_values_with_its_own_fields() {
        let doc = json!({
            "documentType": "Document",
            "documentId": "d1",
            "recordType": "LOG",
            "partitionKey": "p",
            "documentMetadata": null,
            "documentKeyValuesMap": {"a": 1, "documentId": "overwritten"},
        });
        let text = doc.to_string();
        let parsed: DocText<'_> = serde_json::from_str(&text).expect("a document");
        assert_eq!(
            serialize(&parsed),
            r#"{"a":1,"documentId":"d1","recordType":"LOG","partitionKey":"p"}"#
        );
        // Without a clash the texts are joined as they are.
        let text = r#"{"documentId":"d2","documentKeyValuesMap":{"a":1.50,"b":[1,2]},"documentMetadata":{"m":1}}"#;
        let parsed: DocText<'_> = serde_json::from_str(text).expect("a document");
        assert_eq!(
            serialize(&parsed),
            r#"{"a":1.50,"b":[1,2],"documentId":"d2","documentMetadata":{"m":1}}"#
        );
        let parsed: DocText<'_> =
            serde_json::from_str(r#"{"documentId":"d3","documentKeyValuesMap":{}}"#).expect("doc");
        assert_eq!(serialize(&parsed), r#"{"documentId":"d3"}"#);
    }

    #[test]
    fn results_become_documents_errors_and_skips() {
        let mut b = ParsedBatch::default();
        push_result(
            &mut b,
            &raw(
                json!({"status": "SUCCESS", "document": {"documentType": "Document", "documentId": "x", "documentKeyValuesMap": {"v": 2}}}),
            ),
        );
        push_result(
            &mut b,
            &raw(
                json!({"status": "ERROR", "document": {"documentType": "ErrorDoc", "errorMessage": "no ts"}}),
            ),
        );
        push_result(
            &mut b,
            &raw(
                json!({"status": "SKIP", "document": {"documentType": "SkipDoc", "skipMessage": "not an error line"}}),
            ),
        );
        push_result(&mut b, &raw(json!({"status": "SKIP", "document": null})));
        push_result(&mut b, &raw(json!({"oops": true})));
        let r: Vec<_> = b.iter().collect();
        assert_eq!(r[0].kind, DocumentKind::Single);
        assert_eq!(r[0].serialized, Some(r#"{"v":2,"documentId":"x"}"#));
        assert_eq!(
            (r[1].kind, r[1].error_message),
            (DocumentKind::Error, "no ts")
        );
        assert_eq!(r[2].kind, DocumentKind::Skip);
        assert_eq!(
            (r[3].kind, r[3].status),
            (DocumentKind::None, ParseDocumentResultStatus::Skip)
        );
        assert!(r[4].error_message.contains("not a ParseDocumentResult"));
    }

    #[test]
    fn exceptions_are_reported_with_their_type_message_and_trace() {
        let e = answer(
            "SingleFileParser",
            "parseDocument",
            &Reply::Result(raw(json!({
                "StatusCode": 500,
                "body": {"statusCode": "EXCEPTION", "errorMessage": "boom",
                         "exception": {"errorMessage": "boom", "errorType": "KeyError",
                                       "stackTrace": "Traceback...\n  line 3"}}
            }))),
        )
        .expect_err("exception");
        assert!(
            e.starts_with("SingleFileParser.parseDocument raised KeyError: boom\nTraceback"),
            "{e}"
        );
        let js = answer(
            "SingleFileParser",
            "parseDocument",
            &Reply::Result(raw(json!({
                "StatusCode": 500,
                "body": {"statusCode": "EXCEPTION", "errorMessage": "bad",
                         "exception": {"errorType": "Error", "stackTrace": "\"Error: bad\\n    at parse\""}}
            }))),
        )
        .expect_err("exception");
        assert!(
            js.contains("raised Error: bad\nError: bad\n    at parse"),
            "{js}"
        );
        let odd = answer(
            "SingleFileParser",
            "getS3FileType",
            &Reply::Result(raw(json!("LOG"))),
        )
        .expect_err("not LetsData's shape");
        assert!(odd.contains("not LetsData's"), "{odd}");
    }
}
