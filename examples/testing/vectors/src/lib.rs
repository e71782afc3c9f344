//! Test component (not an example): the vectors engine's user code. A `SingleFileParser` of
//! JSON lines and a `QueueMessageReader` of JSON bodies make documents (id = the line's or
//! body's `id`); its `SagemakerVectorsInterface` embeds `title` (as `Title`) and, when there is
//! one, `body` (as `Body`), and writes LetsData's VECTOR document: `{id, title, vectors,
//! truncated}`. A document's `kind` asks for the other outcomes: `bad` fails the extraction
//! (an error record), `skip` is skipped, `error` gets an error document from the
//! construction, `panic` panics in it (a trap), `pretty` gets a document spread over several
//! lines (refused: an output line holds one document), and `noid` gets a document without an id
//! (the reader's is kept).

use letsdata_sdk::{
    Document, ErrorDoc, NamedVector, ParseDocumentResult, QueueMessageReader, RecordParseHint,
    SagemakerVectorsInterface, SingleDoc, SingleFileParser, SkipDoc, VectorsDocument,
};
use serde_json::{Map, Value, json};

fn document(text: &str) -> Result<(Value, String), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let id = match &v["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("no id".into()),
    };
    Ok((v, id))
}

#[derive(Default)]
pub struct Lines;

impl SingleFileParser for Lines {
    fn get_s3_file_type(&self) -> String {
        "JSONL".into()
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
        let line = String::from_utf8_lossy(record);
        match document(line.trim_end()) {
            Ok((v, id)) => {
                ParseDocumentResult::success(SingleDoc::new(v.to_string()).with_document_id(id))
            }
            Err(e) => ParseDocumentResult::error(ErrorDoc::for_record(
                file_type,
                offset_bytes,
                record.len(),
                e,
            )),
        }
    }
}

impl QueueMessageReader for Lines {
    fn parse_message(
        &mut self,
        message_id: &str,
        _message_group_id: Option<&str>,
        _message_deduplication_id: Option<&str>,
        _message_attributes: &[(String, String)],
        message_body: &str,
    ) -> ParseDocumentResult {
        match document(message_body) {
            Ok((v, id)) => ParseDocumentResult::success(
                SingleDoc::new(v.to_string())
                    .with_document_id(id.clone())
                    .with_partition_key(id),
            ),
            Err(e) => ParseDocumentResult::error(ErrorDoc::new(
                vec![("SQS".into(), message_id.into())],
                vec![("SQS".into(), message_id.into())],
                e,
            )),
        }
    }
}

#[derive(Default)]
pub struct Vectors {
    /// Documents constructed by this instance (printed to the log now and then).
    constructed: u64,
}

impl SagemakerVectorsInterface for Vectors {
    fn extract_document_elements_for_vectorization(
        &mut self,
        document: &VectorsDocument,
    ) -> Result<Vec<(String, String)>, String> {
        let v: Value = serde_json::from_str(&document.serialized).map_err(|e| e.to_string())?;
        if v["kind"] == "bad" {
            println!("document {:?} cannot be vectorized", document.document_id);
            return Err(format!(
                "document {} asked not to be vectorized",
                document.document_id.as_deref().unwrap_or("?")
            ));
        }
        let title = v["title"].as_str().ok_or("the document has no title")?;
        let mut texts = vec![("Title".to_string(), title.to_string())];
        if let Some(body) = v["body"].as_str() {
            texts.push(("Body".to_string(), body.to_string()));
        }
        Ok(texts)
    }

    fn construct_vector_doc(
        &mut self,
        document: &VectorsDocument,
        vectors: Vec<NamedVector>,
    ) -> Document {
        let v: Value = serde_json::from_str(&document.serialized).expect("JSON (it was extracted)");
        let id = document.document_id.clone().unwrap_or_default();
        match v["kind"].as_str() {
            Some("skip") => {
                return Document::Skip(SkipDoc::new(Vec::new(), Vec::new(), "asked to skip"));
            }
            Some("error") => {
                return Document::Error(
                    ErrorDoc::new(
                        Vec::new(),
                        Vec::new(),
                        format!("document {id} asked for an error"),
                    )
                    .with_document_id(id),
                );
            }
            Some("panic") => panic!("asked to panic on document {id}"),
            _ => {}
        }
        self.constructed += 1;
        if self.constructed.is_multiple_of(100) {
            println!("{} vector documents constructed", self.constructed);
        }
        let mut named = Map::new();
        let mut truncated = Vec::new();
        for n in vectors {
            if n.truncated.is_some() {
                truncated.push(n.name.clone());
            }
            named.insert(n.name, n.values.into());
        }
        let doc =
            json!({"id": v["id"], "title": v["title"], "vectors": named, "truncated": truncated});
        let single = SingleDoc::new(if v["kind"] == "pretty" {
            serde_json::to_string_pretty(&doc).expect("JSON")
        } else {
            doc.to_string()
        });
        Document::Single(if v["kind"] == "noid" {
            single
        } else {
            single.with_document_id(format!("vec-{id}"))
        })
    }
}

letsdata_sdk::export!(single_file_parser: Lines);
letsdata_sdk::export!(queue_message_reader: Lines);
letsdata_sdk::export!(sagemaker_vectors_interface: Vectors);
