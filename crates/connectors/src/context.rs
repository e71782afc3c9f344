//! What connectors share within a process: the buckets, and clients made once and reused.

use crate::ConnectorError;
use crate::aws::{Access, AwsClients, AwsSettings, GrantCredentials};
use crate::s3::ObjectStores;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// One tenant's buckets and a cache of clients (AWS SDK configurations per region and access,
/// broker and cache connections per address), shared by the tenant's datasets in a process.
/// Cheap to share by `Arc`.
pub struct ConnectorContext {
    objects: Arc<ObjectStores>,
    /// The tenant whose datasets use this context: the external id of its access grants.
    tenant_id: String,
    /// One cell per (client type, key); the lock is held only to find the cell, so making one
    /// client (an STS call, a broker connection) never waits for another.
    clients: std::sync::Mutex<HashMap<(TypeId, String), Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for ConnectorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorContext")
            .field("objects", &self.objects.describe())
            .field("tenant_id", &self.tenant_id)
            .finish()
    }
}

impl ConnectorContext {
    /// The context of tenant `tenant_id` over these buckets.
    pub fn new(objects: Arc<ObjectStores>, tenant_id: &str) -> Self {
        Self {
            objects,
            tenant_id: tenant_id.to_string(),
            clients: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The buckets (local directories, or S3 when an endpoint is set:
    /// [`crate::aws::endpoint_from_env`]), reached
    /// with letsdata's own credentials.
    pub fn objects(&self) -> &ObjectStores {
        &self.objects
    }

    /// The buckets as `access` reaches them: S3 buckets through an access grant with the
    /// role's credentials; local buckets (which need none) and letsdata's own as
    /// [`Self::objects`].
    pub async fn objects_as(&self, access: &Access) -> Result<Arc<ObjectStores>, ConnectorError> {
        let role_arn = match access {
            Access::Grant { role_arn } if self.objects.is_s3() => role_arn,
            _ => return Ok(self.objects.clone()),
        };
        let grant = self.grant(role_arn).await?;
        self.client(&format!("objects as {role_arn}"), || async {
            Ok(Arc::new(self.objects.with_grant(grant)))
        })
        .await
    }

    /// The credentials of access grant role `role_arn` for this tenant, assumed once per
    /// process and renewed before they expire.
    pub async fn grant(&self, role_arn: &str) -> Result<Arc<GrantCredentials>, ConnectorError> {
        // Boxed: the SDK's futures are deep, and every connector call may come here.
        let assume = || {
            futures::FutureExt::boxed(async {
                let settings = AwsSettings::from_env();
                let aws = AwsClients::connect(&settings).await;
                let config = aws.sdk_config();
                GrantCredentials::assume(config, settings.retry, role_arn, &self.tenant_id).await
            })
        };
        self.client(role_arn, assume).await
    }

    /// The client of type `T` for `key` (a region, an address), made by `make` the first time
    /// it is asked for. A failed `make` is not remembered: the next call tries again.
    pub async fn client<T, F, Fut>(&self, key: &str, make: F) -> Result<T, ConnectorError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let id = (TypeId::of::<T>(), key.to_string());
        let cell = self
            .clients
            .lock()
            .expect("connector clients lock poisoned")
            .entry(id)
            .or_insert_with(|| Arc::new(tokio::sync::OnceCell::<T>::new()))
            .clone()
            .downcast::<tokio::sync::OnceCell<T>>()
            .expect("a client cell holds the type it is keyed by");
        // Callers asking at once share one attempt; a failed one leaves the cell empty.
        cell.get_or_try_init(make).await.cloned()
    }
}
