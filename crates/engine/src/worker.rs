//! This process's worker identity, and whether another local worker is still alive.
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
