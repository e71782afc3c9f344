//! How a file parser's results become documents, error records and skips.

use super::*;
use letsdata_connectors::s3::{ObjectStores, part_objects};

const RAW: &[u8] = b"the record\n";

fn output(dir: &std::path::Path) -> PartOutput {
    for b in ["write", "error"] {
        std::fs::create_dir_all(dir.join(b)).expect("bucket dir");
    }
    let stores = ObjectStores::local(dir.to_path_buf());
    PartOutput::new(
        part_objects(
            stores.bucket("write").expect("bucket"),
            "Dataset/task-1",
            false,
            1,
        ),
        part_objects(
            stores.bucket("error").expect("bucket"),
            "Dataset/task-1",
            false,
            1,
        ),
        ("Dataset", "id"),
        "task-1",
        0,
        64 << 20,
    )
}

fn result(
    status: ParseDocumentResultStatus,
    kind: DocumentKind,
    serialized: Option<&'static str>,
) -> ParsedDocument<'static> {
    ParsedDocument {
        status,
        kind,
        serialized,
        document_id: Some("doc-7"),
        error_message: if kind == DocumentKind::Error {
            "bad value"
        } else {
            ""
        },
    }
}

/// Writes `r` for a record at offsets 100..111 and returns the documents, the error records
/// and the counters.
fn write(
    r: ParsedDocument<'_>,
) -> (
    String,
    Vec<serde_json::Value>,
    letsdata_model::task::TaskProgress,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut out = output(dir.path());
    let mut counts = TaskProgress::default();
    let ctx = ErrorContext {
        dataset_name: "Dataset",
        dataset_id: "id",
        task_id: "task-1",
        file_type: "DATA",
        file_name: "f.jsonl",
    };
    let rec = BatchRecord {
        start_offset: 100,
        end_offset: 111,
        next_offset: 111,
    };
    write_result(&mut out, &mut counts, &ctx, &rec, RAW, r);
    let errors = String::from_utf8(out.errors.clone())
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("error record is JSON"))
        .collect();
    (
        String::from_utf8(out.docs.clone()).expect("utf8"),
        errors,
        counts,
    )
}

use ParseDocumentResultStatus::{Error, Skip, Success};

#[test]
fn a_single_document_is_written_as_one_line() {
    let (docs, errors, p) = write(result(Success, DocumentKind::Single, Some(r#"{"a":1}"#)));
    assert_eq!(docs, "{\"a\":1}\n");
    assert!(errors.is_empty());
    assert_eq!((p.documents_written, p.error_records), (1, 0));
}

#[test]
fn an_unwritable_document_becomes_an_error_record_with_the_record_bytes() {
    for (serialized, why) in [
        (Some(""), "empty"),
        (None, "empty"),
        (Some("{\"a\":\n1}"), "line break"),
        (Some("{}\r"), "line break"),
    ] {
        let (docs, errors, p) = write(result(Success, DocumentKind::Single, serialized));
        assert_eq!(docs, "");
        assert_eq!(p.error_records, 1);
        let e = &errors[0];
        assert!(
            e["errorMessage"].as_str().expect("message").contains(why),
            "{e}"
        );
        assert_eq!(e["rawRecord"], "the record\n");
        assert_eq!(e["documentId"], "doc-7");
        assert_eq!(e["errorStartOffsetMap"]["DATA"], "100");
        assert_eq!(e["errorEndOffsetMap"]["DATA"], "111");
    }
}

#[test]
fn an_error_document_keeps_its_message_id_and_content() {
    let (docs, errors, p) = write(result(Error, DocumentKind::Error, None));
    assert_eq!(docs, "");
    assert_eq!(p.error_records, 1);
    assert_eq!(errors[0]["errorMessage"], "bad value");
    assert_eq!(errors[0]["documentId"], "doc-7");
    assert_eq!(errors[0]["rawRecord"], "the record\n");

    // Any status: the document decides. Kept content replaces the record's bytes.
    let (_, errors, _) = write(result(Success, DocumentKind::Error, Some("kept")));
    assert_eq!(errors[0]["rawRecord"], "kept");
    assert_eq!(errors[0]["errorMessage"], "bad value");
}

#[test]
fn skips_are_counted_and_not_written() {
    for r in [
        result(Skip, DocumentKind::Skip, None),
        result(Success, DocumentKind::Skip, None),
        result(Skip, DocumentKind::None, None),
        result(Skip, DocumentKind::Single, Some("{}")),
    ] {
        let (docs, errors, p) = write(r);
        assert_eq!((docs.as_str(), errors.len()), ("", 0));
        assert_eq!((p.skip_records, p.documents_written), (1, 0));
    }
}

#[test]
fn a_status_that_contradicts_the_document_is_an_error_record() {
    let (_, errors, p) = write(result(Error, DocumentKind::Single, Some("{}")));
    assert_eq!(p.error_records, 1);
    assert!(
        errors[0]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("not an error document")
    );
    assert_eq!(errors[0]["documentId"], "doc-7");

    for status in [Success, Error] {
        let (_, errors, p) = write(result(status, DocumentKind::None, None));
        assert_eq!(p.error_records, 1);
        let message = errors[0]["errorMessage"].as_str().expect("message");
        assert!(message.contains("without a document"), "{message}");
        assert!(errors[0].get("documentId").is_none());
    }
}
