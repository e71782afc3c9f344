//! `computeEngine` with `computeEngineType: LAMBDA_AND_SAGEMAKER`, LetsData's vectors engine.

use super::*;
use crate::spec::{
    ComputeEngine, EndpointType, LogLevel, ResourceLocation, VectorsEndpoint, VectorsEngine,
    VectorsModel,
};
use std::collections::BTreeMap;

/// The block as LetsData's documentation publishes it, plus the `builtinVectorsFields` letsdata
/// requires.
fn published() -> Value {
    json!({
        "computeEngineType": "LAMBDA_AND_SAGEMAKER",
        "lambda": {
            "lambdaConcurrency": 2,
            "lambdaMemoryLimitInMegabytes": 10240,
            "lambdaTimeoutInSeconds": 900,
            "logLevel": "WARN"
        },
        "model": {
            "modelResourceLocation": "LetsData",
            "modelUrl": "s3://bucket/path/model.tar.gz",
            "modelUrlResourceLocation": "Customer",
            "modelEnvironmentVariables": {
                "HF_TASK": "question-answering",
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "model/"
            },
            "modelContainerImageName": "HuggingFace_Inference_4_12_3"
        },
        "endpoint": {
            "sagemakerEndpointType": "Serverless",
            "sagemakerEndpointResourceLocation": "LetsData",
            "sagemakerServerless": {
                "sagemakerEndpointConcurrency": 15,
                "sagemakerMemoryLimitInMegabytes": 6144
            }
        },
        "builtinVectorsFields": ["text"]
    })
}

/// Another vectors engine block, with a feature-extraction model.
fn vectors_engine() -> Value {
    json!({
        "computeEngineType": "LAMBDA_AND_SAGEMAKER",
        "lambda": {
            "lambdaConcurrency": 10,
            "lambdaMemoryLimitInMegabytes": 1024,
            "lambdaTimeoutInSeconds": 900,
            "logLevel": "DEBUG"
        },
        "model": {
            "modelResourceLocation": "LetsData",
            "modelUrl": "s3://models/model.tar.gz",
            "modelUrlResourceLocation": "Customer",
            "modelEnvironmentVariables": {"HF_TASK": "feature-extraction"},
            "modelContainerImageName": "huggingface-pytorch-inference"
        },
        "endpoint": {
            "sagemakerEndpointType": "Serverless",
            "sagemakerEndpointResourceLocation": "LetsData",
            "sagemakerServerless": {
                "sagemakerEndpointConcurrency": 5,
                "sagemakerMemoryLimitInMegabytes": 3072
            }
        },
        "builtinVectorsFields": ["title", "review.text"]
    })
}

/// The smallest valid block: every default applies.
fn minimal() -> Value {
    json!({
        "computeEngineType": "LAMBDA_AND_SAGEMAKER",
        "lambda": {"lambdaConcurrency": 3},
        "model": {"modelUrl": "s3://models/minilm/model.tar.gz"},
        "builtinVectorsFields": ["text"]
    })
}

/// The example with `compute` as its compute engine, then `path` (under `computeEngine`)
/// set to `value`.
fn engine_with(compute: Value, path: &str, value: Value) -> Value {
    let mut v = with("computeEngine", compute);
    set(&mut v, &format!("computeEngine.{path}"), value);
    v
}

fn engine(compute: Value) -> ComputeEngine {
    parse_ok(&with("computeEngine", compute)).compute_engine
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fields(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|n| n.to_string()).collect())
}

/// A LetsData Serverless endpoint of these sizes.
fn serverless(concurrency: u32, memory_limit_in_megabytes: u32) -> VectorsEndpoint {
    VectorsEndpoint {
        kind: EndpointType::Serverless,
        resource_location: ResourceLocation::LetsData,
        endpoint_name: None,
        concurrency,
        memory_limit_in_megabytes,
        instance_type: None,
        initial_instance_count: None,
    }
}

#[test]
fn published_block_parses() {
    let spec = parse_ok(&with("computeEngine", published()));
    assert_eq!(spec.warnings, Vec::new());
    assert_eq!(
        spec.compute_engine,
        ComputeEngine {
            concurrency: 2,
            memory_limit_in_megabytes: 10240,
            timeout_in_seconds: 900,
            log_level: LogLevel::Warn,
            vectors: Some(VectorsEngine {
                model: Some(VectorsModel {
                    resource_location: ResourceLocation::LetsData,
                    url_bucket: "bucket".into(),
                    url_key: "path/model.tar.gz".into(),
                    url_resource_location: ResourceLocation::Customer,
                    environment: env(&[
                        ("HF_TASK", "question-answering"),
                        ("SAGEMAKER_PROGRAM", "inference.py"),
                        ("SAGEMAKER_SUBMIT_DIRECTORY", "model/"),
                    ]),
                    container_image_name: Some("HuggingFace_Inference_4_12_3".into()),
                }),
                endpoint: serverless(15, 6144),
                builtin_fields: fields(&["text"]),
            }),
        }
    );
    let model = spec.compute_engine.vectors.and_then(|v| v.model);
    assert_eq!(
        model.map(|m| m.url()).as_deref(),
        Some("s3://bucket/path/model.tar.gz")
    );
}

#[test]
fn fixture_parses() {
    assert_eq!(
        engine(vectors_engine()),
        ComputeEngine {
            concurrency: 10,
            memory_limit_in_megabytes: 1024,
            timeout_in_seconds: 900,
            log_level: LogLevel::Debug,
            vectors: Some(VectorsEngine {
                model: Some(VectorsModel {
                    resource_location: ResourceLocation::LetsData,
                    url_bucket: "models".into(),
                    url_key: "model.tar.gz".into(),
                    url_resource_location: ResourceLocation::Customer,
                    environment: env(&[("HF_TASK", "feature-extraction")]),
                    container_image_name: Some("huggingface-pytorch-inference".into()),
                }),
                endpoint: serverless(5, 3072),
                builtin_fields: fields(&["title", "review.text"]),
            }),
        }
    );
}

#[test]
fn defaults() {
    assert_eq!(
        engine(minimal()),
        ComputeEngine {
            concurrency: 3,
            memory_limit_in_megabytes: 1024,
            timeout_in_seconds: 900,
            log_level: LogLevel::Warn,
            vectors: Some(VectorsEngine {
                model: Some(VectorsModel {
                    resource_location: ResourceLocation::LetsData,
                    url_bucket: "models".into(),
                    url_key: "minilm/model.tar.gz".into(),
                    url_resource_location: ResourceLocation::Customer,
                    environment: BTreeMap::new(),
                    container_image_name: None,
                }),
                endpoint: serverless(5, 2048),
                builtin_fields: fields(&["text"]),
            }),
        }
    );
    // An endpoint block without sizes, and nulls, take the defaults too.
    let mut v = with("computeEngine", minimal());
    set(
        &mut v,
        "computeEngine.endpoint",
        json!({"sagemakerServerless": {}}),
    );
    set(
        &mut v,
        "computeEngine.model.modelEnvironmentVariables",
        Value::Null,
    );
    let vectors = parse_ok(&v).compute_engine.vectors.expect("vectors");
    assert_eq!(vectors.endpoint, serverless(5, 2048));
    assert_eq!(vectors.model.map(|m| m.environment), Some(BTreeMap::new()));

    let provisioned = engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointType": "provisioned"}),
    );
    let endpoint = parse_ok(&provisioned)
        .compute_engine
        .vectors
        .expect("vectors")
        .endpoint;
    assert_eq!(
        endpoint,
        VectorsEndpoint {
            kind: EndpointType::Provisioned,
            ..serverless(5, 2048)
        }
    );
}

#[test]
fn choices_ignore_case_and_spaces() {
    let mut v = engine_with(
        minimal(),
        "computeEngineType",
        json!("Lambda And Sagemaker"),
    );
    set(
        &mut v,
        "computeEngine.endpoint",
        json!({"sagemakerEndpointType": " SERVERLESS ", "sagemakerEndpointResourceLocation": "letsdata"}),
    );
    set(&mut v, "computeEngine.lambda.logLevel", json!("error"));
    let c = parse_ok(&v).compute_engine;
    assert_eq!(c.log_level, LogLevel::Error);
    assert_eq!(c.vectors.expect("vectors").endpoint, serverless(5, 2048));
}

#[test]
fn provisioned_endpoint() {
    let v = engine_with(
        minimal(),
        "endpoint",
        json!({
            "sagemakerEndpointType": "Provisioned",
            "sagemakerProvisioned": {
                "sagemakerEndpointConcurrency": 200,
                "sagemakerMemoryLimitInMegabytes": 1024,
                "sagemakerInstanceType": "ml.g5.xlarge",
                "sagemakerInitialInstanceCount": 2
            }
        }),
    );
    let endpoint = parse_ok(&v)
        .compute_engine
        .vectors
        .expect("vectors")
        .endpoint;
    assert_eq!(
        endpoint,
        VectorsEndpoint {
            kind: EndpointType::Provisioned,
            resource_location: ResourceLocation::LetsData,
            endpoint_name: None,
            concurrency: 200,
            memory_limit_in_megabytes: 1024,
            instance_type: Some("ml.g5.xlarge".into()),
            initial_instance_count: Some(2),
        }
    );
    for bad in [0, 101] {
        assert_only(
            &engine_with(
                minimal(),
                "endpoint",
                json!({"sagemakerEndpointType": "Provisioned",
                       "sagemakerProvisioned": {"sagemakerInitialInstanceCount": bad}}),
            ),
            "computeEngine.endpoint.sagemakerProvisioned.sagemakerInitialInstanceCount",
            &format!("must be an integer between 1 and 100, found {bad}"),
        );
    }
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointType": "Provisioned",
                   "sagemakerProvisioned": {"sagemakerInstanceType": 5}}),
        ),
        "computeEngine.endpoint.sagemakerProvisioned.sagemakerInstanceType",
        "must be a string, found number",
    );
}

/// Asserts that `ps` has `count` problems.
#[track_caller]
fn assert_problems(ps: &[Problem], count: usize) {
    assert_eq!(ps.len(), count, "{}", render(ps));
}

#[test]
fn a_customer_endpoint_is_called_by_name() {
    // Named, and without a model (a Customer endpoint serves its own).
    let mut v = engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointResourceLocation": "Customer",
               "sagemakerEndpointName": "my-embeddings-endpoint"}),
    );
    remove(&mut v, "computeEngine.model");
    let vectors = parse_ok(&v).compute_engine.vectors.expect("vectors");
    assert_eq!(
        vectors.endpoint.resource_location,
        ResourceLocation::Customer
    );
    assert_eq!(
        vectors.endpoint.endpoint_name.as_deref(),
        Some("my-embeddings-endpoint")
    );
    assert_eq!(vectors.model, None);
    // With a valid model, any case, and on a Provisioned endpoint too.
    for endpoint in [
        json!({"sagemakerEndpointResourceLocation": "customer", "sagemakerEndpointName": "e1"}),
        json!({"sagemakerEndpointResourceLocation": "Customer", "sagemakerEndpointName": "e1",
               "sagemakerEndpointType": "Provisioned"}),
    ] {
        let vectors = parse_ok(&engine_with(minimal(), "endpoint", endpoint))
            .compute_engine
            .vectors
            .expect("vectors");
        assert_eq!(
            vectors.endpoint.resource_location,
            ResourceLocation::Customer
        );
        assert!(vectors.model.is_some());
    }
}

#[test]
fn customer_endpoint_needs_its_name_and_no_model() {
    let mut v = engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointResourceLocation": "Customer",
               "sagemakerEndpointName": "my-embeddings-endpoint"}),
    );
    remove(&mut v, "computeEngine.model");
    // No problem about the missing model or the name.
    parse_ok(&v);
    // A model given with a Customer endpoint is validated.
    set(
        &mut v,
        "computeEngine.model",
        json!({"modelUrl": "https://x"}),
    );
    let ps = problems(&v);
    assert_problems(&ps, 1);
    assert_has(
        &ps,
        "computeEngine.model.modelUrl",
        "\"https://x\" is not an s3 link; expected s3://<bucketName>/<key>",
    );

    let ps = problems(&engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointResourceLocation": "Customer"}),
    ));
    assert_problems(&ps, 1);
    assert_has(
        &ps,
        "computeEngine.endpoint.sagemakerEndpointName",
        "is required when sagemakerEndpointResourceLocation is Customer: the name of your \
         existing SageMaker endpoint, which letsdata calls with InvokeEndpoint",
    );
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointName": "my-endpoint"}),
        ),
        "computeEngine.endpoint.sagemakerEndpointName",
        "LetsData creates the endpoint; sagemakerEndpointName names an existing Customer \
         endpoint: set sagemakerEndpointResourceLocation Customer or remove it",
    );
}

#[test]
fn endpoint_names() {
    let customer = |name: Value| {
        engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointResourceLocation": "Customer", "sagemakerEndpointName": name}),
        )
    };
    // A good name: no problem at sagemakerEndpointName.
    for good in ["a", "A1", "a--b", "ab-9", &"x".repeat(63)] {
        parse_ok(&customer(json!(good)));
    }
    for bad in ["", "-a", "a-", "a_b", "a.b", "a b", &"x".repeat(64)] {
        let ps = problems(&customer(json!(bad)));
        assert_problems(&ps, 1);
        assert_has(
            &ps,
            "computeEngine.endpoint.sagemakerEndpointName",
            "is not a SageMaker endpoint name; expected 1 to 63 ASCII letters, digits and hyphens, \
             starting and ending with a letter or digit",
        );
    }
    let ps = problems(&customer(json!(7)));
    assert_problems(&ps, 1);
    assert_has(
        &ps,
        "computeEngine.endpoint.sagemakerEndpointName",
        "must be a string, found number",
    );
}

#[test]
fn lambda_block_is_required_and_checked() {
    let mut v = with("computeEngine", minimal());
    remove(&mut v, "computeEngine.lambda");
    assert_only(
        &v,
        "computeEngine.lambda",
        "is required: the tasks' settings, e.g. {\"lambdaConcurrency\": 10",
    );
    assert_only(
        &engine_with(minimal(), "lambda", json!([1])),
        "computeEngine.lambda",
        "must be an object, found array",
    );
    assert_only(
        &engine_with(minimal(), "lambda", json!({})),
        "computeEngine.lambda.lambdaConcurrency",
        "is required: the maximum number of tasks running in parallel (an integer between 1 and 1000)",
    );
    for (field, bad, range) in [
        ("lambdaConcurrency", json!(0), "between 1 and 1000, found 0"),
        ("lambdaConcurrency", json!(1001), "between 1 and 1000"),
        ("lambdaConcurrency", json!("2"), "found \"2\""),
        (
            "lambdaMemoryLimitInMegabytes",
            json!(127),
            "between 128 and 10240, found 127",
        ),
        (
            "lambdaMemoryLimitInMegabytes",
            json!(10241),
            "between 128 and 10240",
        ),
        (
            "lambdaTimeoutInSeconds",
            json!(0),
            "between 1 and 900, found 0",
        ),
        (
            "lambdaTimeoutInSeconds",
            json!(901),
            "between 1 and 900, found 901",
        ),
        (
            "logLevel",
            json!("VERBOSE"),
            "\"VERBOSE\" is not a log level; accepted values: TRACE, DEBUG, INFO, WARN, ERROR",
        ),
    ] {
        assert_only(
            &engine_with(minimal(), &format!("lambda.{field}"), bad),
            &format!("computeEngine.lambda.{field}"),
            range,
        );
    }
    assert_only(
        &engine_with(minimal(), "lambda.lambdaConcurency", json!(3)),
        "computeEngine.lambda.lambdaConcurency",
        "unknown field \"lambdaConcurency\"; did you mean \"lambdaConcurrency\"?",
    );
    // The Lambda engine's names, in the block: the lambda* name to use.
    let ps = problems(&engine_with(minimal(), "lambda.concurrency", json!(3)));
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "computeEngine.lambda.concurrency",
        "is named lambdaConcurrency in the lambda block",
    );
}

#[test]
fn lambda_engine_fields_directly_in_compute_engine_are_refused() {
    for (flat, name) in [
        ("concurrency", "lambdaConcurrency"),
        ("memoryLimitInMegabytes", "lambdaMemoryLimitInMegabytes"),
        ("timeoutInSeconds", "lambdaTimeoutInSeconds"),
        ("logLevel", "logLevel"),
    ] {
        let value = if flat == "logLevel" {
            json!("INFO")
        } else {
            json!(10)
        };
        assert_only(
            &engine_with(minimal(), flat, value),
            &format!("computeEngine.{flat}"),
            &format!(
                "is a Lambda engine's field; with computeEngineType LAMBDA_AND_SAGEMAKER the task \
                 settings go in the lambda block: give it as lambda.{name}"
            ),
        );
    }
    assert_only(
        &engine_with(minimal(), "sagemakerEndpointType", json!("Serverless")),
        "computeEngine.sagemakerEndpointType",
        "unknown field \"sagemakerEndpointType\"; accepted fields: computeEngineType, lambda, model, endpoint, \
         builtinVectorsFields",
    );
    assert_only(
        &engine_with(minimal(), "modle", json!({})),
        "computeEngine.modle",
        "did you mean \"model\"?",
    );
}

#[test]
fn vectors_blocks_under_a_lambda_engine_are_refused() {
    for (block, value) in [
        ("model", json!({})),
        ("endpoint", json!({})),
        ("lambda", json!({})),
        ("builtinVectorsFields", json!(["text"])),
    ] {
        let ps = problems(&with(&format!("computeEngine.{block}"), value));
        assert_eq!(ps.len(), 1, "{}", render(&ps));
        assert_has(
            &ps,
            &format!("computeEngine.{block}"),
            "belongs to computeEngineType LAMBDA_AND_SAGEMAKER (LetsData's vectors engine",
        );
        assert_has(
            &ps,
            &format!("computeEngine.{block}"),
            "remove it, or set computeEngineType LAMBDA_AND_SAGEMAKER",
        );
    }
    assert_has(
        &problems(&with("computeEngine.lambda", json!({}))),
        "computeEngine.lambda",
        "a Lambda engine takes its settings (concurrency, memoryLimitInMegabytes, timeoutInSeconds, logLevel) in computeEngine itself",
    );
    assert_only(
        &with("computeEngine.modle", json!({})),
        "computeEngine.modle",
        "did you mean \"model\"?",
    );
}

#[test]
fn model_is_required_for_a_letsdata_endpoint() {
    let mut v = with("computeEngine", minimal());
    remove(&mut v, "computeEngine.model");
    assert_only(
        &v,
        "computeEngine.model",
        "is required: the model letsdata runs on the endpoint it creates \
         (sagemakerEndpointResourceLocation LetsData), e.g. {\"modelUrl\": \"s3://<bucketName>/<key>/model.tar.gz\"}",
    );
    assert_only(
        &engine_with(minimal(), "model", json!("s3://models/m.tar.gz")),
        "computeEngine.model",
        "must be an object, found string",
    );
}

#[test]
fn model_fields() {
    for (url, needle) in [
        (
            json!("https://x"),
            "\"https://x\" is not an s3 link; expected s3://<bucketName>/<key>",
        ),
        (
            json!("s3://bucket"),
            "\"s3://bucket\" is not an s3 link; expected s3://<bucketName>/<key>",
        ),
        (json!("s3://bucket/"), "key \"\" is invalid: it is empty"),
        (json!("s3://B/k"), "bucket name \"B\" is invalid"),
        (
            json!("s3://bucket/../m.tar.gz"),
            "'..' segments would escape the bucket",
        ),
        (json!(3), "must be a string, found number"),
    ] {
        assert_only(
            &engine_with(minimal(), "model.modelUrl", url),
            "computeEngine.model.modelUrl",
            needle,
        );
    }
    let mut v = with("computeEngine", minimal());
    remove(&mut v, "computeEngine.model.modelUrl");
    assert_only(
        &v,
        "computeEngine.model.modelUrl",
        "is required: the s3://<bucketName>/<key> link of the model",
    );
    assert_only(
        &engine_with(minimal(), "model.modelResourceLocation", json!("Customer")),
        "computeEngine.model.modelResourceLocation",
        "is Customer, a model in your SageMaker, which letsdata cannot run; give \
         modelResourceLocation LetsData and the model's modelUrl",
    );
    assert_only(
        &engine_with(
            minimal(),
            "model.modelUrlResourceLocation",
            json!("Somebody"),
        ),
        "computeEngine.model.modelUrlResourceLocation",
        "\"Somebody\" is not a resource location; accepted values: LetsData, Customer",
    );
    let letsdata_url = parse_ok(&engine_with(
        minimal(),
        "model.modelUrlResourceLocation",
        json!("LetsData"),
    ))
    .compute_engine;
    assert_eq!(
        letsdata_url
            .vectors
            .and_then(|v| v.model)
            .map(|m| m.url_resource_location),
        Some(ResourceLocation::LetsData)
    );
    assert_only(
        &engine_with(minimal(), "model.modelContainerImageName", json!(["x"])),
        "computeEngine.model.modelContainerImageName",
        "must be a string, found array",
    );
    assert_only(
        &engine_with(minimal(), "model.modelURL", json!("s3://models/m.tar.gz")),
        "computeEngine.model.modelURL",
        "unknown field \"modelURL\"; did you mean \"modelUrl\"?",
    );
}

#[test]
fn environment_values_are_strings() {
    let ps = problems(&engine_with(
        minimal(),
        "model.modelEnvironmentVariables",
        json!({"HF_TASK": "feature-extraction", "BATCH": 3, "DEBUG": true, "LIST": [], "NONE": null}),
    ));
    assert_eq!(ps.len(), 4, "{}", render(&ps));
    let path = "computeEngine.model.modelEnvironmentVariables";
    assert_has(
        &ps,
        &format!("{path}.BATCH"),
        "must be a string, found number 3; quote it: \"3\"",
    );
    assert_has(
        &ps,
        &format!("{path}.DEBUG"),
        "must be a string, found boolean true; quote it: \"true\"",
    );
    assert_has(
        &ps,
        &format!("{path}.LIST"),
        "must be a string, found array",
    );
    assert_has(&ps, &format!("{path}.NONE"), "must be a string, found null");
    assert_only(
        &engine_with(
            minimal(),
            "model.modelEnvironmentVariables",
            json!("HF_TASK=x"),
        ),
        path,
        "must be an object, found string",
    );
}

#[test]
fn endpoint_sizes() {
    let sizes =
        |block: Value| engine_with(minimal(), "endpoint", json!({"sagemakerServerless": block}));
    let path = "computeEngine.endpoint.sagemakerServerless";
    for memory in [1024, 2048, 3072, 4096, 5120, 6144] {
        let v = sizes(json!({"sagemakerMemoryLimitInMegabytes": memory}));
        let endpoint = parse_ok(&v)
            .compute_engine
            .vectors
            .expect("vectors")
            .endpoint;
        assert_eq!(endpoint.memory_limit_in_megabytes, memory);
    }
    for (bad, found) in [
        (json!(1000), "1000"),
        (json!(2048.5), "2048.5"),
        (json!("2048"), "\"2048\""),
    ] {
        assert_only(
            &sizes(json!({"sagemakerMemoryLimitInMegabytes": bad})),
            &format!("{path}.sagemakerMemoryLimitInMegabytes"),
            &format!(
                "must be one of 1024, 2048, 3072, 4096, 5120, 6144 (the memory sizes of SageMaker \
                 Serverless endpoints, in megabytes), found {found}"
            ),
        );
    }
    for bad in [0, 201] {
        assert_only(
            &sizes(json!({"sagemakerEndpointConcurrency": bad})),
            &format!("{path}.sagemakerEndpointConcurrency"),
            &format!("must be an integer between 1 and 200, found {bad}"),
        );
    }
    assert_only(
        &sizes(json!({"sagemakerInstanceType": "ml.m5.xlarge"})),
        &format!("{path}.sagemakerInstanceType"),
        "sizes a Provisioned endpoint's instances (sagemakerProvisioned); a Serverless endpoint has none: remove it",
    );
    assert_only(
        &sizes(json!({"sagemakerMemoryLimitInMb": 2048})),
        &format!("{path}.sagemakerMemoryLimitInMb"),
        "did you mean \"sagemakerMemoryLimitInMegabytes\"?",
    );
    assert_only(&sizes(json!(5)), path, "must be an object, found number");
}

#[test]
fn the_sizes_block_must_match_the_endpoint_type() {
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerProvisioned": {"sagemakerEndpointConcurrency": 5}}),
        ),
        "computeEngine.endpoint.sagemakerProvisioned",
        "is for sagemakerEndpointType Provisioned, but this endpoint is Serverless; give its \
         concurrency and memory in sagemakerServerless, or set sagemakerEndpointType Provisioned",
    );
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointType": "Provisioned", "sagemakerServerless": {}}),
        ),
        "computeEngine.endpoint.sagemakerServerless",
        "is for sagemakerEndpointType Serverless, but this endpoint is Provisioned",
    );
    // An unrecognised endpoint type: both blocks are still checked.
    let ps = problems(&engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointType": "Realtime",
               "sagemakerServerless": {"sagemakerEndpointConcurrency": 0}}),
    ));
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "computeEngine.endpoint.sagemakerEndpointType",
        "\"Realtime\" is not a SageMaker endpoint type; accepted values: Serverless, Provisioned",
    );
    assert_has(
        &ps,
        "computeEngine.endpoint.sagemakerServerless.sagemakerEndpointConcurrency",
        "between 1 and 200",
    );
}

#[test]
fn endpoint_block() {
    assert_only(
        &engine_with(minimal(), "endpoint", json!("Serverless")),
        "computeEngine.endpoint",
        "must be an object, found string",
    );
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointTyp": "Serverless"}),
        ),
        "computeEngine.endpoint.sagemakerEndpointTyp",
        "unknown field \"sagemakerEndpointTyp\"; did you mean \"sagemakerEndpointType\"?",
    );
    assert_only(
        &engine_with(
            minimal(),
            "endpoint",
            json!({"sagemakerEndpointResourceLocation": "AWS"}),
        ),
        "computeEngine.endpoint.sagemakerEndpointResourceLocation",
        "\"AWS\" is not a resource location",
    );
}

/// The example with the minimal vectors engine, its `builtinVectorsFields` set to `value`.
fn builtin_fields(value: Value) -> Value {
    engine_with(minimal(), "builtinVectorsFields", value)
}

const BUILTIN_FIELDS: &str = "computeEngine.builtinVectorsFields";

#[test]
fn builtin_vectors_fields_are_parsed_in_order() {
    let parsed = |value: Value| {
        parse_ok(&builtin_fields(value))
            .compute_engine
            .vectors
            .expect("vectors")
            .builtin_fields
    };
    assert_eq!(parsed(json!(["text"])), fields(&["text"]));
    // Dotted paths reach into objects; a path and its prefix are different fields.
    let names = ["review.text", "title", "a.b.c", "review", "Text", "text"];
    assert_eq!(parsed(json!(names)), fields(&names));
    // 32 fields at most.
    let most: Vec<String> = (0..32).map(|i| format!("f{i}")).collect();
    assert_eq!(parsed(json!(most)), Some(most));
}

#[test]
fn builtin_vectors_fields_are_required_without_user_code() {
    let mut v = with("computeEngine", minimal());
    remove(&mut v, "computeEngine.builtinVectorsFields");
    assert_only(
        &v,
        BUILTIN_FIELDS,
        "is required when the read connector has no user code implementing \
         SagemakerVectorsInterface (artifactImplementationLanguage Builtin): the documents' \
         text fields letsdata embeds, one vector each, e.g. [\"title\", \"body\"]",
    );
    // With user code (its SagemakerVectorsInterface runs), it may be absent.
    for (language, link) in [
        ("Wasm", "s3://code/impl.wasm"),
        ("Python", "s3://code/impl.zip"),
        ("Javascript", "s3://code/impl.tar.gz"),
    ] {
        let mut code = v.clone();
        code["readConnector"]["artifactImplementationLanguage"] = json!(language);
        code["readConnector"]["artifactFileS3Link"] = json!(link);
        code["readConnector"]["artifactFileS3LinkResourceLocation"] = json!("Customer");
        let read = code["readConnector"]
            .as_object_mut()
            .expect("readConnector");
        read.remove("builtinParser");
        read.remove("documentIdField");
        let parsed = parse_ok(&code);
        assert_eq!(
            parsed
                .compute_engine
                .vectors
                .expect("vectors")
                .builtin_fields,
            None,
            "{language}"
        );
    }
    // null counts as absent.
    assert_only(&builtin_fields(Value::Null), BUILTIN_FIELDS, "is required");
    // The published block without it.
    let mut v = with("computeEngine", published());
    remove(&mut v, "computeEngine.builtinVectorsFields");
    assert_only(&v, BUILTIN_FIELDS, "is required");
    // A Customer endpoint needs it too.
    let mut v = engine_with(
        minimal(),
        "endpoint",
        json!({"sagemakerEndpointResourceLocation": "Customer", "sagemakerEndpointName": "e1"}),
    );
    remove(&mut v, "computeEngine.builtinVectorsFields");
    let ps = problems(&v);
    assert_problems(&ps, 1);
    assert_has(&ps, BUILTIN_FIELDS, "is required");
}

#[test]
fn builtin_vectors_fields_is_an_array() {
    for (bad, found) in [
        (json!("text"), "string"),
        (json!({"text": true}), "object"),
        (json!(3), "number"),
        (json!(true), "boolean"),
    ] {
        assert_only(
            &builtin_fields(bad),
            BUILTIN_FIELDS,
            &format!(
                "must be an array of field names, e.g. [\"title\", \"body\"] (a dotted path such \
                 as \"review.text\" reaches into an object); found {found}"
            ),
        );
    }
}

#[test]
fn builtin_vectors_fields_names_1_to_32_fields() {
    let too_many: Vec<String> = (0..33).map(|i| format!("f{i}")).collect();
    for (bad, found) in [(json!([]), 0), (json!(too_many), 33)] {
        assert_only(
            &builtin_fields(bad),
            BUILTIN_FIELDS,
            &format!(
                "must name 1 to 32 fields, e.g. [\"title\", \"body\"] (a dotted path such as \
                 \"review.text\" reaches into an object); found {found}"
            ),
        );
    }
    // Too many items: they are not checked one by one.
    let mut bad_items = vec![json!(""); 33];
    bad_items[0] = json!(1);
    assert_only(
        &builtin_fields(json!(bad_items)),
        BUILTIN_FIELDS,
        "must name 1 to 32 fields",
    );
}

#[test]
fn builtin_vectors_fields_items_are_field_names() {
    for bad in ["", ".", "a..b", ".a", "a.", "review..text"] {
        assert_only(
            &builtin_fields(json!(["text", bad])),
            &format!("{BUILTIN_FIELDS}[1]"),
            &format!(
                "{} is not a field name or a dotted path of them",
                json!(bad)
            ),
        );
    }
    for (bad, found) in [
        (json!(3), "number"),
        (json!(null), "null"),
        (json!(true), "boolean"),
        (json!(["text"]), "array"),
        (json!({"name": "text"}), "object"),
    ] {
        assert_only(
            &builtin_fields(json!([bad])),
            &format!("{BUILTIN_FIELDS}[0]"),
            &format!("must be a field name (a string); found {found}"),
        );
    }
}

#[test]
fn builtin_vectors_fields_names_each_field_once() {
    assert_only(
        &builtin_fields(json!(["title", "review.text", "title"])),
        &format!("{BUILTIN_FIELDS}[2]"),
        "\"title\" is named twice",
    );
    // Each repetition is reported, at its own index.
    let ps = problems(&builtin_fields(json!(["a", "a", "b", "a"])));
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(&ps, &format!("{BUILTIN_FIELDS}[1]"), "\"a\" is named twice");
    assert_has(&ps, &format!("{BUILTIN_FIELDS}[3]"), "\"a\" is named twice");
}

#[test]
fn builtin_vectors_fields_problems_are_all_reported() {
    let ps = problems(&builtin_fields(json!([
        "title",
        "",
        7,
        "a..b",
        "title",
        "review.text",
        null,
        ".x"
    ])));
    let expected = [
        (1, "\"\" is not a field name"),
        (2, "must be a field name (a string); found number"),
        (3, "\"a..b\" is not a field name"),
        (4, "\"title\" is named twice"),
        (6, "must be a field name (a string); found null"),
        (7, "\".x\" is not a field name"),
    ];
    assert_eq!(ps.len(), expected.len(), "{}", render(&ps));
    for (i, needle) in expected {
        assert_has(&ps, &format!("{BUILTIN_FIELDS}[{i}]"), needle);
    }
    // Along with the engine's other problems.
    let mut v = builtin_fields(json!(["", "x"]));
    set(&mut v, "computeEngine.lambda.lambdaConcurrency", json!(0));
    set(&mut v, "computeEngine.model.modelUrl", json!("s3://bucket"));
    let ps = problems(&v);
    assert_eq!(ps.len(), 3, "{}", render(&ps));
    assert_has(&ps, &format!("{BUILTIN_FIELDS}[0]"), "is not a field name");
    assert_has(&ps, "computeEngine.lambda.lambdaConcurrency", "found 0");
    assert_has(&ps, "computeEngine.model.modelUrl", "is not an s3 link");
}

#[test]
fn builtin_vectors_fields_under_a_lambda_engine_are_refused_unchecked() {
    // Whatever its value: the block is refused, not validated.
    for value in [json!(["text"]), json!([]), json!(["", 3]), json!("text")] {
        assert_only(
            &with("computeEngine.builtinVectorsFields", value),
            BUILTIN_FIELDS,
            "belongs to computeEngineType LAMBDA_AND_SAGEMAKER (LetsData's vectors engine",
        );
    }
    assert_only(
        &with("computeEngine.builtinVectorFields", json!(["text"])),
        "computeEngine.builtinVectorFields",
        "did you mean \"builtinVectorsFields\"?",
    );
    // The same typo beside a vectors engine's own builtinVectorsFields.
    let mut v = builtin_fields(json!(["text"]));
    set(&mut v, "computeEngine.builtinVectorFields", json!(["text"]));
    assert_only(
        &v,
        "computeEngine.builtinVectorFields",
        "did you mean \"builtinVectorsFields\"?",
    );
}

#[test]
fn every_problem_is_reported() {
    let v = with(
        "computeEngine",
        json!({
            "computeEngineType": "LAMBDA_AND_SAGEMAKER",
            "concurrency": 5,
            "lambda": {"lambdaConcurrency": 0, "lambdaTimeoutInSeconds": 901},
            "model": {
                "modelResourceLocation": "Customer",
                "modelUrl": "s3://bucket",
                "modelEnvironmentVariables": {"HF_TASK": 1},
                "modelColor": "blue"
            },
            "endpoint": {
                "sagemakerEndpointResourceLocation": "Customer",
                "sagemakerServerless": {"sagemakerMemoryLimitInMegabytes": 1000},
                "sagemakerProvisioned": {}
            },
            "builtinVectorsFields": ["text", "", "text", 3]
        }),
    );
    let ps = problems(&v);
    let expected = [
        (
            "computeEngine.concurrency",
            "give it as lambda.lambdaConcurrency",
        ),
        ("computeEngine.lambda.lambdaConcurrency", "found 0"),
        ("computeEngine.lambda.lambdaTimeoutInSeconds", "found 901"),
        (
            "computeEngine.model.modelColor",
            "unknown field \"modelColor\"",
        ),
        (
            "computeEngine.model.modelResourceLocation",
            "letsdata cannot run",
        ),
        ("computeEngine.model.modelUrl", "is not an s3 link"),
        (
            "computeEngine.model.modelEnvironmentVariables.HF_TASK",
            "must be a string",
        ),
        (
            "computeEngine.endpoint.sagemakerEndpointName",
            "is required",
        ),
        (
            "computeEngine.endpoint.sagemakerServerless.sagemakerMemoryLimitInMegabytes",
            "found 1000",
        ),
        (
            "computeEngine.endpoint.sagemakerProvisioned",
            "is for sagemakerEndpointType Provisioned",
        ),
        (
            "computeEngine.builtinVectorsFields[1]",
            "\"\" is not a field name",
        ),
        ("computeEngine.builtinVectorsFields[2]", "is named twice"),
        (
            "computeEngine.builtinVectorsFields[3]",
            "must be a field name (a string); found number",
        ),
    ];
    assert_eq!(ps.len(), expected.len(), "{}", render(&ps));
    for (path, needle) in expected {
        assert_has(&ps, path, needle);
    }
}

#[test]
fn customer_resources_need_the_access_role_on_aws() {
    let aws = ValidationContext {
        aws_resources: true,
    };
    // The example's LetsData write and error connectors also need customerAccountForAccess.
    let mut v = with("computeEngine", minimal());
    set(&mut v, "customerAccountForAccess", json!("123456789012"));
    set(
        &mut v,
        "readConnector.bucketResourceLocation",
        json!("LetsData"),
    );
    let ps = problems_ctx(&v, aws);
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "is required when a resource is Customer-owned (computeEngine.model.modelUrlResourceLocation is Customer)",
    );

    set(
        &mut v,
        "computeEngine.model.modelUrlResourceLocation",
        json!("LetsData"),
    );
    assert!(parse_dataset_spec(&v, aws).is_ok());

    set(
        &mut v,
        "computeEngine.endpoint",
        json!({"sagemakerEndpointResourceLocation": "Customer", "sagemakerEndpointName": "e1"}),
    );
    // The Customer endpoint is not available yet, but still needs the role.
    let ps = problems_ctx(&v, aws);
    assert_problems(&ps, 1);
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "(computeEngine.endpoint.sagemakerEndpointResourceLocation is Customer)",
    );
}
