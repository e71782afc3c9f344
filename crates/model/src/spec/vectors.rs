//! The `model` and `endpoint` blocks of LetsData's vectors engine
//! (`computeEngineType: LAMBDA_AND_SAGEMAKER`): the model whose inferences the tasks call and
//! the SageMaker endpoint they go to. See [`VectorsEngine`] for what each field means here.

use super::fields::{Choice, Choices, Obj, Problems, json_type, quote, show};
use super::validate::RESOURCE_LOCATIONS;
use super::{EndpointType, ResourceLocation, VectorsEndpoint, VectorsEngine, VectorsModel};
use crate::location::ObjectLocation;
use serde_json::Value;
use std::collections::BTreeMap;

const MODEL_FIELDS: &[&str] = &[
    "modelResourceLocation",
    "modelUrl",
    "modelUrlResourceLocation",
    "modelEnvironmentVariables",
    "modelContainerImageName",
];

const ENDPOINT_FIELDS: &[&str] = &[
    "sagemakerEndpointType",
    "sagemakerEndpointResourceLocation",
    "sagemakerEndpointName",
    "sagemakerServerless",
    "sagemakerProvisioned",
];

const SIZE_FIELDS: &[&str] = &[
    "sagemakerEndpointConcurrency",
    "sagemakerMemoryLimitInMegabytes",
];

/// The `sagemakerProvisioned` block's own fields, besides [`SIZE_FIELDS`].
const INSTANCE_FIELDS: &[&str] = &["sagemakerInstanceType", "sagemakerInitialInstanceCount"];

/// SageMaker Serverless' memory sizes, in megabytes.
const MEMORY_SIZES: &[u32] = &[1024, 2048, 3072, 4096, 5120, 6144];

const ENDPOINT_NAME_EXAMPLE: &str = "my-embeddings-endpoint";

const ENDPOINT_TYPES: Choices<EndpointType> = Choices {
    what: "a SageMaker endpoint type",
    items: &[
        Choice {
            value: EndpointType::Serverless,
            name: "Serverless",
            alias: "",
        },
        Choice {
            value: EndpointType::Provisioned,
            name: "Provisioned",
            alias: "",
        },
    ],
    note: "",
};

/// The `model` and `endpoint` blocks of the compute engine `o`.
pub(super) fn vectors_engine(p: &mut Problems, o: &Obj<'_>) -> Option<VectorsEngine> {
    let endpoint = endpoint(p, o);
    let model = model(p, o, endpoint.as_ref().map(|e| e.resource_location));
    let fields = builtin_fields(p, o);
    Some(VectorsEngine {
        model: model?,
        endpoint: endpoint?,
        builtin_fields: fields?,
    })
}

/// Without user code, `builtinVectorsFields` says what to embed: it is required then.
pub(super) fn builtin_fields_needed(
    p: &mut Problems,
    engine: &VectorsEngine,
    has_code: bool,
    path: String,
) {
    if engine.builtin_fields.is_none() && !has_code {
        p.push(
            path,
            "is required when the read connector has no user code implementing \
             SagemakerVectorsInterface (artifactImplementationLanguage Builtin): the documents' \
             text fields letsdata embeds, one vector each, e.g. [\"title\", \"body\"]",
        );
    }
}

/// `model`: `Some(None)` when absent and optional, `None` when invalid. Required when the
/// endpoint is `LetsData`'s (`endpoint_location`; not required when that is invalid).
fn model(
    p: &mut Problems,
    o: &Obj<'_>,
    endpoint_location: Option<ResourceLocation>,
) -> Option<Option<VectorsModel>> {
    let required = (endpoint_location == Some(ResourceLocation::LetsData)).then_some(
        "the model letsdata runs on the endpoint it creates (sagemakerEndpointResourceLocation \
         LetsData), e.g. {\"modelUrl\": \"s3://<bucketName>/<key>/model.tar.gz\"}",
    );
    let Some(map) = o.object(p, "model", required) else {
        return (!o.has("model") && required.is_none()).then_some(None);
    };
    let path = o.field_path("model");
    let m = Obj::new(&path, map);
    m.check_unknown(p, MODEL_FIELDS, &[]);

    let mut resource_location = m.optional_choice(
        p,
        "modelResourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::LetsData,
    );
    if resource_location == Some(ResourceLocation::Customer) {
        p.push(
            m.field_path("modelResourceLocation"),
            "is Customer, a model in your SageMaker, which letsdata cannot run; give \
             modelResourceLocation LetsData and the model's modelUrl (or, to call your own \
             endpoint, set endpoint.sagemakerEndpointResourceLocation Customer and its \
             sagemakerEndpointName)",
        );
        resource_location = None;
    }
    let url = m
        .string(
            p,
            "modelUrl",
            Some("the s3://<bucketName>/<key> link of the model, e.g. s3://my-models/all-MiniLM-L6-v2/model.tar.gz"),
        )
        .and_then(|url| match ObjectLocation::parse_s3_link(url) {
            Ok(loc) => Some(loc),
            Err(e) => {
                p.push(m.field_path("modelUrl"), e.to_string());
                None
            }
        });
    let url_resource_location = m.optional_choice(
        p,
        "modelUrlResourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let environment = environment(p, &m);
    let container_image_name = m.string(p, "modelContainerImageName", None);
    let url = url?;
    Some(Some(VectorsModel {
        resource_location: resource_location?,
        url_bucket: url.bucket,
        url_key: url.key,
        url_resource_location: url_resource_location?,
        environment: environment?,
        container_image_name: container_image_name.map(str::to_string),
    }))
}

/// `modelEnvironmentVariables`: an object of string values (empty when absent).
fn environment(p: &mut Problems, m: &Obj<'_>) -> Option<BTreeMap<String, String>> {
    let Some(map) = m.object(p, "modelEnvironmentVariables", None) else {
        return (!m.has("modelEnvironmentVariables")).then(BTreeMap::new);
    };
    let path = m.field_path("modelEnvironmentVariables");
    let env = Obj::new(&path, map);
    let mut vars = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map {
        match value {
            Value::String(s) => {
                vars.insert(name.clone(), s.clone());
            }
            v @ (Value::Number(_) | Value::Bool(_)) => {
                p.push(
                    env.field_path(name),
                    format!(
                        "must be a string, found {} {}; quote it: \"{}\"",
                        json_type(v),
                        show(v),
                        show(v)
                    ),
                );
                ok = false;
            }
            v => {
                p.push(
                    env.field_path(name),
                    format!("must be a string, found {}", json_type(v)),
                );
                ok = false;
            }
        }
    }
    ok.then_some(vars)
}

/// Most fields the built-in vectors interface embeds per document.
const MAX_BUILTIN_FIELDS: usize = 32;

/// `builtinVectorsFields`: the document fields the built-in `SagemakerVectorsInterface`
/// embeds, one vector each (`Some(None)` when absent: user code's interface runs).
fn builtin_fields(p: &mut Problems, o: &Obj<'_>) -> Option<Option<Vec<String>>> {
    const FIELD: &str = "builtinVectorsFields";
    const EXAMPLE: &str =
        "e.g. [\"title\", \"body\"] (a dotted path such as \"review.text\" reaches into an object)";
    let path = o.field_path(FIELD);
    let Some(value) = o.get(FIELD) else {
        return Some(None);
    };
    let Value::Array(items) = value else {
        p.push(
            path,
            format!(
                "must be an array of field names, {EXAMPLE}; found {}",
                json_type(value)
            ),
        );
        return None;
    };
    if items.is_empty() || items.len() > MAX_BUILTIN_FIELDS {
        p.push(
            path,
            format!(
                "must name 1 to {MAX_BUILTIN_FIELDS} fields, {EXAMPLE}; found {}",
                items.len()
            ),
        );
        return None;
    }
    let mut fields: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match item {
            Value::String(s) if s.is_empty() || s.split('.').any(str::is_empty) => {
                p.push(
                    at,
                    format!("{} is not a field name or a dotted path of them", quote(s)),
                );
                ok = false;
            }
            Value::String(s) if fields.contains(s) => {
                p.push(at, format!("{} is named twice", quote(s)));
                ok = false;
            }
            Value::String(s) => fields.push(s.clone()),
            other => {
                p.push(
                    at,
                    format!(
                        "must be a field name (a string); found {}",
                        json_type(other)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(Some(fields))
}

/// `endpoint` (every field has a default, so the block may be absent).
fn endpoint(p: &mut Problems, o: &Obj<'_>) -> Option<VectorsEndpoint> {
    let path = o.field_path("endpoint");
    let empty = serde_json::Map::new();
    let map = if o.has("endpoint") {
        o.object(p, "endpoint", None)?
    } else {
        &empty
    };
    let e = Obj::new(&path, map);
    e.check_unknown(p, ENDPOINT_FIELDS, &[]);

    let kind = e.optional_choice(
        p,
        "sagemakerEndpointType",
        &ENDPOINT_TYPES,
        EndpointType::Serverless,
    );
    let resource_location = e.optional_choice(
        p,
        "sagemakerEndpointResourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::LetsData,
    );
    let endpoint_name = endpoint_name(p, &e, resource_location);

    let mut sizes = Some(Sizes::default());
    for block_kind in [EndpointType::Serverless, EndpointType::Provisioned] {
        let block = block_kind.sizes_block();
        if !e.has(block) {
            continue;
        }
        if let Some(kind) = kind.filter(|k| *k != block_kind) {
            p.push(
                e.field_path(block),
                format!(
                    "is for sagemakerEndpointType {block_kind}, but this endpoint is {kind}; \
                     give its concurrency and memory in {}, or set sagemakerEndpointType {block_kind}",
                    kind.sizes_block()
                ),
            );
            continue;
        }
        let parsed = block_sizes(p, &e, block_kind);
        if kind == Some(block_kind) {
            sizes = parsed;
        }
    }
    let sizes = sizes?;
    Some(VectorsEndpoint {
        kind: kind?,
        resource_location: resource_location?,
        endpoint_name: endpoint_name?,
        concurrency: sizes.concurrency,
        memory_limit_in_megabytes: sizes.memory,
        instance_type: sizes.instance_type,
        initial_instance_count: sizes.initial_instance_count,
    })
}

/// An endpoint's concurrency and memory, and a provisioned one's instances.
struct Sizes {
    concurrency: u32,
    memory: u32,
    instance_type: Option<String>,
    initial_instance_count: Option<u32>,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            concurrency: 5,
            memory: 2048,
            instance_type: None,
            initial_instance_count: None,
        }
    }
}

/// `sagemakerServerless` or `sagemakerProvisioned`, which is present; `None` when invalid.
fn block_sizes(p: &mut Problems, e: &Obj<'_>, kind: EndpointType) -> Option<Sizes> {
    let block = kind.sizes_block();
    let map = e.object(p, block, None)?;
    let path = e.field_path(block);
    let b = Obj::new(&path, map);
    let defaults = Sizes::default();
    let concurrency = b.integer(
        p,
        "sagemakerEndpointConcurrency",
        (1, 200),
        None,
        defaults.concurrency,
    );
    let memory = b.integer_of(
        p,
        "sagemakerMemoryLimitInMegabytes",
        MEMORY_SIZES,
        "the memory sizes of SageMaker Serverless endpoints, in megabytes",
        defaults.memory,
    );
    let (instance_type, initial_instance_count) = match kind {
        EndpointType::Serverless => {
            b.check_unknown(p, SIZE_FIELDS, INSTANCE_FIELDS);
            for field in INSTANCE_FIELDS {
                if b.has(field) {
                    p.push(
                        b.field_path(field),
                        "sizes a Provisioned endpoint's instances (sagemakerProvisioned); a \
                         Serverless endpoint has none: remove it",
                    );
                }
            }
            (None, Some(None))
        }
        EndpointType::Provisioned => {
            b.check_unknown(p, &[SIZE_FIELDS, INSTANCE_FIELDS].concat(), &[]);
            let instance_type = b.string(p, "sagemakerInstanceType", None);
            let count = if b.has("sagemakerInitialInstanceCount") {
                b.integer(p, "sagemakerInitialInstanceCount", (1, 100), None, 1)
                    .map(Some)
            } else {
                Some(None)
            };
            (instance_type.map(str::to_string), count)
        }
    };
    Some(Sizes {
        concurrency: concurrency?,
        memory: memory?,
        instance_type,
        initial_instance_count: initial_instance_count?,
    })
}

/// `sagemakerEndpointName`: `Some(None)` when absent and optional, `None` when invalid.
/// Required for a `Customer` endpoint, refused for a `LetsData` one.
fn endpoint_name(
    p: &mut Problems,
    e: &Obj<'_>,
    location: Option<ResourceLocation>,
) -> Option<Option<String>> {
    let field = "sagemakerEndpointName";
    match location {
        Some(ResourceLocation::Customer) if !e.has(field) => {
            p.push(
                e.field_path(field),
                format!(
                    "is required when sagemakerEndpointResourceLocation is Customer: the name of \
                     your existing SageMaker endpoint, which letsdata calls with InvokeEndpoint, \
                     e.g. {ENDPOINT_NAME_EXAMPLE}"
                ),
            );
            return None;
        }
        Some(ResourceLocation::LetsData) if e.has(field) => {
            p.push(
                e.field_path(field),
                "LetsData creates the endpoint; sagemakerEndpointName names an existing \
                 Customer endpoint: set sagemakerEndpointResourceLocation Customer or remove it",
            );
            return None;
        }
        _ => {}
    }
    if !e.has(field) {
        return Some(None);
    }
    let name = e.string(p, field, None)?;
    if is_endpoint_name(name) {
        return Some(Some(name.to_string()));
    }
    p.push(
        e.field_path(field),
        format!(
            "{} is not a SageMaker endpoint name; expected 1 to 63 ASCII letters, digits and \
             hyphens, starting and ending with a letter or digit, e.g. {ENDPOINT_NAME_EXAMPLE}",
            quote(name)
        ),
    );
    None
}

/// SageMaker's endpoint names: 1 to 63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9])*`.
fn is_endpoint_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}
