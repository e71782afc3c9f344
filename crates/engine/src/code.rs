//! User code: the implementation artifact (a WebAssembly component), its content-addressed
//! internal copy, the dataset's code snapshot, the code build, and `datasets code update`.
//!
//! - **Internal copy**: the component at `artifactFileS3Link` is copied to
//!   `s3://<artifact bucket>/sha256/<hex>.wasm` (`LETSDATA_ARTIFACT_BUCKET`, default
//!   `letsdata-artifacts`; a local directory in the embedded mode). The copy is immutable, so
//!   the dataset's snapshot is just its sha256: reruns and redrives run the same code even
//!   if the user's object changes.
//! - **Code build**: the component is compiled (wasmtime, cached on disk by sha256 under
//!   `$LETSDATA_HOME/cache/compiled`, so later tasks and restarts do not recompile) and its
//!   exports checked against the interface `readerType` needs.
//! - **Code update**: the same steps for a new artifact while the dataset is PROCESSING,
//!   COMPLETED or ERRORED (status UPDATING meanwhile); tasks that run afterwards (remaining,
//!   rerun or redriven) use the new code.

use crate::datasets::{DatasetConnectors, spec_of, transition};
use crate::workflow::{self, Record, RetryPolicy, Step, StepError, WorkflowError};
use crate::{Engine, EngineError};
use bytes::Bytes;
use letsdata_connectors::ConnectorError;
use letsdata_connectors::aws::Access;
use letsdata_connectors::s3::ObjectStores;
use letsdata_connectors::source::ReadSource;
use letsdata_model::archive::ArchiveFormat;
use letsdata_model::dataset::{CodeArtifact, DatasetCode};
use letsdata_model::spec::{CodeLanguage, Implementation, UserCode};
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, DatasetSpec, ObjectLocation};
use letsdata_sandbox::{Code, Interface, Sandbox, SandboxError};
use serde_json::Value;
use std::sync::Mutex;

/// Default bucket of the internal artifact copies.
pub(crate) const DEFAULT_ARTIFACT_BUCKET: &str = "letsdata-artifacts";

/// Largest component accepted (the artifact is read into memory to hash and compile it).
const MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) const STEP_ARTIFACT_COPY: &str = "Implementation Artifact - Create Internal Copy";
pub(crate) const STEP_CODE_SNAPSHOT: &str = "Create Dataset Code Snapshot";
pub(crate) const STEP_CODE_BUILD: &str = "Create Dataset Code Builds";

/// The interface a Wasm implementation of this read connector must export.
pub(crate) fn interface(source: &dyn ReadSource) -> Result<Interface, EngineError> {
    let name = source.wasm_interface();
    Interface::from_letsdata_name(name).ok_or_else(|| {
        EngineError::Corrupt(format!(
            "the read connector asks for the interface {name}, which the sandbox does not know"
        ))
    })
}

/// The user code of a spec, if it has any.
pub(crate) fn artifact_of(spec: &DatasetSpec) -> Option<&UserCode> {
    match spec.read_connector.implementation() {
        Implementation::Code(code) => Some(code),
        Implementation::Builtin(_) => None,
    }
}

/// The handler language of user code run by an interpreter.
pub(crate) fn handler_language(language: CodeLanguage) -> Option<letsdata_lambda::Language> {
    match language {
        CodeLanguage::Python => Some(letsdata_lambda::Language::Python),
        CodeLanguage::Javascript => Some(letsdata_lambda::Language::Javascript),
        CodeLanguage::Wasm => None,
    }
}

/// A code step's failure.
#[derive(Debug)]
pub(crate) struct CodeError {
    pub message: String,
    /// A retry may help (the store or a bucket was unavailable).
    pub retryable: bool,
}

impl From<ConnectorError> for CodeError {
    fn from(e: ConnectorError) -> Self {
        Self {
            retryable: e.kind() == letsdata_connectors::FailureKind::Transient,
            message: e.to_string(),
        }
    }
}

impl From<letsdata_lambda::BuildError> for CodeError {
    fn from(e: letsdata_lambda::BuildError) -> Self {
        Self {
            retryable: false,
            message: e.to_string(),
        }
    }
}

impl From<SandboxError> for CodeError {
    fn from(e: SandboxError) -> Self {
        Self {
            retryable: false,
            message: e.to_string(),
        }
    }
}

impl From<CodeError> for StepError {
    fn from(e: CodeError) -> Self {
        Self {
            message: e.message,
            retryable: e.retryable,
        }
    }
}

impl From<EngineError> for CodeError {
    fn from(e: EngineError) -> Self {
        let e = StepError::from(e);
        Self {
            message: e.message,
            retryable: e.retryable,
        }
    }
}

fn user(message: impl Into<String>) -> CodeError {
    CodeError {
        message: message.into(),
        retryable: false,
    }
}

impl Engine {
    /// The process's sandbox (created on first use).
    pub(crate) fn sandbox(&self) -> Result<Sandbox, SandboxError> {
        if let Some(s) = self.sandbox.get() {
            return Ok(s.clone());
        }
        let created = Sandbox::new(&self.home.join("cache").join("compiled"))?;
        Ok(self.sandbox.get_or_init(|| created).clone())
    }

    /// Where this machine builds Python and JavaScript code versions.
    pub(crate) fn handler_builds(&self) -> letsdata_lambda::Builds {
        letsdata_lambda::Builds::new(self.home.join("cache"))
    }

    pub(crate) fn artifact_bucket(&self) -> String {
        std::env::var("LETSDATA_ARTIFACT_BUCKET")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ARTIFACT_BUCKET.to_string())
    }
}

/// Copies the artifact into the content-addressed store. Returns its snapshot entry. A
/// `Customer` artifact is read through the dataset's access grant (`role_arn`).
pub(crate) async fn copy_artifact(
    engine: &Engine,
    artifact: &UserCode,
    role_arn: Option<&str>,
    interface: Interface,
) -> Result<CodeArtifact, CodeError> {
    let link = artifact.link();
    let customer = engine
        .connectors
        .objects_as(&Access::of(role_arn, artifact.resource_location))
        .await?;
    let source = customer.bucket(&artifact.bucket)?;
    if !customer.bucket_exists(&artifact.bucket).await? {
        return Err(user(format!(
            "artifactFileS3Link {link}: bucket {:?} does not exist; upload the component there or fix the link",
            artifact.bucket
        )));
    }
    // The size is checked before the artifact is read (a huge one is never loaded).
    let bytes = match source.read_at_most(&artifact.key, MAX_ARTIFACT_BYTES).await {
        Ok(Ok(b)) => b,
        Ok(Err(size)) => {
            return Err(user(format!(
                "artifactFileS3Link {link} is {} MB; implementations may be at most {} MB",
                size >> 20,
                MAX_ARTIFACT_BYTES >> 20
            )));
        }
        Err(ConnectorError::ObjectNotFound { .. }) => {
            return Err(user(match artifact.language {
                CodeLanguage::Wasm => format!(
                    "artifactFileS3Link {link} does not exist; build the component (cargo build --release --target wasm32-wasip2) and upload the .wasm file there"
                ),
                language => format!(
                    "artifactFileS3Link {link} does not exist; pack your {language} project directory as a .zip or .tar.gz and upload it there"
                ),
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let extension = match artifact.language {
        CodeLanguage::Wasm => {
            if !bytes.starts_with(b"\0asm") {
                return Err(user(format!(
                    "artifactFileS3Link {link} is not a WebAssembly file (it does not start with \\0asm); upload the .wasm component built for wasm32-wasip2"
                )));
            }
            "wasm"
        }
        language => {
            let format = ArchiveFormat::of(&artifact.key).ok_or_else(|| {
                user(format!(
                    "artifactFileS3Link {link} is not a .zip or .tar.gz"
                ))
            })?;
            let magic_ok = match format {
                ArchiveFormat::Zip => {
                    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
                }
                ArchiveFormat::TarGz => bytes.starts_with(&[0x1f, 0x8b]),
            };
            if !magic_ok {
                return Err(user(format!(
                    "artifactFileS3Link {link} is not a {} archive (its first bytes say otherwise); pack your {language} project directory with zip or tar -czf",
                    format.extension()
                )));
            }
            format.extension()
        }
    };
    let sha256 = letsdata_sandbox::sha256_hex(&bytes);
    let bucket_name = engine.artifact_bucket();
    if !engine.objects().bucket_exists(&bucket_name).await? {
        engine.objects().create_bucket(&bucket_name).await?;
    }
    let key = format!("sha256/{sha256}.{extension}");
    let internal = engine.objects().bucket(&bucket_name)?;
    if !internal.exists(&key).await? {
        internal.put(&key, bytes.clone()).await?;
    }
    Ok(CodeArtifact {
        sha256,
        artifact_file_s3_link: link,
        internal_copy: format!("s3://{bucket_name}/{key}"),
        size_bytes: bytes.len() as u64,
        interface: interface.letsdata_name().to_string(),
        activated_datetime: now_millis(),
    })
}

/// Where a snapshot's internal copy is.
fn snapshot_location(artifact: &CodeArtifact) -> Result<ObjectLocation, CodeError> {
    ObjectLocation::parse_s3_link(&artifact.internal_copy)
        .map_err(|e| user(format!("internal copy {}: {e}", artifact.internal_copy)))
}

/// A snapshot's internal copy at `location`, checked against the snapshot's sha256.
async fn read_snapshot(
    objects: &ObjectStores,
    artifact: &CodeArtifact,
    location: &ObjectLocation,
) -> Result<Bytes, CodeError> {
    let bytes = read_copy(objects, location).await?;
    let sha = letsdata_sandbox::sha256_hex(&bytes);
    if sha != artifact.sha256 {
        return Err(user(format!(
            "the internal copy {} has sha256 {sha}, not {}: it was modified; run `letsdata datasets code update` with the artifact again",
            artifact.internal_copy, artifact.sha256
        )));
    }
    Ok(bytes)
}

/// Reads the internal copy of an artifact (never more than an artifact may hold).
async fn read_copy(objects: &ObjectStores, location: &ObjectLocation) -> Result<Bytes, CodeError> {
    match objects
        .bucket(&location.bucket)?
        .read_at_most(&location.key, MAX_ARTIFACT_BYTES)
        .await?
    {
        Ok(bytes) => Ok(bytes),
        Err(size) => Err(user(format!(
            "the internal copy s3://{}/{} is {} MB, more than an artifact may be ({} MB)",
            location.bucket,
            location.key,
            size >> 20,
            MAX_ARTIFACT_BYTES >> 20
        ))),
    }
}

/// Loads (compiling if needed) a snapshot's code and checks it implements `interface`.
/// Returns the code and a note on whether it was compiled or cached.
pub(crate) async fn build(
    sandbox: &Sandbox,
    objects: &ObjectStores,
    artifact: &CodeArtifact,
    interface: Interface,
) -> Result<(Code, String), CodeError> {
    let location = snapshot_location(artifact)?;
    let bytes = read_snapshot(objects, artifact, &location).await?;
    let started = std::time::Instant::now();
    let sb = sandbox.clone();
    let (code, compiled) = tokio::task::spawn_blocking(move || sb.load(&bytes))
        .await
        .map_err(|e| user(format!("compiling the component panicked: {e}")))??;
    sandbox.check_exports(&code, interface)?;
    let note = if compiled {
        format!(
            "compiled in {} ms; exports {}",
            started.elapsed().as_millis(),
            interface.export_name()
        )
    } else {
        format!("compiled code cached; exports {}", interface.export_name())
    };
    Ok((code, note))
}

/// The code build step for user code of `language`: a component is compiled and its exports
/// checked; a Python or JavaScript project is unpacked, its dependencies installed and its
/// handler loaded once. Returns what was done.
pub(crate) async fn build_code(
    engine: &Engine,
    artifact: &CodeArtifact,
    language: CodeLanguage,
    (interface, spec): (Interface, &DatasetSpec),
) -> Result<String, CodeError> {
    let Some(handler) = handler_language(language) else {
        let sandbox = engine.sandbox().map_err(|e| user(e.to_string()))?;
        let (code, mut note) = build(&sandbox, engine.objects(), artifact, interface).await?;
        if runs_vectors_code(spec) {
            let vectors = Interface::SagemakerVectorsInterface;
            sandbox.check_exports(&code, vectors)?;
            note.push_str(&format!(" and {}", vectors.export_name()));
        }
        return Ok(note);
    };
    let builds = engine.handler_builds();
    let built = build_handler(&builds, engine.objects(), artifact, handler).await?;
    // The handler must load (its imports resolve, its module defines the handler).
    let scratch = engine
        .home
        .join("scratch")
        .join(format!("build-{}", &artifact.sha256[..16]));
    let options = letsdata_lambda::StartOptions {
        scratch_dir: scratch.clone(),
        function_name: "letsdata-code-build".into(),
        function_arn: String::new(),
        memory_megabytes: 0,
        log_level: "WARN".into(),
        stage: "Prod".into(),
        env: Vec::new(),
        deadline: std::time::Instant::now() + LOAD_CHECK_TIME,
    };
    let started = std::time::Instant::now();
    let loaded = letsdata_lambda::Handler::start(&built, &options).await;
    let _ = std::fs::remove_dir_all(&scratch);
    match loaded {
        Ok(mut h) => {
            h.stop().await;
            Ok(format!(
                "{}; {} loads in {} ms ({} {})",
                built.note,
                handler.handler(),
                started.elapsed().as_millis(),
                language,
                interface.letsdata_name()
            ))
        }
        Err(e) => Err(user(format!(
            "{e}; fix the project and run `letsdata datasets code update`"
        ))),
    }
}

/// Whether the dataset's user code implements `SagemakerVectorsInterface` for the vectors
/// engine (no `builtinVectorsFields`).
pub(crate) fn runs_vectors_code(spec: &DatasetSpec) -> bool {
    spec.compute_engine
        .vectors
        .as_ref()
        .is_some_and(|v| v.builtin_fields.is_none())
}

/// How long loading a handler may take when its build is checked.
const LOAD_CHECK_TIME: std::time::Duration = std::time::Duration::from_secs(120);

/// Builds (or finds built) the Python or JavaScript project of a snapshot on this machine.
pub(crate) async fn build_handler(
    builds: &letsdata_lambda::Builds,
    objects: &ObjectStores,
    artifact: &CodeArtifact,
    language: letsdata_lambda::Language,
) -> Result<letsdata_lambda::Built, CodeError> {
    if let Some(built) = builds.existing(language, &artifact.sha256) {
        return Ok(built);
    }
    let location = snapshot_location(artifact)?;
    let format = ArchiveFormat::of(&location.key).ok_or_else(|| {
        user(format!(
            "the internal copy {} is not a .zip or .tar.gz",
            artifact.internal_copy
        ))
    })?;
    let bytes = read_snapshot(objects, artifact, &location).await?;
    let (builds, sha) = (builds.clone(), artifact.sha256.clone());
    tokio::task::spawn_blocking(move || builds.build(language, &sha, &bytes, format))
        .await
        .map_err(|e| user(format!("building the project panicked: {e}")))?
        .map_err(CodeError::from)
}

/// Loads the code tasks of `dataset` run now.
pub(crate) async fn current_code(
    sandbox: &Sandbox,
    objects: &ObjectStores,
    dataset: &Dataset,
    interface: Interface,
) -> Result<Code, String> {
    let Some(code) = &dataset.code else {
        return Err(
            "the dataset has no code snapshot (its initialization did not copy the implementation)"
                .into(),
        );
    };
    if let Some(loaded) = sandbox.cached(&code.current.sha256) {
        return Ok(loaded);
    }
    build(sandbox, objects, &code.current, interface)
        .await
        .map(|(c, _)| c)
        .map_err(|e| e.message)
}

/// What `datasets code update` did.
#[derive(Debug, Clone)]
pub struct CodeUpdateOutcome {
    pub dataset: Dataset,
    /// The update failed (the dataset keeps its previous code); says why.
    pub error: Option<String>,
}

/// The steps of a code update.
#[derive(Debug, Clone, Copy)]
enum UpdateStep {
    ArtifactCopy,
    CodeBuild,
}

impl Step for UpdateStep {
    fn name(&self) -> &str {
        match self {
            Self::ArtifactCopy => STEP_ARTIFACT_COPY,
            Self::CodeBuild => STEP_CODE_BUILD,
        }
    }

    fn retry(&self) -> RetryPolicy {
        // The user is waiting for the answer; they run the command again.
        RetryPolicy::ONCE
    }
}

/// Checks that the internal copy of `artifact` is intact.
pub(crate) async fn verify_copy(engine: &Engine, artifact: &CodeArtifact) -> Result<(), CodeError> {
    let location =
        ObjectLocation::parse_s3_link(&artifact.internal_copy).map_err(|e| user(e.to_string()))?;
    let bytes = read_copy(engine.objects(), &location).await?;
    if letsdata_sandbox::sha256_hex(&bytes) != artifact.sha256 {
        return Err(user(format!(
            "the internal copy {} does not match sha256 {}",
            artifact.internal_copy, artifact.sha256
        )));
    }
    Ok(())
}

impl Engine {
    /// `datasets code update`: copies, builds and activates a new implementation.
    pub async fn update_code(
        &self,
        dataset_name: &str,
        artifact_link: &str,
        resource_location: Option<&str>,
    ) -> Result<CodeUpdateOutcome, EngineError> {
        // Validate the new link like a configuration, before anything changes.
        let mut candidate = self.dataset(dataset_name).await?;
        if candidate.code.is_none() {
            return Err(EngineError::Refused(format!(
                "dataset {dataset_name:?} has no user code (artifactImplementationLanguage is Builtin); its code cannot be updated"
            )));
        }
        set_artifact(&mut candidate, artifact_link, resource_location);
        let spec = spec_of(self, &candidate)?;
        let Some(artifact) = artifact_of(&spec).cloned() else {
            return Err(EngineError::Refused(
                "the dataset's implementation is not user code".into(),
            ));
        };
        let interface = interface(DatasetConnectors::of(&spec)?.source.as_ref())?;

        // UPDATING, with a new workflow entry.
        let steps = [UpdateStep::ArtifactCopy, UpdateStep::CodeBuild];
        let mut previous = None;
        let dataset = transition(
            self,
            &candidate.dataset_id,
            DatasetAction::UpdateCode,
            None,
            |d, from| {
                previous = Some(from);
                let mut workflow = serde_json::Map::new();
                workflow.insert("requestDatetime".into(), now_millis().into());
                workflow.insert("artifactFileS3Link".into(), artifact.link().into());
                d.code_update_workflows.push(workflow);
                Record::CodeUpdate.declare(d, steps.iter().map(|s| s.name()));
            },
        )
        .await?;
        let id = dataset.dataset_id.clone();

        let copied: Mutex<Option<CodeArtifact>> = Mutex::new(None);
        let role_arn = spec.access_grant_role_arn.as_deref();
        let spec = &spec;
        let result = workflow::run(self, &id, &Record::CodeUpdate, &steps, |step| {
            let (copied, artifact, step) = (&copied, &artifact, *step);
            async move {
                match step {
                    UpdateStep::ArtifactCopy => {
                        let new = copy_artifact(self, artifact, role_arn, interface).await?;
                        let message = format!(
                            "sha256 {} ({} bytes) → {}",
                            new.sha256, new.size_bytes, new.internal_copy
                        );
                        *copied.lock().expect("copied artifact lock") = Some(new);
                        Ok(message)
                    }
                    UpdateStep::CodeBuild => {
                        let new = copied
                            .lock()
                            .expect("copied artifact lock")
                            .clone()
                            .ok_or_else(|| StepError::user("the artifact was not copied"))?;
                        Ok(build_code(self, &new, artifact.language, (interface, spec)).await?)
                    }
                }
            }
        })
        .await;
        let error = match result {
            Ok(_) => None,
            Err(WorkflowError::Step { message, .. }) => Some(message),
            Err(WorkflowError::Engine(e)) => Some(e.to_string()),
        };
        let new = copied.into_inner().expect("copied artifact lock");
        let dataset = transition(self, &id, DatasetAction::FinishUpdate, previous, |d, _| {
            if error.is_some() {
                return;
            }
            if let (Some(new), Some(code)) = (&new, &mut d.code) {
                if code.current.sha256 != new.sha256 {
                    let old = std::mem::replace(&mut code.current, new.clone());
                    code.previous.insert(0, old);
                } else {
                    code.current.artifact_file_s3_link = new.artifact_file_s3_link.clone();
                }
            }
            set_artifact(d, artifact_link, resource_location);
        })
        .await?;
        Ok(CodeUpdateOutcome { dataset, error })
    }

    /// `datasets code view`: the current and previous implementations.
    pub async fn code_view(&self, dataset_name: &str) -> Result<Value, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        let Some(code) = &dataset.code else {
            return Err(EngineError::Refused(format!(
                "dataset {dataset_name:?} has no user code (artifactImplementationLanguage is Builtin)"
            )));
        };
        let mut out = serde_json::Map::new();
        out.insert("datasetName".into(), dataset.dataset_name.clone().into());
        out.insert(
            "datasetStatus".into(),
            dataset.dataset_status.to_string().into(),
        );
        out.insert(
            "current".into(),
            serde_json::to_value(&code.current).unwrap_or(Value::Null),
        );
        out.insert(
            "previous".into(),
            serde_json::to_value(&code.previous).unwrap_or(Value::Null),
        );
        out.insert(
            "codeUpdateWorkflows".into(),
            serde_json::to_value(&dataset.code_update_workflows).unwrap_or(Value::Null),
        );
        Ok(Value::Object(out))
    }
}

/// Sets `readConnector.artifactFileS3Link` (and its location) in the stored configuration.
fn set_artifact(dataset: &mut Dataset, link: &str, location: Option<&str>) {
    if let Some(Value::Object(read)) = dataset.config.get_mut("readConnector") {
        read.insert("artifactFileS3Link".into(), link.into());
        if let Some(l) = location {
            read.insert("artifactFileS3LinkResourceLocation".into(), l.into());
        }
    }
}

/// The snapshot for a dataset whose artifact was just copied.
pub(crate) fn snapshot(artifact: CodeArtifact) -> DatasetCode {
    DatasetCode {
        current: artifact,
        previous: Vec::new(),
    }
}
