//! `letsdata logs view`: a task's log, as text.

use clap::Subcommand;
use letsdata_engine::Engine;
use letsdata_model::TaskId;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print a task's log (invocations, checkpoints, errors) at the dataset's logLevel.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: TaskId,
    },
}

pub async fn run(command: LogsCommand, home: &Path) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        LogsCommand::View {
            dataset_name,
            task_id,
        } => {
            let text = engine.task_log(&dataset_name, &task_id).await?;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command through a server.
pub async fn remote(
    command: LogsCommand,
    remote: &crate::remote::Remote,
) -> anyhow::Result<ExitCode> {
    let LogsCommand::View {
        dataset_name,
        task_id,
    } = command;
    let text = remote
        .get_text(
            "logs",
            &[
                ("datasetName", dataset_name),
                ("taskId", task_id.to_string()),
            ],
        )
        .await?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
