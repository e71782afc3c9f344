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
        #[command(flatten)]
        page: super::PageArgs,
    },
    /// Show a task's error records.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: TaskId,
    },
}

/// Error objects read at a time by `errors list`.
const ERRORS_PAGE: usize = 100;

pub async fn run(command: ErrorsCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        ErrorsCommand::List {
            dataset_name,
            task_id,
            page,
        } => {
            // Listed once, then read a page at a time.
            let objects = engine
                .error_objects(&dataset_name, task_id.as_ref())
                .await?;
            if let Some(limit) = page.limit() {
                out.print(&objects.page(page.next_token.as_deref(), limit).await?)?;
            } else {
                // A hundred at a time: each object is read to count its records.
                let objects = &objects;
                super::print_all(out, ERRORS_PAGE, |after, limit| async move {
                    let page = objects.page(after.as_deref(), limit).await?;
                    Ok((page.errors, page.next_token))
                })
                .await?;
            }
        }
        ErrorsCommand::View {
            dataset_name,
            task_id,
        } => out.print_data(&engine.error_records(&dataset_name, &task_id).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The commands through a server.
pub async fn remote(
    command: ErrorsCommand,
    remote: &crate::remote::Remote,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    match command {
        ErrorsCommand::List {
            dataset_name,
            task_id,
            page,
        } => {
            let filters = [("taskId", task_id.as_ref().map(|t| t.to_string()))];
            let query = |after: Option<String>, limit: usize| {
                super::page_query(&dataset_name, limit, after, &filters)
            };
            if let Some(limit) = page.limit() {
                let page = remote
                    .get("errors/list", &query(page.next_token.clone(), limit))
                    .await?;
                out.print(&page)?;
            } else {
                super::print_all(out, ERRORS_PAGE, |after, limit| {
                    let query = query(after, limit);
                    async move {
                        let mut page = remote.get("errors/list", &query).await?;
                        super::page_of(&mut page, "errors")
                    }
                })
                .await?;
            }
        }
        ErrorsCommand::View {
            dataset_name,
            task_id,
        } => {
            let records = remote
                .get(
                    "errors",
                    &[
                        ("datasetName", dataset_name),
                        ("taskId", task_id.to_string()),
                    ],
                )
                .await?;
            out.print_data(&records)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
