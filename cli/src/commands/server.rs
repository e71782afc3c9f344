//! `letsdata server`: the REST API (docs/server.md), with a worker in the same process on the
//! embedded store, until SIGTERM or SIGINT.

use clap::Args;
use letsdata_engine::{Engine, EngineSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The address to listen on (port 0: any free port, printed on start).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS (with --tlsKey).
    #[arg(long = "tlsCert", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tlsCert.
    #[arg(long = "tlsKey", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The largest request body accepted, in bytes (a configuration with an inline manifest
    /// can be large).
    #[arg(long = "maxBodyBytes", value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Run the datasets in this process too. Default: true on the embedded SQLite store,
    /// false on a shared PostgreSQL store (where `letsdata worker` processes run them).
    #[arg(long = "inProcessWorker", value_name = "BOOL")]
    in_process_worker: Option<bool>,
    /// Most task invocations the in-process worker runs at once, over every dataset.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
}

pub async fn run(args: ServerArgs, home: &Path) -> anyhow::Result<ExitCode> {
    let settings = EngineSettings {
        worker_concurrency: args.concurrency,
        ..EngineSettings::from_env()?
    };
    let engine = Arc::new(Engine::open_with(home, settings).await?);
    let worker = args.in_process_worker.unwrap_or(!engine.is_shared());
    let config = letsdata_server::ServerConfig {
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        max_body_bytes: args.max_body_bytes,
        shutdown_grace: Duration::from_secs(30),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let store = engine.store_location();
    let server = tokio::spawn(letsdata_server::serve(
        engine.clone(),
        config,
        async move {
            let _ = stopped.await;
        },
        move |address| {
            // The one line on stdout: where to reach the server.
            println!(
                "{}",
                serde_json::json!({"listening": format!("{scheme}://{address}")})
            );
            eprintln!("letsdata server listening on {scheme}://{address} ({store})");
        },
    ));
    let work = if worker {
        Some(spawn_worker(engine.clone())?)
    } else {
        None
    };
    tokio::pin!(server);
    let signal = tokio::select! {
        served = &mut server => {
            served??;
            return Ok(ExitCode::SUCCESS);
        }
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    eprintln!(
        "{signal}: shutting down; requests in flight finish{} (a second signal stops at once)",
        if worker {
            ", running tasks checkpoint and are queued again"
        } else {
            ""
        }
    );
    let _ = stop.send(());
    engine.drain();
    let finished = async {
        server.await??;
        if let Some(work) = work {
            work.await??;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        done = finished => {
            done?;
            eprintln!("letsdata server stopped");
            Ok(ExitCode::SUCCESS)
        }
        _ = terminate.recv() => Ok(ExitCode::from(143)),
        _ = interrupt.recv() => Ok(ExitCode::from(130)),
    }
}

/// How much lower the in-process worker's CPU priority is than the API's (a nice value): when
/// both want the CPU, requests are answered first and the worker takes what is left; alone,
/// the worker has every core.
const WORKER_NICENESS: i32 = 10;

/// Runs the in-process worker on a runtime of its own, on threads of lower priority
/// ([`WORKER_NICENESS`]), so that a task's work never sits in front of a request on a runtime
/// thread. The answer is the worker's end.
fn spawn_worker(
    engine: Arc<Engine>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<Result<(), letsdata_engine::EngineError>>> {
    let lower_priority = || {
        // Linux: a thread's own nice value; threads it starts inherit it.
        if let Err(e) = rustix::process::nice(WORKER_NICENESS) {
            tracing::warn!(error = %e, "cannot lower the worker thread's priority");
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("letsdata-worker")
        .on_thread_start(lower_priority)
        .build()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("letsdata-worker".into())
        .spawn(move || {
            lower_priority();
            let ended = runtime.block_on(engine.work(|dataset| {
                tracing::info!(dataset = %dataset.dataset_name, status = %dataset.dataset_status, "dataset run ended");
            }));
            let _ = done.send(ended);
        })?;
    Ok(finished)
}
