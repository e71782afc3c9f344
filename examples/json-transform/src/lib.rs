//! A `SingleFileParser` over JSON lines: reshapes each event and writes it as one document.
//!
//! Input line:
//! `{"id":1,"ts":"…","event":"purchase","user":{"id":"u1","country":"NZ"},"value":2.5,"msg":"…"}`
//!
//! Document: `{"id":1,"ts":"…","user_id":"u1","country":"NZ","event":"PURCHASE","value_x2":5.0,"msg":"…"}`
//!
//! A line that is not a JSON object, or whose `event` is not a string or `value` not a
//! number, becomes an error document with the reason. `null` counts as absent.
//!
//! One pass over the record with [`jiter`], which reads JSON in place: `id`, `ts`, `msg` and
//! the user fields are copied exactly as written (slices of the record), only `event` is
//! decoded and `value` parsed, and the document is written straight into its string. The
//! parser keeps its buffers between records, so a record costs one allocation (the
//! document) besides its id.

use jiter::{Jiter, JiterError, NumberAny, NumberInt, Peek};
use letsdata_sdk::{ErrorDoc, ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser};
use std::fmt::Write as _;

/// The fields of one event, as slices of the record (`event` upper-cased into the parser's
/// buffer).
#[derive(Default)]
struct Event<'a> {
    id: Option<&'a str>,
    ts: Option<&'a str>,
    user_id: Option<&'a str>,
    country: Option<&'a str>,
    has_event: bool,
    value: Option<NumberAny>,
    msg: Option<&'a str>,
}

/// Why a record is not an event.
enum Invalid {
    Json(JiterError),
    Field(&'static str, &'static str),
}

impl From<JiterError> for Invalid {
    fn from(e: JiterError) -> Self {
        Invalid::Json(e)
    }
}

/// The parser; keeps its scratch buffers between records.
#[derive(Default)]
pub struct JsonTransform {
    /// jiter's buffer for strings with escapes.
    tape: Vec<u8>,
    /// The upper-cased `event`, JSON-encoded.
    event: String,
}

/// Reads the next value exactly as written into `slot` (`null` leaves it empty); a field
/// given twice is an error, as serde's derive has it.
fn keep<'a>(
    j: &mut Jiter<'a>,
    text: &'a str,
    slot: &mut Option<&'a str>,
    name: &'static str,
) -> Result<(), Invalid> {
    let peek = j.peek()?;
    let start = j.current_index();
    j.known_skip(peek)?;
    if peek != Peek::Null && slot.replace(&text[start..j.current_index()]).is_some() {
        return Err(Invalid::Field(name, "appears twice"));
    }
    Ok(())
}

impl JsonTransform {
    fn read<'a>(&mut self, j: &mut Jiter<'a>, text: &'a str) -> Result<Event<'a>, Invalid> {
        let mut e = Event::default();
        if j.peek()? != Peek::Object {
            return Err(Invalid::Field("the line", "is not a JSON object"));
        }
        // Keys are compared as written (a key spelled with escapes is another key).
        let mut key = j.next_object_bytes()?;
        while let Some(k) = key {
            match k {
                b"id" => keep(j, text, &mut e.id, "id")?,
                b"ts" => keep(j, text, &mut e.ts, "ts")?,
                b"msg" => keep(j, text, &mut e.msg, "msg")?,
                b"event" => match j.peek()? {
                    Peek::Null => j.known_null()?,
                    Peek::String => {
                        if e.has_event {
                            return Err(Invalid::Field("event", "appears twice"));
                        }
                        e.has_event = true;
                        let event = j.known_str()?;
                        self.event.clear();
                        encode_upper(&mut self.event, event);
                    }
                    _ => return Err(Invalid::Field("event", "is not a string")),
                },
                b"value" => match j.peek()? {
                    Peek::Null => j.known_null()?,
                    p if p.is_num() => {
                        if e.value.replace(j.known_number(p)?).is_some() {
                            return Err(Invalid::Field("value", "appears twice"));
                        }
                    }
                    _ => return Err(Invalid::Field("value", "is not a number")),
                },
                b"user" => match j.peek()? {
                    Peek::Null => j.known_null()?,
                    Peek::Object => {
                        let mut ukey = j.next_object_bytes()?;
                        while let Some(uk) = ukey {
                            match uk {
                                b"id" => keep(j, text, &mut e.user_id, "user.id")?,
                                b"country" => keep(j, text, &mut e.country, "user.country")?,
                                _ => j.next_skip()?,
                            }
                            ukey = j.next_key_bytes()?;
                        }
                    }
                    _ => return Err(Invalid::Field("user", "is not an object")),
                },
                _ => j.next_skip()?,
            }
            key = j.next_key_bytes()?;
        }
        j.finish()?;
        Ok(e)
    }
}

/// Appends `s` upper-cased as a JSON string.
fn encode_upper(out: &mut String, s: &str) {
    let plain = s
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b.is_ascii());
    if plain {
        out.push('"');
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_uppercase();
        out.push('"');
    } else {
        // Non-ASCII or characters to escape: let serde_json encode it.
        let upper = s.to_uppercase();
        out.push_str(&serde_json::to_string(&upper).unwrap_or_default());
    }
}

/// Appends `n * 2` (integers stay integers); false when the result cannot be written as JSON.
fn doubled(out: &mut String, n: &NumberAny) -> bool {
    let f = match n {
        NumberAny::Int(NumberInt::Int(i)) => match i.checked_mul(2) {
            Some(d) => return write!(out, "{d}").is_ok(),
            None => *i as f64,
        },
        NumberAny::Float(f) => *f,
    };
    match serde_json::Number::from_f64(f * 2.0) {
        Some(d) => write!(out, "{d}").is_ok(),
        None => false,
    }
}

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
        let text = match std::str::from_utf8(record) {
            Ok(t) => t,
            Err(e) => return error(format!("not a JSON event: {e}")),
        };
        let mut j = Jiter::with_tape(text.as_bytes(), std::mem::take(&mut self.tape));
        let event = self.read(&mut j, text);
        self.tape = j.into_tape();
        let e = match event {
            Ok(e) => e,
            Err(Invalid::Json(err)) => {
                return error(format!(
                    "not a JSON event: {} at column {}",
                    err.error_type,
                    err.index + 1
                ));
            }
            Err(Invalid::Field(field, why)) => {
                return error(format!("not a JSON event: {field} {why}"));
            }
        };
        let mut doc = String::with_capacity(text.len());
        let mut sep = '{';
        let mut field = |doc: &mut String, name: &str| {
            doc.push(sep);
            sep = ',';
            doc.push('"');
            doc.push_str(name);
            doc.push_str("\":");
        };
        let kept = [
            ("id", e.id),
            ("ts", e.ts),
            ("user_id", e.user_id),
            ("country", e.country),
        ];
        for (name, value) in kept {
            if let Some(v) = value {
                field(&mut doc, name);
                doc.push_str(v);
            }
        }
        if e.has_event {
            field(&mut doc, "event");
            doc.push_str(&self.event);
        }
        if let Some(n) = &e.value {
            field(&mut doc, "value_x2");
            if !doubled(&mut doc, n) {
                return error(format!("value {n:?} cannot be doubled"));
            }
        }
        if let Some(v) = e.msg {
            field(&mut doc, "msg");
            doc.push_str(v);
        }
        if sep == '{' {
            doc.push('{');
        }
        doc.push('}');
        let mut doc = SingleDoc::new(doc);
        if let Some(id) = e.id {
            doc = doc.with_document_id(id.trim_matches('"'));
        }
        ParseDocumentResult::success(doc)
    }
}

letsdata_sdk::export!(single_file_parser: JsonTransform);

#[cfg(test)]
mod tests {
    use super::*;
    use letsdata_sdk::Document;

    /// The document for `line`, or the error message.
    fn transform(line: &str) -> Result<(String, Option<String>), String> {
        let mut p = JsonTransform::default();
        let r = p.parse_document("DATA", "f", 0, line.as_bytes());
        match r.document {
            Some(Document::Single(d)) => Ok((d.serialized, d.document_id)),
            Some(Document::Error(e)) => Err(e.error_message),
            _ => panic!("unexpected result for {line}"),
        }
    }

    #[test]
    fn reshapes_an_event() {
        let (doc, id) = transform(
            r#"{"id":7,"ts":"2026-11-25T10:00:00Z","event":"view","user":{"id":"u1","country":"DE","tags":["a"]},"value":1.25,"msg":"hi"}"#,
        )
        .expect("document");
        assert_eq!(
            doc,
            r#"{"id":7,"ts":"2026-11-25T10:00:00Z","user_id":"u1","country":"DE","event":"VIEW","value_x2":2.5,"msg":"hi"}"#
        );
        assert_eq!(id.as_deref(), Some("7"));
    }

    #[test]
    fn keeps_values_as_written_and_integers_as_integers() {
        let (doc, id) = transform(
            r#" { "msg" : "a\"b\u00e9" , "value" : 21, "id":"x-1", "extra": {"deep": [1, {"x": null}]}, "user": null, "event": null } "#,
        )
        .expect("document");
        assert_eq!(doc, r#"{"id":"x-1","value_x2":42,"msg":"a\"b\u00e9"}"#);
        assert_eq!(id.as_deref(), Some("x-1"));
        let (doc, _) = transform(r#"{"value":1.5e300,"event":"straße \"q\""}"#).expect("doc");
        assert_eq!(doc, r#"{"event":"STRASSE \"Q\"","value_x2":3e+300}"#);
        assert_eq!(transform("{}").expect("empty").0, "{}");
    }

    #[test]
    fn malformed_events_are_errors_with_the_reason() {
        for (line, reason) in [
            (
                r#"{"id":1,"event":"broken"#,
                "not a JSON event: EOF while parsing a string at column 24",
            ),
            (
                "not json at all",
                "not a JSON event: the line is not a JSON object",
            ),
            ("[1,2]", "not a JSON event: the line is not a JSON object"),
            (r#"{"event":3}"#, "not a JSON event: event is not a string"),
            (
                r#"{"value":"3"}"#,
                "not a JSON event: value is not a number",
            ),
            (r#"{"user":[1]}"#, "not a JSON event: user is not an object"),
            (r#"{"id":1,"id":2}"#, "not a JSON event: id appears twice"),
            (
                r#"{"id":1} x"#,
                "not a JSON event: trailing characters at column 10",
            ),
            (r#"{"value":1e308}"#, "value Float(1e308) cannot be doubled"),
        ] {
            assert_eq!(transform(line), Err(reason.to_string()), "{line}");
        }
        let mut p = JsonTransform::default();
        let r = p.parse_document("DATA", "f", 0, b"{\"msg\":\"\xff\"}");
        let Some(Document::Error(e)) = r.document else {
            panic!("not an error")
        };
        assert!(
            e.error_message
                .starts_with("not a JSON event: invalid utf-8"),
            "{}",
            e.error_message
        );
    }
}
