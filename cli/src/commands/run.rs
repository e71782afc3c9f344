//! `letsdata run`: process every unfinished dataset to the end.

use crate::output::Output;
use crate::progress::Progress;
use clap::Args;
use letsdata_engine::Engine;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {}

pub async fn run(_args: RunArgs, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(Engine::open(home).await?);
    let names: Vec<String> = engine
        .datasets()
        .await?
        .into_iter()
        .filter(|d| d.dataset_status.is_unfinished())
        .map(|d| d.dataset_name)
        .collect();
    let progress = Progress::start(engine.clone(), names);
    let result = engine.run_unfinished().await;
    progress.finish();
    let datasets = result?;
    out.print(&datasets)?;
    Ok(super::exit_code_for(&datasets))
}
