//! `letsdata worker`: a long-running worker of the store's datasets, until SIGTERM or SIGINT;
//! `letsdata workers list`: the running ones.

use crate::output::Output;
use clap::{Args, Subcommand};
use letsdata_engine::{Engine, EngineSettings};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Most tasks this worker runs at once, over every dataset (each dataset's own
    /// concurrency still caps its tasks across all workers). Default: no cap of its own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// The workers running against this store (seen within the last 30 s), oldest first.
    List,
}

pub async fn run(args: WorkerArgs, home: &Path) -> anyhow::Result<ExitCode> {
    let settings = EngineSettings {
        worker_concurrency: args.concurrency,
        ..EngineSettings::from_env()?
    };
    let engine = Arc::new(Engine::open_with(home, settings).await?);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    eprintln!(
        "letsdata worker {} running the datasets of {}",
        engine.worker_id(),
        engine.store_location()
    );
    let work = engine.work(|dataset| {
        // One line per dataset run that ended: what it ended as.
        println!(
            "{}",
            serde_json::json!({
                "datasetName": dataset.dataset_name,
                "datasetId": dataset.dataset_id,
                "datasetStatus": dataset.dataset_status,
                "datasetProgress": dataset.dataset_progress,
            })
        );
    });
    tokio::pin!(work);
    let draining = async {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    };
    tokio::select! {
        worked = &mut work => {
            worked?;
            return Ok(ExitCode::SUCCESS);
        }
        signal = draining => {
            eprintln!(
                "{signal}: shutting down; running tasks checkpoint and are queued again (a second signal stops at once)"
            );
            engine.drain();
        }
    }
    tokio::select! {
        worked = &mut work => {
            worked?;
            eprintln!("every task of this worker is checkpointed and released");
            Ok(ExitCode::SUCCESS)
        }
        _ = terminate.recv() => Ok(ExitCode::from(143)),
        _ = interrupt.recv() => Ok(ExitCode::from(130)),
    }
}

pub async fn workers(
    command: WorkersCommand,
    home: &Path,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        WorkersCommand::List => out.print(&engine.live_workers().await?)?,
    }
    Ok(ExitCode::SUCCESS)
}
