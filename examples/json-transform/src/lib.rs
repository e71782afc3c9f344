//! A `SingleFileParser` over JSON lines: reshapes each event and writes it as one document.
//!
//! Input line:
//! `{"id":1,"ts":"…","event":"purchase","user":{"id":"u1","country":"NZ"},"value":2.5,"msg":"…"}`
//!
//! Document: `{"id":1,"ts":"…","user_id":"u1","country":"NZ","event":"PURCHASE","value_x2":5.0,"msg":"…"}`
//!
//! A line that is not a JSON object, or whose `event` is not a string or `value` not a
//! number, becomes an error document with the reason. Fields are borrowed from the record
//! (`RawValue` keeps `id`, `ts`, `msg` and the user fields exactly as written).

use letsdata_sdk::{ErrorDoc, ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    value: Option<serde_json::Number>,
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    country: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_x2: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<&'a RawValue>,
}

fn doubled(n: &serde_json::Number) -> Option<serde_json::Number> {
    if let Some(d) = n.as_i64().and_then(|i| i.checked_mul(2)) {
        return Some(d.into());
    }
    n.as_f64()
        .and_then(|f| serde_json::Number::from_f64(f * 2.0))
}

/// The parser; stateless.
#[derive(Default)]
pub struct JsonTransform;

impl SingleFileParser for JsonTransform {
    fn get_s3_file_type(&self) -> String {
        "DATA".to_string()
    }

    fn get_record_start_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::none()
    }

    fn get_record_end_pattern(&self, _file_type: &str) -> RecordParseHint {
        RecordParseHint::pattern("\n")
    }

    fn parse_document(
        &mut self,
        file_type: &str,
        _file_name: &str,
        offset_bytes: u64,
        record: &[u8],
    ) -> ParseDocumentResult {
        let error = |message: String| {
            ParseDocumentResult::error(ErrorDoc::for_record(
                file_type,
                offset_bytes,
                record.len(),
                message,
            ))
        };
        let event: Event<'_> = match serde_json::from_slice(record) {
            Ok(e) => e,
            Err(e) => return error(format!("not a JSON event: {e}")),
        };
        let value_x2 = match &event.value {
            None => None,
            Some(n) => match doubled(n) {
                Some(d) => Some(d),
                None => return error(format!("value {n} cannot be doubled")),
            },
        };
        let (user_id, country) = match &event.user {
            Some(u) => (u.id, u.country),
            None => (None, None),
        };
        let out = Output {
            id: event.id,
            ts: event.ts,
            user_id,
            country,
            event: event.event.as_deref().map(str::to_uppercase),
            value_x2,
            msg: event.msg,
        };
        match serde_json::to_string(&out) {
            Ok(serialized) => {
                let mut doc = SingleDoc::new(serialized);
                if let Some(id) = event.id {
                    doc = doc.with_document_id(id.get().trim_matches('"'));
                }
                ParseDocumentResult::success(doc)
            }
            Err(e) => error(format!("cannot serialize the document: {e}")),
        }
    }
}

letsdata_sdk::export!(single_file_parser: JsonTransform);
