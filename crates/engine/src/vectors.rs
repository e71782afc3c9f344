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
//!   are written: [`Vectorizer::feature_docs`] turns each into LetsData's FEATURE document (the
//!   document plus `vectors: {field: [...]}`, and `vectorsTruncated` for texts cut to the
//!   model's maximum). At most `sagemakerEndpointConcurrency` chunks are embedded at once per
//!   worker process, whatever the task concurrency. A document that cannot be vectorized (not
//!   a JSON object, a named field missing or not text) becomes an error record of the same part.

use crate::workflow::StepError;
use crate::{Engine, EngineError};
use bytes::Bytes;
use letsdata_connectors::aws::Access;
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_model::archive::ArchiveFormat;
use letsdata_model::spec::{VectorsEndpoint, VectorsModel};
use letsdata_model::{Dataset, DatasetSpec, ObjectLocation, SagemakerModel};
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

/// A dataset's built-in `SagemakerVectorsInterface` with its model, for a worker's tasks.
pub(crate) struct Vectorizer {
    model: Arc<SentenceModel>,
    /// `sagemakerEndpointConcurrency`: chunks embedded at once.
    permits: Arc<tokio::sync::Semaphore>,
    /// The permits there are (handed out or not); `datasets compute update` changes it.
    limit: std::sync::Mutex<usize>,
    fields: Arc<[String]>,
}

impl std::fmt::Debug for Vectorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectorizer")
            .field("fields", &self.fields)
            .finish_non_exhaustive()
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
    let model = dataset.resources.sagemaker_model.as_ref().ok_or_else(|| {
        EngineError::Refused(format!(
            "dataset {:?} has no model: its initialization did not copy computeEngine.model.modelUrl",
            dataset.dataset_name
        ))
    })?;
    let refused = |e: String| EngineError::Refused(format!("the dataset's model: {e}"));
    let dir = local_dir(engine, model).await.map_err(refused)?;
    let loaded = load(dir).await.map_err(refused)?;
    Ok(Some(Arc::new(Vectorizer {
        model: loaded,
        permits: Arc::new(tokio::sync::Semaphore::new(
            vectors.endpoint.concurrency as usize,
        )),
        limit: std::sync::Mutex::new(vectors.endpoint.concurrency as usize),
        fields: vectors.builtin_fields.clone().into(),
    })))
}

/// What became of one document.
pub(crate) type Featured = Result<Vec<u8>, String>;

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

    /// LetsData's FEATURE documents of `docs` (JSON documents, each followed by `\n`), in
    /// their order; a document that cannot be vectorized gets the reason instead.
    pub(crate) async fn feature_docs(
        self: &Arc<Self>,
        docs: Bytes,
    ) -> Result<Vec<Featured>, ConnectorError> {
        let failed = |message: String| ConnectorError::Io {
            what: "the vectors model".into(),
            message,
            kind: FailureKind::Internal,
        };
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.feature_docs_now(&docs))
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))
    }

    fn feature_docs_now(&self, docs: &[u8]) -> Result<Vec<Featured>, letsdata_vectors::ModelError> {
        // Each document's object and texts, or why it has none.
        let mut parsed: Vec<Result<Map<String, Value>, String>> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for line in docs.split_inclusive(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            parsed.push(self.texts_of(line, &mut texts));
        }
        let mut vectors = self.model.embed(&texts)?.into_iter();
        let mut out = Vec::with_capacity(parsed.len());
        for doc in parsed {
            out.push(doc.map(|mut doc| {
                let mut named = Vec::with_capacity(self.fields.len());
                let mut cut = Map::new();
                for field in self.fields.iter() {
                    let Embedding { vector, truncated } =
                        vectors.next().expect("one vector per text");
                    if let Some(t) = truncated {
                        cut.insert(
                            field.clone(),
                            serde_json::json!({
                                "maxTokens": t.max_tokens,
                                "textTokens": t.text_tokens,
                                "encodedBytes": t.encoded_bytes,
                                "textBytes": t.text_bytes,
                            }),
                        );
                    }
                    named.push((field.as_str(), vector));
                }
                // The FEATURE document's own fields replace any of the same names.
                doc.remove("vectors");
                doc.remove("vectorsTruncated");
                let feature = Feature {
                    doc: &doc,
                    vectors: Vectors(&named),
                    vectors_truncated: &cut,
                };
                serde_json::to_vec(&feature).expect("a JSON object serializes")
            }));
        }
        Ok(out)
    }

    /// The document `line` as an object, its named fields' texts appended to `texts`; or why
    /// it cannot be vectorized (nothing appended then).
    fn texts_of(&self, line: &[u8], texts: &mut Vec<String>) -> Result<Map<String, Value>, String> {
        let doc: Map<String, Value> = match serde_json::from_slice(line) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(format!(
                    "the vectors engine embeds fields of JSON objects; the document is {}",
                    letsdata_model::json_kind(&other)
                ));
            }
            Err(e) => return Err(format!("the document is not JSON: {e}")),
        };
        let start = texts.len();
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
                Some(Value::String(s)) => texts.push(s.clone()),
                Some(other) => {
                    texts.truncate(start);
                    return Err(format!(
                        "builtinVectorsFields names {field:?}, which is {} in this document, not text",
                        letsdata_model::json_kind(other)
                    ));
                }
                None => {
                    texts.truncate(start);
                    return Err(format!(
                        "builtinVectorsFields names {field:?}, which this document does not have"
                    ));
                }
            }
        }
        Ok(doc)
    }
}

/// LetsData's FEATURE document: the document, its vectors, and where texts were cut.
#[derive(serde::Serialize)]
struct Feature<'a> {
    #[serde(flatten)]
    doc: &'a Map<String, Value>,
    vectors: Vectors<'a>,
    #[serde(rename = "vectorsTruncated", skip_serializing_if = "Map::is_empty")]
    vectors_truncated: &'a Map<String, Value>,
}

/// `{field: [numbers]}` in the fields' order, each number as the shortest text that reads back
/// as the same `f32` (not widened to `f64`'s 17 digits).
struct Vectors<'a>(&'a [(&'a str, Vec<f32>)]);

impl serde::Serialize for Vectors<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, vector) in self.0 {
            map.serialize_entry(name, vector)?;
        }
        map.end()
    }
}
