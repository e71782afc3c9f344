//! `letsdata`: the command-line interface.
//!
//! Commands mirror LetsData's CLI (`letsdata datasets view --datasetName X --prettyPrint`).
//! Output is JSON on stdout; errors are one clear message on stderr with a non-zero exit code:
//! 1 for a failed command, 3 when a dataset that was run finished ERRORED.

mod commands;
mod output;
mod progress;
mod remote;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: many small tasks allocate and free many small buffers on several threads, where
/// glibc's malloc spent a tenth of the CPU (`bench/small_tasks.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "letsdata",
    version,
    about = "Run LetsData datasets on your own machines",
    long_about = "Run LetsData datasets on your own machines.\n\nState lives in $LETSDATA_HOME (default ~/.letsdata); buckets are directories under $LETSDATA_HOME/buckets unless LETSDATA_AWS_ENDPOINT (or the AWS SDK's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) points at an S3 endpoint."
)]
struct Cli {
    /// Where letsdata keeps its state (databases, local buckets, logs).
    #[arg(long, env = "LETSDATA_HOME", global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// A letsdata server to run the command through (docs/server.md); without it, the
    /// command works on the local store.
    #[arg(long, env = "LETSDATA_ENDPOINT", global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// Indent the JSON output.
    #[arg(long = "prettyPrint", global = true)]
    pretty_print: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list and view datasets.
    Datasets {
        #[command(subcommand)]
        command: commands::datasets::DatasetsCommand,
    },
    /// List and view a dataset's tasks.
    Tasks {
        #[command(subcommand)]
        command: commands::tasks::TasksCommand,
    },
    /// List and view the error records a dataset archived.
    Errors {
        #[command(subcommand)]
        command: commands::errors::ErrorsCommand,
    },
    /// View a task's log.
    Logs {
        #[command(subcommand)]
        command: commands::logs::LogsCommand,
    },
    /// View a dataset's per-minute metrics.
    Metrics {
        #[command(subcommand)]
        command: commands::metrics::MetricsCommand,
    },
    /// Read the documents a dataset wrote (from its S3 bucket, Kinesis stream, SQS queue or
    /// DynamoDB table).
    Output {
        #[command(subcommand)]
        command: commands::outputs::OutputCommand,
    },
    /// Process every unfinished dataset (after a crash or `datasets create --detach`) and exit
    /// when they are finished.
    Run(commands::run::RunArgs),
    /// Run as a long-lived worker: every unfinished dataset in the store (a shared PostgreSQL
    /// store: of any machine), as they come, until SIGTERM or SIGINT; then checkpoint and
    /// release every running task and exit.
    Worker(commands::worker::WorkerArgs),
    /// List the running workers.
    Workers {
        #[command(subcommand)]
        command: commands::worker::WorkersCommand,
    },
    /// Serve the REST API (every command above, for API keys of many tenants) until SIGTERM
    /// or SIGINT; on the embedded store it also runs the datasets.
    Server(commands::server::ServerArgs),
    /// Keep the API key of a server (--endpoint) for later commands.
    Login(commands::login::LoginArgs),
    /// Forget the API key of a server (--endpoint).
    Logout,
    /// The operator's commands against the store: tenants, users, API keys, the audit log.
    Admin {
        #[command(subcommand)]
        command: commands::admin::AdminCommand,
    },
}

fn home_dir(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(h) = explicit {
        // Absolute, so the paths letsdata records stay valid from any directory.
        return Ok(std::path::absolute(&h).unwrap_or(h));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| anyhow::anyhow!("cannot find the home directory; set LETSDATA_HOME"))?;
    Ok(PathBuf::from(home).join(".letsdata"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = |default: &str| {
        tracing_subscriber::EnvFilter::try_from_env("LETSDATA_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    if matches!(cli.command, Command::Server(_)) {
        // A service's log: one JSON object per line, requests included.
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter("info"))
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter("error"))
            .with_writer(std::io::stderr)
            .init();
    }
    letsdata_connectors::failpoints::quiesce_with(|| Box::new(letsdata_store::hold_writes()));
    if let Err(e) = letsdata_connectors::failpoints::setup() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let out = output::Output::new(cli.pretty_print);
        let endpoint = cli.endpoint.as_deref();
        match cli.command {
            Command::Login(args) => return commands::login::login(args, endpoint, &out).await,
            Command::Logout => return commands::login::logout(endpoint),
            _ => {}
        }
        if let Some(remote) = remote::Remote::connect(endpoint)? {
            let remote = &remote;
            return match cli.command {
                Command::Datasets { command } => {
                    commands::datasets::remote(command, remote, &out).await
                }
                Command::Tasks { command } => commands::tasks::remote(command, remote, &out).await,
                Command::Errors { command } => {
                    commands::errors::remote(command, remote, &out).await
                }
                Command::Logs { command } => commands::logs::remote(command, remote).await,
                Command::Metrics { command } => {
                    commands::metrics::remote(command, remote, &out).await
                }
                Command::Output { command } => {
                    commands::outputs::remote(command, remote, &out).await
                }
                Command::Run(_) => Err(commands::local_only("run")),
                Command::Worker(_) => Err(commands::local_only("worker")),
                Command::Workers { .. } => Err(commands::local_only("workers")),
                Command::Server(_) => Err(commands::local_only("server")),
                Command::Admin { .. } => Err(commands::local_only("admin")),
                Command::Login(_) | Command::Logout => unreachable!("handled above"),
            };
        }
        let home = home_dir(cli.home)?;
        match cli.command {
            Command::Datasets { command } => commands::datasets::run(command, &home, &out).await,
            Command::Tasks { command } => commands::tasks::run(command, &home, &out).await,
            Command::Errors { command } => commands::errors::run(command, &home, &out).await,
            Command::Logs { command } => commands::logs::run(command, &home).await,
            Command::Metrics { command } => commands::metrics::run(command, &home, &out).await,
            Command::Output { command } => commands::outputs::run(command, &home, &out).await,
            Command::Run(args) => commands::run::run(args, &home, &out).await,
            Command::Worker(args) => commands::worker::run(args, &home).await,
            Command::Workers { command } => commands::worker::workers(command, &home, &out).await,
            Command::Server(args) => commands::server::run(args, &home).await,
            Command::Admin { command } => commands::admin::run(command, &home, &out).await,
            Command::Login(_) | Command::Logout => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
