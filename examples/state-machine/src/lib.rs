//! A `SingleFileStateMachineReader`: sensor files whose records alternate between a `META`
//! line (JSON about a sensor) and a `DATA` line (its readings). Each META + DATA pair becomes
//! one document with the readings' count, min, max and mean.
//!
//! ```text
//! META {"sensor":"s1","unit":"C"}
//! DATA 21.5,21.7,22.0
//! ```
//!
//! A META line that is not JSON, or a DATA line with a value that is not a number, makes the
//! pair an error document (with the offsets of both records); a sensor marked
//! `"decommissioned": true` is skipped.

use letsdata_sdk::{
    Document, ErrorDoc, ParseCompositeDocumentResult, ParseDocumentResult, RecordParseHint,
    SingleDoc, SingleFileStateMachineParser, SingleFileStateMachineReader, SkipDoc,
    SystemFileReader,
};
use serde_json::{Map, Value, json};

const META: &str = "META";
const DATA: &str = "DATA";

/// Parses one record of either type.
#[derive(Default)]
pub struct SensorParser;

impl SingleFileStateMachineParser for SensorParser {
    fn get_next_expected_record_type(&self, _file_type: &str, last: Option<&str>) -> String {
        match last {
            Some(META) => DATA.into(),
            _ => META.into(),
        }
    }

    fn get_next_record_start_pattern(
        &self,
        _file_type: &str,
        record_type: &str,
    ) -> RecordParseHint {
        RecordParseHint::pattern(&format!("{record_type} "))
    }

    fn get_next_record_end_pattern(&self, _file_type: &str, _record_type: &str) -> RecordParseHint {
        RecordParseHint::pattern("\n")
    }

    fn parse_document(
        &mut self,
        file_type: &str,
        _file_name: &str,
        offset_bytes: u64,
        record_type: &str,
        _last: Option<&str>,
        record: &[u8],
    ) -> ParseDocumentResult {
        let text = String::from_utf8_lossy(record);
        let body = text
            .trim_end()
            .strip_prefix(record_type)
            .unwrap_or("")
            .trim();
        let error = |message: String| {
            ParseDocumentResult::error(
                ErrorDoc::for_record(file_type, offset_bytes, record.len(), message)
                    .with_record_type(record_type),
            )
        };
        let value = if record_type == META {
            match serde_json::from_str::<Map<String, Value>>(body) {
                Ok(m) => Value::Object(m),
                Err(e) => return error(format!("META is not a JSON object: {e}")),
            }
        } else {
            let mut readings = Vec::new();
            for v in body.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                match v.parse::<f64>() {
                    Ok(n) => readings.push(n),
                    Err(_) => return error(format!("DATA value {v:?} is not a number")),
                }
            }
            json!(readings)
        };
        ParseDocumentResult::success(
            SingleDoc::new(value.to_string()).with_record_type(record_type),
        )
    }
}

/// Joins each META record with the DATA record after it.
#[derive(Default)]
pub struct SensorReader;

impl SingleFileStateMachineReader for SensorReader {
    fn get_s3_file_type(&self) -> String {
        "SENSORS".into()
    }

    fn parse_document(
        &mut self,
        file_type: &str,
        _last: Option<&str>,
        reader: &mut SystemFileReader<'_>,
    ) -> ParseCompositeDocumentResult {
        let start = reader.offset_bytes();
        let Some(meta) = reader.next_record(false) else {
            return ParseCompositeDocumentResult::completed();
        };
        let data = reader.next_record(false);
        let end = reader.offset_bytes();
        let span = |message: String| {
            ErrorDoc::new(
                vec![(file_type.to_string(), start.clone())],
                vec![(file_type.to_string(), end.clone())],
                message,
            )
        };
        let Some(data) = data else {
            return ParseCompositeDocumentResult::error(
                span("a META record without a DATA record at the end of the file".into()),
                Vec::new(),
            );
        };
        let mut errors = Vec::new();
        for doc in [&meta, &data] {
            if let Document::Error(e) = doc {
                errors.push(e.clone());
            }
        }
        if !errors.is_empty() {
            return ParseCompositeDocumentResult::error(
                span(format!(
                    "{} of the sensor's records are invalid",
                    errors.len()
                )),
                errors,
            );
        }
        let (Document::Single(meta), Document::Single(data)) = (meta, data) else {
            return ParseCompositeDocumentResult::skip(
                SkipDoc::new(Vec::new(), Vec::new(), "a record was skipped"),
                Vec::new(),
            );
        };
        let mut doc: Map<String, Value> =
            serde_json::from_str(&meta.serialized).unwrap_or_default();
        if doc.get("decommissioned") == Some(&Value::Bool(true)) {
            return ParseCompositeDocumentResult::skip(
                SkipDoc::new(
                    vec![(file_type.to_string(), start)],
                    vec![(file_type.to_string(), end)],
                    "decommissioned sensor",
                ),
                Vec::new(),
            );
        }
        let readings: Vec<f64> = serde_json::from_str(&data.serialized).unwrap_or_default();
        let count = readings.len();
        doc.insert("count".into(), json!(count));
        if count > 0 {
            let min = readings.iter().copied().fold(f64::INFINITY, f64::min);
            let max = readings.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = readings.iter().sum::<f64>() / count as f64;
            doc.insert("min".into(), json!(min));
            doc.insert("max".into(), json!(max));
            doc.insert("mean".into(), json!((mean * 1000.0).round() / 1000.0));
        }
        doc.insert("readings".into(), json!(readings));
        let id = doc
            .get("sensor")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        ParseCompositeDocumentResult::success(
            SingleDoc::new(Value::Object(doc).to_string()).with_document_id(id),
            Vec::new(),
        )
    }
}

letsdata_sdk::export!(single_file_state_machine_reader: SensorReader, parser: SensorParser);
