//! `computeEngine`: its type, the task settings and, for LetsData's vectors engine
//! (`LAMBDA_AND_SAGEMAKER`), its `lambda` block; the vectors engine's `model` and `endpoint`
//! blocks are validated in [`super::vectors`].

use super::fields::{Choice, Choices, Obj, Problems, quote};
use super::vectors::vectors_engine;
use super::{ComputeEngine, LogLevel, ResourceLocation};

/// The fields of a `Lambda` (and `SPARK`) compute engine.
const COMPUTE_FIELDS: &[&str] = &[
    "computeEngineType",
    "concurrency",
    "memoryLimitInMegabytes",
    "timeoutInSeconds",
    "logLevel",
];

/// The blocks of a `LAMBDA_AND_SAGEMAKER` compute engine.
const VECTORS_BLOCKS: &[&str] = &["lambda", "model", "endpoint", "builtinVectorsFields"];

/// The fields of a `LAMBDA_AND_SAGEMAKER` compute engine.
const VECTORS_FIELDS: &[&str] = &[
    "computeEngineType",
    "lambda",
    "model",
    "endpoint",
    "builtinVectorsFields",
];

/// The `lambda` block's fields and the `Lambda` engine's names for them.
const LAMBDA_BLOCK_FIELDS: [(&str, &str); 4] = [
    ("lambdaConcurrency", "concurrency"),
    ("lambdaMemoryLimitInMegabytes", "memoryLimitInMegabytes"),
    ("lambdaTimeoutInSeconds", "timeoutInSeconds"),
    ("logLevel", "logLevel"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EngineType {
    Lambda,
    LambdaAndSagemaker,
    Spark,
}

const ENGINE_TYPES: Choices<EngineType> = Choices {
    what: "a compute engine type",
    items: &[
        Choice {
            value: EngineType::Lambda,
            name: "Lambda",
            alias: "",
        },
        Choice {
            value: EngineType::LambdaAndSagemaker,
            name: "LAMBDA_AND_SAGEMAKER",
            alias: "",
        },
        Choice {
            value: EngineType::Spark,
            name: "SPARK",
            alias: "",
        },
    ],
    note: "SPARK is not supported in this version",
};

const LOG_LEVELS: Choices<LogLevel> = Choices {
    what: "a log level",
    items: &[
        Choice {
            value: LogLevel::Trace,
            name: "TRACE",
            alias: "",
        },
        Choice {
            value: LogLevel::Debug,
            name: "DEBUG",
            alias: "",
        },
        Choice {
            value: LogLevel::Info,
            name: "INFO",
            alias: "",
        },
        Choice {
            value: LogLevel::Warn,
            name: "WARN",
            alias: "",
        },
        Choice {
            value: LogLevel::Error,
            name: "ERROR",
            alias: "",
        },
    ],
    note: "",
};

/// The task settings, from `computeEngine` (`Lambda`) or its `lambda` block
/// (`LAMBDA_AND_SAGEMAKER`); `None` where invalid.
struct TaskSettings {
    concurrency: Option<u32>,
    memory: Option<u32>,
    timeout: Option<u32>,
    log_level: Option<LogLevel>,
}

/// `computeEngine`. A missing or unrecognised `computeEngineType` is validated as `Lambda`;
/// `SPARK` is validated as `Lambda` too, and refused.
pub(super) fn compute_engine(p: &mut Problems, root: &Obj<'_>) -> Option<ComputeEngine> {
    let map = root.object(
        p,
        "computeEngine",
        Some("the compute engine that runs the tasks, e.g. {\"computeEngineType\": \"Lambda\", \"concurrency\": 10}"),
    )?;
    let path = root.field_path("computeEngine");
    let o = Obj::new(&path, map);
    let engine_type = o.required_choice(
        p,
        "computeEngineType",
        &ENGINE_TYPES,
        "the compute engine type",
    );
    if engine_type == Some(EngineType::LambdaAndSagemaker) {
        let settings = lambda_block(p, &o);
        let vectors = vectors_engine(p, &o);
        let settings = settings?;
        return Some(ComputeEngine {
            concurrency: settings.concurrency?,
            memory_limit_in_megabytes: settings.memory?,
            timeout_in_seconds: settings.timeout?,
            log_level: settings.log_level?,
            vectors: Some(vectors?),
        });
    }
    o.check_unknown(p, COMPUTE_FIELDS, VECTORS_BLOCKS);
    for block in VECTORS_BLOCKS {
        if o.has(block) {
            let hint = if *block == "lambda" {
                "; a Lambda engine takes its settings (concurrency, memoryLimitInMegabytes, \
                 timeoutInSeconds, logLevel) in computeEngine itself"
            } else {
                ""
            };
            p.push(
                o.field_path(block),
                format!(
                    "belongs to computeEngineType LAMBDA_AND_SAGEMAKER (LetsData's vectors \
                     engine: tasks calling a SageMaker model endpoint), with the lambda, model \
                     and endpoint blocks; remove it, or set computeEngineType \
                     LAMBDA_AND_SAGEMAKER{hint}"
                ),
            );
        }
    }
    if let Some(other @ EngineType::Spark) = engine_type {
        p.push(
            o.field_path("computeEngineType"),
            format!(
                "{} compute engines are not supported yet; supported: Lambda, LAMBDA_AND_SAGEMAKER",
                quote(ENGINE_TYPES.name_of(other))
            ),
        );
    }
    let settings = task_settings(p, &o, LAMBDA_BLOCK_FIELDS.map(|(_, flat)| flat));
    Some(ComputeEngine {
        concurrency: settings.concurrency?,
        memory_limit_in_megabytes: settings.memory?,
        timeout_in_seconds: settings.timeout?,
        log_level: settings.log_level?,
        vectors: None,
    })
}

/// The task settings under their names in `o`: concurrency (required, 1..=1000), memory in
/// megabytes (128..=10240, default 1024), timeout in seconds (1..=900, default 900) and log
/// level (default WARN).
fn task_settings(
    p: &mut Problems,
    o: &Obj<'_>,
    [concurrency, memory, timeout, log_level]: [&str; 4],
) -> TaskSettings {
    TaskSettings {
        concurrency: o.integer(
            p,
            concurrency,
            (1, 1000),
            Some("the maximum number of tasks running in parallel"),
            0,
        ),
        memory: o.integer(p, memory, (128, 10240), None, 1024),
        timeout: o.integer(p, timeout, (1, 900), None, 900),
        log_level: o.optional_choice(p, log_level, &LOG_LEVELS, LogLevel::Warn),
    }
}

/// A `LAMBDA_AND_SAGEMAKER` engine's own fields and its required `lambda` block: the task
/// settings as the `Lambda` engine has them, under their `lambda*` names. The `Lambda`
/// engine's names are refused in either place, with the name to use.
fn lambda_block(p: &mut Problems, o: &Obj<'_>) -> Option<TaskSettings> {
    let flat = LAMBDA_BLOCK_FIELDS.map(|(_, flat)| flat);
    o.check_unknown(p, VECTORS_FIELDS, &flat);
    for (name, flat) in LAMBDA_BLOCK_FIELDS {
        if o.has(flat) {
            p.push(
                o.field_path(flat),
                format!(
                    "is a Lambda engine's field; with computeEngineType LAMBDA_AND_SAGEMAKER \
                     the task settings go in the lambda block: give it as lambda.{name}"
                ),
            );
        }
    }
    let map = o.object(
        p,
        "lambda",
        Some("the tasks' settings, e.g. {\"lambdaConcurrency\": 10, \"lambdaMemoryLimitInMegabytes\": 1024, \"lambdaTimeoutInSeconds\": 900, \"logLevel\": \"WARN\"}"),
    )?;
    let path = o.field_path("lambda");
    let l = Obj::new(&path, map);
    let names = LAMBDA_BLOCK_FIELDS.map(|(name, _)| name);
    let flat_only: Vec<&str> = flat.into_iter().filter(|f| !names.contains(f)).collect();
    l.check_unknown(p, &names, &flat_only);
    for (name, flat) in LAMBDA_BLOCK_FIELDS {
        if name != flat && l.has(flat) {
            p.push(
                l.field_path(flat),
                format!("is named {name} in the lambda block; rename it"),
            );
        }
    }
    Some(task_settings(p, &l, names))
}

/// The vectors engine's Customer-owned resources, each with the path that says so: the
/// model's bucket and the endpoint.
pub(super) fn customer_owned(engine: &ComputeEngine) -> Vec<(ResourceLocation, &'static str)> {
    let Some(vectors) = &engine.vectors else {
        return Vec::new();
    };
    let model = vectors.model.as_ref().map(|m| {
        (
            m.url_resource_location,
            "computeEngine.model.modelUrlResourceLocation",
        )
    });
    let endpoint = (
        vectors.endpoint.resource_location,
        "computeEngine.endpoint.sagemakerEndpointResourceLocation",
    );
    model.into_iter().chain([endpoint]).collect()
}
