//! The document, root fields, unknown fields, the AWS context and error display.

use super::*;
use crate::spec::{
    BuiltinParser, Compression, ComputeEngine, ErrorConnector, Implementation, LogLevel, Manifest,
    ManifestSource, ReadConnector, ReaderType, Region, ResourceLocation, S3ReadConnector,
    S3WriteConnector, WriteConnector,
};

const AWS: ValidationContext = ValidationContext {
    aws_resources: true,
};

#[test]
fn example_parses_with_defaults_applied() {
    let spec = parse_ok(&example());
    let expected = DatasetSpec {
        dataset_name: "QuickstartJsonl".into(),
        region: Region::UsEast1,
        access_grant_role_arn: None,
        customer_account_for_access: None,
        read_connector: ReadConnector::S3(S3ReadConnector {
            reader_type: ReaderType::SingleFileReader,
            bucket_name: "quickstart-input".into(),
            bucket_resource_location: ResourceLocation::Customer,
            implementation: Implementation::Builtin(BuiltinParser::Jsonl {
                document_id_field: Some("id".into()),
            }),
        }),
        write_connector: WriteConnector::S3(S3WriteConnector {
            resource_location: ResourceLocation::LetsData,
            bucket_name: None,
            compression: Compression::None,
        }),
        error_connector: ErrorConnector {
            resource_location: ResourceLocation::LetsData,
            bucket_name: None,
        },
        compute_engine: ComputeEngine {
            concurrency: 2,
            memory_limit_in_megabytes: 1024,
            timeout_in_seconds: 900,
            log_level: LogLevel::Warn,
            vectors: None,
        },
        manifest: Manifest::Files {
            source: ManifestSource::Text {
                file_contents: "events/part-0.jsonl\nevents/part-1.jsonl.gz\n".into(),
            },
            reader_type: ReaderType::SingleFileReader,
        },
        warnings: Vec::new(),
    };
    assert_eq!(spec, expected);
    assert_eq!(
        files(&spec).0.text_entries(),
        vec!["events/part-0.jsonl", "events/part-1.jsonl.gz"]
    );
}

#[test]
fn bucket_resource_location_defaults_to_customer() {
    let spec = parse_ok(&without("readConnector.bucketResourceLocation"));
    assert_eq!(
        s3_read(&spec).bucket_resource_location,
        ResourceLocation::Customer
    );
}

#[test]
fn enum_values_ignore_case_spaces_underscores_and_dashes() {
    for spelling in [
        "Single File Reader",
        "SINGLEFILEREADER",
        "single file reader",
        "single_file-reader",
        " SingleFileReader ",
    ] {
        let mut v = with("readConnector.readerType", json!(spelling));
        set(&mut v, "manifestFile.readerType", json!(spelling));
        let spec = parse_ok(&v);
        assert_eq!(files(&spec).1, ReaderType::SingleFileReader, "{spelling}");
    }
    let mut v = example();
    set(&mut v, "region", json!("US-EAST-2"));
    set(&mut v, "readConnector.connectorDestination", json!("s3"));
    set(
        &mut v,
        "readConnector.bucketResourceLocation",
        json!("letsdata"),
    );
    set(
        &mut v,
        "readConnector.artifactImplementationLanguage",
        json!("BUILTIN"),
    );
    set(&mut v, "readConnector.builtinParser", json!("JSONL"));
    set(
        &mut v,
        "writeConnector.resourceLocation",
        json!("LETS_DATA"),
    );
    set(&mut v, "writeConnector.compression", json!("GZip"));
    set(&mut v, "errorConnector.connectorDestination", json!("s3"));
    set(&mut v, "computeEngine.computeEngineType", json!("lambda"));
    set(&mut v, "computeEngine.logLevel", json!("debug"));
    set(
        &mut v,
        "manifestFile.manifestType",
        json!("s3 reader text manifest file"),
    );
    let spec = parse_ok(&v);
    assert_eq!(spec.region, Region::UsEast2);
    assert_eq!(
        s3_read(&spec).bucket_resource_location,
        ResourceLocation::LetsData
    );
    assert_eq!(s3_write(&spec).compression, Compression::Gzip);
    assert_eq!(spec.compute_engine.log_level, LogLevel::Debug);
}

#[test]
fn root_must_be_an_object() {
    for (v, found) in [
        (json!([]), "array"),
        (json!("x"), "string"),
        (json!(null), "null"),
    ] {
        let ps = problems(&v);
        assert_eq!(ps.len(), 1);
        assert_has(
            &ps,
            "$",
            &format!("must be a JSON object holding the dataset configuration, found {found}"),
        );
    }
}

#[test]
fn empty_object_reports_every_required_field() {
    let ps = problems(&json!({}));
    for field in [
        "datasetName",
        "region",
        "readConnector",
        "writeConnector",
        "errorConnector",
        "computeEngine",
        "manifestFile",
    ] {
        assert_has(&ps, field, "is required: ");
    }
    assert_eq!(ps.len(), 7, "{}", render(&ps));
    assert_has(&ps, "region", "accepted values: us-east-1, us-east-2");
}

#[test]
fn dataset_name_must_be_ascii_alphanumeric() {
    for (name, bad) in [
        ("my_dataset", "'_'"),
        ("my.dataset", "'.'"),
        ("my dataset", "' '"),
        ("a|b", "'|'"),
        ("a-b", "'-'"),
        ("café", "'é'"),
    ] {
        let ps = problems(&with("datasetName", json!(name)));
        assert_eq!(ps.len(), 1, "{}", render(&ps));
        assert_has(&ps, "datasetName", bad);
        assert_has(
            &ps,
            "datasetName",
            "only ASCII letters and digits are allowed",
        );
        assert_has(&ps, "datasetName", "e.g. ClickstreamsMapReduceJune2022");
    }
}

#[test]
fn dataset_name_length_is_1_to_128() {
    assert_only(
        &with("datasetName", json!("")),
        "datasetName",
        "must not be empty",
    );
    assert_only(
        &with("datasetName", json!("a".repeat(129))),
        "datasetName",
        "is 129 characters long; at most 128",
    );
    parse_ok(&with("datasetName", json!("a".repeat(128))));
    parse_ok(&with("datasetName", json!("A")));
}

#[test]
fn type_errors_name_the_found_json_type() {
    assert_only(
        &with("datasetName", json!(42)),
        "datasetName",
        "must be a string, found number",
    );
    assert_only(
        &with("readConnector.bucketName", json!(["a"])),
        "readConnector.bucketName",
        "must be a string, found array",
    );
    assert_only(
        &with("readConnector", json!("S3")),
        "readConnector",
        "must be an object, found string",
    );
    assert_only(
        &with("region", json!(true)),
        "region",
        "must be a string, found boolean",
    );
}

#[test]
fn missing_required_field_says_what_it_is() {
    assert_only(
        &without("datasetName"),
        "datasetName",
        "is required: the dataset's name",
    );
    assert_only(
        &without("readConnector.bucketName"),
        "readConnector.bucketName",
        "is required: the S3 bucket to read files from",
    );
    // null counts as absent
    assert_only(
        &with("readConnector.bucketName", Value::Null),
        "readConnector.bucketName",
        "is required: the S3 bucket to read files from",
    );
}

#[test]
fn region_must_be_supported() {
    assert_only(
        &with("region", json!("us-west-1")),
        "region",
        "\"us-west-1\" is not a supported region; accepted values: us-east-1, us-east-2, us-west-2, eu-west-1, ap-south-1, ap-northeast-1",
    );
    assert_eq!(
        parse_ok(&with("region", json!("AP-NORTHEAST-1"))).region,
        Region::ApNortheast1
    );
}

#[test]
fn unknown_root_field_suggests_the_closest() {
    let mut v = without("datasetName");
    set(&mut v, "datasetNmae", json!("X"));
    let ps = problems(&v);
    assert_has(
        &ps,
        "datasetNmae",
        "unknown field \"datasetNmae\"; did you mean \"datasetName\"?",
    );
    assert_has(&ps, "datasetName", "is required");
    assert_eq!(ps.len(), 2);
}

#[test]
fn unknown_nested_field_suggests_the_closest() {
    let mut v = example();
    set(&mut v, "readConnector.bucketNmae", json!("x"));
    set(&mut v, "computeEngine.Concurrency", json!(3));
    let ps = problems(&v);
    assert_has(
        &ps,
        "readConnector.bucketNmae",
        "unknown field \"bucketNmae\"; did you mean \"bucketName\"?",
    );
    assert_has(
        &ps,
        "computeEngine.Concurrency",
        "did you mean \"concurrency\"?",
    );
    assert_eq!(ps.len(), 2, "{}", render(&ps));
}

#[test]
fn unknown_field_without_a_close_match_lists_accepted_fields() {
    let ps = problems(&with("colour", json!("blue")));
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].path, "colour");
    assert!(!ps[0].message.contains("did you mean"), "{}", ps[0].message);
    assert!(
        ps[0].message.starts_with(
            "unknown field \"colour\"; accepted fields: datasetName, region, accessGrantRoleArn"
        ),
        "{}",
        ps[0].message
    );
    assert_only(
        &with("writeConnector.xyz", json!(1)),
        "writeConnector.xyz",
        "accepted fields: connectorDestination, resourceLocation, bucketName, compression",
    );
}

#[test]
fn access_grant_role_arn_must_be_an_iam_role_arn() {
    for arn in [
        "arn:aws:iam::123456789012:role/LetsDataAccessRole",
        "arn:aws-cn:iam::123456789012:role/service-role/my.role@x",
        "arn:aws-us-gov:iam::000000000000:role/a/b/c",
    ] {
        assert_eq!(
            parse_ok(&with("accessGrantRoleArn", json!(arn)))
                .access_grant_role_arn
                .as_deref(),
            Some(arn)
        );
    }
    for arn in [
        "arn:aws:iam::12345678901:role/R",
        "arn:aws:iam::123456789012:user/R",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role//R",
        "arn:azure:iam::123456789012:role/R",
        "arn:aws:s3:::bucket",
        "LetsDataAccessRole",
    ] {
        assert_only(
            &with("accessGrantRoleArn", json!(arn)),
            "accessGrantRoleArn",
            "is not an IAM role ARN; expected arn:aws:iam::<12-digit account id>:role/",
        );
    }
}

#[test]
fn customer_account_for_access_is_a_quoted_12_digit_string() {
    assert_eq!(
        parse_ok(&with("customerAccountForAccess", json!("012345678901")))
            .customer_account_for_access
            .as_deref(),
        Some("012345678901")
    );
    assert_only(
        &with("customerAccountForAccess", json!(123456789012u64)),
        "customerAccountForAccess",
        "quote it (\"123456789012\")",
    );
    assert_only(
        &with("customerAccountForAccess", json!("12345")),
        "customerAccountForAccess",
        "expected exactly 12 digits",
    );
    assert_only(
        &with("customerAccountForAccess", json!("12345678901a")),
        "customerAccountForAccess",
        "expected exactly 12 digits",
    );
    assert_only(
        &with("customerAccountForAccess", json!({})),
        "customerAccountForAccess",
        "found object",
    );
}

#[test]
fn aws_context_requires_role_and_account() {
    // read bucket is Customer; write and error buckets are LetsData
    let ps = problems_ctx(&example(), AWS);
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "is required when a resource is Customer-owned (readConnector.bucketResourceLocation is Customer)",
    );
    assert_has(
        &ps,
        "customerAccountForAccess",
        "writeConnector.resourceLocation, errorConnector.resourceLocation are LetsData",
    );

    let mut v = example();
    set(
        &mut v,
        "accessGrantRoleArn",
        json!("arn:aws:iam::123456789012:role/R"),
    );
    set(&mut v, "customerAccountForAccess", json!("123456789012"));
    assert!(parse_dataset_spec(&v, AWS).is_ok());
}

#[test]
fn aws_context_requirements_follow_resource_locations() {
    // everything LetsData-owned: no role needed, but the account is
    let mut v = with("readConnector.bucketResourceLocation", json!("LetsData"));
    let ps = problems_ctx(&v, AWS);
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(&ps, "customerAccountForAccess", "is required");

    // everything Customer-owned: role needed, no account
    for c in ["writeConnector", "errorConnector"] {
        set(&mut v, &format!("{c}.resourceLocation"), json!("Customer"));
        set(
            &mut v,
            &format!("{c}.bucketName"),
            json!(format!("my-{}", c.to_ascii_lowercase())),
        );
    }
    let ps = problems_ctx(&v, AWS);
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "writeConnector.resourceLocation, errorConnector.resourceLocation are Customer",
    );

    // a Customer S3 manifest link also needs the role
    let mut v = with("readConnector.bucketResourceLocation", json!("LetsData"));
    set(&mut v, "customerAccountForAccess", json!("123456789012"));
    set(
        &mut v,
        "manifestFile",
        json!({"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER", "manifestFileS3Uri": "s3://manifests/m.txt"}),
    );
    let ps = problems_ctx(&v, AWS);
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "manifestFile.readerManifestResourceLocation is Customer",
    );

    // without the AWS context neither is required
    parse_ok(&v);
}

#[test]
fn several_mistakes_are_all_reported() {
    let mut v = example();
    set(&mut v, "datasetName", json!("quick_start"));
    set(&mut v, "region", json!("mars-1"));
    set(
        &mut v,
        "readConnector.readerType",
        json!("Singel File Reader"),
    );
    set(&mut v, "readConnector.bucketNmae", json!("x"));
    set(&mut v, "writeConnector.compression", json!("zip"));
    remove(&mut v, "errorConnector.resourceLocation");
    set(&mut v, "computeEngine.concurrency", json!("ten"));
    set(&mut v, "manifestFile.fileContents", json!(""));
    let ps = problems(&v);
    assert_has(&ps, "datasetName", "'_'");
    assert_has(&ps, "region", "\"mars-1\" is not a supported region");
    assert_has(
        &ps,
        "readConnector.readerType",
        "\"Singel File Reader\" is not a reader type",
    );
    assert_has(
        &ps,
        "readConnector.bucketNmae",
        "did you mean \"bucketName\"?",
    );
    assert_has(
        &ps,
        "writeConnector.compression",
        "\"zip\" is not a compression; accepted values: none, gzip",
    );
    assert_has(&ps, "errorConnector.resourceLocation", "is required");
    assert_has(
        &ps,
        "computeEngine.concurrency",
        "must be an integer between 1 and 1000, found \"ten\"",
    );
    assert_has(&ps, "manifestFile.fileContents", "at least one file");
    assert_eq!(ps.len(), 8, "{}", render(&ps));
}

#[test]
fn config_error_display_lists_every_problem() {
    let mut v = with("region", json!("mars-1"));
    remove(&mut v, "datasetName");
    let err = parse(&v).expect_err("invalid");
    let text = err.to_string();
    assert!(
        text.starts_with("the dataset configuration has 2 problems:"),
        "{text}"
    );
    assert!(text.contains("\n  - datasetName: is required: "), "{text}");
    assert!(
        text.contains("\n  - region: \"mars-1\" is not a supported region"),
        "{text}"
    );
    let one = parse(&without("region")).expect_err("invalid").to_string();
    assert!(
        one.starts_with("the dataset configuration has 1 problem:\n  - region: is required"),
        "{one}"
    );
}

#[test]
fn messages_have_no_trailing_period() {
    let ps = problems(
        &json!({"readConnector": {}, "writeConnector": {}, "errorConnector": {}, "computeEngine": {}, "manifestFile": {}, "x": 1}),
    );
    for p in &ps {
        assert!(!p.message.ends_with('.'), "{p}");
        assert!(!p.path.is_empty());
    }
    assert!(ps.len() >= 12, "{}", render(&ps));
}

/// A 1 MB key or value, or a thousand unknown fields, make a short message: shown by their
/// start and size, counted past the first ones.
#[test]
fn huge_keys_values_and_field_counts_are_not_echoed_whole() {
    let mut v = example();
    let key = "k".repeat(1_000_000);
    v["readConnector"][key.as_str()] = json!(1);
    v["region"] = json!("x".repeat(1_000_000));
    for i in 0..1000 {
        v["computeEngine"][format!("extra{i}")] = json!(i);
    }
    let e = parse(&v).expect_err("invalid");
    let text = e.to_string();
    assert!(text.len() < 10_000, "{} bytes", text.len());
    assert!(
        text.contains(&format!(
            "unknown field \"{}... (1000000 bytes)",
            "k".repeat(64)
        )),
        "{text}"
    );
    assert!(
        text.contains("(1000000 bytes) is not a supported region"),
        "{text}"
    );
    assert!(
        text.contains("computeEngine: 980 more unknown fields (the first 20 are listed)"),
        "{text}"
    );
}

mod properties {
    //! Validation over arbitrary configurations: it never panics, always answers, and its
    //! message stays small whatever the input holds.
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            (0usize..200_000).prop_map(|n| Value::from("x".repeat(n))),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(".{0,20}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Paths of the example's fields (and some that do not exist), to replace.
    const PATHS: &[&str] = &[
        "datasetName",
        "region",
        "readConnector",
        "readConnector.connectorDestination",
        "readConnector.readerType",
        "readConnector.bucketName",
        "readConnector.builtinParser",
        "readConnector.documentIdField",
        "writeConnector",
        "writeConnector.connectorDestination",
        "writeConnector.resourceLocation",
        "writeConnector.bucketName",
        "errorConnector.bucketName",
        "computeEngine.concurrency",
        "computeEngine.logLevel",
        "manifestFile",
        "manifestFile.manifestType",
        "manifestFile.fileContents",
        "extraField",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn validation_always_answers_in_bounded_words(
            changes in prop::collection::vec((0..PATHS.len(), json_value()), 1..6),
            whole in proptest::option::weighted(0.1, json_value()),
        ) {
            let mut v = example();
            for (path, value) in changes {
                let path = PATHS[path];
                let (parent_path, _) = path.rsplit_once('.').unwrap_or(("", path));
                let parent_is_object = parent_path.is_empty()
                    || v.pointer(&format!("/{}", parent_path.replace('.', "/")))
                        .is_some_and(Value::is_object);
                if parent_is_object {
                    set(&mut v, path, value);
                }
            }
            let v = whole.unwrap_or(v);
            match parse(&v) {
                Ok(spec) => prop_assert!(!spec.dataset_name.is_empty()),
                Err(e) => {
                    prop_assert!(!e.problems.is_empty());
                    prop_assert!(e.problems.iter().all(|p| !p.path.is_empty() && !p.message.is_empty()));
                    let text = e.to_string();
                    prop_assert!(text.len() < 64 * 1024, "{} bytes", text.len());
                }
            }
        }
    }
}
