//! Runs user implementations: WebAssembly components that implement LetsData's parser and
//! reader interfaces (`wit/letsdata.wit`), under the dataset's memory and time limits.
//!
//! - [`Sandbox`] owns the wasmtime engine (shared by every task of the process), compiles
//!   components (cached on disk by content hash, so restarts do not recompile) and checks a
//!   component's exports against the dataset's `readerType` ([`Interface`]).
//! - [`FileParser`] and [`StateMachine`] are one task's instance of a component: created once
//!   per task invocation, reused for every record, re-created after a trap.
//! - A `SingleFileParser`'s batch results cross the boundary flat (`parsed-documents`: one
//!   byte list of strings, fixed-size entries) and are checked once into a [`ParsedBatch`],
//!   whose results borrow from it.
//! - Isolation: no filesystem, network, environment variables or arguments; the clocks read
//!   the Unix epoch; stdout/stderr go to a bounded buffer drained into the task log.
//!   `memoryLimitInMegabytes` caps the guest's memories; each call is bounded by the
//!   invocation's deadline with epoch interruption (a 10 ms tick).
//!
//! Calls are async: guest code runs on a fiber on the calling task's thread and yields to the
//! runtime at every epoch tick, so a long call neither blocks the worker thread's other tasks
//! nor needs a thread of its own; a state-machine reader's request for more of a file awaits
//! the read ([`FileCursor::fill`]).

mod batch;
mod bindings;
mod cursor;
mod error;
mod instance;
mod interface;
mod log;
mod vectors;

pub use batch::{DocumentKind, ParsedBatch, ParsedDocument};
pub use cursor::{CursorHandle, FileCursor, NextRecord};
pub use error::SandboxError;
pub use instance::{FileParser, Limits, StateMachine};
pub use interface::{Interface, InterfaceKind, RecordReader};
pub use vectors::{NamedVector, Truncation, VectorsCode, VectorsDocument};

/// The interface types, as the host sees them.
pub mod wit {
    pub use crate::bindings::single_file_reader::letsdata::data::types::{
        CompositeDoc, Document, ErrorDoc, ParseCompositeDocumentResult, ParseDocumentResult,
        ParseDocumentResultStatus, RecordHintType, RecordParseHint, RecordSpan, SingleDoc,
        SingleFileReaderState, SkipDoc,
    };
    pub use crate::bindings::single_file_state_machine::letsdata::data::system_file_reader::FileRecord;
}

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;
use wasmtime::{Config, Engine};

/// The WIT package user components implement.
pub const WIT_PACKAGE: &str = "letsdata:data@0.1.0";

/// `LETSDATA_WASM_PROFILER=perfmap` writes `/tmp/perf-<pid>.map` so `perf` can name the
/// functions of user code.
pub const PROFILER_ENV: &str = "LETSDATA_WASM_PROFILER";

/// How often the epoch advances: the granularity of time limits.
const TICK: Duration = Duration::from_millis(10);

/// A compiled component.
#[derive(Clone)]
pub struct Code {
    pub(crate) component: Component,
    sha256: String,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Code")
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl Code {
    /// The sha256 of the component's bytes (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The process's wasmtime engine, compiled-code cache and epoch ticker.
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) engine: Engine,
    cache_dir: PathBuf,
    /// Compiled components of this process, by sha256.
    loaded: Arc<Mutex<HashMap<String, Code>>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl Sandbox {
    /// A sandbox that caches compiled components in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Result<Self, SandboxError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        match std::env::var_os(PROFILER_ENV) {
            // `perf record` then names guest functions (from /tmp/perf-<pid>.map).
            Some(v) if v == "perfmap" => {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            Some(v) => tracing::warn!(
                "{PROFILER_ENV}={} is not a profiler letsdata knows; use perfmap (ignored)",
                v.to_string_lossy()
            ),
            None => {}
        }
        let engine = Engine::new(&config).map_err(|e| SandboxError::Invalid(format!("{e:#}")))?;
        // The ticker stops when the last clone of the engine is gone.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("letsdata-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| SandboxError::Instantiate(format!("starting the epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            cache_dir: cache_dir.to_path_buf(),
            loaded: Arc::default(),
        })
    }

    fn cache_path(&self, sha256: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        self.cache_dir
            .join(format!("{sha256}-{:016x}.cwasm", h.finish()))
    }

    /// The code with this sha256, if this process has loaded it already.
    pub fn cached(&self, sha256: &str) -> Option<Code> {
        self.lock_loaded().get(sha256).cloned()
    }

    /// Compiles `wasm` (a component), or loads it from the cache. Returns the code and
    /// whether it was compiled now (false = cached).
    pub fn load(&self, wasm: &[u8]) -> Result<(Code, bool), SandboxError> {
        let sha256 = sha256_hex(wasm);
        if let Some(code) = self.lock_loaded().get(&sha256) {
            return Ok((code.clone(), false));
        }
        let path = self.cache_path(&sha256);
        if path.exists() {
            match self.deserialize(&path) {
                Ok(component) => {
                    let code = Code { component, sha256 };
                    self.lock_loaded().insert(code.sha256.clone(), code.clone());
                    return Ok((code, false));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiled code cache entry unusable; recompiling");
                }
            }
        }
        if wasmparser_is_core_module(wasm) {
            return Err(SandboxError::Invalid(
                "this is a core WebAssembly module, not a component; build it with `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)".into(),
            ));
        }
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| SandboxError::Invalid(format!("{e:#}")))?;
        if let Err(e) = self.store_compiled(&component, &path) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled component");
        }
        let code = Code { component, sha256 };
        self.lock_loaded().insert(code.sha256.clone(), code.clone());
        Ok((code, true))
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, HashMap<String, Code>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, path: &Path) -> Result<Component, SandboxError> {
        // SAFETY: the file is one this process's `store_compiled` wrote into letsdata's own
        // cache directory (named by the component's sha256 and the engine's compatibility
        // hash, written to a temporary name and renamed into place), so it holds code
        // compiled by a compatible wasmtime from a validated component.
        unsafe { Component::deserialize_file(&self.engine, path) }
            .map_err(|e| SandboxError::Cache(format!("{e:#}")))
    }

    fn store_compiled(&self, component: &Component, path: &Path) -> Result<(), SandboxError> {
        let bytes = component
            .serialize()
            .map_err(|e| SandboxError::Cache(format!("{e:#}")))?;
        std::fs::create_dir_all(&self.cache_dir)
            .map_err(|e| SandboxError::Cache(format!("{}: {e}", self.cache_dir.display())))?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| SandboxError::Cache(format!("{}: {e}", path.display())))
    }

    /// Checks that `code` exports `interface` with all its functions. The error names the
    /// missing export and how to add it.
    pub fn check_exports(&self, code: &Code, interface: Interface) -> Result<(), SandboxError> {
        let ty = code.component.component_type();
        let wanted = interface.export_name();
        let exports: Vec<(String, ComponentItem)> = ty
            .exports(&self.engine)
            .map(|(name, item)| (name.to_string(), item.ty))
            .collect();
        let Some((_, item)) = exports.iter().find(|(name, _)| *name == wanted) else {
            let found: Vec<&str> = exports
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| !n.starts_with("wasi:"))
                .collect();
            return Err(SandboxError::MissingExport(format!(
                "the implementation does not export {wanted} (LetsData {}), which {} needs; it exports {}. Implement the trait and export it with {}",
                interface.letsdata_name(),
                if interface == Interface::SagemakerVectorsInterface {
                    "computeEngineType LAMBDA_AND_SAGEMAKER without computeEngine.builtinVectorsFields"
                } else {
                    "readerType"
                },
                if found.is_empty() {
                    "nothing".to_string()
                } else {
                    found.join(", ")
                },
                interface.sdk_hint()
            )));
        };
        let ComponentItem::ComponentInstance(instance) = item else {
            return Err(SandboxError::MissingExport(format!(
                "the implementation exports {wanted} but not as an interface instance"
            )));
        };
        let functions: Vec<String> = instance
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        for f in interface.functions() {
            if !functions.iter().any(|n| n == f) {
                return Err(SandboxError::MissingExport(format!(
                    "the implementation's {wanted} has no function {f}; rebuild it against letsdata's wit/letsdata.wit ({WIT_PACKAGE})"
                )));
            }
        }
        Ok(())
    }
}

/// A core module starts with the version word 1; a component with a different layer.
fn wasmparser_is_core_module(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && wasm[..4] == *b"\0asm" && wasm[4..8] == [1, 0, 0, 0]
}
