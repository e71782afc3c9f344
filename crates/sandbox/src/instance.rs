//! One task's instance of a user component, with its limits.

use crate::batch::ParsedBatch;
use crate::bindings::multiple_file_state_machine::MultipleFileStateMachine;
use crate::bindings::single_file_reader::SingleFileReader;
use crate::bindings::single_file_state_machine::SingleFileStateMachine;
use crate::bindings::single_file_state_machine::letsdata::data::system_file_reader as sfr_host;
use crate::cursor::{CursorHandle, FileCursor, NextRecord};
use crate::log::LogPipe;
use crate::wit::{
    FileRecord, ParseCompositeDocumentResult, RecordParseHint, RecordSpan, SingleFileReaderState,
};
use crate::{Code, Sandbox, SandboxError};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

/// The limits of one task invocation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `memoryLimitInMegabytes`: the most memory the guest may have.
    pub memory_megabytes: u64,
    /// `timeoutInSeconds`: reported in the error when a call runs past `deadline`.
    pub timeout: Duration,
    /// When the invocation's time is up; every call must return before it.
    pub deadline: Instant,
}

/// Denies memory growth beyond the limit and remembers that it did.
struct MemoryLimiter {
    max_bytes: usize,
    denied: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.denied = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// Clocks that always read the Unix epoch: user code gets no clock.
struct EpochClock;

impl HostWallClock for EpochClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for EpochClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The store's data: WASI (restricted), resources, limits, output, file cursors.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: LogPipe,
    cursors: Vec<Box<dyn FileCursor>>,
    /// A platform call failed (the trap that follows is not the guest's fault).
    host_error: Option<String>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::bindings::single_file_reader::letsdata::data::types::Host for HostState {}

impl sfr_host::Host for HostState {}

impl HostState {
    fn cursor(&mut self, handle: &Resource<CursorHandle>) -> wasmtime::Result<usize> {
        Ok(self.table.get(handle)?.index)
    }

    /// Fails the guest's call because the platform failed (not the guest's fault).
    fn platform_failed(&mut self, message: String) -> wasmtime::Error {
        self.host_error = Some(message.clone());
        wasmtime::Error::msg(message)
    }
}

impl sfr_host::HostSystemFileReader for HostState {
    async fn next_record_bytes(
        &mut self,
        handle: Resource<CursorHandle>,
        record_type: String,
        start: RecordParseHint,
        end: RecordParseHint,
        peek: bool,
    ) -> wasmtime::Result<Option<FileRecord>> {
        let i = self.cursor(&handle)?;
        loop {
            match self.cursors[i].next_record(&record_type, &start, &end, peek) {
                Ok(NextRecord::Record(r)) => return Ok(r),
                Ok(NextRecord::NeedInput) => {
                    if let Err(message) = self.cursors[i].fill().await {
                        return Err(self.platform_failed(message));
                    }
                }
                Err(message) => return Err(self.platform_failed(message)),
            }
        }
    }

    fn get_state(
        &mut self,
        handle: Resource<CursorHandle>,
    ) -> wasmtime::Result<SingleFileReaderState> {
        let i = self.cursor(&handle)?;
        Ok(self.cursors[i].state())
    }

    fn get_offset_bytes(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<String> {
        let i = self.cursor(&handle)?;
        Ok(self.cursors[i].offset().to_string())
    }

    fn get_file_type(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<String> {
        let i = self.cursor(&handle)?;
        Ok(self.cursors[i].file_type().to_string())
    }

    fn get_file_name(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<String> {
        let i = self.cursor(&handle)?;
        Ok(self.cursors[i].file_name().to_string())
    }

    fn get_last_record_type(
        &mut self,
        handle: Resource<CursorHandle>,
    ) -> wasmtime::Result<Option<String>> {
        let i = self.cursor(&handle)?;
        Ok(self.cursors[i].last_record_type().map(str::to_string))
    }

    fn drop(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

/// A store with the task's limits and the call wrapper shared by every instance kind.
pub(crate) struct Session {
    sandbox: Sandbox,
    pub(crate) code: Code,
    limits: Limits,
    pub(crate) store: Store<HostState>,
    /// The last call trapped: the instance must be re-created before the next call.
    pub(crate) broken: bool,
}

impl Session {
    pub(crate) fn new(
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
        cursors: Vec<Box<dyn FileCursor>>,
    ) -> Self {
        let log = LogPipe::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(log.clone())
            .stderr(log.clone())
            .wall_clock(EpochClock)
            .monotonic_clock(EpochClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let max_bytes =
            usize::try_from(limits.memory_megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes,
                denied: None,
            },
            log,
            cursors,
            host_error: None,
        };
        let mut store = Store::new(&sandbox.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every tick: past the deadline the call traps (Trap::Interrupt); before it, the
        // guest's fiber yields to the runtime so that the worker thread's other tasks run.
        let deadline = limits.deadline;
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
            })
        });
        Self {
            sandbox: sandbox.clone(),
            code: code.clone(),
            limits,
            store,
            broken: false,
        }
    }

    pub(crate) fn linker(&self) -> Result<Linker<HostState>, SandboxError> {
        let mut linker = Linker::new(&self.sandbox.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| SandboxError::Instantiate(format!("{e:#}")))?;
        SingleFileStateMachine::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| SandboxError::Instantiate(format!("{e:#}")))?;
        Ok(linker)
    }

    /// A fresh store for the same code (after a trap); keeps the output and the cursors.
    pub(crate) fn renew(&mut self) {
        let cursors = std::mem::take(&mut self.store.data_mut().cursors);
        let log = self.store.data().log.clone();
        let mut fresh = Session::new(&self.sandbox, &self.code, self.limits, cursors);
        fresh.store.data_mut().log = log;
        *self = fresh;
    }

    /// Before a call: the epoch callback runs at the next tick (the deadline is checked
    /// there), and the previous call's failure details are forgotten.
    pub(crate) fn arm(&mut self) {
        self.store.set_epoch_deadline(1);
        let state = self.store.data_mut();
        state.limiter.denied = None;
        state.host_error = None;
    }

    pub(crate) fn classify(&mut self, e: wasmtime::Error) -> SandboxError {
        self.broken = true;
        let state = self.store.data_mut();
        if let Some(message) = state.host_error.take() {
            return SandboxError::Host(message);
        }
        if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return SandboxError::Timeout {
                seconds: self.limits.timeout.as_secs(),
            };
        }
        if let Some(desired) = state.limiter.denied.take() {
            return SandboxError::MemoryLimit {
                megabytes: self.limits.memory_megabytes,
                detail: format!(" (it asked for {} MB)", desired.div_ceil(1 << 20)),
            };
        }
        if format!("{e:#}").contains("fuel allocated for hostcalls has been exhausted") {
            // wasmtime copies at most 128 MiB between guest and host per call.
            return SandboxError::Trap(
                "user code passed more than 128 MB between the sandbox and letsdata in one call \
                 (a document, or a batch of them, that large); documents must be smaller: \
                 split the record into several documents or leave the large parts out"
                    .to_string(),
            );
        }
        let mut message = match e.downcast_ref::<Trap>() {
            Some(trap) => format!("wasm trap: {trap}"),
            None => format!("{e:#}"),
        };
        if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
            let frames: Vec<String> = bt
                .frames()
                .iter()
                .filter_map(|f| f.func_name().map(str::to_string))
                .take(3)
                .collect();
            if !frames.is_empty() {
                message.push_str(&format!(" in {}", frames.join(" < ")));
            }
        }
        if let Some(printed) = state.log.panic_message() {
            message.push_str(&format!("; it printed: {printed}"));
        }
        SandboxError::Trap(message)
    }

    pub(crate) fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.store.data().log.drain()
    }
}

pub(crate) fn instantiate_error(e: wasmtime::Error) -> SandboxError {
    SandboxError::Instantiate(format!("{e:#}"))
}

/// Awaits the call `$call` (a future) on the session's bindings, re-creating the instance
/// first if the last call trapped, with the deadline armed and failures classified. With a
/// pattern, the bindings must match it (else `$wrong` is returned, and nothing is called).
macro_rules! guest_call {
    (@ready $self:ident) => {
        if $self.session.broken {
            $self.reinstantiate().await?;
        }
    };
    (@call $self:ident, $store:ident, $call:expr) => {{
        $self.session.arm();
        let $store = &mut $self.session.store;
        match $call.await {
            Ok(r) => Ok(r),
            Err(e) => Err($self.session.classify(e)),
        }
    }};
    ($self:ident, |$b:ident, $store:ident| $call:expr) => {{
        guest_call!(@ready $self);
        let $b = &$self.bindings;
        guest_call!(@call $self, $store, $call)
    }};
    ($self:ident, let $bound:pat, else $wrong:expr, |$store:ident| $call:expr) => {{
        guest_call!(@ready $self);
        let $bound = &$self.bindings else {
            return Err($wrong);
        };
        guest_call!(@call $self, $store, $call)
    }};
}
pub(crate) use guest_call;

/// One task's instance of a `SingleFileParser` component.
pub struct FileParser {
    session: Session,
    bindings: SingleFileReader,
}

impl std::fmt::Debug for FileParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileParser")
            .field("code", &self.session.code)
            .finish()
    }
}

impl FileParser {
    /// Instantiates `code` (which must export `single-file-parser`).
    pub async fn new(sandbox: &Sandbox, code: &Code, limits: Limits) -> Result<Self, SandboxError> {
        let mut session = Session::new(sandbox, code, limits, Vec::new());
        let linker = session.linker()?;
        session.arm();
        let bindings =
            SingleFileReader::instantiate_async(&mut session.store, &code.component, &linker)
                .await
                .map_err(|e| match session.classify(e) {
                    SandboxError::Trap(m) => SandboxError::Instantiate(m),
                    other => other,
                })?;
        session.broken = false;
        Ok(Self { session, bindings })
    }

    async fn reinstantiate(&mut self) -> Result<(), SandboxError> {
        self.session.renew();
        let linker = self.session.linker()?;
        self.session.arm();
        self.bindings = SingleFileReader::instantiate_async(
            &mut self.session.store,
            &self.session.code.component,
            &linker,
        )
        .await
        .map_err(instantiate_error)?;
        Ok(())
    }

    /// `getS3FileType()`.
    pub async fn s3_file_type(&mut self) -> Result<String, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_single_file_parser()
            .call_get_s3_file_type(store))
    }

    /// `getResolvedS3FileName(fileType, fileName)`.
    pub async fn resolved_s3_file_name(
        &mut self,
        file_type: &str,
        file_name: &str,
    ) -> Result<String, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_single_file_parser()
            .call_get_resolved_s3_file_name(store, file_type, file_name))
    }

    /// `getRecordStartPattern(fileType)`.
    pub async fn record_start_pattern(
        &mut self,
        file_type: &str,
    ) -> Result<RecordParseHint, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_single_file_parser()
            .call_get_record_start_pattern(store, file_type))
    }

    /// `getRecordEndPattern(fileType)`.
    pub async fn record_end_pattern(
        &mut self,
        file_type: &str,
    ) -> Result<RecordParseHint, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_single_file_parser()
            .call_get_record_end_pattern(store, file_type))
    }

    /// `parseDocument` for a batch of records (`records[span.start..span.end]` each): one
    /// result per span, in order.
    pub async fn parse_documents(
        &mut self,
        file_type: &str,
        file_name: &str,
        records: &[u8],
        spans: &[RecordSpan],
    ) -> Result<ParsedBatch, SandboxError> {
        let raw = guest_call!(self, |b, store| b
            .letsdata_data_single_file_parser()
            .call_parse_documents(store, file_type, file_name, records, spans))?;
        ParsedBatch::new(raw, spans.len())
    }

    /// What the guest printed since the last drain, and how many bytes were dropped.
    pub fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.session.drain_log()
    }
}

enum ReaderBindings {
    Single(SingleFileStateMachine),
    Multiple(MultipleFileStateMachine),
}

/// One task's instance of a `SingleFileStateMachineReader` or
/// `MultipleFileStateMachineReader` component, with the task's file cursors.
pub struct StateMachine {
    session: Session,
    bindings: ReaderBindings,
}

impl std::fmt::Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine")
            .field("code", &self.session.code)
            .finish()
    }
}

impl StateMachine {
    /// Instantiates `code`; `multiple` chooses the multiple-file interface.
    pub async fn new(
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
        multiple: bool,
    ) -> Result<Self, SandboxError> {
        let mut session = Session::new(sandbox, code, limits, Vec::new());
        let bindings = Self::instantiate(&mut session, multiple).await?;
        Ok(Self { session, bindings })
    }

    async fn instantiate(
        session: &mut Session,
        multiple: bool,
    ) -> Result<ReaderBindings, SandboxError> {
        let linker = session.linker()?;
        session.arm();
        let (store, component) = (&mut session.store, &session.code.component);
        let result = if multiple {
            MultipleFileStateMachine::instantiate_async(store, component, &linker)
                .await
                .map(ReaderBindings::Multiple)
        } else {
            SingleFileStateMachine::instantiate_async(store, component, &linker)
                .await
                .map(ReaderBindings::Single)
        };
        result.map_err(instantiate_error)
    }

    async fn reinstantiate(&mut self) -> Result<(), SandboxError> {
        self.session.renew();
        let multiple = matches!(self.bindings, ReaderBindings::Multiple(_));
        self.bindings = Self::instantiate(&mut self.session, multiple).await?;
        Ok(())
    }

    /// Hands the task's file cursors to the instance (in the order of the file types).
    pub fn set_cursors(&mut self, cursors: Vec<Box<dyn FileCursor>>) {
        self.session.store.data_mut().cursors = cursors;
    }

    /// The task's file cursors.
    pub fn cursors(&self) -> &[Box<dyn FileCursor>] {
        &self.session.store.data().cursors
    }

    /// `getS3FileTypes()` (a single-file reader's one `getS3FileType()`).
    pub async fn s3_file_types(&mut self) -> Result<Vec<String>, SandboxError> {
        guest_call!(self, |b, store| async {
            match b {
                ReaderBindings::Single(s) => s
                    .letsdata_data_single_file_state_machine_reader()
                    .call_get_s3_file_type(store)
                    .await
                    .map(|t| vec![t]),
                ReaderBindings::Multiple(m) => {
                    m.letsdata_data_multiple_file_state_machine_reader()
                        .call_get_s3_file_types(store)
                        .await
                }
            }
        })
    }

    /// `getResolvedS3FileName(s)`: file type → object key, for the task's files.
    pub async fn resolved_s3_file_names(
        &mut self,
        names: &[(String, String)],
    ) -> Result<Vec<(String, String)>, SandboxError> {
        guest_call!(self, |b, store| async {
            match b {
                ReaderBindings::Single(s) => {
                    let mut out = Vec::with_capacity(names.len());
                    for (file_type, name) in names {
                        let resolved = s
                            .letsdata_data_single_file_state_machine_reader()
                            .call_get_resolved_s3_file_name(&mut *store, file_type, name)
                            .await?;
                        out.push((file_type.clone(), resolved));
                    }
                    Ok(out)
                }
                ReaderBindings::Multiple(m) => {
                    m.letsdata_data_multiple_file_state_machine_reader()
                        .call_get_resolved_s3_file_names(store, names)
                        .await
                }
            }
        })
    }

    /// `parseDocument(…)`: the next composite document from the task's files.
    pub async fn parse_document(&mut self) -> Result<ParseCompositeDocumentResult, SandboxError> {
        if self.session.broken {
            self.reinstantiate().await?;
        }
        let state = self.session.store.data_mut();
        let last_types: Vec<(String, Option<String>)> = state
            .cursors
            .iter()
            .map(|c| {
                (
                    c.file_type().to_string(),
                    c.last_record_type().map(str::to_string),
                )
            })
            .collect();
        let mut handles = Vec::with_capacity(state.cursors.len());
        for index in 0..state.cursors.len() {
            let handle = state
                .table
                .push(CursorHandle { index })
                .map_err(|e| SandboxError::Host(format!("resource table: {e}")))?;
            handles.push(handle);
        }
        match &self.bindings {
            ReaderBindings::Single(_) => {
                let Some(handle) = handles.pop() else {
                    return Err(SandboxError::Host("the task has no file to read".into()));
                };
                let rep = handle.rep();
                let (file_type, last) = last_types.into_iter().next().unwrap_or_default();
                let borrowed = Resource::<CursorHandle>::new_borrow(rep);
                let result = guest_call!(self, |b, store| async {
                    match b {
                        ReaderBindings::Single(s) => {
                            s.letsdata_data_single_file_state_machine_reader()
                                .call_parse_document(store, &file_type, last.as_deref(), borrowed)
                                .await
                        }
                        ReaderBindings::Multiple(_) => unreachable!("checked above"),
                    }
                });
                // The handle was only lent; take it back out of the table.
                let _ = self.session.store.data_mut().table.delete(handle);
                result
            }
            ReaderBindings::Multiple(_) => guest_call!(self, |b, store| async {
                match b {
                    ReaderBindings::Multiple(m) => {
                        m.letsdata_data_multiple_file_state_machine_reader()
                            .call_parse_document(store, &last_types, &handles)
                            .await
                    }
                    ReaderBindings::Single(_) => unreachable!("checked above"),
                }
            }),
        }
    }

    /// What the guest printed since the last drain, and how many bytes were dropped.
    pub fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.session.drain_log()
    }
}
