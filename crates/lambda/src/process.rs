//! One interpreter process running a LetsData handler, and the calls into it.

use crate::project::{Built, Language};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How much of the handler's output is kept between drains; more is counted and dropped.
const OUTPUT_MAX: usize = 1024 * 1024;
/// How much of its stderr a crash report quotes.
const STDERR_TAIL: usize = 2048;
/// Largest answer accepted from a handler.
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// An exception raised by the handler (or its loading), as LetsData reports one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerException {
    pub error_type: String,
    pub error_message: String,
    pub stack_trace: String,
}

impl HandlerException {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| {
            v.get(k)
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        Self {
            error_type: s("errorType"),
            error_message: s("errorMessage"),
            stack_trace: s("stackTrace"),
        }
    }
}

impl std::fmt::Display for HandlerException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// What one call returned.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The handler's return value (LetsData's `{"StatusCode", "body"}`), as JSON text: the
    /// caller reads what it needs without building a tree of it.
    Result(Box<RawValue>),
    /// An exception escaped the handler.
    Raised(HandlerException),
}

/// Why the process cannot answer (any more).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the handler could not be loaded: {exception}{}", tail(.stderr))]
    Load {
        exception: HandlerException,
        stderr: String,
    },
    #[error("the handler did not answer before the invocation's time limit (computeEngine timeoutInSeconds); its interpreter was stopped{}", tail(.stderr))]
    TimedOut { stderr: String },
    #[error("the handler's interpreter exited ({status}){}", tail(.stderr))]
    Exited { status: String, stderr: String },
    #[error("{0}")]
    Start(String),
    #[error("the handler's interpreter broke the protocol: {0}")]
    Protocol(String),
}

fn tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; the end of its stderr: {}", stderr.trim())
    }
}

/// How to start a handler process.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The working directory (created if missing): the task's scratch space.
    pub scratch_dir: PathBuf,
    /// The function's name in the Lambda context (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    pub function_arn: String,
    pub memory_megabytes: u64,
    /// The dataset's log level (TRACE .. ERROR): the level of the Python root logger's
    /// handler letsdata installs (`LETSDATA_LOG_LEVEL`).
    pub log_level: String,
    /// `LETS_DATA_STAGE` (`Prod` or `Test`).
    pub stage: String,
    /// Extra variables for the handler (e.g. `AWS_REGION`).
    pub env: Vec<(String, String)>,
    /// The start (loading the handler) must end by then.
    pub deadline: std::time::Instant,
}

#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    dropped: u64,
    stderr: VecDeque<u8>,
}

/// A running handler.
pub struct Handler {
    child: Child,
    stream: UnixStream,
    output: Arc<Mutex<Output>>,
    socket_dir: PathBuf,
    language: Language,
    /// The tasks reading its stdout and stderr (they end at the pipes' end).
    collectors: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("language", &self.language)
            .field("pid", &self.child.id())
            .finish()
    }
}

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(0);

impl Handler {
    /// Starts the interpreter and waits for the handler to be loaded.
    pub async fn start(built: &Built, options: &StartOptions) -> Result<Self, HandlerError> {
        let start_err = |what: &str, e: std::io::Error| HandlerError::Start(format!("{what}: {e}"));
        // Another task's end may remove the (then empty) directory above it meanwhile: tried
        // again then.
        let mut made = tokio::fs::create_dir_all(&options.scratch_dir).await;
        for _ in 0..3 {
            match &made {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    made = tokio::fs::create_dir_all(&options.scratch_dir).await;
                }
                _ => break,
            }
        }
        made.map_err(|e| start_err(&options.scratch_dir.display().to_string(), e))?;
        // Unix socket paths are short: a directory of its own under the temp dir.
        let socket_dir = std::env::temp_dir().join(format!(
            "letsdata-h-{}-{}",
            std::process::id(),
            NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&socket_dir);
        std::fs::create_dir_all(&socket_dir).map_err(|e| start_err("socket directory", e))?;
        let socket_path = socket_dir.join("s");
        let listener =
            UnixListener::bind(&socket_path).map_err(|e| start_err("handler socket", e))?;

        let mut cmd = Command::new(built.language.interpreter());
        match built.language {
            Language::Python => {
                cmd.arg("-u").arg(&built.bootstrap);
            }
            Language::Javascript => {
                if options.memory_megabytes > 0 {
                    cmd.arg(format!("--max-old-space-size={}", options.memory_megabytes));
                }
                cmd.arg(&built.bootstrap);
            }
        }
        cmd.env_clear()
            .envs(base_env(built, options, &socket_path))
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&options.scratch_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            HandlerError::Start(format!(
                "{} could not be started: {e}",
                built.language.interpreter().display()
            ))
        })?;
        let output = Arc::new(Mutex::new(Output::default()));
        let mut collectors = Vec::with_capacity(2);
        if let Some(out) = child.stdout.take() {
            collectors.push(tokio::spawn(collect(out, output.clone(), false)));
        }
        if let Some(err) = child.stderr.take() {
            collectors.push(tokio::spawn(collect(err, output.clone(), true)));
        }
        let deadline = Instant::from_std(options.deadline);
        let accepted = tokio::select! {
            a = tokio::time::timeout_at(deadline, listener.accept()) => a,
            status = child.wait() => {
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                let _ = std::fs::remove_dir_all(&socket_dir);
                return Err(HandlerError::Exited { status, stderr: settle_stderr(&output).await });
            }
        };
        let stream = match accepted {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(e)) => {
                let _ = std::fs::remove_dir_all(&socket_dir);
                return Err(start_err("accepting the handler's connection", e));
            }
            Err(_) => {
                let _ = child.kill().await;
                let _ = std::fs::remove_dir_all(&socket_dir);
                return Err(HandlerError::TimedOut {
                    stderr: settle_stderr(&output).await,
                });
            }
        };
        let mut handler = Self {
            child,
            stream,
            output,
            socket_dir,
            language: built.language,
            collectors,
        };
        let first = handler.read_frame(options.deadline).await?;
        if first.get("ready").and_then(Value::as_bool) == Some(true) {
            return Ok(handler);
        }
        if let Some(e) = first.get("loadError") {
            let exception = HandlerException::from_json(e);
            let _ = handler.child.wait().await;
            return Err(HandlerError::Load {
                exception,
                stderr: settle_stderr(&handler.output).await,
            });
        }
        Err(HandlerError::Protocol(format!(
            "expected ready, got {}",
            cut(&first.to_string())
        )))
    }

    /// Calls the handler with each event (serialized JSON), in order, writing the requests
    /// while the answers are read. Ends by `deadline`, else the interpreter is stopped.
    pub async fn call_many(
        &mut self,
        events: &[Vec<u8>],
        deadline: std::time::Instant,
    ) -> Result<Vec<Reply>, HandlerError> {
        let tail = format!(",\"deadlineMs\":{}}}", epoch_ms(deadline));
        let mut frames = Vec::with_capacity(events.iter().map(|e| e.len() + 40).sum());
        for event in events {
            // The frame's length, then `{"event": <event>, "deadlineMs": <ms>}`.
            let body_len = b"{\"event\":".len() + event.len() + tail.len();
            frames.extend_from_slice(&(body_len as u32).to_be_bytes());
            frames.extend_from_slice(b"{\"event\":");
            frames.extend_from_slice(event);
            frames.extend_from_slice(tail.as_bytes());
        }
        let n = events.len();
        let (mut read, mut write) = self.stream.split();
        let writing = async {
            write.write_all(&frames).await?;
            write.flush().await
        };
        let reading = async {
            let mut replies = Vec::with_capacity(n);
            let mut body = Vec::new();
            for _ in 0..n {
                read_frame_from(&mut read, &mut body).await?;
                replies.push(answer_of(&body)?);
            }
            Ok::<_, FrameError>(replies)
        };
        let both = async {
            let (w, r) = tokio::join!(writing, reading);
            (w, r)
        };
        let timed = tokio::time::timeout_at(Instant::from_std(deadline), both).await;
        let (written, read) = match timed {
            Ok(pair) => pair,
            Err(_) => {
                let _ = self.child.kill().await;
                return Err(HandlerError::TimedOut {
                    stderr: settle_stderr(&self.output).await,
                });
            }
        };
        let replies = match read {
            Ok(r) => r,
            Err(e) => return Err(self.broken(e).await),
        };
        if let Err(e) = written {
            return Err(self.broken(FrameError::Io(e)).await);
        }
        Ok(replies)
    }

    /// Calls the handler once.
    pub async fn call(
        &mut self,
        event: &Value,
        deadline: std::time::Instant,
    ) -> Result<Reply, HandlerError> {
        let bytes = serde_json::to_vec(event).expect("a JSON value serializes");
        let mut replies = self.call_many(&[bytes], deadline).await?;
        Ok(replies.pop().expect("one reply per call"))
    }

    /// What the handler printed since the last drain, and how many bytes were dropped.
    pub fn drain_output(&self) -> (Vec<u8>, u64) {
        let mut o = self.output.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut o.bytes), std::mem::take(&mut o.dropped))
    }

    /// Stops the interpreter and returns what it printed since the last drain, to its last
    /// line (its pipes are read to their end).
    pub async fn stop(&mut self) -> (Vec<u8>, u64) {
        let _ = self.stream.shutdown().await;
        // A handler that ends on its own when the socket closes gets a moment to do so.
        let wait = tokio::time::timeout(std::time::Duration::from_millis(500), self.child.wait());
        if wait.await.is_err() {
            let _ = self.child.kill().await;
        }
        // A process the handler started may hold the pipes open: not waited for long.
        let collectors = std::mem::take(&mut self.collectors);
        let read_out = async {
            for c in collectors {
                let _ = c.await;
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), read_out).await;
        self.drain_output()
    }

    async fn read_frame(&mut self, deadline: std::time::Instant) -> Result<Value, HandlerError> {
        let mut body = Vec::new();
        let read = tokio::time::timeout_at(
            Instant::from_std(deadline),
            read_frame_from(&mut self.stream, &mut body),
        )
        .await;
        match read {
            Ok(Ok(())) => serde_json::from_slice(&body)
                .map_err(|e| HandlerError::Protocol(format!("an answer that is not JSON: {e}"))),
            Ok(Err(e)) => Err(self.broken(e).await),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(HandlerError::TimedOut {
                    stderr: settle_stderr(&self.output).await,
                })
            }
        }
    }

    /// The error for a connection that failed: the process's exit, if it exited.
    async fn broken(&mut self, e: FrameError) -> HandlerError {
        let exited =
            tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
        match (e, exited) {
            (FrameError::Invalid(why), _) => {
                let _ = self.child.kill().await;
                HandlerError::Protocol(why)
            }
            (_, Ok(Ok(status))) => HandlerError::Exited {
                status: status.to_string(),
                stderr: settle_stderr(&self.output).await,
            },
            (FrameError::Io(e), _) => {
                let _ = self.child.kill().await;
                HandlerError::Exited {
                    status: format!("its connection failed: {e}"),
                    stderr: settle_stderr(&self.output).await,
                }
            }
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.socket_dir);
    }
}

fn base_env(built: &Built, options: &StartOptions, socket: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| env.push((k.to_string(), v));
    put(
        "PATH",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    for keep in ["LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Ok(v) = std::env::var(keep) {
            put(keep, v);
        }
    }
    put("HOME", options.scratch_dir.to_string_lossy().into_owned());
    put("TMPDIR", options.scratch_dir.to_string_lossy().into_owned());
    put(
        "LETSDATA_HANDLER_SOCKET",
        socket.to_string_lossy().into_owned(),
    );
    put(
        "LAMBDA_TASK_ROOT",
        built.app_dir.to_string_lossy().into_owned(),
    );
    put("_HANDLER", built.language.handler().to_string());
    put("LETS_DATA_STAGE", options.stage.clone());
    put("AWS_LAMBDA_FUNCTION_NAME", options.function_name.clone());
    put("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into());
    put(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        options.memory_megabytes.to_string(),
    );
    // Not AWS_LAMBDA_LOG_LEVEL: Lambda sets that only with Advanced Logging Controls, and
    // LetsData's JavaScript interface (Powertools Logger 1.x at DEBUG) fails to load when it
    // is more restrictive than the logger's own level.
    put("LETSDATA_LOG_LEVEL", options.log_level.clone());
    put(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/letsdata/{}", options.function_name),
    );
    put("AWS_LAMBDA_LOG_STREAM_NAME", options.function_name.clone());
    put("LETSDATA_FUNCTION_ARN", options.function_arn.clone());
    match built.language {
        Language::Python => {
            put("PYTHONUNBUFFERED", "1".into());
            put("PYTHONDONTWRITEBYTECODE", "1".into());
            if let Some(deps) = &built.python_deps {
                put("LETSDATA_PYTHON_DEPS", deps.to_string_lossy().into_owned());
            }
        }
        Language::Javascript => {
            put("NODE_ENV", "production".into());
        }
    }
    env
}

fn epoch_ms(deadline: std::time::Instant) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now + deadline
        .saturating_duration_since(std::time::Instant::now())
        .as_millis() as u64
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

enum FrameError {
    Io(std::io::Error),
    Invalid(String),
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one frame's body into `body` (its earlier content replaced).
async fn read_frame_from<R: AsyncRead + Unpin>(
    r: &mut R,
    body: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut header = [0u8; 4];
    r.read_exact(&mut header).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::Invalid(format!(
            "an answer of {len} bytes (at most {MAX_FRAME})"
        )));
    }
    body.clear();
    body.resize(len, 0);
    r.read_exact(body).await?;
    Ok(())
}

/// One answer frame: `{"result": R}` (R kept as text; `null` too) or `{"error": {...}}`.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<Value>,
}

/// A field that is there, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

fn answer_of(body: &[u8]) -> Result<Reply, FrameError> {
    let answer: Answer<'_> = serde_json::from_slice(body)
        .map_err(|e| FrameError::Invalid(format!("an answer that is not JSON: {e}")))?;
    match answer {
        Answer {
            result: Some(result),
            ..
        } => Ok(Reply::Result(result.to_owned())),
        Answer { error: Some(e), .. } => Ok(Reply::Raised(HandlerException::from_json(&e))),
        _ => Err(FrameError::Invalid(format!(
            "an answer without result or error: {}",
            cut(&String::from_utf8_lossy(body))
        ))),
    }
}

/// Collects a stream of the process into the output buffer (and stderr's tail).
async fn collect<R: AsyncRead + Unpin>(stream: R, output: Arc<Mutex<Output>>, stderr: bool) {
    let mut lines = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let mut o = output.lock().unwrap_or_else(|e| e.into_inner());
        if o.bytes.len() + line.len() <= OUTPUT_MAX {
            o.bytes.extend_from_slice(&line);
        } else {
            o.dropped += line.len() as u64;
        }
        if stderr {
            o.stderr.extend(line.iter().copied());
            let excess = o.stderr.len().saturating_sub(STDERR_TAIL);
            o.stderr.drain(..excess);
        }
    }
}

/// Stderr's tail, after giving the collector a moment to read what the process wrote last.
async fn settle_stderr(output: &Arc<Mutex<Output>>) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let o = output.lock().unwrap_or_else(|e| e.into_inner());
    let bytes: Vec<u8> = o.stderr.iter().copied().collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests;
