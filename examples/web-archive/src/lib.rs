//! A `MultipleFileStateMachineReader` in the spirit of LetsData's Common Crawl example: each
//! task reads a WARC file (request and response records), a WAT file (metadata records) and
//! a WET file (text conversions) of one crawl, and joins the records of each page into one
//! document:
//!
//! ```json
//! {"url":"http://example.com/page/0","status":200,"title":"Page 0","links":1,
//!  "textLength":59,"text":"Page 0. This page …","warcRecordId":"<urn:uuid:…>"}
//! ```
//!
//! - A page whose response is not a 200 (a redirect) has no WET conversion: the reader
//!   *peeks* at the next WET record and leaves it for the next page; the page is skipped.
//! - A page whose WAT metadata is not valid JSON, or whose records name different URLs,
//!   becomes an error document listing every file's offsets, plus the failing record's own
//!   error document.
//! - The warcinfo record at the start of each file is skipped.

use letsdata_sdk::{
    Document, ErrorDoc, MultipleFileStateMachineReader, ParseCompositeDocumentResult,
    ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileStateMachineParser, SkipDoc,
    SystemFileReader,
};
use serde_json::{Map, Value, json};

const WARC: &str = "WARC";
const WAT: &str = "WAT";
const WET: &str = "WET";

/// A WARC-format record: its headers and payload.
struct WarcRecord<'a> {
    headers: Vec<(&'a str, &'a str)>,
    payload: &'a str,
}

impl<'a> WarcRecord<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let mut headers = Vec::new();
        for line in head.lines().skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim(), v.trim()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| *k == "Content-Length")
            .and_then(|(_, v)| v.parse().ok())?;
        let payload = rest.get(..len)?;
        Some(Self { headers, payload })
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Parses WARC, WAT and WET records into small JSON documents for the reader.
#[derive(Default)]
pub struct CrawlParser;

impl SingleFileStateMachineParser for CrawlParser {
    fn get_next_expected_record_type(&self, file_type: &str, last: Option<&str>) -> String {
        match (file_type, last) {
            (_, None) => "warcinfo",
            (WARC, Some("request")) => "response",
            (WARC, _) => "request",
            (WAT, _) => "metadata",
            _ => "conversion",
        }
        .to_string()
    }

    fn get_next_record_start_pattern(
        &self,
        _file_type: &str,
        record_type: &str,
    ) -> RecordParseHint {
        RecordParseHint::pattern(&format!("WARC/1.0\r\nWARC-Type: {record_type}\r\n"))
    }

    fn get_next_record_end_pattern(&self, _file_type: &str, _record_type: &str) -> RecordParseHint {
        // The next record's start: not consumed, so it is found again as the next start.
        RecordParseHint::pattern("WARC/1.0\r\n")
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
        let error = |message: String| {
            ParseDocumentResult::error(
                ErrorDoc::for_record(file_type, offset_bytes, record.len(), message)
                    .with_record_type(record_type),
            )
        };
        let Ok(text) = std::str::from_utf8(record) else {
            return error(format!("{file_type} {record_type} record is not UTF-8"));
        };
        let Some(rec) = WarcRecord::parse(text) else {
            return error(format!("{file_type} {record_type} record is incomplete"));
        };
        if record_type == "warcinfo" {
            return ParseDocumentResult::skip(
                SkipDoc::for_record(file_type, offset_bytes, record.len(), "warcinfo header")
                    .with_record_type(record_type),
            );
        }
        let uri = rec.header("WARC-Target-URI").unwrap_or("");
        let mut doc = json!({
            "uri": uri,
            "id": rec.header("WARC-Record-ID").unwrap_or(""),
            "offset": offset_bytes,
        });
        match record_type {
            "response" => {
                let status = rec
                    .payload
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse::<u16>().ok())
                    .unwrap_or(0);
                let html = rec.payload.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                let title = html
                    .split_once("<title>")
                    .and_then(|(_, t)| t.split_once("</title>"))
                    .map_or("", |(t, _)| t);
                doc["status"] = json!(status);
                doc["title"] = json!(title);
                doc["links"] = json!(html.matches("<a href=").count());
            }
            "metadata" => match serde_json::from_str::<Value>(rec.payload) {
                Ok(meta) => {
                    let status = meta
                        .pointer("/Envelope/Payload-Metadata/HTTP-Response-Metadata/Response-Message/Status")
                        .cloned()
                        .unwrap_or(Value::Null);
                    doc["metaStatus"] = status;
                }
                Err(e) => return error(format!("WAT metadata for {uri} is not valid JSON: {e}")),
            },
            "conversion" => {
                doc["text"] = json!(rec.payload);
            }
            _ => {}
        }
        ParseDocumentResult::success(
            SingleDoc::new(doc.to_string())
                .with_record_type(record_type)
                .with_document_id(uri),
        )
    }
}

/// Joins each page's WARC request and response, WAT metadata and WET conversion.
#[derive(Default)]
pub struct CrawlReader;

fn fields(doc: &Document) -> Map<String, Value> {
    match doc {
        Document::Single(d) => serde_json::from_str(&d.serialized).unwrap_or_default(),
        _ => Map::new(),
    }
}

fn uri_of(doc: &Document) -> String {
    match doc {
        Document::Single(d) => d.document_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

impl MultipleFileStateMachineReader for CrawlReader {
    fn get_s3_file_types(&self) -> Vec<String> {
        vec![WARC.into(), WAT.into(), WET.into()]
    }

    fn parse_document(
        &mut self,
        readers: &mut [SystemFileReader<'_>],
    ) -> ParseCompositeDocumentResult {
        let [warc, wat, wet] = readers else {
            return ParseCompositeDocumentResult::error(
                ErrorDoc::new(Vec::new(), Vec::new(), "expected WARC, WAT and WET readers"),
                Vec::new(),
            );
        };
        // Skip each file's warcinfo header (only at the start of the file).
        for r in [&mut *warc, &mut *wat, &mut *wet] {
            if r.last_record_type().is_none() {
                r.next_record(false);
            }
        }
        let starts: Vec<(String, String)> = [&*warc, &*wat, &*wet]
            .iter()
            .map(|r| (r.file_type().to_string(), r.offset_bytes()))
            .collect();
        let Some(request) = warc.next_record(false) else {
            return ParseCompositeDocumentResult::completed();
        };
        let response = warc.next_record(false);
        let metadata = wat.next_record(false);
        let uri = uri_of(&request);
        // Redirects have no conversion: only take the next WET record if it is this page's.
        let conversion = match wet.next_record(true) {
            Some(next) if uri_of(&next) == uri => wet.next_record(false),
            _ => None,
        };
        let ends: Vec<(String, String)> = [&*warc, &*wat, &*wet]
            .iter()
            .map(|r| (r.file_type().to_string(), r.offset_bytes()))
            .collect();
        let fail = |message: String, errors: Vec<ErrorDoc>| {
            ParseCompositeDocumentResult::error(
                ErrorDoc::new(starts.clone(), ends.clone(), message).with_document_id(uri.clone()),
                errors,
            )
        };
        let (Some(response), Some(metadata)) = (response, metadata) else {
            return fail(
                format!("page {uri}: a record is missing at the end of a file"),
                Vec::new(),
            );
        };
        let mut errors = Vec::new();
        for doc in [&request, &response, &metadata] {
            if let Document::Error(e) = doc {
                errors.push(e.clone());
            }
        }
        if !errors.is_empty() {
            return fail(
                format!("page {uri}: {} of its records are invalid", errors.len()),
                errors,
            );
        }
        for doc in [&response, &metadata] {
            if uri_of(doc) != uri {
                return fail(
                    format!("records of different pages: {uri} and {}", uri_of(doc)),
                    Vec::new(),
                );
            }
        }
        let resp = fields(&response);
        let status = resp.get("status").and_then(Value::as_u64).unwrap_or(0);
        if status != 200 {
            return ParseCompositeDocumentResult::skip(
                SkipDoc::new(starts, ends, format!("page {uri}: HTTP {status}")),
                Vec::new(),
            );
        }
        let text = conversion
            .as_ref()
            .map(fields)
            .and_then(|c| c.get("text").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let doc = json!({
            "url": uri,
            "status": status,
            "title": resp.get("title").cloned().unwrap_or(Value::Null),
            "links": resp.get("links").cloned().unwrap_or(Value::Null),
            "textLength": text.len(),
            "text": text,
            "warcRecordId": fields(&request).get("id").cloned().unwrap_or(Value::Null),
        });
        ParseCompositeDocumentResult::success(
            SingleDoc::new(doc.to_string()).with_document_id(uri),
            Vec::new(),
        )
    }
}

letsdata_sdk::export!(multiple_file_state_machine_reader: CrawlReader, parser: CrawlParser);
