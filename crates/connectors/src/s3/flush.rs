//! Making staged parts of local buckets durable, many at once.
//!
//! A staged part must be on disk before the checkpoint that records it commits. One
//! `fdatasync` per part costs several synchronous writes each and a cache flush: its data and
//! its inode and, on a file system without a journal, its new directory's block and inode and
//! that directory's parent's (ext4 makes the names of new files durable with them). With a
//! part per task, small tasks spent most of their time there. So parts are flushed together:
//! a thread of its own takes every part staged while its last flush ran, writes each part's
//! last bytes (creating a small part's file: one hand-off to that thread per part, rather
//! than one to a blocking thread to write and another to flush), and makes them all durable
//! with one `syncfs` of their file system (the same writes merged, inodes sharing a block,
//! and one cache flush), as a group commit does for a database's transactions.
//!
//! `syncfs` writes back whatever else is waiting on that file system too, other programs'
//! writes included, and reports a write that failed only from Linux 5.8 on. It is used where
//! that is sound ([`LocalFlush::FileSystem`], the default): a local disk file system (ext4,
//! XFS, Btrfs, F2FS, tmpfs) on Linux 5.8 or later. Elsewhere, and with
//! `LETSDATA_LOCAL_FLUSH=file`, each part is `fdatasync`ed, still on that thread and in
//! batches ([`LocalFlush::EachFile`]).

use std::collections::HashMap;
use std::fs::File;
use std::sync::{OnceLock, mpsc};
use tokio::sync::oneshot;

/// The environment variable that chooses how staged local parts are flushed.
pub const LOCAL_FLUSH_ENV: &str = "LETSDATA_LOCAL_FLUSH";

/// How staged parts of local buckets are made durable (`LETSDATA_LOCAL_FLUSH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalFlush {
    /// `filesystem` (the default): the parts staged meanwhile, with one `syncfs` of their file
    /// system where that is sound, else as [`LocalFlush::EachFile`].
    #[default]
    FileSystem,
    /// `file`: each part with its own `fdatasync`.
    EachFile,
}

impl LocalFlush {
    /// `LETSDATA_LOCAL_FLUSH` (unset or empty: the default); a value it cannot use is an
    /// error saying which ones it can.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(LOCAL_FLUSH_ENV) {
            Ok(value) => Self::parse(&value),
            Err(_) => Ok(Self::default()),
        }
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "" | "filesystem" => Ok(Self::FileSystem),
            "file" => Ok(Self::EachFile),
            other => Err(format!(
                "{LOCAL_FLUSH_ENV}={other:?}: expected `filesystem` (the default: the parts \
                 staged meanwhile flushed with one syncfs of their file system) or `file` (an \
                 fdatasync per part)"
            )),
        }
    }
}

/// What the flushing thread does first for a part: writes its last bytes (creating its file
/// if need be) and hands the file over.
pub(super) type LastWrite = Box<dyn FnOnce() -> std::io::Result<File> + Send>;

/// A part to finish and make durable, and whom to tell.
struct Request {
    last_write: LastWrite,
    how: LocalFlush,
    reply: oneshot::Sender<std::io::Result<()>>,
}

/// Runs `last_write` (a staged part's last bytes written) and makes the part durable;
/// returns once it is, with the parts staged meanwhile. The file is closed once flushed.
pub(super) async fn durable(last_write: LastWrite, how: LocalFlush) -> std::io::Result<()> {
    let (reply, answer) = oneshot::channel();
    flusher()
        .send(Request {
            last_write,
            how,
            reply,
        })
        .map_err(|_| std::io::Error::other("the flushing thread has stopped"))?;
    answer
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("the flushing thread has stopped")))
}

/// The flushing thread's queue, started with the first part.
fn flusher() -> &'static mpsc::Sender<Request> {
    static QUEUE: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (queue, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("letsdata-flush".into())
            .spawn(move || flush_loop(requests))
            .expect("cannot start the thread that flushes staged parts");
        queue
    })
}

fn flush_loop(requests: mpsc::Receiver<Request>) {
    // Whether `syncfs` can stand for a file's own flush on each file system seen (by device).
    let mut whole: HashMap<u64, bool> = HashMap::new();
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        batch.extend(requests.try_iter());
        flush(batch, &mut whole);
    }
}

/// A part written, waiting for its flush.
struct Written {
    file: File,
    reply: oneshot::Sender<std::io::Result<()>>,
}

/// Finishes and flushes a batch: each part's last write, then one `syncfs` per file system for
/// the parts that may share it and an `fdatasync` each for the others; then answers each.
fn flush(batch: Vec<Request>, whole: &mut HashMap<u64, bool>) {
    let mut by_device: HashMap<u64, Vec<Written>> = HashMap::new();
    for request in batch {
        let file = match (request.last_write)() {
            Ok(file) => file,
            Err(e) => {
                let _ = request.reply.send(Err(e));
                continue;
            }
        };
        if request.how == LocalFlush::FileSystem
            && let Some(device) = device_of(&file)
            && *whole
                .entry(device)
                .or_insert_with(|| syncfs_is_sound(&file))
        {
            by_device.entry(device).or_default().push(Written {
                file,
                reply: request.reply,
            });
            continue;
        }
        let _ = request.reply.send(file.sync_data());
    }
    for (_, parts) in by_device {
        let result = syncfs(&parts[0].file);
        for part in parts {
            let _ = part.reply.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

#[cfg(target_os = "linux")]
fn device_of(file: &File) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| m.dev())
}

#[cfg(not(target_os = "linux"))]
fn device_of(_: &File) -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
fn syncfs(file: &File) -> std::io::Result<()> {
    rustix::fs::syncfs(file).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(file: &File) -> std::io::Result<()> {
    file.sync_data()
}

/// Whether one `syncfs` of `file`'s file system makes `file` durable and reports a failed
/// write: a local disk file system, on Linux 5.8 or later.
#[cfg(target_os = "linux")]
fn syncfs_is_sound(file: &File) -> bool {
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const BTRFS: i64 = 0x9123_683E;
    const F2FS: i64 = 0xF2F5_2010;
    const TMPFS: i64 = 0x0102_1994;
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let local = match rustix::fs::fstatfs(file) {
        Ok(stat) => [EXT4, XFS, BTRFS, F2FS, TMPFS].contains(&(stat.f_type as i64)),
        Err(_) => false,
    };
    local && kernel_reports_syncfs_errors()
}

#[cfg(not(target_os = "linux"))]
fn syncfs_is_sound(_: &File) -> bool {
    false
}

/// Linux reports a failed write back through `syncfs` from 5.8 on.
#[cfg(target_os = "linux")]
fn kernel_reports_syncfs_errors() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (5, 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_setting_takes_its_two_values_and_names_them_when_wrong() {
        assert_eq!(
            LocalFlush::parse("").expect("empty"),
            LocalFlush::FileSystem
        );
        assert_eq!(
            LocalFlush::parse("filesystem").expect("filesystem"),
            LocalFlush::FileSystem
        );
        assert_eq!(
            LocalFlush::parse(" file ").expect("file"),
            LocalFlush::EachFile
        );
        let e = LocalFlush::parse("fsync").expect_err("not a value");
        assert!(
            e.contains("LETSDATA_LOCAL_FLUSH") && e.contains("`file`"),
            "{e}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_flushed_together_are_each_answered_and_intact() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut waiting = Vec::new();
        for i in 0..64 {
            let path = dir.path().join(format!("part-{i}"));
            let how = if i % 2 == 0 {
                LocalFlush::FileSystem
            } else {
                LocalFlush::EachFile
            };
            let last_write: LastWrite = Box::new(move || {
                let mut file = File::create(&path)?;
                writeln!(file, "{{\"n\": {i}}}")?;
                Ok(file)
            });
            waiting.push(tokio::spawn(durable(last_write, how)));
        }
        // A part whose last write fails gets that error, the others are not disturbed.
        let missing = dir.path().join("no-such-dir").join("part");
        let failing = durable(
            Box::new(move || File::create(&missing)),
            LocalFlush::FileSystem,
        );
        assert_eq!(
            failing.await.expect_err("no directory").kind(),
            std::io::ErrorKind::NotFound
        );
        for w in waiting {
            w.await.expect("joined").expect("flushed");
        }
        for i in 0..64 {
            let mut text = String::new();
            File::open(dir.path().join(format!("part-{i}")))
                .expect("part")
                .read_to_string(&mut text)
                .expect("read");
            assert_eq!(text, format!("{{\"n\": {i}}}\n"));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn syncfs_stands_in_only_on_local_disk_file_systems() {
        // /proc is not one.
        let proc = File::open("/proc/self/status").expect("/proc");
        assert!(!syncfs_is_sound(&proc));
        // tmpfs (/dev/shm) is, on a kernel that reports failed writes.
        if let Ok(dir) = tempfile::tempdir_in("/dev/shm") {
            let file = File::create(dir.path().join("f")).expect("file");
            assert_eq!(syncfs_is_sound(&file), kernel_reports_syncfs_errors());
        }
    }
}
