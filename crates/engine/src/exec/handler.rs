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

use super::invocation::Invocation;
use super::records::RecordFailure;
use super::wasm::FileParsing;
use super::{InvokeError, Runner};
use letsdata_lambda::{Handler, HandlerError, Reply};
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::LogLevel;
use letsdata_sandbox::wit::{
    Document, ErrorDoc, ParseDocumentResult, ParseDocumentResultStatus, RecordHintType,
    RecordParseHint, RecordSpan, SingleDoc, SkipDoc,
};
use letsdata_sandbox::{DocumentKind, ParsedBatch};
use serde_json::{Map, Value, json};

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
            .join(format!("{task_id}-{}", run.lease.token.get()));
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
                interface.letsdata_name(),
                started.elapsed().as_millis(),
                memory,
                timeout.as_secs()
            ),
        );
        Ok(HandlerCode {
            handler,
            interface: interface.letsdata_name(),
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
        answer(self.interface, function, reply).map_err(InvokeError::user)
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

/// The result of one answer, or the user's exception as the task's error.
fn answer(interface: &str, function: &str, reply: Reply) -> Result<Value, String> {
    let mut value = match reply {
        Reply::Raised(e) => {
            return Err(format!(
                "{interface}.{function} raised {e} (the handler let the exception escape)\n{}",
                e.stack_trace.trim_end()
            ));
        }
        Reply::Result(v) => v,
    };
    let status = value.get("StatusCode").and_then(Value::as_i64);
    let body_status = value
        .get("body")
        .and_then(|b| b.get("statusCode"))
        .and_then(Value::as_str);
    match (status, body_status) {
        (Some(200), Some("SUCCESS")) => Ok(value
            .get_mut("body")
            .and_then(|b| b.get_mut("data"))
            .map(Value::take)
            .unwrap_or(Value::Null)),
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
        for reply in replies {
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
        let result = answer(self.interface, function, reply).map_err(RecordFailure::of_record)?;
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

/// An offset map: `{fileType: offset}` with the offsets as strings.
fn offset_map(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn text_of(doc: &Value, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `documentMetadata` as (name, JSON text) pairs.
fn metadata(doc: &Value) -> Vec<(String, String)> {
    match doc.get("documentMetadata") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
        _ => Vec::new(),
    }
}

/// A reader's `ParseDocumentResult` as the component interface's.
fn reader_result(
    interface: &str,
    function: &str,
    mut r: Value,
) -> Result<ParseDocumentResult, String> {
    let Some(status) = status_of(&r) else {
        return Err(format!(
            "{interface}.{function} returned {}, not a ParseDocumentResult with status SUCCESS, ERROR or SKIP",
            cut(&r.to_string())
        ));
    };
    let next_record_type = text_of(&r, "nextRecordType");
    let document = r.get_mut("document").filter(|d| d.is_object()).map(|doc| {
        match doc.get("documentType").and_then(Value::as_str) {
            Some("ErrorDoc") => Document::Error(ErrorDoc {
                error_start_offset_map: offset_map(doc.get("errorStartoffsetMap")),
                error_end_offset_map: offset_map(doc.get("errorEndoffsetMap")),
                error_message: text_of(doc, "errorMessage").unwrap_or_default(),
                document_id: text_of(doc, "documentId"),
                record_type: text_of(doc, "recordType"),
                partition_key: text_of(doc, "partitionKey"),
                document_metadata: metadata(doc),
                serialized: None,
            }),
            Some("SkipDoc") => Document::Skip(SkipDoc {
                skip_start_offset_map: offset_map(doc.get("errorStartoffsetMap")),
                skip_end_offset_map: offset_map(doc.get("errorEndoffsetMap")),
                skip_message: text_of(doc, "skipMessage").unwrap_or_default(),
                document_id: text_of(doc, "documentId"),
                record_type: text_of(doc, "recordType"),
            }),
            _ => Document::Single(SingleDoc {
                document_id: text_of(doc, "documentId"),
                record_type: text_of(doc, "recordType"),
                partition_key: text_of(doc, "partitionKey"),
                document_metadata: metadata(doc),
                serialized: serialize(doc),
            }),
        }
    });
    Ok(ParseDocumentResult {
        next_record_type,
        document,
        status,
    })
}

/// A `ParseDocumentResult`'s status (`SUCCESS`, `ERROR`, `SKIP`, any case).
fn status_of(r: &Value) -> Option<ParseDocumentResultStatus> {
    match r
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("SUCCESS") => Some(ParseDocumentResultStatus::Success),
        Some("ERROR") => Some(ParseDocumentResultStatus::Error),
        Some("SKIP") => Some(ParseDocumentResultStatus::Skip),
        _ => None,
    }
}

/// Adds a `ParseDocumentResult` to a batch.
fn push_result(batch: &mut ParsedBatch, mut r: Value) {
    let Some(status) = status_of(&r) else {
        let message = format!(
            "the parser returned {}, not a ParseDocumentResult with status SUCCESS, ERROR or SKIP",
            cut(&r.to_string())
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
    let doc = r.get_mut("document").filter(|d| d.is_object());
    let Some(doc) = doc else {
        batch.push(DocumentKind::None, status, None, None, "");
        return;
    };
    if !matches!(
        doc.get("documentType").and_then(Value::as_str),
        Some("ErrorDoc" | "SkipDoc")
    ) {
        let serialized = serialize(doc);
        let id = doc.get("documentId").and_then(Value::as_str);
        batch.push(DocumentKind::Single, status, id, Some(&serialized), "");
        return;
    }
    let id = doc.get("documentId").and_then(Value::as_str);
    match doc.get("documentType").and_then(Value::as_str) {
        Some("ErrorDoc") => {
            let message = doc
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the parser returned an error document without a message");
            batch.push(DocumentKind::Error, status, id, None, message);
        }
        _ => batch.push(DocumentKind::Skip, status, id, None, ""),
    }
}

/// The written form of a handler's document: `documentKeyValuesMap` (taken out of `doc`)
/// with the document's `documentId`, `recordType`, `partitionKey` and `documentMetadata` (when
/// present).
pub(super) fn serialize(doc: &mut Value) -> String {
    let mut out = match doc.get_mut("documentKeyValuesMap").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for key in [
        "documentId",
        "recordType",
        "partitionKey",
        "documentMetadata",
    ] {
        match doc.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert(key.to_string(), v.clone());
            }
        }
    }
    Value::Object(out).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            serialize(&mut doc.clone()),
            r#"{"a":1,"documentId":"d1","recordType":"LOG","partitionKey":"p"}"#
        );
    }

    #[test]
    fn results_become_documents_errors_and_skips() {
        let mut b = ParsedBatch::default();
        push_result(
            &mut b,
            json!({"status": "SUCCESS", "document": {"documentType": "Document", "documentId": "x", "documentKeyValuesMap": {"v": 2}}}),
        );
        push_result(
            &mut b,
            json!({"status": "ERROR", "document": {"documentType": "ErrorDoc", "errorMessage": "no ts"}}),
        );
        push_result(
            &mut b,
            json!({"status": "SKIP", "document": {"documentType": "SkipDoc", "skipMessage": "not an error line"}}),
        );
        push_result(&mut b, json!({"status": "SKIP", "document": null}));
        push_result(&mut b, json!({"oops": true}));
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
            Reply::Result(json!({
                "StatusCode": 500,
                "body": {"statusCode": "EXCEPTION", "errorMessage": "boom",
                         "exception": {"errorMessage": "boom", "errorType": "KeyError",
                                       "stackTrace": "Traceback...\n  line 3"}}
            })),
        )
        .expect_err("exception");
        assert!(
            e.starts_with("SingleFileParser.parseDocument raised KeyError: boom\nTraceback"),
            "{e}"
        );
        let js = answer(
            "SingleFileParser",
            "parseDocument",
            Reply::Result(json!({
                "StatusCode": 500,
                "body": {"statusCode": "EXCEPTION", "errorMessage": "bad",
                         "exception": {"errorType": "Error", "stackTrace": "\"Error: bad\\n    at parse\""}}
            })),
        )
        .expect_err("exception");
        assert!(
            js.contains("raised Error: bad\nError: bad\n    at parse"),
            "{js}"
        );
        let odd = answer(
            "SingleFileParser",
            "getS3FileType",
            Reply::Result(json!("LOG")),
        )
        .expect_err("not LetsData's shape");
        assert!(odd.contains("not LetsData's"), "{odd}");
    }
}
