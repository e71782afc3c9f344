//! `letsdata datasets create | list | view`.

use crate::output::Output;
use crate::progress::Progress;
use anyhow::Context;
use clap::Subcommand;
use letsdata_engine::Engine;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Create a dataset from its JSON configuration and run it (progress on stderr).
    Create {
        /// The dataset configuration (LetsData's dataset JSON).
        #[arg(long = "configFile", value_name = "FILE")]
        config_file: PathBuf,
        /// Return right after creating the dataset (on a shared store: once it is
        /// initialized); `letsdata run` or `letsdata worker` processes it.
        #[arg(long)]
        detach: bool,
    },
    /// List the datasets.
    List,
    /// Release a finished dataset's compute (COMPLETED | ERRORED → DESCALED).
    Descale {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
    /// Reclaim a finished dataset's task database and queues; output stays (→ FROZEN).
    Freeze {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
    /// Delete a dataset and everything it created, LetsData-located buckets included (→ DELETED).
    Delete {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
    /// Update the compute engine settings (also while the dataset is processing).
    Compute {
        #[command(subcommand)]
        command: ComputeCommand,
    },
    /// Update or view the dataset's implementation (Wasm user code).
    Code {
        #[command(subcommand)]
        command: CodeCommand,
    },
    /// Show a dataset: status, progress, execution logs, initialization workflow.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComputeCommand {
    /// Change concurrency, timeoutInSeconds, memoryLimitInMegabytes or logLevel (the `lambda`
    /// block's settings of a LAMBDA_AND_SAGEMAKER engine), or its endpoint's concurrency and
    /// memory.
    Update {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        #[arg(long)]
        concurrency: Option<u32>,
        #[arg(long = "timeoutInSeconds", value_name = "SECONDS")]
        timeout_in_seconds: Option<u32>,
        #[arg(long = "memoryLimitInMegabytes", value_name = "MB")]
        memory_limit_in_megabytes: Option<u32>,
        /// TRACE, DEBUG, INFO, WARN or ERROR.
        #[arg(long = "logLevel", value_name = "LEVEL")]
        log_level: Option<String>,
        /// LAMBDA_AND_SAGEMAKER: inferences at once (1-200).
        #[arg(long = "sagemakerEndpointConcurrency", value_name = "N")]
        sagemaker_endpoint_concurrency: Option<u32>,
        /// LAMBDA_AND_SAGEMAKER: the endpoint's memory, 1024, 2048, 3072, 4096, 5120 or 6144.
        #[arg(long = "sagemakerMemoryLimitInMegabytes", value_name = "MB")]
        sagemaker_memory_limit_in_megabytes: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CodeCommand {
    /// Copy, build and activate a new implementation; tasks that run afterwards (remaining,
    /// rerun or redriven) use it. Exits 1 if the new code fails its build (the dataset keeps
    /// its current code).
    Update {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// The new component: s3://<bucket>/<key>.wasm.
        #[arg(long = "artifactFileS3Link", value_name = "S3_LINK")]
        artifact_file_s3_link: String,
        /// Customer (default) or LetsData.
        #[arg(long = "artifactFileS3LinkResourceLocation", value_name = "LOCATION")]
        artifact_file_s3_link_resource_location: Option<String>,
    },
    /// Show the current implementation, the previous ones and the code update workflows.
    View {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
    },
}

pub async fn run(command: DatasetsCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(Engine::open(home).await?);
    match command {
        DatasetsCommand::Create {
            config_file,
            detach,
        } => {
            let text = read_config(&config_file)?;
            let dataset = engine.create_dataset(&text).await?;
            if engine.is_shared() {
                return create_on_shared_store(&engine, dataset, detach, out).await;
            }
            if detach {
                out.print(&dataset)?;
                return Ok(ExitCode::SUCCESS);
            }
            let progress = Progress::start(engine.clone(), vec![dataset.dataset_name.clone()]);
            let result = engine.run_dataset(&dataset.dataset_id).await;
            progress.finish();
            let dataset = result?;
            warn_about_initialization(&dataset);
            out.print(&dataset)?;
            Ok(super::exit_code_for(std::slice::from_ref(&dataset)))
        }
        DatasetsCommand::Compute {
            command:
                ComputeCommand::Update {
                    dataset_name,
                    concurrency,
                    timeout_in_seconds,
                    memory_limit_in_megabytes,
                    log_level,
                    sagemaker_endpoint_concurrency,
                    sagemaker_memory_limit_in_megabytes,
                },
        } => {
            let update = letsdata_engine::ComputeUpdate {
                concurrency,
                timeout_in_seconds,
                memory_limit_in_megabytes,
                log_level,
                sagemaker_endpoint_concurrency,
                sagemaker_memory_limit_in_megabytes,
            };
            out.print(&engine.update_compute(&dataset_name, &update).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Code {
            command:
                CodeCommand::Update {
                    dataset_name,
                    artifact_file_s3_link,
                    artifact_file_s3_link_resource_location,
                },
        } => {
            let outcome = engine
                .update_code(
                    &dataset_name,
                    &artifact_file_s3_link,
                    artifact_file_s3_link_resource_location.as_deref(),
                )
                .await?;
            if let Some(error) = &outcome.error {
                out.print(&engine.code_view(&dataset_name).await?)?;
                anyhow::bail!(
                    "code update of dataset {dataset_name:?} failed; it keeps its current code: {error}"
                );
            }
            out.print(&engine.code_view(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Code {
            command: CodeCommand::View { dataset_name },
        } => {
            out.print(&engine.code_view(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Descale { dataset_name } => {
            out.print(&engine.descale(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Freeze { dataset_name } => {
            out.print(&engine.freeze(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Delete { dataset_name } => {
            out.print(&engine.delete(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::List => {
            out.print(&engine.datasets().await?)?;
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::View { dataset_name } => {
            out.print(&engine.dataset(&dataset_name).await?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `datasets create` on a shared store: initializes the dataset here (so a bad config or an
/// unreachable resource is reported at once), then, unless `detach`, shows its progress while
/// the workers run it and exits as a local run would.
async fn create_on_shared_store(
    engine: &Arc<Engine>,
    dataset: letsdata_model::Dataset,
    detach: bool,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let dataset = engine.initialize(&dataset.dataset_id).await?;
    warn_about_initialization(&dataset);
    if detach || !dataset.dataset_status.is_unfinished() {
        out.print(&dataset)?;
        return Ok(super::exit_code_for(std::slice::from_ref(&dataset)));
    }
    let name = dataset.dataset_name.clone();
    let progress = Progress::start(engine.clone(), vec![name.clone()]);
    let store = engine.store_location();
    let mut waited = false;
    let result = engine
        .follow(&dataset.dataset_id, |workers| {
            if workers == 0 {
                waited = true;
                eprintln!(
                    "no worker is running against {store}: dataset {name} is initialized and \
                     waits for one; start one with `letsdata worker` (same LETSDATA_DATABASE_URL). \
                     This command shows progress until the dataset ends; Ctrl-C leaves it to the \
                     workers (`letsdata datasets view --datasetName {name}`)."
                );
            } else if waited {
                eprintln!("{workers} worker(s) now running dataset {name}");
            }
        })
        .await;
    progress.finish();
    let dataset = result?;
    out.print(&dataset)?;
    Ok(super::exit_code_for(std::slice::from_ref(&dataset)))
}

/// Prints on stderr the warnings initialization steps recorded (repeated manifest lines).
fn warn_about_initialization(dataset: &letsdata_model::Dataset) {
    for (step, result) in &dataset.initialization_workflow {
        let message = result.get("message").and_then(|m| m.as_str()).unwrap_or("");
        if let Some((_, warning)) = message.split_once("warning: ") {
            eprintln!("warning: {step}: {warning}");
        }
    }
}

/// The text of a dataset configuration file; prints a warning line for each field it has
/// that is accepted but ignored here (LetsData's container image and Java class wiring next
/// to Python or JavaScript code). Problems are reported by the create itself.
fn read_config(config_file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(config_file)
        .with_context(|| format!("cannot read the config file {}", config_file.display()))?;
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
        let ctx = letsdata_model::spec::ValidationContext {
            aws_resources: false,
        };
        if let Ok(spec) = letsdata_model::spec::parse_dataset_spec(&json, ctx) {
            for w in &spec.warnings {
                eprintln!("warning: {}: {}", w.path, w.message);
            }
        }
    }
    Ok(text)
}

/// The dataset record a server answered with.
pub fn dataset_of(value: &serde_json::Value) -> anyhow::Result<letsdata_model::Dataset> {
    serde_json::from_value(value.clone()).context("the server's answer is not a dataset record")
}

/// Prints the dataset a server answered with, and exits as the local command would.
pub fn print_dataset(value: &serde_json::Value, out: &Output) -> anyhow::Result<ExitCode> {
    out.print(value)?;
    Ok(super::exit_code_for(&[dataset_of(value)?]))
}

/// A dataset addressed by name, as a query or a body.
fn named(dataset_name: &str) -> [(&'static str, String); 1] {
    [("datasetName", dataset_name.to_string())]
}

/// The commands through a server.
pub async fn remote(
    command: DatasetsCommand,
    remote: &crate::remote::Remote,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    use serde_json::json;
    let value = match command {
        DatasetsCommand::Create {
            config_file,
            detach,
        } => {
            let text = read_config(&config_file)?;
            let created = remote.post_text("dataset/create", text).await?;
            let dataset = dataset_of(&created)?;
            warn_about_initialization(&dataset);
            if detach || !dataset.dataset_status.is_unfinished() {
                out.print(&created)?;
                return Ok(super::exit_code_for(std::slice::from_ref(&dataset)));
            }
            let ended = crate::progress::follow(remote, &dataset.dataset_name).await?;
            return print_dataset(&ended, out);
        }
        DatasetsCommand::Compute {
            command:
                ComputeCommand::Update {
                    dataset_name,
                    concurrency,
                    timeout_in_seconds,
                    memory_limit_in_megabytes,
                    log_level,
                    sagemaker_endpoint_concurrency,
                    sagemaker_memory_limit_in_megabytes,
                },
        } => {
            remote
                .post(
                    "dataset/compute",
                    &json!({
                        "datasetName": dataset_name,
                        "concurrency": concurrency,
                        "timeoutInSeconds": timeout_in_seconds,
                        "memoryLimitInMegabytes": memory_limit_in_megabytes,
                        "logLevel": log_level,
                        "sagemakerEndpointConcurrency": sagemaker_endpoint_concurrency,
                        "sagemakerMemoryLimitInMegabytes": sagemaker_memory_limit_in_megabytes,
                    }),
                )
                .await?
        }
        DatasetsCommand::Code {
            command:
                CodeCommand::Update {
                    dataset_name,
                    artifact_file_s3_link,
                    artifact_file_s3_link_resource_location,
                },
        } => {
            let updated = remote
                .post(
                    "dataset/code",
                    &json!({
                        "datasetName": dataset_name,
                        "artifactFileS3Link": artifact_file_s3_link,
                        "artifactFileS3LinkResourceLocation": artifact_file_s3_link_resource_location,
                    }),
                )
                .await;
            match updated {
                Ok(view) => view,
                Err(e) if crate::remote::failure_code(&e) == Some("CodeUpdateFailed") => {
                    // As locally: the code as it stays, then the failure.
                    out.print(&remote.get("dataset/code", &named(&dataset_name)).await?)?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        DatasetsCommand::Code {
            command: CodeCommand::View { dataset_name },
        } => remote.get("dataset/code", &named(&dataset_name)).await?,
        DatasetsCommand::Descale { dataset_name } => {
            remote
                .post("dataset/descale", &json!({"datasetName": dataset_name}))
                .await?
        }
        DatasetsCommand::Freeze { dataset_name } => {
            remote
                .post("dataset/freeze", &json!({"datasetName": dataset_name}))
                .await?
        }
        DatasetsCommand::Delete { dataset_name } => {
            remote
                .post("dataset/delete", &json!({"datasetName": dataset_name}))
                .await?
        }
        DatasetsCommand::List => remote.get("dataset/list", &[]).await?,
        DatasetsCommand::View { dataset_name } => {
            remote.get("dataset", &named(&dataset_name)).await?
        }
    };
    out.print(&value)?;
    Ok(ExitCode::SUCCESS)
}
