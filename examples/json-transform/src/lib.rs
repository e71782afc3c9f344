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
//! Built for speed, as a parser of many small records should be:
//! - one pass over the record with a strict JSON reader that works in place ([`json`]):
//!   `id`, `ts`, `msg` and the user fields are copied exactly as written (slices of the
//!   record), only `event` is decoded and `value` parsed;
//! - [`write_document`](SingleFileParser::write_document) writes each document straight
//!   into the batch, so a record costs no allocation.

mod json;

use json::{JsonError, Reader};
use letsdata_sdk::{
    DocumentWriter, ErrorDoc, ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser,
};

/// The fields of one event, as slices of the record (`event` upper-cased into the parser's
/// buffer).
#[derive(Default)]
struct Event<'a> {
    id: Option<&'a str>,
    ts: Option<&'a str>,
    user_id: Option<&'a str>,
    country: Option<&'a str>,
    has_event: bool,
    /// The number as written, and whether it has a fraction or an exponent.
    value: Option<(&'a str, bool)>,
    msg: Option<&'a str>,
}

impl Event<'_> {
    /// The document id: `id` without its quotes.
    fn document_id(&self) -> Option<&str> {
        self.id.map(|id| id.trim_matches('"'))
    }

    /// Appends the document; `event` is the upper-cased `event`, JSON-encoded.
    fn write(&self, event: &str, doc: &mut String) -> Result<(), String> {
        let mut sep = "{";
        let mut field = |doc: &mut String, head: &str, value: &str| {
            doc.push_str(sep);
            doc.push_str(head);
            doc.push_str(value);
            sep = ",";
        };
        let kept = [
            ("\"id\":", self.id),
            ("\"ts\":", self.ts),
            ("\"user_id\":", self.user_id),
            ("\"country\":", self.country),
        ];
        for (head, value) in kept {
            if let Some(v) = value {
                field(doc, head, v);
            }
        }
        if self.has_event {
            field(doc, "\"event\":", event);
        }
        if let Some((n, float)) = self.value {
            field(doc, "\"value_x2\":", "");
            if !doubled(doc, n, float) {
                return Err(format!("value {n} cannot be doubled"));
            }
        }
        if let Some(v) = self.msg {
            field(doc, "\"msg\":", v);
        }
        if sep == "{" {
            doc.push('{');
        }
        doc.push('}');
        Ok(())
    }
}

/// Why a record is not an event.
enum Invalid {
    Json(JsonError),
    Field(&'static str, &'static str),
}

impl From<JsonError> for Invalid {
    fn from(e: JsonError) -> Self {
        Invalid::Json(e)
    }
}

/// The parser; keeps the upper-cased `event` buffer between records.
#[derive(Default)]
pub struct JsonTransform {
    /// The upper-cased `event`, JSON-encoded.
    event: String,
}

/// Reads the next value exactly as written into `slot` (`null` leaves it empty); a field
/// given twice is an error, as serde's derive has it.
#[inline(always)]
fn keep<'a>(
    r: &mut Reader<'a>,
    slot: &mut Option<&'a str>,
    name: &'static str,
) -> Result<(), Invalid> {
    if r.null()? {
        return Ok(());
    }
    if slot.replace(r.skip_value()?).is_some() {
        return Err(Invalid::Field(name, "appears twice"));
    }
    Ok(())
}

impl JsonTransform {
    /// The event in `record`, or why it is not one.
    fn event<'a>(&mut self, record: &'a [u8]) -> Result<Event<'a>, String> {
        self.read(record).map_err(|invalid| match invalid {
            Invalid::Json(err) => format!("not a JSON event: {err}"),
            Invalid::Field(field, why) => format!("not a JSON event: {field} {why}"),
        })
    }

    fn read<'a>(&mut self, record: &'a [u8]) -> Result<Event<'a>, Invalid> {
        let mut e = Event::default();
        let mut r = Reader::new(record);
        match r.peek() {
            Some(b'{') => r.enter_object(),
            Some(_) => return Err(Invalid::Field("the line", "is not a JSON object")),
            // An empty line: "EOF while parsing a value".
            None => {
                return Err(r
                    .skip_value()
                    .err()
                    .map_or(Invalid::Field("the line", "is empty"), Invalid::Json));
            }
        }
        // Keys are compared as written (a key spelled with escapes is another key).
        while let Some(k) = r.next_key()? {
            match k {
                b"id" => keep(&mut r, &mut e.id, "id")?,
                b"ts" => keep(&mut r, &mut e.ts, "ts")?,
                b"msg" => keep(&mut r, &mut e.msg, "msg")?,
                b"event" => match r.peek() {
                    Some(b'n') => {
                        r.null()?;
                    }
                    Some(b'"') => {
                        if e.has_event {
                            return Err(Invalid::Field("event", "appears twice"));
                        }
                        e.has_event = true;
                        let event = r.string()?;
                        self.event.clear();
                        encode_upper(&mut self.event, event);
                    }
                    _ => return Err(Invalid::Field("event", "is not a string")),
                },
                b"value" => match r.peek() {
                    Some(b'n') => {
                        r.null()?;
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        if e.value.replace(r.number()?).is_some() {
                            return Err(Invalid::Field("value", "appears twice"));
                        }
                    }
                    _ => return Err(Invalid::Field("value", "is not a number")),
                },
                b"user" => match r.peek() {
                    Some(b'n') => {
                        r.null()?;
                    }
                    Some(b'{') => {
                        r.enter_object();
                        while let Some(uk) = r.next_key()? {
                            match uk {
                                b"id" => keep(&mut r, &mut e.user_id, "user.id")?,
                                b"country" => keep(&mut r, &mut e.country, "user.country")?,
                                _ => {
                                    r.skip_value()?;
                                }
                            }
                        }
                    }
                    _ => return Err(Invalid::Field("user", "is not an object")),
                },
                _ => {
                    r.skip_value()?;
                }
            }
        }
        r.finish()?;
        Ok(e)
    }
}

/// Appends the JSON string `quoted` (as written, quotes included) upper-cased.
fn encode_upper(out: &mut String, quoted: &str) {
    if quoted.bytes().all(|b| b.is_ascii() && b != b'\\') {
        let start = out.len();
        out.push_str(quoted);
        out[start..].make_ascii_uppercase();
    } else {
        // Escapes or non-ASCII: decode, upper-case and let serde_json encode it.
        let decoded: String = serde_json::from_str(quoted).unwrap_or_default();
        out.push_str(&serde_json::to_string(&decoded.to_uppercase()).unwrap_or_default());
    }
}

/// Appends `n * 2` for the JSON number `n` (integers stay integers); false when the result
/// cannot be written as JSON.
fn doubled(out: &mut String, n: &str, float: bool) -> bool {
    let f = if float {
        n.parse::<f64>().unwrap_or(f64::INFINITY)
    } else {
        match n.parse::<i64>().ok().and_then(|i| i.checked_mul(2)) {
            Some(d) => {
                out.push_str(itoa::Buffer::new().format(d));
                return true;
            }
            None => n.parse::<f64>().unwrap_or(f64::INFINITY),
        }
    };
    match serde_json::Number::from_f64(f * 2.0) {
        Some(d) => {
            use std::fmt::Write as _;
            write!(out, "{d}").is_ok()
        }
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
        let document = self.event(record).and_then(|e| {
            let mut doc = String::with_capacity(record.len());
            e.write(&self.event, &mut doc)?;
            Ok(SingleDoc {
                document_id: e.document_id().map(str::to_string),
                ..SingleDoc::new(doc)
            })
        });
        match document {
            Ok(doc) => ParseDocumentResult::success(doc),
            Err(message) => ParseDocumentResult::error(ErrorDoc::for_record(
                file_type,
                offset_bytes,
                record.len(),
                message,
            )),
        }
    }

    /// What letsdata calls: the same documents as `parse_document`, written straight into
    /// the batch (no allocation per record).
    fn write_document(
        &mut self,
        _file_type: &str,
        _file_name: &str,
        _offset_bytes: u64,
        record: &[u8],
        out: &mut DocumentWriter,
    ) {
        match self.event(record) {
            Ok(e) => out.single(e.document_id(), |doc| e.write(&self.event, doc)),
            Err(message) => out.error(&message),
        }
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
            (r#"{"value":1e308}"#, "value 1e308 cannot be doubled"),
        ] {
            assert_eq!(transform(line), Err(reason.to_string()), "{line}");
        }
        let mut p = JsonTransform::default();
        let r = p.parse_document("DATA", "f", 0, b"{\"msg\":\"\xff\"}");
        let Some(Document::Error(e)) = r.document else {
            panic!("not an error")
        };
        assert_eq!(
            e.error_message,
            "not a JSON event: invalid UTF-8 at column 9"
        );
    }

    #[test]
    fn write_document_writes_what_parse_document_returns() {
        let lines = [
            r#"{"id":7,"ts":"t","event":"view","user":{"id":"u1","country":"DE"},"value":1.25,"msg":"hi"}"#,
            r#"{"id":"x-1","value":21,"event":"straße"}"#,
            r#"{"value":1e308}"#,
            r#"{"id":1,"event":"broken"#,
            "{}",
        ];
        let mut p = JsonTransform::default();
        let mut out = DocumentWriter::default();
        for line in lines {
            p.write_document("DATA", "f", 0, line.as_bytes(), &mut out);
        }
        assert_eq!(out.len(), lines.len());
        for (line, written) in lines.iter().zip(out.results()) {
            match transform(line) {
                Ok((doc, id)) => {
                    assert_eq!(written.serialized, Some(doc.as_str()), "{line}");
                    assert_eq!(written.document_id, id.as_deref(), "{line}");
                }
                Err(message) => {
                    assert_eq!(written.error_message, message, "{line}");
                    assert_eq!(written.serialized, None, "{line}");
                }
            }
        }
    }
}
