//! The S3 sink: a task's documents (or error records) as part objects,
//! `<datasetName>/<taskId>/part-<n>.jsonl` (`.jsonl.gz` when compressed).
//!
//! Documents stream into the current part's staging (a local staging file, an S3 multipart
//! upload); [`SinkWriter::stage`] completes it without making it visible, and
//! [`SinkWriter::publish`] makes it visible once the checkpoint recorded it (see
//! `writer.rs`). An invocation's [`SinkWriter::recover`] publishes what the last checkpoint
//! recorded, then removes what earlier attempts left under the task's prefix (staging files,
//! incomplete uploads). A part object is therefore visible only if a checkpoint covers it:
//! a part is never written twice, and no stale copy can exist.

use super::source::check_bucket;
use super::{Bucket, PartWriter, StagedObject};
use crate::aws::Access;
use crate::owner::{Owner, left_in_place};
use crate::sink::{
    DocumentBatch, DocumentSink, Fence, Rejected, SinkRole, SinkTask, SinkWriter, Staged,
};
use crate::{ConnectorContext, ConnectorError, FailureKind};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::ResourceLocation;
use letsdata_model::{ConnectorResource, Problem};
use serde::Deserialize;

/// Part objects in a bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    pub(super) role: SinkRole,
    /// As whom the bucket is reached (its `resourceLocation`).
    pub(super) access: Access,
    pub(super) location: ResourceLocation,
    pub(super) bucket_name: Option<String>,
    pub(super) gzip: bool,
}

#[async_trait]
impl DocumentSink for S3Sink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        let suffix = match self.role {
            SinkRole::Write => "output",
            SinkRole::Error => "errors",
        };
        ConnectorResource {
            resource_type: ConnectorResource::S3_BUCKET.to_string(),
            resource_location: self.location.to_string(),
            name: self
                .bucket_name
                .clone()
                .unwrap_or_else(|| generated(suffix)),
            ..Default::default()
        }
    }

    async fn check(&self, ctx: &ConnectorContext, resource: &ConnectorResource) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.location == ResourceLocation::Customer {
            let path = format!("{}.bucketName", self.role.field());
            check_bucket(ctx, &self.access, &resource.name, &path, &mut problems).await;
        }
        problems
    }

    fn provision_step(&self, _resource: &ConnectorResource) -> Option<&'static str> {
        match (self.location, self.role) {
            (ResourceLocation::Customer, _) => None,
            (ResourceLocation::LetsData, SinkRole::Write) => {
                Some("Write Connector - Create S3 Bucket")
            }
            (ResourceLocation::LetsData, SinkRole::Error) => {
                Some("Error Connector - Create Error Bucket")
            }
        }
    }

    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        ctx.objects_as(&self.access)
            .await?
            .create_owned_bucket(&resource.name, owner)
            .await?;
        Ok(resource.clone())
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        if !resource.is_letsdata() || resource.name.is_empty() {
            return None;
        }
        Some(match self.role {
            SinkRole::Write => "Write Connector - Delete S3 Bucket",
            SinkRole::Error => "Error Connector - Delete Error Bucket",
        })
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        Ok(
            match ctx
                .objects_as(&self.access)
                .await?
                .delete_owned_bucket(&resource.name, owner)
                .await?
            {
                Ok(n) => format!("bucket {} deleted ({n} objects)", resource.name),
                Err(why) => left_in_place(&format!("bucket {}", resource.name), &why),
            },
        )
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Ok(part_objects(
            ctx.objects_as(&self.access).await?.bucket(&resource.name)?,
            &format!("{}/{}", task.dataset_name, task.task_id),
            self.gzip,
            task.attempt,
        ))
    }

    async fn remove_leftovers(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        dataset_name: &str,
    ) -> Result<u64, ConnectorError> {
        let objects = ctx.objects_as(&self.access).await?;
        if !objects.bucket_exists(&resource.name).await? {
            return Ok(0);
        }
        let bucket = objects.bucket(&resource.name)?;
        bucket
            .remove_incomplete(&format!("{dataset_name}/"), u64::MAX, true, &Ended)
            .await
    }

    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let mut docs = Vec::new();
        let objects = ctx.objects_as(&self.access).await?;
        if !objects.bucket_exists(&resource.name).await? {
            return Ok(docs);
        }
        let bucket = objects.bucket(&resource.name)?;
        for object in bucket.list(&format!("{dataset_name}/")).await? {
            let data = bucket.read_all(&object.key).await?;
            let data = if object.key.ends_with(".gz") {
                crate::gunzip(&data).map_err(|e| {
                    ConnectorError::Corrupt(format!("s3://{}/{}: {e}", resource.name, object.key))
                })?
            } else {
                data
            };
            let mut start = 0;
            for end in newlines(&data) {
                if end > start {
                    if docs.len() >= limit {
                        return Ok(docs);
                    }
                    docs.push(data.slice(start..end));
                }
                start = end + 1;
            }
            if start < data.len() {
                if docs.len() >= limit {
                    return Ok(docs);
                }
                docs.push(data.slice(start..));
            }
        }
        Ok(docs)
    }

    async fn delete_task_output(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        task: &SinkTask<'_>,
    ) -> Result<(), ConnectorError> {
        let objects = ctx.objects_as(&self.access).await?;
        if !objects.bucket_exists(&resource.name).await? {
            return Ok(());
        }
        let bucket = objects.bucket(&resource.name)?;
        let prefix = format!("{}/{}/", task.dataset_name, task.task_id);
        for object in bucket.list(&prefix).await? {
            bucket.delete_if_exists(&object.key).await?;
        }
        Ok(())
    }
}

/// Positions of the `\n`s in `data`.
fn newlines(data: &[u8]) -> impl Iterator<Item = usize> + '_ {
    data.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}

/// The dataset has ended: no attempt of its tasks can record a checkpoint any more.
struct Ended;

#[async_trait]
impl Fence for Ended {
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// The writer of part objects `<prefix>/part-<n>.jsonl[.gz]` in `bucket` for attempt
/// `attempt` of a task (what the S3 sink opens for a task).
pub fn part_objects(bucket: Bucket, prefix: &str, gzip: bool, attempt: u64) -> Box<dyn SinkWriter> {
    Box::new(PartObjects {
        bucket,
        prefix: prefix.to_string(),
        extension: if gzip { "jsonl.gz" } else { "jsonl" },
        gzip,
        attempt,
        writer: None,
        staged: None,
    })
}

/// One task's part objects.
struct PartObjects {
    bucket: Bucket,
    prefix: String,
    extension: &'static str,
    gzip: bool,
    attempt: u64,
    /// The current part's upload, once something was written to it.
    writer: Option<PartWriter>,
    /// Staged by this writer and not published yet.
    staged: Option<StagedObject>,
}

impl PartObjects {
    fn key(&self, part: u64) -> String {
        format!("{}/part-{part:05}.{}", self.prefix, self.extension)
    }

    fn staged_object(&self, value: &serde_json::Value) -> Result<StagedObject, ConnectorError> {
        StagedObject::deserialize(value).map_err(|e| {
            ConnectorError::Corrupt(format!(
                "the checkpoint's staged part for bucket {} cannot be read ({e}): {value}",
                self.bucket.name()
            ))
        })
    }
}

#[async_trait]
impl SinkWriter for PartObjects {
    fn takes_lines(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("bucket {}", self.bucket.name())
    }

    async fn write(
        &mut self,
        part: u64,
        batch: DocumentBatch<'_>,
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let DocumentBatch::Lines(bytes) = batch else {
            return Err(ConnectorError::Io {
                what: format!("cannot write to bucket {}", self.bucket.name()),
                message: "part objects take documents as lines".into(),
                kind: FailureKind::Internal,
            });
        };
        self.prepare(part).await?;
        let writer = self.writer.as_mut().expect("started by prepare");
        writer.write(bytes).await?;
        crate::failpoints::hit("s3-part-write");
        Ok(Vec::new())
    }

    async fn prepare(&mut self, part: u64) -> Result<(), ConnectorError> {
        if self.writer.is_none() {
            let key = self.key(part);
            self.writer = Some(self.bucket.writer(&key, self.gzip, self.attempt).await?);
        }
        Ok(())
    }

    async fn stage(&mut self, _part: u64) -> Result<Staged, ConnectorError> {
        let Some(writer) = self.writer.take() else {
            return Ok(Staged::Empty);
        };
        if writer.bytes_written() == 0 {
            // Started by `prepare`, nothing written: no part.
            writer.abort().await;
            return Ok(Staged::Empty);
        }
        let staged = writer.stage().await?;
        let value = serde_json::to_value(&staged)
            .map_err(|e| ConnectorError::Corrupt(format!("cannot record a staged part: {e}")))?;
        self.staged = Some(staged);
        Ok(Staged::Pending(value))
    }

    async fn publish(&mut self, staged: &serde_json::Value) -> Result<(), ConnectorError> {
        let staged = self.staged_object(staged)?;
        staged.publish(&self.bucket).await?;
        if self.staged.as_ref() == Some(&staged) {
            self.staged = None;
        }
        Ok(())
    }

    async fn recover(
        &mut self,
        pending: Option<&serde_json::Value>,
        fence: &dyn Fence,
    ) -> Result<u64, ConnectorError> {
        if let Some(value) = pending {
            // Completed, the upload is no longer among the incomplete ones removed below.
            self.staged_object(value)?.publish(&self.bucket).await?;
        } else if self.attempt <= 1 {
            // The task's first attempt (lease tokens start at 1 and only grow; a redrive keeps
            // them): no earlier attempt can have left anything, so nothing is listed (on S3,
            // two ListMultipartUploads per task saved).
            return Ok(0);
        }
        let removed = self
            .bucket
            .remove_incomplete(&format!("{}/", self.prefix), self.attempt, false, fence)
            .await?;
        if removed > 0 {
            tracing::info!(bucket = self.bucket.name(), prefix = %self.prefix, removed,
                "removed incomplete parts of an earlier attempt");
        }
        Ok(removed)
    }

    async fn abort(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort().await;
        }
        if let Some(staged) = self.staged.take() {
            staged.discard(&self.bucket).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::ObjectStores;

    fn listed(bucket_dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(bucket_dir.join("Ds/t1"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// A staged part is invisible until published; publishing is idempotent; what a dead
    /// attempt staged and recorded is published by the next attempt's recovery, and what it
    /// staged without recording is removed, while a later attempt's staging file is not.
    #[tokio::test]
    async fn parts_become_visible_only_when_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("docs")).expect("bucket dir");
        let stores = ObjectStores::local(dir.path().to_path_buf());
        let docs = stores.bucket("docs").expect("docs");
        let bucket_dir = dir.path().join("docs");

        let mut parts = part_objects(docs.clone(), "Ds/t1", false, 3);
        parts
            .write(0, DocumentBatch::Lines(b"{\"a\":1}\n"))
            .await
            .expect("write");
        let Staged::Pending(staged) = parts.stage(0).await.expect("stage") else {
            panic!("part objects are staged");
        };
        assert_eq!(listed(&bucket_dir), ["part-00000.jsonl#3"]);
        assert!(
            docs.list("Ds/").await.expect("list").is_empty(),
            "staged is not visible"
        );
        parts.publish(&staged).await.expect("publish");
        assert_eq!(listed(&bucket_dir), ["part-00000.jsonl"]);
        parts.publish(&staged).await.expect("published twice");
        assert_eq!(
            docs.read_all("Ds/t1/part-00000.jsonl").await.expect("read"),
            "{\"a\":1}\n"
        );

        // Attempt 3 stages part 1 and records it, then dies before publishing; it had also
        // left a staging file of an attempt it never recorded (attempt 2), and attempt 5 is
        // writing beside it already.
        parts
            .write(1, DocumentBatch::Lines(b"{\"a\":2}\n"))
            .await
            .expect("write");
        let Staged::Pending(recorded) = parts.stage(1).await.expect("stage") else {
            panic!("part objects are staged");
        };
        drop(parts);
        std::fs::write(bucket_dir.join("Ds/t1/part-00002.jsonl#2"), "half").expect("w");
        std::fs::write(bucket_dir.join("Ds/t1/part-00002.jsonl#5"), "later").expect("w");
        let mut next = part_objects(docs.clone(), "Ds/t1", false, 4);
        assert_eq!(
            next.recover(Some(&recorded), &Ended)
                .await
                .expect("recover"),
            1
        );
        assert_eq!(
            listed(&bucket_dir),
            ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl#5"]
        );

        // Nothing written: nothing staged. A lost lease discards what was staged.
        assert_eq!(next.stage(2).await.expect("stage"), Staged::Empty);
        next.write(2, DocumentBatch::Lines(b"{\"a\":3}\n"))
            .await
            .expect("write");
        assert!(next.stage(2).await.expect("stage").wrote());
        next.abort().await;
        assert_eq!(
            listed(&bucket_dir),
            ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl#5"]
        );

        // Once the dataset has ended, every staging file under it goes.
        let sink = S3Sink {
            role: SinkRole::Write,
            access: Access::Own,
            location: ResourceLocation::LetsData,
            bucket_name: None,
            gzip: false,
        };
        let ctx = ConnectorContext::new(std::sync::Arc::new(stores), "test");
        let resource = ConnectorResource {
            name: "docs".into(),
            ..Default::default()
        };
        assert_eq!(
            sink.remove_leftovers(&ctx, &resource, "Ds")
                .await
                .expect("leftovers"),
            1
        );
        assert_eq!(
            listed(&bucket_dir),
            ["part-00000.jsonl", "part-00001.jsonl"]
        );
    }
}
