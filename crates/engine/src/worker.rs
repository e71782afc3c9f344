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

/// How often a running worker renews its registration.
const REGISTER_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// A worker seen this recently counts as running (`letsdata workers list`, `datasets create`).
pub const WORKER_SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

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

    /// The workers (`letsdata worker`) seen within [`WORKER_SEEN_WITHIN`], oldest first.
    pub async fn live_workers(
        &self,
    ) -> Result<Vec<letsdata_store::WorkerInfo>, crate::EngineError> {
        Ok(self.store.live_workers(WORKER_SEEN_WITHIN).await?)
    }

    /// Waits while the workers run the dataset, until it is no longer running (COMPLETED or
    /// ERRORED, say), and returns it. `on_workers` hears how many workers are running, at once
    /// and then whenever that number goes to or from zero.
    pub async fn follow(
        &self,
        dataset_id: &letsdata_model::DatasetId,
        mut on_workers: impl FnMut(usize),
    ) -> Result<letsdata_model::Dataset, crate::EngineError> {
        use std::time::Duration;
        use tokio::time::Instant;
        let mut workers: Option<(usize, Instant)> = None;
        loop {
            // Looked for every second while there is none, so one that starts is told of.
            if workers.is_none_or(|(n, at)| {
                at.elapsed()
                    >= if n == 0 {
                        Duration::from_secs(1)
                    } else {
                        REGISTER_EVERY
                    }
            }) {
                match self.live_workers().await {
                    Ok(live) => {
                        let now = live.len();
                        if workers.is_none_or(|(before, _)| (before == 0) != (now == 0)) {
                            on_workers(now);
                        }
                        workers = Some((now, Instant::now()));
                    }
                    // Looked for again at the next round.
                    Err(e) => tracing::warn!(error = %e, "cannot list the running workers"),
                }
            }
            // The database restarting is waited out, as the workers wait it out.
            let dataset = match self.store.get_dataset_by_id(dataset_id).await {
                Ok(dataset) => dataset,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "cannot read the dataset; trying again");
                    tokio::time::sleep(self.settings.poll_interval * 4).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            .ok_or_else(|| crate::EngineError::DatasetNotFound(dataset_id.to_string()))?;
            if !dataset.dataset_status.is_unfinished()
                && !letsdata_model::lifecycle::is_transient(dataset.dataset_status)
            {
                return Ok(dataset);
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
    }

    /// This worker's registration as of now.
    fn registration(&self) -> letsdata_store::WorkerInfo {
        letsdata_store::WorkerInfo {
            worker_id: self.worker_id.clone(),
            host: host().to_string(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            concurrency: self.settings.worker_concurrency,
            draining: self.draining(),
            started_at: 0,
            last_seen_at: 0,
        }
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
        // When this worker last registered, and whether it was draining then.
        let mut registered: Option<(Instant, bool)> = None;
        loop {
            if registered.is_none_or(|(at, draining)| {
                at.elapsed() >= REGISTER_EVERY || draining != self.draining()
            }) {
                match self.store.register_worker(&self.registration()).await {
                    Ok(()) => registered = Some((Instant::now(), self.draining())),
                    Err(e) => tracing::warn!(error = %e, "cannot renew this worker's registration"),
                }
            }
            if self.draining() {
                if running.is_empty() {
                    if let Err(e) = self.store.unregister_worker(&self.worker_id).await {
                        tracing::warn!(error = %e, "cannot remove this worker's registration; it lapses by itself");
                    }
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
