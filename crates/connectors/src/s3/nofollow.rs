//! Local buckets that never follow symbolic links.
//!
//! `object_store`'s `LocalFileSystem` follows links: a link placed in a bucket directory would
//! let a read, a write or `datasets delete` reach files outside the bucket (and outside
//! `$LETSDATA_HOME`). [`NoFollow`] wraps it: every operation first checks, component by
//! component below the bucket directory, that no part of the object's path is a link, and
//! refuses it (permission denied) if one is; listings leave linked entries out, so a bucket
//! delete removes a link itself, never what it points to. The bucket directory itself must not
//! be a link either ([`super::ObjectStores::bucket`] checks it).

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::path::PathBuf;
use std::sync::Arc;

/// A local bucket directory whose objects are never reached through a link.
#[derive(Debug)]
pub(super) struct NoFollow {
    root: PathBuf,
    inner: LocalFileSystem,
}

impl std::fmt::Display for NoFollow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoFollow({})", self.root.display())
    }
}

/// How [`open_below`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    /// A file, to read. Opened non-blocking: a named pipe (or a device) placed in a bucket
    /// opens at once, to be refused as not a file, rather than holding the calling thread, a
    /// runtime thread for small inputs, until something writes to it; reading a regular
    /// file is the same either way.
    Read,
    /// A file, created or truncated, to write.
    Create,
    /// A directory, as the base of `*at` calls.
    Dir,
}

/// Opens `relative`, a path below the bucket directory `root`, without following a link
/// anywhere below `root` (a blocking call). On Linux the kernel resolves the path refusing
/// links (`openat2` with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`), in one call and with no
/// window between a check and the open; elsewhere each component is checked first. A link on
/// the way is `PermissionDenied`, naming it.
pub(super) fn open_below(
    root: &std::path::Path,
    relative: &std::path::Path,
    how: Open,
) -> std::io::Result<std::fs::File> {
    Root::open(root)?.open_below(relative, how)
}

/// A bucket directory, opened (on Linux) as the base of the `openat2` calls below it, so that
/// a caller opening several paths opens the directory once.
pub(super) struct Root<'a> {
    path: &'a std::path::Path,
    #[cfg(target_os = "linux")]
    dir: rustix::fd::OwnedFd,
}

impl<'a> Root<'a> {
    pub(super) fn open(path: &'a std::path::Path) -> std::io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags};
            let dir = rustix::fs::open(
                path,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(Self { path, dir })
        }
        #[cfg(not(target_os = "linux"))]
        Ok(Self { path })
    }

    /// [`open_below`] from this directory.
    pub(super) fn open_below(
        &self,
        relative: &std::path::Path,
        how: Open,
    ) -> std::io::Result<std::fs::File> {
        let root = self.path;
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags, ResolveFlags};
            use rustix::io::Errno;
            let (flags, mode) = match how {
                Open::Read => (OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty()),
                Open::Create => (
                    OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
                    Mode::from_raw_mode(0o666),
                ),
                Open::Dir => (OFlags::PATH | OFlags::DIRECTORY, Mode::empty()),
            };
            let relative = if relative.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                relative
            };
            match rustix::fs::openat2(
                &self.dir,
                relative,
                flags | OFlags::CLOEXEC,
                mode,
                ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH,
            ) {
                Ok(fd) => return Ok(std::fs::File::from(fd)),
                // A link on the way (or a path leaving the bucket, which keys never are).
                Err(Errno::LOOP | Errno::XDEV) => return Err(link_error(root, relative)),
                // A kernel before 5.6: check, then open, as elsewhere.
                Err(Errno::NOSYS) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(link) = first_link(root, relative) {
            return Err(denied(&link));
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        // (`custom_flags` replaces what an earlier call set: one call with all of them.)
        let flags = match how {
            Open::Read => {
                options.read(true);
                libc::O_NONBLOCK
            }
            Open::Create => {
                options.write(true).create(true).truncate(true);
                0
            }
            Open::Dir => {
                options.read(true);
                libc::O_DIRECTORY
            }
        };
        options
            .custom_flags(flags | libc::O_NOFOLLOW)
            .open(root.join(relative))
    }
}

/// Renames `from` to `to`, two names in one directory below `root`, without following links
/// (a blocking call).
pub(super) fn rename_below(
    root: &std::path::Path,
    from: &std::path::Path,
    to: &std::path::Path,
) -> std::io::Result<()> {
    let (Some(dir), Some(from_name), Some(to_name)) =
        (from.parent(), from.file_name(), to.file_name())
    else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    if to.parent() != Some(dir) {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    let dir = open_below(root, dir, Open::Dir)?;
    Ok(rustix::fs::renameat(&dir, from_name, &dir, to_name)?)
}

/// Removes the file `relative` below `root` without following links (a blocking call).
pub(super) fn remove_below(
    root: &std::path::Path,
    relative: &std::path::Path,
) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (relative.parent(), relative.file_name()) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    let dir = open_below(root, dir, Open::Dir)?;
    Ok(rustix::fs::unlinkat(
        &dir,
        name,
        rustix::fs::AtFlags::empty(),
    )?)
}

/// The first component of `relative` below `root` that is a link (nothing further can be one
/// once a component does not exist).
fn first_link(root: &std::path::Path, relative: &std::path::Path) -> Option<PathBuf> {
    let mut dir = root.to_path_buf();
    for part in relative.components() {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => return Some(dir),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

fn denied(link: &std::path::Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "{} is a symbolic link: local buckets never follow links (they could reach files \
             outside the bucket); put the file itself in the bucket directory",
            link.display()
        ),
    )
}

/// The error for a path the kernel refused for a link on it, naming the link.
#[cfg(target_os = "linux")]
fn link_error(root: &std::path::Path, relative: &std::path::Path) -> std::io::Error {
    match first_link(root, relative) {
        Some(link) => denied(&link),
        None => std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "a symbolic link is in the way: local buckets never follow links",
        ),
    }
}

impl NoFollow {
    pub(super) fn new(root: PathBuf, inner: LocalFileSystem) -> Self {
        Self { root, inner }
    }

    /// The first component of `location` (from the bucket directory down) that is a link.
    pub(super) fn link_in(root: &std::path::Path, location: &Path) -> Option<PathBuf> {
        first_link(root, std::path::Path::new(location.as_ref()))
    }

    fn check(&self, location: &Path) -> Result<()> {
        match Self::link_in(&self.root, location) {
            None => Ok(()),
            Some(link) => Err(object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: format!(
                    "{} is a symbolic link: local buckets never follow links (they could reach \
                     files outside the bucket); put the file itself in the bucket directory",
                    link.display()
                )
                .into(),
            }),
        }
    }
}

#[async_trait]
impl ObjectStore for NoFollow {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check(location)?;
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        self.check(location)?;
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if let Some(prefix) = prefix
            && Self::link_in(&self.root, prefix).is_some()
        {
            return futures::stream::empty().boxed();
        }
        let root = Arc::new(self.root.clone());
        self.inner
            .list(prefix)
            .filter(move |meta| {
                let linked = meta
                    .as_ref()
                    .is_ok_and(|m| Self::link_in(&root, &m.location).is_some());
                std::future::ready(!linked)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        if let Some(prefix) = prefix {
            self.check(prefix)?;
        }
        let mut result = self.inner.list_with_delimiter(prefix).await?;
        result
            .objects
            .retain(|m| Self::link_in(&self.root, &m.location).is_none());
        result
            .common_prefixes
            .retain(|p| Self::link_in(&self.root, p).is_none());
        Ok(result)
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.copy(from, to).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.rename(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.copy_if_not_exists(from, to).await
    }
}

#[cfg(test)]
mod tests {
    use crate::ConnectorError;
    use crate::s3::ObjectStores;
    use bytes::Bytes;
    use std::os::unix::fs::symlink;

    /// A named pipe in a bucket is refused as no object at once: opening it to read never
    /// waits for a writer (a small input is opened on a runtime thread).
    #[test]
    fn a_named_pipe_in_a_local_bucket_is_no_object_and_never_blocks() {
        let home = tempfile::tempdir().expect("tempdir");
        let root = home.path().join("buckets");
        std::fs::create_dir_all(root.join("bkt")).expect("bucket");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("bkt/pipe.jsonl"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let bucket = ObjectStores::local(root).bucket("bkt").expect("bucket");
        // On a thread of its own, so that an open waiting for a writer fails the test rather
        // than hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let opened = runtime.block_on(bucket.open_read("pipe.jsonl", 0));
            let _ = tx.send(opened.err());
        });
        let refused = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening a named pipe returned within 10 s");
        assert!(
            matches!(refused, Some(ConnectorError::ObjectNotFound { .. })),
            "{refused:?}"
        );
    }

    /// Links inside a bucket, to a file and to a directory outside it: no read, write, listing
    /// or delete reaches what they point to.
    #[tokio::test]
    async fn links_in_a_local_bucket_are_never_followed() {
        let home = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.jsonl"), "{\"id\":\"secret\"}\n").expect("w");
        let root = home.path().join("buckets");
        std::fs::create_dir_all(root.join("bkt/real")).expect("bucket");
        std::fs::write(root.join("bkt/real/a.jsonl"), "{\"id\":1}\n").expect("w");
        symlink(
            outside.path().join("secret.jsonl"),
            root.join("bkt/file-link.jsonl"),
        )
        .expect("ln");
        symlink(outside.path(), root.join("bkt/dir-link")).expect("ln");
        let stores = ObjectStores::local(root.clone());
        let bucket = stores.bucket("bkt").expect("bucket");

        let listed: Vec<String> = bucket
            .list("")
            .await
            .expect("list")
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(listed, ["real/a.jsonl"]);
        for key in ["file-link.jsonl", "dir-link/secret.jsonl"] {
            let e = bucket.read_all(key).await.expect_err("read through a link");
            assert!(
                matches!(&e, ConnectorError::AccessDenied { message, .. } if message.contains("is a symbolic link")),
                "{key}: {e}"
            );
            assert!(bucket.open_read(key, 0).await.is_err(), "{key}");
        }
        let e = bucket
            .put("dir-link/new.jsonl", Bytes::from_static(b"x"))
            .await
            .expect_err("write through a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!outside.path().join("new.jsonl").exists());
        let written = match bucket.writer("dir-link/part.jsonl", false, 1).await {
            Ok(mut writer) => match writer.write(&[b'x'; 64]).await {
                Ok(()) => match writer.stage().await {
                    Ok(staged) => staged.publish(&bucket).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        assert!(written.is_err(), "a part written through a link");
        assert!(!outside.path().join("part.jsonl#1").exists());
        assert!(!outside.path().join("part.jsonl").exists());
        assert!(bucket.delete_if_exists("file-link.jsonl").await.is_err());

        // Deleting the bucket removes the links themselves, never their targets.
        stores.delete_bucket("bkt").await.expect("delete bucket");
        assert!(!root.join("bkt").exists());
        assert!(outside.path().join("secret.jsonl").exists());

        // A bucket directory that is itself a link is refused.
        symlink(outside.path(), root.join("linked")).expect("ln");
        let e = stores.bucket("linked").expect_err("linked bucket");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(stores.delete_bucket("linked").await.is_err());
        assert!(outside.path().join("secret.jsonl").exists());
    }
}
