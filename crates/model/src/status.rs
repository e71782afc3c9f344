//! Dataset and task statuses, spelled as LetsData spells them (`PROCESSING`, `RERUN`, ...).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A dataset's status (LetsData's Datasets page, "Dataset Status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DatasetStatus {
    Created,
    Initializing,
    Processing,
    Completed,
    Errored,
    Descaled,
    Frozen,
    Deleted,
    Updating,
    Redriving,
    StoppingError,
    StoppingComplete,
    Descaling,
    Freezing,
    Deleting,
}

impl DatasetStatus {
    pub const ALL: [DatasetStatus; 15] = [
        Self::Created,
        Self::Initializing,
        Self::Processing,
        Self::Completed,
        Self::Errored,
        Self::Descaled,
        Self::Frozen,
        Self::Deleted,
        Self::Updating,
        Self::Redriving,
        Self::StoppingError,
        Self::StoppingComplete,
        Self::Descaling,
        Self::Freezing,
        Self::Deleting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Initializing => "INITIALIZING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Errored => "ERRORED",
            Self::Descaled => "DESCALED",
            Self::Frozen => "FROZEN",
            Self::Deleted => "DELETED",
            Self::Updating => "UPDATING",
            Self::Redriving => "REDRIVING",
            Self::StoppingError => "STOPPING_ERROR",
            Self::StoppingComplete => "STOPPING_COMPLETE",
            Self::Descaling => "DESCALING",
            Self::Freezing => "FREEZING",
            Self::Deleting => "DELETING",
        }
    }

    /// Statuses in which the dataset still has work for `letsdata run` to do (a stop that was
    /// interrupted is finished by `run` too).
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            Self::Created
                | Self::Initializing
                | Self::Processing
                | Self::StoppingError
                | Self::StoppingComplete
        )
    }
}

impl fmt::Display for DatasetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown dataset status {s:?}"))
    }
}

/// A task's status.
///
/// `CREATED` → `PROCESSING` → (`RERUN` → `PROCESSING`)* → `COMPLETED` | `ERRORED`.
/// `RERUN` means the task used up its invocation budget, checkpointed, and is queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Created,
    Processing,
    Rerun,
    Completed,
    Errored,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        Self::Created,
        Self::Processing,
        Self::Rerun,
        Self::Completed,
        Self::Errored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Processing => "PROCESSING",
            Self::Rerun => "RERUN",
            Self::Completed => "COMPLETED",
            Self::Errored => "ERRORED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Errored)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;
    /// Case-insensitive, so `--taskStatus errored` works.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == upper)
            .ok_or_else(|| {
                format!(
                    "unknown task status {s:?}; accepted values: {}",
                    Self::ALL.map(|v| v.as_str()).join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_strings() {
        for s in DatasetStatus::ALL {
            assert_eq!(s.as_str().parse::<DatasetStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().to_lowercase().parse::<TaskStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        assert!("DONE".parse::<TaskStatus>().is_err());
    }
}
