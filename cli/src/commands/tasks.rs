//! `letsdata tasks list | view`.

use crate::output::Output;
use clap::Subcommand;
use letsdata_engine::Engine;
use letsdata_model::TaskStatus;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List a dataset's tasks, optionally only those in one status.
    List {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// CREATED, PROCESSING, RERUN, COMPLETED or ERRORED.
        #[arg(long = "taskStatus", value_name = "STATUS")]
        task_status: Option<TaskStatus>,
    },
    /// Show one task: status, progress, checkpoint, last error, execution logs.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: String,
    },
}

pub async fn run(command: TasksCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        TasksCommand::List {
            dataset_name,
            task_status,
        } => out.print(&engine.tasks(&dataset_name, task_status).await?)?,
        TasksCommand::View {
            dataset_name,
            task_id,
        } => out.print(&engine.task(&dataset_name, &task_id).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}
