//! `readConnector`, `writeConnector` and `errorConnector`.

use super::*;
use crate::spec::{BuiltinParser, CodeLanguage, Compression, Implementation, ResourceLocation};

fn parser_of(spec: &DatasetSpec) -> BuiltinParser {
    match &s3_read(spec).implementation {
        Implementation::Builtin(parser) => parser.clone(),
        other => panic!("not a builtin parser: {other:?}"),
    }
}

/// The example's read connector with the jsonl parser options replaced by `options`.
fn with_parser(parser: &str, options: Value) -> Value {
    let mut v = with("readConnector.builtinParser", json!(parser));
    remove(&mut v, "readConnector.documentIdField");
    if let Value::Object(options) = options {
        for (k, val) in options {
            set(&mut v, &format!("readConnector.{k}"), val);
        }
    }
    v
}

#[test]
fn unrecognised_read_destination_lists_all() {
    let ps = problems(&with("readConnector.connectorDestination", json!("FTP")));
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "readConnector.connectorDestination",
        "\"FTP\" is not a read connector destination; accepted values: S3, SQS, KINESIS, DYNAMODBSTREAMS, DYNAMODB",
    );
    assert_only(
        &without("readConnector.connectorDestination"),
        "readConnector.connectorDestination",
        "is required: where the input is read from; accepted values: S3",
    );
}

#[test]
fn misspelt_reader_type_lists_both_spellings() {
    let ps = problems(&with(
        "readConnector.readerType",
        json!("Singel File Reader"),
    ));
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_eq!(ps[0].path, "readConnector.readerType");
    assert_eq!(
        ps[0].message,
        "\"Singel File Reader\" is not a reader type; accepted values: Single File Reader (SINGLEFILEREADER), Single File State Machine Reader (SINGLEFILESTATEMACHINEREADER), Multiple File State Machine Reader (MULTIPLEFILESTATEMACHINEREADER)"
    );
}

#[test]
fn read_bucket_name_follows_s3_rules() {
    for bad in ["Quickstart_Input", "ab", "-bucket", "a..b"] {
        assert_only(
            &with("readConnector.bucketName", json!(bad)),
            "readConnector.bucketName",
            "is invalid; expected 3-63 characters",
        );
    }
}

#[test]
fn bucket_resource_location_must_be_letsdata_or_customer() {
    assert_only(
        &with("readConnector.bucketResourceLocation", json!("Mine")),
        "readConnector.bucketResourceLocation",
        "\"Mine\" is not a resource location; accepted values: LetsData, Customer",
    );
}

#[test]
fn java_is_refused_naming_the_languages_that_run() {
    let mut v = handler_example("JAVA");
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://code/parser.jar"),
    );
    let ps = problems(&v);
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "readConnector.artifactImplementationLanguage",
        "Java implementations cannot run here (letsdata does not run Java jars); supported: Builtin (built-in parsers), Python and Javascript",
    );
}

/// The example as LetsData publishes a Python or JavaScript dataset: the project archive, and
/// the container image and class wiring that does not apply here.
fn handler_example(language: &str) -> Value {
    let mut v = example();
    for f in ["builtinParser", "documentIdField"] {
        remove(&mut v, &format!("readConnector.{f}"));
    }
    set(
        &mut v,
        "readConnector.artifactImplementationLanguage",
        json!(language),
    );
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://code/parser.zip"),
    );
    v
}

#[test]
fn python_and_javascript_projects_are_read_with_the_container_wiring_as_warnings() {
    for (language, expected) in [
        ("python", CodeLanguage::Python),
        ("Javascript", CodeLanguage::Javascript),
    ] {
        let mut v = handler_example(language);
        set(
            &mut v,
            "readConnector.interfaceECRImagePath",
            json!("223413462631.dkr.ecr.us-east-1.amazonaws.com/letsdata_python_functions:latest"),
        );
        set(
            &mut v,
            "readConnector.interfaceECRImageResourceLocation",
            json!("Customer"),
        );
        set(
            &mut v,
            "readConnector.singleFileParserImplementationClassName",
            json!("com.x.Parser"),
        );
        let spec = parse(&v).unwrap_or_else(|e| panic!("{language}: {e}"));
        let Implementation::Code(code) = &s3_read(&spec).implementation else {
            panic!("not user code: {:?}", s3_read(&spec).implementation);
        };
        assert_eq!(code.language, expected);
        assert_eq!(code.link(), "s3://code/parser.zip");
        let warned: Vec<&str> = spec.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            warned,
            [
                "readConnector.interfaceECRImagePath",
                "readConnector.interfaceECRImageResourceLocation",
                "readConnector.singleFileParserImplementationClassName",
            ],
            "{language}"
        );
        assert!(
            spec.warnings[0]
                .message
                .contains("a container image cannot be pulled here"),
            "{:?}",
            spec.warnings
        );
        assert!(
            spec.warnings[2].message.contains("not by class name"),
            "{:?}",
            spec.warnings
        );
    }
}

#[test]
fn a_python_dataset_naming_only_its_image_is_told_what_to_upload_instead() {
    let mut v = handler_example("Python");
    remove(&mut v, "readConnector.artifactFileS3Link");
    set(
        &mut v,
        "readConnector.interfaceECRImagePath",
        json!("223413462631.dkr.ecr.us-east-1.amazonaws.com/letsdata_python_functions:latest"),
    );
    set(
        &mut v,
        "readConnector.interfaceECRImageResourceLocation",
        json!("Customer"),
    );
    assert_only(
        &v,
        "readConnector.interfaceECRImagePath",
        "a container image cannot be pulled here: pack your Python project directory (the one your dockerfile copies, with letsdata_lambda_function.py and requirements.txt) as a .zip or .tar.gz",
    );
    let mut none = handler_example("Javascript");
    remove(&mut none, "readConnector.artifactFileS3Link");
    assert_only(
        &none,
        "readConnector.artifactFileS3Link",
        "is required: the s3://<bucketName>/<key>.zip (or .tar.gz) link of the implementation, your JavaScript project directory with index.js and package.json",
    );
}

#[test]
fn a_handler_project_is_an_archive_read_as_single_files_without_builtin_options() {
    let mut v = handler_example("Python");
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://code/parser.py"),
    );
    assert_only(
        &v,
        "readConnector.artifactFileS3Link",
        "\"parser.py\" is not a .zip, .tar.gz or .tgz archive",
    );
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://code/parser.tgz"),
    );
    assert!(parse(&v).is_ok());
    let mut sm = handler_example("Javascript");
    set(
        &mut sm,
        "readConnector.readerType",
        json!("Single File State Machine Reader"),
    );
    set(
        &mut sm,
        "manifestFile.readerType",
        json!("Single File State Machine Reader"),
    );
    assert_only(
        &sm,
        "readConnector.readerType",
        "Javascript implementations implement LetsData's SingleFileParser, which reads with readerType Single File Reader",
    );
    let mut policy = handler_example("Python");
    set(
        &mut policy,
        "readConnector.onRecordError",
        json!("FailTask"),
    );
    assert_only(
        &policy,
        "readConnector.onRecordError",
        "applies to stream, queue and table readers; a file parser that fails on a record fails its task",
    );
    let mut builtin = handler_example("Python");
    set(&mut builtin, "readConnector.builtinParser", json!("jsonl"));
    assert_only(
        &builtin,
        "readConnector.builtinParser",
        "is not used with artifactImplementationLanguage Python; remove it",
    );
}

#[test]
fn unknown_and_missing_languages_are_problems() {
    assert_only(
        &with("readConnector.artifactImplementationLanguage", json!("Go")),
        "readConnector.artifactImplementationLanguage",
        "\"Go\" is not an implementation language; accepted values: Builtin, Wasm, Java, Python, Javascript",
    );
    assert_only(
        &without("readConnector.artifactImplementationLanguage"),
        "readConnector.artifactImplementationLanguage",
        "is required",
    );
}

#[test]
fn builtin_parser_is_required_and_checked() {
    let mut v = without("readConnector.builtinParser");
    remove(&mut v, "readConnector.documentIdField");
    assert_only(
        &v,
        "readConnector.builtinParser",
        "is required: the builtin parser (required with artifactImplementationLanguage Builtin); accepted values: jsonl, csv, text",
    );
    let mut v = with("readConnector.builtinParser", json!("xml"));
    remove(&mut v, "readConnector.documentIdField");
    assert_only(
        &v,
        "readConnector.builtinParser",
        "\"xml\" is not a builtin parser; accepted values: jsonl, csv, text",
    );
}

#[test]
fn builtin_parsers_need_single_file_reader() {
    let mut v = with(
        "readConnector.readerType",
        json!("Single File State Machine Reader"),
    );
    set(
        &mut v,
        "manifestFile.readerType",
        json!("SINGLEFILESTATEMACHINEREADER"),
    );
    assert_only(
        &v,
        "readConnector.readerType",
        "builtin parsers work only with readerType Single File Reader (SINGLEFILEREADER), found Single File State Machine Reader (SINGLEFILESTATEMACHINEREADER)",
    );
}

#[test]
fn parser_options_are_parsed_with_defaults() {
    assert_eq!(
        parser_of(&parse_ok(&without("readConnector.documentIdField"))),
        BuiltinParser::Jsonl {
            document_id_field: None
        }
    );
    assert_eq!(
        parser_of(&parse_ok(&with_parser("csv", json!({})))),
        BuiltinParser::Csv {
            delimiter: b',',
            has_header: true
        }
    );
    assert_eq!(
        parser_of(&parse_ok(&with_parser(
            "CSV",
            json!({"csvDelimiter": "\t", "csvHasHeader": false})
        ))),
        BuiltinParser::Csv {
            delimiter: b'\t',
            has_header: false
        }
    );
    assert_eq!(
        parser_of(&parse_ok(&with_parser("text", json!({})))),
        BuiltinParser::Text {
            record_start_pattern: None,
            record_end_pattern: None
        }
    );
    assert_eq!(
        parser_of(&parse_ok(&with_parser(
            "text",
            json!({"recordStartPattern": "<doc>", "recordEndPattern": "</doc>"})
        ))),
        BuiltinParser::Text {
            record_start_pattern: Some("<doc>".into()),
            record_end_pattern: Some("</doc>".into())
        }
    );
}

#[test]
fn parser_options_of_another_parser_are_errors() {
    let v = with("readConnector.csvDelimiter", json!(";"));
    assert_only(
        &v,
        "readConnector.csvDelimiter",
        "is only used with builtinParser csv, not jsonl",
    );
    let ps = problems(&with_parser(
        "csv",
        json!({"documentIdField": "id", "recordEndPattern": "END"}),
    ));
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "readConnector.documentIdField",
        "is only used with builtinParser jsonl, not csv",
    );
    assert_has(
        &ps,
        "readConnector.recordEndPattern",
        "is only used with builtinParser text, not csv",
    );
    assert_only(
        &with_parser("text", json!({"csvHasHeader": true})),
        "readConnector.csvHasHeader",
        "builtinParser csv, not text",
    );
}

#[test]
fn parser_option_values_are_checked() {
    for bad in [",,", "", "é"] {
        assert_only(
            &with_parser("csv", json!({"csvDelimiter": bad})),
            "readConnector.csvDelimiter",
            "must be exactly one ASCII character",
        );
    }
    assert_only(
        &with_parser("csv", json!({"csvDelimiter": "\""})),
        "readConnector.csvDelimiter",
        "cannot be the delimiter",
    );
    assert_only(
        &with_parser("csv", json!({"csvDelimiter": 44})),
        "readConnector.csvDelimiter",
        "must be a string, found number",
    );
    assert_only(
        &with_parser("csv", json!({"csvHasHeader": "yes"})),
        "readConnector.csvHasHeader",
        "must be a boolean (true or false), found \"yes\"",
    );
    assert_only(
        &with_parser("text", json!({"recordStartPattern": ""})),
        "readConnector.recordStartPattern",
        "must not be empty",
    );
    assert_only(
        &with("readConnector.documentIdField", json!(7)),
        "readConnector.documentIdField",
        "must be a string, found number",
    );
}

/// The example with a Wasm implementation instead of the jsonl parser.
fn wasm_example(reader_type: &str) -> Value {
    let mut v = example();
    for f in ["builtinParser", "documentIdField"] {
        remove(&mut v, &format!("readConnector.{f}"));
    }
    set(
        &mut v,
        "readConnector.artifactImplementationLanguage",
        json!("wasm"),
    );
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://code/parser.wasm"),
    );
    set(&mut v, "readConnector.readerType", json!(reader_type));
    set(&mut v, "manifestFile.readerType", json!(reader_type));
    v
}

#[test]
fn wasm_implementations_name_their_component() {
    for reader_type in [
        "Single File Reader",
        "SINGLEFILESTATEMACHINEREADER",
        "Multiple File State Machine Reader",
    ] {
        let mut v = wasm_example(reader_type);
        if reader_type.starts_with("Multiple") {
            set(&mut v, "manifestFile.fileContents", json!("A:a.gz|B:b.gz"));
        }
        let spec = parse(&v).unwrap_or_else(|e| panic!("{reader_type}: {e}"));
        let read = s3_read(&spec);
        let Implementation::Code(artifact) = &read.implementation else {
            panic!("not Wasm: {:?}", read.implementation);
        };
        assert_eq!(artifact.link(), "s3://code/parser.wasm");
        assert_eq!(artifact.resource_location, ResourceLocation::Customer);
    }
    let v = wasm_example("Single File Reader");
    let mut missing = v.clone();
    remove(&mut missing, "readConnector.artifactFileS3Link");
    assert_only(&missing, "readConnector.artifactFileS3Link", "is required");
    let mut bad = v.clone();
    set(
        &mut bad,
        "readConnector.artifactFileS3Link",
        json!("https://x/y.wasm"),
    );
    assert_only(&bad, "readConnector.artifactFileS3Link", "s3://");
    let mut class = v.clone();
    set(
        &mut class,
        "readConnector.singleFileParserImplementationClassName",
        json!("com.x.Parser"),
    );
    assert_only(
        &class,
        "readConnector.singleFileParserImplementationClassName",
        "is not needed with artifactImplementationLanguage Wasm",
    );
    let mut builtin = v.clone();
    set(&mut builtin, "readConnector.builtinParser", json!("jsonl"));
    assert_only(
        &builtin,
        "readConnector.builtinParser",
        "is not used with artifactImplementationLanguage Wasm",
    );
    let mut multi = wasm_example("Multiple File State Machine Reader");
    set(&mut multi, "manifestFile.fileContents", json!("a.gz"));
    assert_only(&multi, "manifestFile.fileContents", "FILETYPE:key");
}

#[test]
fn letsdata_implementation_fields_are_known_but_unused_with_builtin() {
    let mut v = example();
    set(
        &mut v,
        "readConnector.artifactFileS3Link",
        json!("s3://jars/parser.jar"),
    );
    set(
        &mut v,
        "readConnector.singleFileParserImplementationClassName",
        json!("com.x.Parser"),
    );
    set(
        &mut v,
        "readConnector.interfaceECRImagePath",
        json!("123.dkr.ecr/img"),
    );
    let ps = problems(&v);
    assert_eq!(ps.len(), 3, "{}", render(&ps));
    for f in [
        "artifactFileS3Link",
        "singleFileParserImplementationClassName",
        "interfaceECRImagePath",
    ] {
        assert_has(
            &ps,
            &format!("readConnector.{f}"),
            "is not used with artifactImplementationLanguage Builtin; remove it",
        );
    }
}

#[test]
fn other_read_destination_fields_are_not_applicable_to_s3() {
    let mut v = example();
    set(&mut v, "readConnector.streamArn", json!("arn"));
    set(&mut v, "readConnector.resourceLocation", json!("Customer"));
    let ps = problems(&v);
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "readConnector.streamArn",
        "is not applicable to S3 read connectors; remove it",
    );
    assert_has(
        &ps,
        "readConnector.resourceLocation",
        "use bucketResourceLocation",
    );
}

#[test]
fn write_connector_destinations() {
    assert_only(
        &with("writeConnector.connectorDestination", json!("Momento")),
        "writeConnector.connectorDestination",
        "\"Momento\" is not supported: letsdata writes its cache destination to Redis",
    );
    assert_only(
        &with("writeConnector.connectorDestination", json!("Mongo")),
        "writeConnector.connectorDestination",
        "accepted values: S3, Kinesis, SQS, DynamoDB, Kafka, Redis, Momento (Momento is not supported: use Redis)",
    );
    assert_only(
        &without("writeConnector.connectorDestination"),
        "writeConnector.connectorDestination",
        "is required",
    );
}

#[test]
fn write_connector_bucket_depends_on_resource_location() {
    assert_only(
        &without("writeConnector.resourceLocation"),
        "writeConnector.resourceLocation",
        "is required: who owns the bucket",
    );
    assert_only(
        &with("writeConnector.resourceLocation", json!("Customer")),
        "writeConnector.bucketName",
        "is required when resourceLocation is Customer: the existing S3 bucket to write documents to",
    );
    let mut v = with("writeConnector.resourceLocation", json!("Customer"));
    set(&mut v, "writeConnector.bucketName", json!("my-output"));
    set(&mut v, "writeConnector.compression", json!("gzip"));
    let spec = parse_ok(&v);
    let w = s3_write(&spec);
    assert_eq!(
        (w.resource_location, w.bucket_name.as_deref(), w.compression),
        (
            ResourceLocation::Customer,
            Some("my-output"),
            Compression::Gzip
        )
    );
    // A LetsData bucket is one letsdata creates under a generated name: a name given for it
    // could be an existing bucket (the input, another dataset's output), which delete would
    // then remove.
    assert_only(
        &with("writeConnector.bucketName", json!("chosen-name")),
        "writeConnector.bucketName",
        "with resourceLocation LetsData letsdata creates the bucket itself",
    );
    assert_only(
        &with("errorConnector.bucketName", json!("chosen-name")),
        "errorConnector.bucketName",
        "set resourceLocation to Customer to write to your existing bucket",
    );
    let mut v = with("writeConnector.resourceLocation", json!("Customer"));
    set(&mut v, "writeConnector.bucketName", json!("Bad_Name"));
    assert_only(&v, "writeConnector.bucketName", "is invalid");
}

#[test]
fn write_connector_fields_of_other_destinations_are_not_applicable() {
    let mut v = with("writeConnector.kinesisShardCount", json!(4));
    set(&mut v, "writeConnector.sparkFileFormat", json!("parquet"));
    let ps = problems(&v);
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "writeConnector.kinesisShardCount",
        "is not applicable to S3 write connectors",
    );
    assert_has(
        &ps,
        "writeConnector.sparkFileFormat",
        "is not applicable to S3 write connectors",
    );
}

#[test]
fn error_connector_is_s3_only() {
    assert_only(
        &with("errorConnector.connectorDestination", json!("Kinesis")),
        "errorConnector.connectorDestination",
        "\"Kinesis\" is not an error connector destination; accepted values: S3",
    );
    assert_only(
        &with("errorConnector.resourceLocation", json!("Customer")),
        "errorConnector.bucketName",
        "is required when resourceLocation is Customer: the existing S3 bucket to write error records to",
    );
    assert_only(
        &with("errorConnector.compression", json!("gzip")),
        "errorConnector.compression",
        "unknown field \"compression\"",
    );
    let mut v = with("errorConnector.resourceLocation", json!("Customer"));
    set(&mut v, "errorConnector.bucketName", json!("my-errors"));
    let e = parse_ok(&v).error_connector;
    assert_eq!(
        (e.resource_location, e.bucket_name.as_deref()),
        (ResourceLocation::Customer, Some("my-errors"))
    );
}
