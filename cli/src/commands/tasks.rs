//! `letsdata tasks list | view`.

use crate::output::Output;
use crate::progress::Progress;
use clap::{Args, Subcommand};
use letsdata_engine::Engine;
use letsdata_model::TaskId;
use letsdata_model::TaskStatus;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List a dataset's tasks, optionally only those in one status.
    List {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// CREATED, PROCESSING, RERUN, COMPLETED or ERRORED.
        #[arg(long = "taskStatus", value_name = "STATUS")]
        task_status: Option<TaskStatus>,
        #[command(flatten)]
        page: super::PageArgs,
    },
    /// Redrive the ERRORED tasks of an ERRORED dataset (resuming from their checkpoints), then
    /// run them; `tasks redrive view` lists earlier redrives.
    Redrive(RedriveArgs),
    /// Stop a dataset's tasks (all, or --taskIds), also when another process runs them: they
    /// checkpoint and end ERRORED, and can be redriven later.
    Stop {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// Only these tasks (comma-separated ids); the dataset goes on processing.
        #[arg(long = "taskIds", value_name = "IDS", value_delimiter = ',')]
        task_ids: Option<Vec<TaskId>>,
    },
    /// Show one task: status, progress, checkpoint, last error, execution logs.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long = "taskId", value_name = "TASK_ID")]
        task_id: TaskId,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RedriveArgs {
    #[command(subcommand)]
    view: Option<RedriveView>,
    #[arg(long = "datasetName", value_name = "NAME", required = true)]
    dataset_name: Option<String>,
    /// Only these ERRORED tasks (comma-separated ids); default: every ERRORED task.
    #[arg(long = "taskIds", value_name = "IDS", value_delimiter = ',')]
    task_ids: Option<Vec<TaskId>>,
    /// Reset the tasks' checkpoints and replace their earlier output and error objects.
    #[arg(long = "restartFromBeginning")]
    restart_from_beginning: bool,
    /// Return once the tasks are queued; `letsdata run` processes them.
    #[arg(long)]
    detach: bool,
}

#[derive(Debug, Subcommand)]
enum RedriveView {
    /// List the dataset's redrive requests and their workflow steps.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
}

async fn redrive(args: RedriveArgs, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(Engine::open(home).await?);
    if let Some(RedriveView::View { dataset_name }) = args.view {
        out.print(&engine.dataset(&dataset_name).await?.redrive_workflows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dataset_name = args
        .dataset_name
        .ok_or_else(|| anyhow::anyhow!("--datasetName is required"))?;
    let dataset = engine
        .redrive(
            &dataset_name,
            args.task_ids.as_deref(),
            args.restart_from_beginning,
        )
        .await?;
    if args.detach {
        out.print(&dataset)?;
        return Ok(ExitCode::SUCCESS);
    }
    let progress = Progress::start(engine.clone(), vec![dataset_name]);
    let result = engine.run_dataset(&dataset.dataset_id).await;
    progress.finish();
    let dataset = result?;
    out.print(&dataset)?;
    Ok(super::exit_code_for(std::slice::from_ref(&dataset)))
}

pub async fn run(command: TasksCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    if let TasksCommand::Redrive(args) = command {
        return redrive(args, home, out).await;
    }
    let engine = Engine::open(home).await?;
    match command {
        TasksCommand::Redrive(_) => unreachable!("handled above"),
        TasksCommand::Stop {
            dataset_name,
            task_ids,
        } => out.print(&engine.stop(&dataset_name, task_ids.as_deref()).await?)?,
        TasksCommand::List {
            dataset_name,
            task_status,
            page,
        } => {
            if let Some(limit) = page.limit() {
                let page = engine
                    .tasks_page(
                        &dataset_name,
                        task_status,
                        page.next_token.as_deref(),
                        limit,
                    )
                    .await?;
                out.print(&serde_json::json!({
                    "tasks": page.tasks,
                    "nextToken": page.next.map(|n| n.to_string()),
                }))?;
            } else {
                let (engine, name) = (&engine, &dataset_name);
                super::print_all(out, super::PAGE, |after, limit| async move {
                    let page = engine
                        .tasks_page(name, task_status, after.as_deref(), limit)
                        .await?;
                    Ok((page.tasks, page.next.map(|n| n.to_string())))
                })
                .await?;
            }
        }
        TasksCommand::View {
            dataset_name,
            task_id,
        } => out.print(&engine.task(&dataset_name, &task_id).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The commands through a server.
pub async fn remote(
    command: TasksCommand,
    remote: &crate::remote::Remote,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    use serde_json::json;
    let ids = |ids: Option<Vec<TaskId>>| {
        ids.map(|ids| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>())
    };
    let value = match command {
        TasksCommand::Redrive(args) => {
            if let Some(RedriveView::View { dataset_name }) = args.view {
                remote
                    .get("tasks/redrive", &[("datasetName", dataset_name)])
                    .await?
            } else {
                let dataset_name = args
                    .dataset_name
                    .ok_or_else(|| anyhow::anyhow!("--datasetName is required"))?;
                let redriven = remote
                    .post(
                        "tasks/redrive",
                        &json!({
                            "datasetName": dataset_name,
                            "taskIds": ids(args.task_ids),
                            "restartFromBeginning": args.restart_from_beginning,
                        }),
                    )
                    .await?;
                if args.detach {
                    redriven
                } else {
                    let ended = crate::progress::follow(remote, &dataset_name).await?;
                    return super::datasets::print_dataset(&ended, out);
                }
            }
        }
        TasksCommand::Stop {
            dataset_name,
            task_ids,
        } => {
            remote
                .post(
                    "tasks/stop",
                    &json!({"datasetName": dataset_name, "taskIds": ids(task_ids)}),
                )
                .await?
        }
        TasksCommand::List {
            dataset_name,
            task_status,
            page,
        } => {
            let filters = [("taskStatus", task_status.map(|s| s.to_string()))];
            let query = |after: Option<String>, limit: usize| {
                super::page_query(&dataset_name, limit, after, &filters)
            };
            if let Some(limit) = page.limit() {
                remote
                    .get("tasks/list", &query(page.next_token.clone(), limit))
                    .await?
            } else {
                super::print_all(out, super::PAGE, |after, limit| {
                    let query = query(after, limit);
                    async move {
                        let mut page = remote.get("tasks/list", &query).await?;
                        super::page_of(&mut page, "tasks")
                    }
                })
                .await?;
                return Ok(ExitCode::SUCCESS);
            }
        }
        TasksCommand::View {
            dataset_name,
            task_id,
        } => {
            remote
                .get(
                    "tasks",
                    &[
                        ("datasetName", dataset_name),
                        ("taskId", task_id.to_string()),
                    ],
                )
                .await?
        }
    };
    out.print(&value)?;
    Ok(ExitCode::SUCCESS)
}
