//! A task's log file, filtered by the dataset's `logLevel`.
//!
//! `$LETSDATA_HOME/datasets/<datasetId>/logs/<taskId>.log`, one line per event:
//! `<RFC 3339 time> <LEVEL> <worker> <message>`. Invocations, checkpoints, part objects,
//! record errors and task errors are logged at the levels documented in docs/configuration.md;
//! what user code prints is always logged, labelled `USER`.

use letsdata_model::spec::LogLevel;
use std::io::Write;
use std::path::PathBuf;

pub(crate) struct TaskLog {
    path: PathBuf,
    level: LogLevel,
    worker: String,
}

impl TaskLog {
    pub(crate) fn new(dir: PathBuf, task_id: &str, level: LogLevel, worker: &str) -> Self {
        Self {
            path: dir.join(format!("{task_id}.log")),
            level,
            worker: worker.to_string(),
        }
    }

    pub(crate) fn enabled(&self, level: LogLevel) -> bool {
        level >= self.level
    }

    pub(crate) fn log(&self, level: LogLevel, message: impl AsRef<str>) {
        if !self.enabled(level) {
            return;
        }
        self.write(level.as_str(), message.as_ref());
    }

    /// What user code printed (stdout and stderr), whatever the log level, labelled `USER`.
    pub(crate) fn user(&self, message: &str) {
        self.write("USER", message);
    }

    fn write(&self, label: &str, message: &str) {
        let line = format!(
            "{} {:<5} {} {}\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            label,
            self.worker,
            message
        );
        let result = self
            .path
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
            })
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the task log");
        }
    }
}
