//! What connectors share within a process: the buckets, and clients made once and reused.

use crate::ConnectorError;
use crate::s3::ObjectStores;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// The buckets and a cache of clients (AWS SDK configurations per region, broker and cache
/// connections per address), shared by every dataset of a process. Cheap to share by `Arc`.
pub struct ConnectorContext {
    objects: Arc<ObjectStores>,
    clients: tokio::sync::Mutex<HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for ConnectorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorContext")
            .field("objects", &self.objects.describe())
            .finish()
    }
}

impl ConnectorContext {
    /// A context over these buckets.
    pub fn new(objects: Arc<ObjectStores>) -> Self {
        Self {
            objects,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The buckets (local directories, or S3 when `LETSDATA_AWS_ENDPOINT` is set).
    pub fn objects(&self) -> &ObjectStores {
        &self.objects
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
        let mut cache = self.clients.lock().await;
        if let Some(client) = cache.get(&id).and_then(|c| c.downcast_ref::<T>()) {
            return Ok(client.clone());
        }
        let client = make().await?;
        cache.insert(id, Box::new(client.clone()));
        Ok(client)
    }
}
