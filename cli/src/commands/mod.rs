//! One module per command group.

pub mod datasets;
pub mod errors;
pub mod logs;
pub mod metrics;
pub mod outputs;
pub mod run;
pub mod tasks;

use letsdata_model::{Dataset, DatasetStatus};
use std::process::ExitCode;

/// Exit code of a command that ran datasets: 3 when one finished ERRORED.
pub fn exit_code_for(datasets: &[Dataset]) -> ExitCode {
    let errored: Vec<&str> = datasets
        .iter()
        .filter(|d| d.dataset_status == DatasetStatus::Errored)
        .map(|d| d.dataset_name.as_str())
        .collect();
    if errored.is_empty() {
        ExitCode::SUCCESS
    } else {
        for d in datasets
            .iter()
            .filter(|d| d.dataset_status == DatasetStatus::Errored)
        {
            eprintln!(
                "error: dataset {} finished ERRORED: {}",
                d.dataset_name,
                d.last_error
                    .as_deref()
                    .unwrap_or("see `letsdata tasks list`")
            );
        }
        ExitCode::from(3)
    }
}
