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

impl NoFollow {
    pub(super) fn new(root: PathBuf, inner: LocalFileSystem) -> Self {
        Self { root, inner }
    }

    /// The first component of `location` (from the bucket directory down) that is a link.
    pub(super) fn link_in(root: &std::path::Path, location: &Path) -> Option<PathBuf> {
        let mut dir = root.to_path_buf();
        for part in location.parts() {
            dir.push(part.as_ref());
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => return Some(dir),
                Ok(_) => {}
                // Nothing further exists: nothing further can be a link.
                Err(_) => return None,
            }
        }
        None
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
