//! `letsdata worker`: a long-running worker of the store's datasets, until SIGTERM or SIGINT.

use clap::Args;
use letsdata_engine::Engine;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Args)]
pub struct WorkerArgs {}

pub async fn run(_args: WorkerArgs, home: &Path) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(Engine::open(home).await?);
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
