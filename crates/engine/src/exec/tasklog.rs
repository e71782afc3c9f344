//! A task's log file, filtered by the dataset's `logLevel`.
//!
//! `$LETSDATA_HOME/datasets/<datasetId>/logs/<taskId>.log`, one line per event:
//! `<RFC 3339 time> <LEVEL> <worker> <message>`. Invocations, checkpoints, part objects,
//! record errors and task errors are logged at the levels documented in docs/configuration.md;
//! what user code prints is always logged, labelled `USER`.
//!
//! On a shared store (PostgreSQL) the lines of each invocation are also kept for the store
//! ([`TaskLog::take_shipment`]), where `letsdata logs view` reads them from any machine; the
//! file stays as this machine's live copy.
//!
//! A task's log is capped (`LETSDATA_TASK_LOG_MAX_BYTES`, default 16 MiB, over all its
//! invocations): lines past the cap are dropped, counted, and a last line says how many bytes
//! and lines were dropped, so user code printing per record cannot fill the disk.

use letsdata_model::spec::LogLevel;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The default cap of a task's log.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) struct TaskLog {
    path: PathBuf,
    level: LogLevel,
    worker: String,
    max_bytes: u64,
    /// Whether the lines are kept for the store too.
    shipping: bool,
    /// Bytes in the file (read from it on the first write), what was dropped, and the file,
    /// opened by the first write and kept open.
    state: Mutex<Option<Written>>,
}

#[derive(Debug, Default)]
struct Written {
    bytes: u64,
    dropped_bytes: u64,
    dropped_lines: u64,
    file: Option<std::fs::File>,
    /// The lines written since the last shipment (when shipping).
    shipment: String,
}

impl TaskLog {
    pub(crate) fn new(
        dir: PathBuf,
        task_id: &str,
        level: LogLevel,
        worker: &str,
        max_bytes: u64,
        shipping: bool,
    ) -> Self {
        Self {
            path: dir.join(format!("{task_id}.log")),
            level,
            worker: worker.to_string(),
            max_bytes,
            shipping,
            state: Mutex::new(None),
        }
    }

    /// The lines written since the last call, with what the cap dropped said at the end (when
    /// shipping; empty otherwise), for the store's copy of the log.
    pub(crate) fn take_shipment(&self) -> String {
        let mut state = self.state.lock().expect("task log lock poisoned");
        let Some(written) = state.as_mut() else {
            return String::new();
        };
        let mut shipment = std::mem::take(&mut written.shipment);
        if self.shipping && written.dropped_lines > 0 {
            shipment.push_str(&self.dropped_line(written));
        }
        shipment
    }

    fn dropped_line(&self, w: &Written) -> String {
        self.line(
            "WARN",
            &format!(
                "{} bytes in {} lines dropped: this task's log reached its cap of {} bytes \
                 (LETSDATA_TASK_LOG_MAX_BYTES)",
                w.dropped_bytes, w.dropped_lines, self.max_bytes
            ),
        )
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

    fn line(&self, label: &str, message: &str) -> String {
        format!(
            "{} {:<5} {} {}\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            label,
            self.worker,
            message
        )
    }

    fn write(&self, label: &str, message: &str) {
        let mut state = self.state.lock().expect("task log lock poisoned");
        let written = state.get_or_insert_with(|| Written {
            bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
            ..Written::default()
        });
        // A line is cut to the cap, so one huge line cannot pass it either.
        let budget = self.max_bytes.saturating_sub(written.bytes);
        if budget == 0 || written.dropped_lines > 0 {
            written.dropped_bytes += message.len() as u64;
            written.dropped_lines += 1;
            return;
        }
        let mut line = self.line(label, message);
        if line.len() as u64 > budget {
            let mut cut = budget as usize;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            written.dropped_bytes += (line.len() - cut) as u64;
            written.dropped_lines += 1;
            line.truncate(cut);
            line.push('\n');
        }
        written.bytes += line.len() as u64;
        if self.shipping {
            written.shipment.push_str(&line);
        }
        self.append(&mut written.file, &line);
    }

    /// Appends `line`, opening the file (in append mode) on the first call.
    fn append(&self, file: &mut Option<std::fs::File>, line: &str) {
        if file.is_none() {
            let opened = self
                .path
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .and_then(|_| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)
                });
            match opened {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot write the task log");
                    return;
                }
            }
        }
        if let Some(Err(e)) = file.as_mut().map(|f| f.write_all(line.as_bytes())) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the task log");
        }
    }
}

impl Drop for TaskLog {
    /// Says what the cap dropped, once, past the cap.
    fn drop(&mut self) {
        let state = self.state.get_mut().map(Option::take).unwrap_or_default();
        if let Some(mut w) = state.filter(|w| w.dropped_lines > 0) {
            let line = self.dropped_line(&w);
            self.append(&mut w.file, &line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_log_stops_at_its_cap_and_says_what_it_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t1.log");
        {
            let log = TaskLog::new(
                dir.path().to_path_buf(),
                "t1",
                LogLevel::Info,
                "w1",
                1000,
                false,
            );
            for i in 0..100 {
                log.user(&format!("record {i} printed by user code"));
            }
        }
        let text = std::fs::read_to_string(&path).expect("log");
        let lines: Vec<&str> = text.lines().collect();
        let last = lines.last().expect("a last line");
        assert!(last.contains("WARN"), "{last}");
        assert!(last.contains("lines dropped: this task's log reached its cap of 1000 bytes"));
        assert!(text.len() < 1000 + 300, "{}", text.len());
        let kept = lines.len() - 1;
        let dropped: usize = last
            .split(" bytes in ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("dropped lines");
        // Every line is kept or counted; a line cut at the cap is in both.
        assert!(
            (100..=101).contains(&(kept + dropped)),
            "{kept} + {dropped}"
        );

        // The next invocation of the task starts past the cap: everything is dropped, counted.
        {
            let log = TaskLog::new(
                dir.path().to_path_buf(),
                "t1",
                LogLevel::Info,
                "w1",
                1000,
                false,
            );
            log.log(LogLevel::Error, "one more");
        }
        let again = std::fs::read_to_string(&path).expect("log");
        assert!(
            again.ends_with("(LETSDATA_TASK_LOG_MAX_BYTES)\n"),
            "{again}"
        );
        assert!(
            again
                .lines()
                .last()
                .expect("line")
                .contains("8 bytes in 1 lines dropped")
        );
    }
}
