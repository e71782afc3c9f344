//! This process's worker identity, whether another local worker is still alive, and the
//! long-running worker (`letsdata worker`).
//!
//! A worker id is `<host>:<pid>:<random>`. A lease held by a process on this host that no
//! longer exists is reaped at once instead of waiting for it to expire, so `letsdata run` after
//! a crash resumes immediately.

use std::sync::OnceLock;

fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string())
    })
}

/// A new worker id for this process.
pub(crate) fn worker_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}:{}:{}", host(), std::process::id(), &random[..8])
}

/// True when `owner` is a worker of this host whose process has exited.
pub(crate) fn is_dead_local_worker(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(_random), Some(pid), Some(owner_host)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if owner_host != host() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    process_gone(pid)
}

#[cfg(target_os = "linux")]
fn process_gone(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by its parent) is gone too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

#[cfg(not(target_os = "linux"))]
fn process_gone(_pid: u32) -> bool {
    // Elsewhere, rely on lease expiry.
    false
}

/// How long a worker waits before running again a dataset whose run failed (the database was
/// unreachable, say), at first; doubled on each failure in a row up to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);

impl crate::Engine {
    /// This process's worker id (`<host>:<pid>:<random>`), as task leases and execution logs
    /// name it.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Works as a long-running worker (`letsdata worker`): runs every unfinished dataset of
    /// every tenant in the store (initialization, then its tasks, next to any other workers
    /// running it), picking up new ones as they are created, until [`crate::Engine::drain`];
    /// then waits until every running invocation has checkpointed and released its task, and
    /// returns. A dataset whose run fails is run again after a growing pause; `on_end` hears
    /// of every run that ended.
    pub async fn work(
        self: &std::sync::Arc<Self>,
        on_end: impl Fn(&letsdata_model::Dataset),
    ) -> Result<(), crate::EngineError> {
        use letsdata_model::{DatasetId, DatasetStatus};
        use std::collections::HashMap;
        use tokio::time::Instant;
        let unfinished: Vec<DatasetStatus> = DatasetStatus::ALL
            .into_iter()
            .filter(|s| s.is_unfinished())
            .collect();
        let mut running = tokio::task::JoinSet::new();
        // The dataset each running run is for.
        let mut active: HashMap<tokio::task::Id, DatasetId> = HashMap::new();
        // Datasets whose last run failed: when to try again, and the pause after that.
        let mut retry: HashMap<DatasetId, (Instant, std::time::Duration)> = HashMap::new();
        loop {
            if self.draining() {
                if running.is_empty() {
                    return Ok(());
                }
            } else {
                match self.store.datasets_in(&unfinished).await {
                    Ok(datasets) => {
                        for dataset in datasets {
                            let id = dataset.dataset_id.clone();
                            if active.values().any(|a| *a == id)
                                || retry.get(&id).is_some_and(|(at, _)| *at > Instant::now())
                            {
                                continue;
                            }
                            tracing::info!(dataset = %dataset.dataset_name, "running the dataset");
                            let engine = self.clone();
                            let run = id.clone();
                            let handle =
                                running.spawn(async move { engine.run_dataset(&run).await });
                            active.insert(handle.id(), id);
                        }
                    }
                    // The store is unreachable for now: the next round tries again.
                    Err(e) => tracing::warn!(error = %e, "cannot list the datasets to run"),
                }
            }
            tokio::select! {
                joined = running.join_next_with_id(), if !running.is_empty() => match joined {
                    Some(Ok((task, Ok(dataset)))) => {
                        if let Some(id) = active.remove(&task) {
                            retry.remove(&id);
                        }
                        on_end(&dataset);
                    }
                    Some(Ok((task, Err(e)))) => {
                        let Some(id) = active.remove(&task) else { continue };
                        let pause = retry.get(&id).map_or(RETRY_FIRST, |(_, p)| (*p * 2).min(RETRY_MAX));
                        tracing::warn!(dataset = %id, error = %e, retry_in = ?pause, "running the dataset failed");
                        retry.insert(id, (Instant::now() + pause, pause));
                    }
                    Some(Err(e)) => {
                        let id = active.remove(&e.id());
                        tracing::error!(dataset = ?id, error = %e, "a dataset's run panicked");
                        if let Some(id) = id {
                            retry.insert(id, (Instant::now() + RETRY_MAX, RETRY_MAX));
                        }
                    }
                    None => {}
                },
                _ = tokio::time::sleep(self.settings.poll_interval * 4) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_dead_and_live_workers() {
        let me = worker_id();
        assert!(!is_dead_local_worker(&me), "our own id is alive");
        assert!(
            !is_dead_local_worker("otherhost:1:abcd"),
            "other hosts are not judged"
        );
        assert!(!is_dead_local_worker("garbage"));
        // pid 1 exists on Linux.
        assert!(!is_dead_local_worker(&format!("{}:1:abcd", host())));
        if cfg!(target_os = "linux") {
            assert!(is_dead_local_worker(&format!("{}:4194303:abcd", host())));
        }
    }
}
