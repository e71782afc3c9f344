//! Bucket names resolved to local directories or S3 buckets, behind `object_store`.

use super::Bucket;
use super::admin as s3admin;
use super::flush::LocalFlush;
use super::nofollow::NoFollow;
use crate::ConnectorError;
use crate::aws::{GrantCredentials, GrantProvider, endpoint_from_env};
use crate::owner::{Claim, OWNER_TAG, Owner};
use letsdata_model::location::validate_bucket_name;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// S3 settings, from the environment.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Path-style addressing (`http://endpoint/bucket/key`), the default for custom endpoints.
    pub path_style: bool,
    /// An access grant whose credentials replace the ones above (a tenant's `Customer`
    /// buckets, [`crate::aws::Access`]).
    pub grant: Option<Arc<GrantCredentials>>,
}

impl S3Settings {
    /// Reads the S3 endpoint ([`endpoint_from_env`]: `LETSDATA_AWS_ENDPOINT`, else
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`), the usual AWS credential variables and
    /// `AWS_REGION`/`AWS_DEFAULT_REGION` (default `us-east-1`). `LETSDATA_S3_PATH_STYLE=false`
    /// switches to virtual-hosted addressing (any value but `true` or `false` is an error).
    /// `None` when no endpoint is set: buckets are local directories then.
    pub fn from_env() -> Result<Option<Self>, ConnectorError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let Some(endpoint) = endpoint_from_env(Some("S3")).map(|e| e.url) else {
            return Ok(None);
        };
        let path_style = match var("LETSDATA_S3_PATH_STYLE").as_deref().map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(ConnectorError::Settings(format!(
                    "LETSDATA_S3_PATH_STYLE={other:?}: expected true (path-style addressing, \
                     the default) or false (virtual-hosted)"
                )));
            }
        };
        Ok(Some(Self {
            endpoint,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string()),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            path_style,
            grant: None,
        }))
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Local { root: PathBuf },
    S3(Arc<S3Settings>),
}

/// A bucket's client: its store, and on S3 its multipart uploads (the same client).
type Cached = (Arc<dyn ObjectStore>, Option<Arc<dyn MultipartStore>>);

/// Resolves bucket names to buckets; caches one client per bucket.
pub struct ObjectStores {
    backend: Backend,
    /// How staged parts of local buckets are made durable.
    flush: LocalFlush,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for ObjectStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStores")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl ObjectStores {
    /// Local buckets under `home/buckets`, or S3 when an endpoint is set
    /// ([`S3Settings::from_env`]), staged local parts flushed as `LETSDATA_LOCAL_FLUSH` says
    /// ([`LocalFlush::from_env`]).
    pub fn from_env(home: &Path) -> Result<Self, ConnectorError> {
        let flush = LocalFlush::from_env().map_err(ConnectorError::Settings)?;
        Ok(match S3Settings::from_env()? {
            Some(s3) => Self::s3(s3),
            None => Self::local(home.join("buckets")).flushing(flush),
        })
    }

    pub fn local(root: PathBuf) -> Self {
        Self {
            backend: Backend::Local { root },
            flush: LocalFlush::default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn s3(settings: S3Settings) -> Self {
        Self {
            backend: Backend::S3(Arc::new(settings)),
            flush: LocalFlush::default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The same, staged parts of local buckets made durable `how`.
    pub fn flushing(self, how: LocalFlush) -> Self {
        Self { flush: how, ..self }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self.backend, Backend::S3(_))
    }

    /// The same buckets reached with an access grant's credentials (S3; local buckets need
    /// none and are the same).
    pub fn with_grant(&self, grant: Arc<GrantCredentials>) -> Self {
        let backend = match &self.backend {
            Backend::S3(s) => Backend::S3(Arc::new(S3Settings {
                grant: Some(grant),
                ..S3Settings::clone(s)
            })),
            local @ Backend::Local { .. } => local.clone(),
        };
        Self {
            backend,
            flush: self.flush,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `local:<root>` or `s3:<endpoint>`, recorded in the dataset's resources.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local { root } => format!("local:{}", root.display()),
            Backend::S3(s) => format!("s3:{}", s.endpoint),
        }
    }

    /// Where a local bucket lives (None for S3).
    pub fn local_bucket_dir(&self, bucket: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Local { root } => Some(root.join(bucket)),
            Backend::S3(_) => None,
        }
    }

    /// The bucket of that name. Does no IO; reading a bucket that does not exist fails later.
    pub fn bucket(&self, name: &str) -> Result<Bucket, ConnectorError> {
        validate_bucket_name(name).map_err(|e| ConnectorError::InvalidLocation(e.to_string()))?;
        let mut cache = self.cache.lock().expect("object store cache lock poisoned");
        let (settings, local_dir) = match &self.backend {
            Backend::S3(s) => (Some(s.clone()), None),
            Backend::Local { root } => (None, Some(root.join(name))),
        };
        let bucket = |(store, multipart): Cached| {
            let s3 = settings.clone().zip(multipart);
            Bucket::new(name, store, s3, local_dir.clone(), self.flush)
        };
        if let Some(cached) = cache.get(name) {
            return Ok(bucket(cached.clone()));
        }
        let cached: Cached = match &self.backend {
            Backend::Local { root } => {
                let dir = root.join(name);
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(ConnectorError::InvalidLocation(format!(
                            "bucket {name:?}: {} is a symbolic link; local buckets never follow \
                             links (they could reach files outside {}): make it a directory",
                            dir.display(),
                            root.display()
                        )));
                    }
                    Ok(m) if m.is_dir() => {}
                    _ => return Err(self.not_found(name)),
                }
                let local = LocalFileSystem::new_with_prefix(&dir).map_err(|e| {
                    ConnectorError::Settings(format!("cannot open {}: {e}", dir.display()))
                })?;
                (Arc::new(NoFollow::new(dir, local)), None)
            }
            Backend::S3(s) => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(name)
                    .with_region(&s.region)
                    .with_endpoint(&s.endpoint)
                    .with_allow_http(true)
                    .with_virtual_hosted_style_request(!s.path_style);
                if let Some(grant) = &s.grant {
                    b = b.with_credentials(Arc::new(GrantProvider(grant.clone())));
                } else {
                    if let Some(k) = &s.access_key_id {
                        b = b.with_access_key_id(k);
                    }
                    if let Some(k) = &s.secret_access_key {
                        b = b.with_secret_access_key(k);
                    }
                    if let Some(t) = &s.session_token {
                        b = b.with_token(t);
                    }
                }
                let s3 = Arc::new(
                    b.build()
                        .map_err(|e| ConnectorError::Settings(e.to_string()))?,
                );
                (s3.clone(), Some(s3))
            }
        };
        cache.insert(name.to_string(), cached.clone());
        Ok(bucket(cached))
    }

    fn not_found(&self, name: &str) -> ConnectorError {
        let hint = match &self.backend {
            Backend::Local { root } => format!(
                " (local buckets are directories: create {} and put the input files in it)",
                root.join(name).display()
            ),
            Backend::S3(s) => format!(" at {}", s.endpoint),
        };
        ConnectorError::BucketNotFound {
            bucket: name.to_string(),
            hint,
        }
    }

    /// Whether the bucket exists.
    pub async fn bucket_exists(&self, name: &str) -> Result<bool, ConnectorError> {
        validate_bucket_name(name).map_err(|e| ConnectorError::InvalidLocation(e.to_string()))?;
        match &self.backend {
            Backend::Local { root } => Ok(root.join(name).is_dir()),
            Backend::S3(s) => s3admin::bucket_exists(s, name).await,
        }
    }

    /// Fails with a helpful message unless the bucket exists.
    pub async fn require_bucket(&self, name: &str) -> Result<(), ConnectorError> {
        if self.bucket_exists(name).await? {
            Ok(())
        } else {
            Err(self.not_found(name))
        }
    }

    /// Deletes every object in the bucket, then the bucket. Idempotent.
    pub async fn delete_bucket(&self, name: &str) -> Result<u64, ConnectorError> {
        if !self.bucket_exists(name).await? {
            return Ok(0);
        }
        let bucket = self.bucket(name)?;
        let objects = bucket.list("").await?;
        for o in &objects {
            bucket.delete_if_exists(&o.key).await?;
        }
        self.cache
            .lock()
            .expect("object store cache lock poisoned")
            .remove(name);
        match &self.backend {
            Backend::Local { root } => {
                let dir = root.join(name);
                tokio::fs::remove_dir_all(&dir).await.map_err(|e| {
                    ConnectorError::io(format!("cannot delete {}", dir.display()), e)
                })?;
            }
            Backend::S3(s) => s3admin::delete_bucket(s, name).await?,
        }
        Ok(objects.len() as u64)
    }

    /// Creates the bucket if it does not exist yet. Idempotent.
    pub async fn create_bucket(&self, name: &str) -> Result<(), ConnectorError> {
        validate_bucket_name(name).map_err(|e| ConnectorError::InvalidLocation(e.to_string()))?;
        match &self.backend {
            Backend::Local { root } => {
                let dir = root.join(name);
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| ConnectorError::io(format!("cannot create {}", dir.display()), e))
            }
            Backend::S3(s) => s3admin::create_bucket(s, name).await.map(|_| ()),
        }
    }

    /// Creates a `LetsData` bucket tagged with `owner` (S3: the bucket tag; local: a file
    /// under `.letsdata-owners/` beside the buckets, a name no bucket can have). An existing
    /// bucket is used only when [`Owner::adopt`] allows it. Idempotent.
    pub async fn create_owned_bucket(
        &self,
        name: &str,
        owner: Owner<'_>,
    ) -> Result<(), ConnectorError> {
        validate_bucket_name(name).map_err(|e| ConnectorError::InvalidLocation(e.to_string()))?;
        let described = format!("bucket {name:?}");
        match &self.backend {
            Backend::Local { root } => {
                let claim = owner.claim(local_owner(root, name).await?);
                if claim != Claim::Ours {
                    if let Some(empty) = local_dir_empty(&root.join(name)).await? {
                        owner.adopt(&described, &claim, empty)?;
                    }
                    set_local_owner(root, name, owner.tag()).await?;
                }
                self.create_bucket(name).await
            }
            Backend::S3(s) => {
                if !s3admin::create_bucket(s, name).await? {
                    let claim = owner.claim(s3admin::bucket_tags(s, name).await?);
                    if claim != Claim::Ours {
                        let empty = s3admin::bucket_is_empty(s, name).await?;
                        owner.adopt(&described, &claim, empty)?;
                    }
                }
                s3admin::tag_bucket(s, name, OWNER_TAG, owner.tag()).await
            }
        }
    }

    /// Deletes a `LetsData` bucket (as [`Self::delete_bucket`]) when [`Owner::refuse_delete`]
    /// allows it: `Ok(n objects)`, or `Err(why)` when it is left in place.
    pub async fn delete_owned_bucket(
        &self,
        name: &str,
        owner: Owner<'_>,
    ) -> Result<Result<u64, String>, ConnectorError> {
        if !self.bucket_exists(name).await? {
            return Ok(Ok(0));
        }
        let (claim, empty) = match &self.backend {
            Backend::Local { root } => (
                owner.claim(local_owner(root, name).await?),
                local_dir_empty(&root.join(name)).await? != Some(false),
            ),
            Backend::S3(s) => (
                owner.claim(s3admin::bucket_tags(s, name).await?),
                s3admin::bucket_is_empty(s, name).await?,
            ),
        };
        if let Some(why) = owner.refuse_delete(&claim, empty) {
            return Ok(Err(why));
        }
        let n = self.delete_bucket(name).await?;
        if let Backend::Local { root } = &self.backend {
            match tokio::fs::remove_file(owners_dir(root).join(name)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ConnectorError::io("cannot remove a bucket's owner file", e));
                }
                _ => {}
            }
        }
        Ok(Ok(n))
    }
}

/// Where local buckets' owners are recorded: a name no bucket can have (a leading dot).
fn owners_dir(root: &Path) -> PathBuf {
    root.join(".letsdata-owners")
}

/// The owner tag recorded for a local bucket, as tags (none when none is recorded).
async fn local_owner(root: &Path, name: &str) -> Result<Vec<(String, String)>, ConnectorError> {
    match tokio::fs::read_to_string(owners_dir(root).join(name)).await {
        Ok(id) => Ok(vec![(OWNER_TAG.to_string(), id.trim().to_string())]),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ConnectorError::io(
            format!("cannot read the owner of local bucket {name:?}"),
            e,
        )),
    }
}

/// Records `id` as the owner of local bucket `name` (written whole, then renamed). Several
/// processes may record it at once (workers initializing one dataset): each writes a file of
/// its own, and the last rename wins (they record the same owner).
async fn set_local_owner(root: &Path, name: &str, id: &str) -> Result<(), ConnectorError> {
    let dir = owners_dir(root);
    let io = |e| {
        ConnectorError::io(
            format!("cannot record the owner of local bucket {name:?}"),
            e,
        )
    };
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        "{name}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    tokio::fs::write(&tmp, id).await.map_err(io)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)
}

/// Whether the directory is empty; `None` when nothing is there. A symbolic link counts as
/// not empty (a bucket is never one).
async fn local_dir_empty(dir: &Path) -> Result<Option<bool>, ConnectorError> {
    let io = |e| ConnectorError::io(format!("cannot read {}", dir.display()), e);
    match tokio::fs::symlink_metadata(dir).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
        Ok(m) if !m.is_dir() => Ok(Some(false)),
        Ok(_) => Ok(Some(
            tokio::fs::read_dir(dir)
                .await
                .map_err(io)?
                .next_entry()
                .await
                .map_err(io)?
                .is_none(),
        )),
    }
}
