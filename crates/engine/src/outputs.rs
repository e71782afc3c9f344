//! `letsdata output read`: the documents a dataset wrote, from whichever destination it writes
//! (LetsData's letsdata-writeconnector-reader, built in), read back by its write connector:
//! part objects (gunzipped when compressed), stream records from the start of every shard,
//! queue messages (peeked: they stay in the queue for the real consumers), table items.

use crate::datasets::{DatasetConnectors, sink_resource, spec_of};
use crate::{Engine, EngineError};
use letsdata_connectors::sink::SinkRole;
use serde_json::Value;

/// A document as printed: its JSON, or its text when it is not JSON.
fn document(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Engine {
    /// Up to `limit` documents the dataset wrote, in destination order (per task or shard).
    pub async fn read_output(
        &self,
        dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Value>, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        let spec = spec_of(self, &dataset)?;
        let sink = DatasetConnectors::of(&spec)?.write;
        let resource = sink_resource(&dataset, &spec, SinkRole::Write)?;
        let docs = sink
            .read_back(&self.connectors, &resource, &dataset.dataset_name, limit)
            .await?;
        Ok(docs.iter().map(|d| document(d)).collect())
    }
}
