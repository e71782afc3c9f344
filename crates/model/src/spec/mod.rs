//! The dataset specification: LetsData's dataset JSON, parsed and validated.
//!
//! Parsing is done by hand over a `serde_json::Value` (not `#[derive(Deserialize)]`) so that
//! validation can report *every* problem, each with its JSON path (`readConnector.bucketName`),
//! what was expected and the accepted values, and can suggest the intended field for unknown
//! ones ("did you mean `bucketName`?"). Enum values are compared case- and space-insensitively
//! (`Single File Reader` == `SINGLEFILEREADER`). Validation does no IO; checks that need IO
//! (does the bucket exist?) happen separately, before anything is created.

mod compute;
mod fields;
mod kafka;
mod manifest;
mod overlap;
mod read_connector;
mod redis;
#[cfg(test)]
mod tests;
mod types;
mod validate;
mod vectors;
mod write_connectors;

pub use kafka::validate_topic_name;
pub use types::*;
pub use validate::parse_dataset_spec;

use std::fmt;
use thiserror::Error;

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending field, e.g. `readConnector.readerType` (`$` for the document).
    pub path: String,
    /// What is wrong and what is expected, e.g.
    /// `"Singel File Reader" is not a reader type; accepted values: Single File Reader (SINGLEFILEREADER)`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Problems a [`ConfigError`] shows; the rest are counted.
const PROBLEMS_SHOWN: usize = 50;

/// Every problem found in a dataset configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "the dataset configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.problems.iter().take(PROBLEMS_SHOWN) {
            write!(f, "\n  - {p}")?;
        }
        if n > PROBLEMS_SHOWN {
            write!(
                f,
                "\n  ... and {} more (fix these first)",
                n - PROBLEMS_SHOWN
            )?;
        }
        Ok(())
    }
}

/// Facts about the environment that change which fields are required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationContext {
    /// Buckets are S3 buckets (an endpoint is set: `LETSDATA_AWS_ENDPOINT`, `AWS_ENDPOINT_URL_S3`
    /// or `AWS_ENDPOINT_URL`) rather than local directories.
    /// Then `accessGrantRoleArn` is required when a `Customer` resource is used and
    /// `customerAccountForAccess` when a `LetsData` resource is created.
    pub aws_resources: bool,
}
