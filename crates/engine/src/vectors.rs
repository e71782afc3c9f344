//! LetsData's vectors engine (`computeEngineType: LAMBDA_AND_SAGEMAKER`), run where the
//! workers run.
//!
//! LetsData deploys `computeEngine.model.modelUrl` (a `model.tar.gz`) to a SageMaker endpoint
//! and calls it from the tasks. letsdata runs the same model directory in-process on CPU
//! ([`letsdata_vectors::SentenceModel`]):
//!
//! - **Create SageMaker Model** (initialization): `modelUrl` is read (through the access grant
//!   for a Customer bucket), copied by content into the internal artifact bucket
//!   (`sha256/<hex>.tar.gz`), unpacked on this machine and loaded: a corrupt archive or a model
//!   directory without a tokenizer ends the step ERROR with the reason, and nothing of it is
//!   left unpacked. The dataset's `resources.sagemakerModel` records the copy.
//! - **Create SageMaker Endpoint** / **Wait For Create Sagemaker Endpoint Completion**: the
//!   model is loaded as the tasks will load it and one sentence embedded; the endpoint's memory
//!   must hold the model.
//! - **Tasks**: each machine unpacks the internal copy once (`$LETSDATA_HOME/cache/models/<hex>`,
//!   checked against its sha256). A task's documents, as its implementation produced them, are
//!   embedded a chunk at a time (about 32 KiB of documents, batched across documents) before they
//!   are written ([`TaskVectors::run`]): the task's `SagemakerVectorsInterface`
//!   ([`VectorsInterface`]) extracts each document's texts, the model embeds them all, and the
//!   interface constructs the documents written. The built-in interface ([`BuiltinVectors`],
//!   `builtinVectorsFields`) makes LetsData's FEATURE document (the document plus
//!   `vectors: {field: [...]}`, and `vectorsTruncated` for texts cut to the model's maximum);
//!   user code's (a component's [`WasmVectors`], a handler's `HandlerVectors`) makes what it
//!   decides. At most `sagemakerEndpointConcurrency` chunks are embedded at once per worker
//!   process, whatever the task concurrency. A document that cannot be vectorized becomes an
//!   error record of the same part.
//! - **Customer endpoints** (`sagemakerEndpointResourceLocation: Customer`): no model is copied;
//!   the Wait step and the tasks call the endpoint with `InvokeEndpoint` (32 texts per call).

use crate::exec::TaskLog;
use crate::workflow::StepError;
use crate::{Engine, EngineError};
use bytes::Bytes;
use letsdata_connectors::aws::Access;
use letsdata_connectors::aws::sagemaker::SagemakerRuntime;
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_model::archive::ArchiveFormat;
use letsdata_model::spec::{ResourceLocation, VectorsEndpoint, VectorsModel};
use letsdata_model::{Dataset, DatasetSpec, ObjectLocation, SagemakerModel};
use letsdata_sandbox::{NamedVector, SandboxError, Truncation};
use letsdata_vectors::{Embedding, SentenceModel};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) const STEP_MODEL: &str = "Create SageMaker Model";
pub(crate) const STEP_ENDPOINT: &str = "Create SageMaker Endpoint";
pub(crate) const STEP_WAIT_ENDPOINT: &str =
    "Compute Engine - Wait For Create Sagemaker Endpoint Completion";

/// Largest `model.tar.gz` accepted (it is read into memory to hash and copy it).
const MAX_MODEL_BYTES: u64 = 4 << 30;

/// The most a model archive may unpack to.
const MODEL_LIMITS: letsdata_lambda::archive::Limits = letsdata_lambda::archive::Limits {
    entries: 10_000,
    bytes: 16 << 30,
};

/// The sentence the endpoint step embeds to check the model runs.
const CHECK_SENTENCE: &str = "letsdata checks that the model runs.";

fn user(message: impl Into<String>) -> StepError {
    StepError::user(message)
}

/// Create SageMaker Model: `modelUrl` copied into the artifact bucket, unpacked here and
/// loaded. Returns the record for `resources.sagemakerModel`.
pub(crate) async fn create_model(
    engine: &Engine,
    model: &VectorsModel,
    role_arn: Option<&str>,
) -> Result<SagemakerModel, StepError> {
    let url = model.url();
    let objects = engine
        .connectors
        .objects_as(&Access::of(role_arn, model.url_resource_location))
        .await?;
    if !objects.bucket_exists(&model.url_bucket).await? {
        return Err(user(format!(
            "modelUrl {url}: bucket {:?} does not exist; upload model.tar.gz there or fix the link",
            model.url_bucket
        )));
    }
    let bytes = match objects
        .bucket(&model.url_bucket)?
        .read_at_most(&model.url_key, MAX_MODEL_BYTES)
        .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(size)) => {
            return Err(user(format!(
                "modelUrl {url} is {} MB; a model may be at most {} MB",
                size >> 20,
                MAX_MODEL_BYTES >> 20
            )));
        }
        Err(ConnectorError::ObjectNotFound { .. }) => {
            return Err(user(format!(
                "modelUrl {url} does not exist; pack the model directory (tar -czf model.tar.gz -C <model directory> .) and upload it there"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(user(format!(
            "modelUrl {url} is not a model.tar.gz (its first bytes are not gzip's); pack the model directory with tar -czf"
        )));
    }
    let sha256 = letsdata_sandbox::sha256_hex(&bytes);
    let size_bytes = bytes.len() as u64;
    // Unpacked and loaded before anything is recorded: a bad archive leaves nothing behind.
    let dir = unpack_here(engine, &sha256, &bytes)
        .await
        .map_err(|e| user(format!("modelUrl {url}: {e}")))?;
    let loaded = match load(dir).await {
        Ok(loaded) => loaded,
        Err(e) => {
            // Not a model letsdata runs: its unpacked copy goes too.
            let _ = std::fs::remove_dir_all(models_dir(engine).join(&sha256));
            return Err(user(format!("modelUrl {url}: {e}")));
        }
    };
    let bucket_name = engine.artifact_bucket();
    if !engine.objects().bucket_exists(&bucket_name).await? {
        engine.objects().create_bucket(&bucket_name).await?;
    }
    let key = format!("sha256/{sha256}.tar.gz");
    let internal = engine.objects().bucket(&bucket_name)?;
    if !internal.exists(&key).await? {
        internal.put(&key, bytes).await?;
    }
    Ok(SagemakerModel {
        model_url: url,
        sha256,
        internal_copy: format!("s3://{bucket_name}/{key}"),
        size_bytes,
        dimension: loaded.dimension() as u32,
        max_tokens: loaded.max_tokens() as u32,
    })
}

/// Create SageMaker Endpoint: the model unpacked on this machine, within the endpoint's
/// memory.
pub(crate) async fn create_endpoint(
    engine: &Engine,
    model: &SagemakerModel,
    endpoint: &VectorsEndpoint,
) -> Result<String, StepError> {
    let dir = local_dir(engine, model).await.map_err(user)?;
    let weights = std::fs::metadata(dir.join("model.safetensors"))
        .map(|m| m.len())
        .unwrap_or(0);
    // The weights, once as loaded and once more for a batch's activations at most.
    let needed_mb = (weights * 2) >> 20;
    if needed_mb > u64::from(endpoint.memory_limit_in_megabytes) {
        return Err(user(format!(
            "the model's weights are {} MB; an endpoint of sagemakerMemoryLimitInMegabytes {} cannot hold them and a batch (about {needed_mb} MB): raise it",
            weights >> 20,
            endpoint.memory_limit_in_megabytes
        )));
    }
    Ok(format!(
        "{} endpoint in-process on CPU: {} inferences at once, {} MB ({} MB of weights), model in {}",
        endpoint.kind,
        endpoint.concurrency,
        endpoint.memory_limit_in_megabytes,
        weights >> 20,
        dir.display()
    ))
}

/// Wait For Create Sagemaker Endpoint Completion: the model loaded as the tasks load it, and
/// one sentence embedded.
pub(crate) async fn wait_endpoint(
    engine: &Engine,
    model: &SagemakerModel,
) -> Result<String, StepError> {
    let dir = local_dir(engine, model).await.map_err(user)?;
    let started = std::time::Instant::now();
    let loaded = load(dir).await.map_err(user)?;
    let check = tokio::task::spawn_blocking(move || loaded.embed(&[CHECK_SENTENCE]))
        .await
        .map_err(|e| user(format!("the model's check failed: {e}")))?
        .map_err(|e| user(e.to_string()))?;
    Ok(format!(
        "in service: loaded and a {}-dimension vector made in {} ms",
        check.first().map_or(0, |e| e.vector.len()),
        started.elapsed().as_millis()
    ))
}

/// The model's directory on this machine, unpacked from the internal copy on first use.
async fn local_dir(engine: &Engine, model: &SagemakerModel) -> Result<PathBuf, String> {
    if let Some(dir) = unpacked(&models_dir(engine).join(&model.sha256)) {
        return Ok(dir);
    }
    let location = ObjectLocation::parse_s3_link(&model.internal_copy)
        .map_err(|e| format!("internal copy {}: {e}", model.internal_copy))?;
    let bytes = match engine
        .objects()
        .bucket(&location.bucket)
        .map_err(|e| e.to_string())?
        .read_at_most(&location.key, MAX_MODEL_BYTES)
        .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(size)) => return Err(format!("the internal copy is {} MB", size >> 20)),
        Err(e) => return Err(format!("the model's internal copy: {e}")),
    };
    let sha = letsdata_sandbox::sha256_hex(&bytes);
    if sha != model.sha256 {
        return Err(format!(
            "the model's internal copy {} has sha256 {sha}, not {}: it was modified; delete and create the dataset again",
            model.internal_copy, model.sha256
        ));
    }
    unpack_here(engine, &model.sha256, &bytes).await
}

fn models_dir(engine: &Engine) -> PathBuf {
    engine.home.join("cache").join("models")
}

/// The model directory inside an unpacked archive, if it was unpacked completely: the
/// archive's top, or its one top-level directory.
fn unpacked(dir: &Path) -> Option<PathBuf> {
    let root = std::fs::read_to_string(dir.join(".letsdata-model-root")).ok()?;
    Some(dir.join(root.trim()))
}

/// Unpacks an archive into `cache/models/<sha256>` (through a temporary directory renamed
/// into place, so a directory there is always whole); returns the model directory in it.
async fn unpack_here(engine: &Engine, sha256: &str, bytes: &Bytes) -> Result<PathBuf, String> {
    let dir = models_dir(engine).join(sha256);
    if let Some(root) = unpacked(&dir) {
        return Ok(root);
    }
    let bytes = bytes.clone();
    let parent = models_dir(engine);
    let tmp = parent.join(format!(".{sha256}.{}", uuid::Uuid::new_v4()));
    let target = dir.clone();
    let tmp_prefix = format!(".{sha256}.");
    tokio::task::spawn_blocking(move || {
        remove_stale_unpacks(&parent, &tmp_prefix);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let result = (|| {
            letsdata_lambda::archive::unpack(
                &bytes,
                ArchiveFormat::TarGz,
                &tmp,
                MODEL_LIMITS,
                "the model archive",
            )
            .map_err(|e| e.to_string())?;
            let root = model_root(&tmp)?;
            std::fs::write(tmp.join(".letsdata-model-root"), &root)
                .map_err(|e| format!("{}: {e}", tmp.display()))?;
            match std::fs::rename(&tmp, &target) {
                Ok(()) => Ok(()),
                // Another task unpacked it meanwhile.
                Err(_) if unpacked(&target).is_some() => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    Ok(())
                }
                Err(e) => Err(format!("{}: {e}", target.display())),
            }
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    })
    .await
    .map_err(|e| format!("unpacking the model failed: {e}"))??;
    unpacked(&dir).ok_or_else(|| format!("{} was not unpacked", dir.display()))
}

/// Temporary directories of unpacks of the same archive (`prefix`) that a killed process left
/// more than an hour ago (a running unpack renames or removes its own long before).
fn remove_stale_unpacks(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if stale && entry.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where the model directory is in an unpacked archive: its top (as SageMaker packs it), or
/// its one top-level directory; as a path relative to it ("" for the top).
fn model_root(unpacked: &Path) -> Result<String, String> {
    let is_model =
        |dir: &Path| dir.join("config.json").is_file() || dir.join("modules.json").is_file();
    if is_model(unpacked) {
        return Ok(String::new());
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir(unpacked)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if let [only] = dirs.as_slice()
        && is_model(only)
    {
        return Ok(only
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default());
    }
    Err(
        "the model archive has no config.json or modules.json at its top (or in its one top-level directory): pack the sentence-transformers model directory itself (the one SentenceTransformer.save writes)"
            .into(),
    )
}

/// Loads a model directory (on a blocking thread: it reads and checks the weights).
async fn load(dir: PathBuf) -> Result<Arc<SentenceModel>, String> {
    tokio::task::spawn_blocking(move || SentenceModel::load(&dir).map(Arc::new))
        .await
        .map_err(|e| format!("loading the model failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// What makes a dataset's vectors.
enum Encoder {
    /// The model of `computeEngine.model.modelUrl`, run in this process.
    Local(Arc<SentenceModel>),
    /// A Customer endpoint, called with `InvokeEndpoint` through the access grant.
    Endpoint {
        runtime: SagemakerRuntime,
        name: String,
    },
}

/// Texts per `InvokeEndpoint` call of a Customer endpoint.
const ENDPOINT_BATCH: usize = 32;

/// A dataset's model, for a worker's tasks: embeds the texts the tasks'
/// `SagemakerVectorsInterface`s extract.
pub(crate) struct Vectorizer {
    encoder: Encoder,
    /// `sagemakerEndpointConcurrency`: chunks embedded at once.
    permits: Arc<tokio::sync::Semaphore>,
    /// The permits there are (handed out or not); `datasets compute update` changes it.
    limit: std::sync::Mutex<usize>,
}

impl std::fmt::Debug for Vectorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectorizer").finish_non_exhaustive()
    }
}

/// The vectorizer of a `LAMBDA_AND_SAGEMAKER` dataset (`None` for other engines).
pub(crate) async fn vectorizer(
    engine: &Engine,
    dataset: &Dataset,
    spec: &DatasetSpec,
) -> Result<Option<Arc<Vectorizer>>, EngineError> {
    let Some(vectors) = &spec.compute_engine.vectors else {
        return Ok(None);
    };
    let concurrency = vectors.endpoint.concurrency as usize;
    let encoder = match customer_endpoint(&vectors.endpoint) {
        Some(name) => Encoder::Endpoint {
            runtime: endpoint_runtime(engine, spec).await?,
            name: name.to_string(),
        },
        None => Encoder::Local(local_model(engine, dataset).await?),
    };
    Ok(Some(Arc::new(Vectorizer {
        encoder,
        permits: Arc::new(tokio::sync::Semaphore::new(concurrency)),
        limit: std::sync::Mutex::new(concurrency),
    })))
}

/// The name of the endpoint when it is a Customer's.
fn customer_endpoint(endpoint: &VectorsEndpoint) -> Option<&str> {
    (endpoint.resource_location == ResourceLocation::Customer)
        .then_some(endpoint.endpoint_name.as_deref())
        .flatten()
}

/// SageMaker Runtime in the dataset's region, through its access grant.
async fn endpoint_runtime(
    engine: &Engine,
    spec: &DatasetSpec,
) -> Result<SagemakerRuntime, ConnectorError> {
    let access = Access::of(
        spec.access_grant_role_arn.as_deref(),
        ResourceLocation::Customer,
    );
    let aws = letsdata_connectors::aws::clients(&engine.connectors, spec.region.as_str(), &access)
        .await?;
    Ok(aws.sagemaker_runtime())
}

/// The dataset's model, loaded here (unpacked from its internal copy first on a new machine).
async fn local_model(
    engine: &Engine,
    dataset: &Dataset,
) -> Result<Arc<SentenceModel>, EngineError> {
    let model = dataset.resources.sagemaker_model.as_ref().ok_or_else(|| {
        EngineError::Refused(format!(
            "dataset {:?} has no model: its initialization did not copy computeEngine.model.modelUrl",
            dataset.dataset_name
        ))
    })?;
    let refused = |e: String| EngineError::Refused(format!("the dataset's model: {e}"));
    let dir = local_dir(engine, model).await.map_err(refused)?;
    load(dir).await.map_err(refused)
}

/// Compute Engine - Wait For Create Sagemaker Endpoint Completion, for a Customer endpoint:
/// it answers one sentence with one vector.
pub(crate) async fn check_customer_endpoint(
    engine: &Engine,
    spec: &DatasetSpec,
    endpoint: &VectorsEndpoint,
) -> Result<String, StepError> {
    let Some(name) = customer_endpoint(endpoint) else {
        return Err(user("the endpoint is not a Customer endpoint"));
    };
    let runtime = endpoint_runtime(engine, spec).await?;
    let started = std::time::Instant::now();
    let vectors = runtime
        .embed(name, &[CHECK_SENTENCE.to_string()])
        .await
        .map_err(|e| {
            user(format!(
                "{e}; check that endpoint {name:?} is InService in {} and that the access grant role may call sagemaker:InvokeEndpoint on it",
                spec.region.as_str()
            ))
        })?;
    Ok(format!(
        "Customer endpoint {name:?} in service: a {}-dimension vector in {} ms",
        vectors.first().map_or(0, Vec::len),
        started.elapsed().as_millis()
    ))
}

fn model_failed(message: String) -> ConnectorError {
    ConnectorError::Io {
        what: "the vectors model".into(),
        message,
        kind: FailureKind::Internal,
    }
}

impl Vectorizer {
    /// Follows `sagemakerEndpointConcurrency` (the pool calls it as it re-reads the dataset):
    /// more permits at once; fewer as embeddings under way give theirs back.
    pub(crate) fn set_concurrency(&self, wanted: usize) {
        let mut limit = self.limit.lock().unwrap_or_else(|e| e.into_inner());
        if wanted > *limit {
            self.permits.add_permits(wanted - *limit);
            *limit = wanted;
        } else if wanted < *limit {
            *limit -= self.permits.forget_permits(*limit - wanted);
        }
    }

    /// The embeddings of `texts`, in their order (on a blocking thread, once a permit of the
    /// endpoint's concurrency is free).
    async fn embed(self: &Arc<Self>, texts: Vec<String>) -> Result<Vec<Embedding>, ConnectorError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| model_failed(e.to_string()))?;
        match &self.encoder {
            Encoder::Local(model) => {
                let model = model.clone();
                tokio::task::spawn_blocking(move || model.embed(&texts))
                    .await
                    .map_err(|e| model_failed(e.to_string()))?
                    .map_err(|e| model_failed(e.to_string()))
            }
            Encoder::Endpoint { runtime, name } => {
                let mut out = Vec::with_capacity(texts.len());
                for batch in texts.chunks(ENDPOINT_BATCH) {
                    for vector in runtime.embed(name, batch).await? {
                        // The endpoint says nothing of where it cut a text.
                        out.push(Embedding {
                            vector,
                            truncated: None,
                        });
                    }
                }
                Ok(out)
            }
        }
    }
}

/// A document of a chunk, as the reader produced it: its JSON text and its id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VectorsDoc<'a> {
    pub text: &'a [u8],
    pub id: Option<&'a str>,
}

/// What a document's texts are: (friendly name, text) pairs, or why it cannot be vectorized.
pub(crate) type Extracted = Result<Vec<(String, String)>, String>;

/// What the `SagemakerVectorsInterface` made of one document.
#[derive(Debug)]
pub(crate) enum Constructed {
    /// The document to write; without an id it keeps the reader's.
    Document {
        serialized: Vec<u8>,
        id: Option<String>,
    },
    /// An error record with this message.
    Error(String),
    /// Counted as skipped.
    Skip,
}

/// A task's `SagemakerVectorsInterface`: the built-in one (named fields in, FEATURE documents
/// out), a component's, or a Python / JavaScript handler's. A failure of one document is its
/// `Err` / [`Constructed::Error`]; an `Err` of the call ends the invocation.
#[async_trait::async_trait]
pub(crate) trait VectorsInterface: Send {
    /// `extractDocumentElementsForVectorization` for each document.
    async fn extract(&mut self, docs: &[VectorsDoc<'_>]) -> Result<Vec<Extracted>, ConnectorError>;

    /// `constructVectorDoc` for each document, with the vectors of its texts.
    async fn construct(
        &mut self,
        docs: &[VectorsDoc<'_>],
        vectors: Vec<Vec<NamedVector>>,
    ) -> Result<Vec<Constructed>, ConnectorError>;
}

/// The vectors stage of one task invocation: its interface and the dataset's model.
pub(crate) struct TaskVectors {
    model: Arc<Vectorizer>,
    interface: Box<dyn VectorsInterface>,
}

impl TaskVectors {
    pub(crate) fn new(model: Arc<Vectorizer>, interface: Box<dyn VectorsInterface>) -> Self {
        Self { model, interface }
    }

    /// What becomes of each of `docs`: their texts extracted, embedded together (batched
    /// across the documents), and their documents constructed.
    pub(crate) async fn run(
        &mut self,
        docs: &[VectorsDoc<'_>],
    ) -> Result<Vec<Constructed>, ConnectorError> {
        let extracted = self.interface.extract(docs).await?;
        if extracted.len() != docs.len() {
            return Err(model_failed(format!(
                "{} extractions for {} documents",
                extracted.len(),
                docs.len()
            )));
        }
        let mut texts = Vec::new();
        let mut names: Vec<Vec<String>> = Vec::new();
        let mut kept: Vec<VectorsDoc<'_>> = Vec::new();
        let mut out: Vec<Option<Constructed>> = Vec::with_capacity(docs.len());
        for (doc, e) in docs.iter().zip(extracted) {
            match e {
                Ok(pairs) => {
                    let mut named = Vec::with_capacity(pairs.len());
                    for (name, text) in pairs {
                        named.push(name);
                        texts.push(text);
                    }
                    names.push(named);
                    kept.push(*doc);
                    out.push(None);
                }
                Err(reason) => out.push(Some(Constructed::Error(reason))),
            }
        }
        let mut embeddings = self.model.embed(texts).await?.into_iter();
        let vectors: Vec<Vec<NamedVector>> = names
            .into_iter()
            .map(|named| {
                named
                    .into_iter()
                    .map(|name| {
                        let Embedding { vector, truncated } =
                            embeddings.next().expect("one embedding per text");
                        NamedVector {
                            name,
                            values: vector,
                            truncated: truncated.map(|t| Truncation {
                                max_tokens: t.max_tokens as u32,
                                text_tokens: t.text_tokens as u32,
                                encoded_bytes: t.encoded_bytes as u32,
                                text_bytes: t.text_bytes as u32,
                            }),
                        }
                    })
                    .collect()
            })
            .collect();
        let mut constructed = if kept.is_empty() {
            Vec::new()
        } else {
            self.interface.construct(&kept, vectors).await?
        };
        if constructed.len() != kept.len() {
            return Err(model_failed(format!(
                "{} constructed documents for {} documents",
                constructed.len(),
                kept.len()
            )));
        }
        constructed.reverse();
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| constructed.pop().expect("one per kept document")))
            .collect())
    }
}

/// The built-in `SagemakerVectorsInterface` (`computeEngine.builtinVectorsFields`): the named
/// text fields of a JSON object in, LetsData's FEATURE document out (the document, `vectors:
/// {field: [...]}`, and `vectorsTruncated` for the texts cut to the model's maximum).
pub(crate) struct BuiltinVectors {
    fields: Arc<[String]>,
}

impl BuiltinVectors {
    pub(crate) fn new(fields: &[String]) -> Self {
        Self {
            fields: fields.into(),
        }
    }

    /// The named fields' texts of the document `line`, or why it cannot be vectorized.
    fn texts_of(&self, line: &[u8]) -> Extracted {
        let doc = json_object(line)?;
        let mut texts = Vec::with_capacity(self.fields.len());
        for field in self.fields.iter() {
            let mut value: Option<&Value> = None;
            for (i, name) in field.split('.').enumerate() {
                value = match (i, value) {
                    (0, _) => doc.get(name),
                    (_, Some(Value::Object(inner))) => inner.get(name),
                    _ => None,
                };
            }
            match value {
                Some(Value::String(s)) => texts.push((field.clone(), s.clone())),
                Some(other) => {
                    return Err(format!(
                        "builtinVectorsFields names {field:?}, which is {} in this document, not text",
                        letsdata_model::json_kind(other)
                    ));
                }
                None => {
                    return Err(format!(
                        "builtinVectorsFields names {field:?}, which this document does not have"
                    ));
                }
            }
        }
        Ok(texts)
    }
}

/// A document as a JSON object, or why it is not one.
fn json_object(line: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "the vectors engine embeds fields of JSON objects; the document is {}",
            letsdata_model::json_kind(&other)
        )),
        Err(e) => Err(format!("the document is not JSON: {e}")),
    }
}

#[async_trait::async_trait]
impl VectorsInterface for BuiltinVectors {
    async fn extract(&mut self, docs: &[VectorsDoc<'_>]) -> Result<Vec<Extracted>, ConnectorError> {
        Ok(docs.iter().map(|d| self.texts_of(d.text)).collect())
    }

    async fn construct(
        &mut self,
        docs: &[VectorsDoc<'_>],
        vectors: Vec<Vec<NamedVector>>,
    ) -> Result<Vec<Constructed>, ConnectorError> {
        Ok(docs
            .iter()
            .zip(vectors)
            .map(|(d, named)| match json_object(d.text) {
                Ok(mut doc) => {
                    // The FEATURE document's own fields replace any of the same names.
                    doc.remove("vectors");
                    doc.remove("vectorsTruncated");
                    let feature = Feature {
                        doc: &doc,
                        vectors: Vectors(&named),
                        vectors_truncated: Truncated(&named),
                    };
                    Constructed::Document {
                        serialized: serde_json::to_vec(&feature).expect("a JSON object serializes"),
                        id: None,
                    }
                }
                Err(reason) => Constructed::Error(reason),
            })
            .collect())
    }
}

/// A component's `SagemakerVectorsInterface` (its instance for one task invocation); what it
/// prints goes to the task's log.
pub(crate) struct WasmVectors {
    code: letsdata_sandbox::VectorsCode,
    log: Arc<TaskLog>,
}

impl WasmVectors {
    pub(crate) fn new(code: letsdata_sandbox::VectorsCode, log: Arc<TaskLog>) -> Self {
        Self { code, log }
    }

    /// A failed call: a trap is the document's (an error record, the instance is made again
    /// for the next call); a time-out, memory limit or platform failure ends the invocation.
    fn failed(&mut self, function: &str, e: SandboxError) -> Result<String, ConnectorError> {
        crate::exec::drain_guest_log(&self.log, self.code.drain_log());
        match e {
            e @ SandboxError::Trap(_) => Ok(format!(
                "SagemakerVectorsInterface.{function} failed on this document: {e}"
            )),
            SandboxError::Host(message) => Err(ConnectorError::Io {
                what: format!("SagemakerVectorsInterface.{function}"),
                message,
                kind: FailureKind::Internal,
            }),
            other => Err(ConnectorError::Io {
                what: format!("SagemakerVectorsInterface.{function}"),
                message: other.to_string(),
                kind: FailureKind::User,
            }),
        }
    }
}

fn wasm_document(d: &VectorsDoc<'_>) -> letsdata_sandbox::VectorsDocument {
    letsdata_sandbox::VectorsDocument {
        document_id: d.id.map(str::to_string),
        serialized: String::from_utf8_lossy(d.text).into_owned(),
    }
}

#[async_trait::async_trait]
impl VectorsInterface for WasmVectors {
    async fn extract(&mut self, docs: &[VectorsDoc<'_>]) -> Result<Vec<Extracted>, ConnectorError> {
        const FUNCTION: &str = "extractDocumentElementsForVectorization";
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            out.push(match self.code.extract(&wasm_document(d)).await {
                Ok(extracted) => extracted,
                Err(e) => Err(self.failed(FUNCTION, e)?),
            });
        }
        crate::exec::drain_guest_log(&self.log, self.code.drain_log());
        Ok(out)
    }

    async fn construct(
        &mut self,
        docs: &[VectorsDoc<'_>],
        vectors: Vec<Vec<NamedVector>>,
    ) -> Result<Vec<Constructed>, ConnectorError> {
        use letsdata_sandbox::wit::Document;
        const FUNCTION: &str = "constructVectorDoc";
        let mut out = Vec::with_capacity(docs.len());
        for (d, named) in docs.iter().zip(vectors) {
            out.push(match self.code.construct(&wasm_document(d), &named).await {
                Ok(Document::Single(doc)) => Constructed::Document {
                    serialized: doc.serialized.into_bytes(),
                    id: doc.document_id,
                },
                Ok(Document::Error(doc)) => Constructed::Error(doc.error_message),
                Ok(Document::Skip(_)) => Constructed::Skip,
                Err(e) => Constructed::Error(self.failed(FUNCTION, e)?),
            });
        }
        crate::exec::drain_guest_log(&self.log, self.code.drain_log());
        Ok(out)
    }
}

/// LetsData's FEATURE document: the document, its vectors, and where texts were cut.
#[derive(serde::Serialize)]
struct Feature<'a> {
    #[serde(flatten)]
    doc: &'a Map<String, Value>,
    vectors: Vectors<'a>,
    #[serde(
        rename = "vectorsTruncated",
        skip_serializing_if = "Truncated::is_empty"
    )]
    vectors_truncated: Truncated<'a>,
}

/// `{name: [numbers]}` in the texts' order, each number as the shortest text that reads back
/// as the same `f32` (not widened to `f64`'s 17 digits).
pub(crate) struct Vectors<'a>(pub &'a [NamedVector]);

impl serde::Serialize for Vectors<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for v in self.0 {
            map.serialize_entry(&v.name, &v.values)?;
        }
        map.end()
    }
}

/// `{name: {maxTokens, textTokens, encodedBytes, textBytes}}` for the texts that were cut.
pub(crate) struct Truncated<'a>(pub &'a [NamedVector]);

impl Truncated<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|v| v.truncated.is_none())
    }
}

impl serde::Serialize for Truncated<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for v in self.0 {
            if let Some(t) = &v.truncated {
                map.serialize_entry(
                    &v.name,
                    &serde_json::json!({
                        "maxTokens": t.max_tokens,
                        "textTokens": t.text_tokens,
                        "encodedBytes": t.encoded_bytes,
                        "textBytes": t.text_bytes,
                    }),
                )?;
            }
        }
        map.end()
    }
}
