//! `letsdata errors list | view`: the error records a dataset archived.

use crate::output::Output;
use clap::Subcommand;
use letsdata_engine::Engine;
use letsdata_model::TaskId;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// List the error objects (per task, with record counts).
    List {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// Only this task's error objects.
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: Option<TaskId>,
    },
    /// Show a task's error records.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: TaskId,
    },
}

pub async fn run(command: ErrorsCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        ErrorsCommand::List {
            dataset_name,
            task_id,
        } => out.print(
            &engine
                .error_objects(&dataset_name, task_id.as_ref())
                .await?,
        )?,
        ErrorsCommand::View {
            dataset_name,
            task_id,
        } => out.print_data(&engine.error_records(&dataset_name, &task_id).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}
