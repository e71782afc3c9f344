//! The S3 sink: a task's documents (or error records) as part objects,
//! `<datasetName>/<taskId>/part-<n>.jsonl` (`.jsonl.gz` when compressed).
//!
//! Documents stream into the current part's upload; [`SinkWriter::commit`] completes it
//! (durable, visible). The first commit of an invocation also removes what an earlier attempt
//! that died mid-part left under the task's prefix (local staging files, incomplete S3
//! multipart uploads), and deletes a copy of its part that
//! an earlier attempt completed but did not checkpoint, when this attempt wrote nothing there;
//! after that no part can have one (the checkpoint that follows a commit comes before any later
//! part begins), so later commits (every 5 s in a stream task) do not ask the bucket again.

use super::source::check_bucket;
use super::{Bucket, PartWriter};
use crate::sink::{DocumentBatch, DocumentSink, Rejected, SinkRole, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError, FailureKind};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::ResourceLocation;
use letsdata_model::{ConnectorResource, Problem};

/// Part objects in a bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    pub(super) role: SinkRole,
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
            check_bucket(ctx, &resource.name, &path, &mut problems).await;
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
    ) -> Result<ConnectorResource, ConnectorError> {
        ctx.objects().create_bucket(&resource.name).await?;
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
    ) -> Result<String, ConnectorError> {
        let n = ctx.objects().delete_bucket(&resource.name).await?;
        Ok(format!("bucket {} deleted ({n} objects)", resource.name))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Ok(part_objects(
            ctx.objects().bucket(&resource.name)?,
            &format!("{}/{}", task.dataset_name, task.task_id),
            self.gzip,
        ))
    }

    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let mut docs = Vec::new();
        if !ctx.objects().bucket_exists(&resource.name).await? {
            return Ok(docs);
        }
        let bucket = ctx.objects().bucket(&resource.name)?;
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
        if !ctx.objects().bucket_exists(&resource.name).await? {
            return Ok(());
        }
        let bucket = ctx.objects().bucket(&resource.name)?;
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

/// The writer of part objects `<prefix>/part-<n>.jsonl[.gz]` in `bucket` (what the S3 sink
/// opens for a task).
pub fn part_objects(bucket: Bucket, prefix: &str, gzip: bool) -> Box<dyn SinkWriter> {
    Box::new(PartObjects {
        bucket,
        prefix: prefix.to_string(),
        extension: if gzip { "jsonl.gz" } else { "jsonl" },
        gzip,
        writer: None,
    })
}

/// One task's part objects.
struct PartObjects {
    bucket: Bucket,
    prefix: String,
    extension: &'static str,
    gzip: bool,
    /// The current part's upload, once something was written to it.
    writer: Option<PartWriter>,
}

impl PartObjects {
    fn key(&self, part: u64) -> String {
        format!("{}/part-{part:05}.{}", self.prefix, self.extension)
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
        if self.writer.is_none() {
            self.writer = Some(self.bucket.writer(&self.key(part), self.gzip)?);
        }
        let writer = self.writer.as_mut().expect("opened above");
        writer.write(bytes).await?;
        fail::fail_point!("s3-part-write", |arg| crate::failpoints::act(
            "s3-part-write",
            arg
        ));
        Ok(Vec::new())
    }

    async fn commit(&mut self, part: u64, first: bool) -> Result<bool, ConnectorError> {
        let written = match self.writer.take() {
            Some(w) => {
                w.finish().await?;
                true
            }
            None => {
                if first {
                    self.bucket.delete_if_exists(&self.key(part)).await?;
                }
                false
            }
        };
        if first {
            // What an earlier attempt that died mid-part left: staging files, uploads.
            let removed = self
                .bucket
                .remove_incomplete(&format!("{}/", self.prefix))
                .await?;
            if removed > 0 {
                tracing::info!(bucket = self.bucket.name(), prefix = %self.prefix, removed,
                    "removed incomplete parts of an earlier attempt");
            }
        }
        Ok(written)
    }

    async fn abort(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::ObjectStores;

    /// Stale copies are deleted for the part an invocation resumes at, and only for it.
    #[tokio::test]
    async fn only_the_resumed_part_is_cleared_of_stale_copies() {
        let dir = tempfile::tempdir().expect("tempdir");
        for b in ["docs", "errors"] {
            std::fs::create_dir_all(dir.path().join(b)).expect("bucket dir");
        }
        let stores = ObjectStores::local(dir.path().to_path_buf());
        let (docs, errors) = (
            stores.bucket("docs").expect("docs"),
            stores.bucket("errors").expect("errors"),
        );
        let stale = |key: &'static str| Bytes::from_static(key.as_bytes());
        // An earlier attempt wrote part 3 with documents and errors, then died before its
        // checkpoint; this attempt resumes at part 3 and has no errors there.
        errors
            .put("Ds/t1/part-00003.jsonl", stale("old errors"))
            .await
            .expect("put");
        let mut doc_parts = part_objects(docs.clone(), "Ds/t1", false);
        let mut error_parts = part_objects(errors.clone(), "Ds/t1", false);
        doc_parts
            .write(3, DocumentBatch::Lines(b"{\"a\":1}\n"))
            .await
            .expect("write");
        assert!(doc_parts.commit(3, true).await.expect("commit"));
        assert!(!error_parts.commit(3, true).await.expect("commit"));
        assert!(docs.exists("Ds/t1/part-00003.jsonl").await.expect("exists"));
        assert!(
            !errors
                .exists("Ds/t1/part-00003.jsonl")
                .await
                .expect("exists"),
            "the stale error object of the resumed part is deleted"
        );

        // Part 4 began after part 3's checkpoint, so nothing can have written it: the commit
        // does not look (an object put there by hand stays).
        errors
            .put("Ds/t1/part-00004.jsonl", stale("not from letsdata"))
            .await
            .expect("put");
        doc_parts
            .write(4, DocumentBatch::Lines(b"{\"a\":2}\n"))
            .await
            .expect("write");
        assert!(doc_parts.commit(4, false).await.expect("commit"));
        assert!(!error_parts.commit(4, false).await.expect("commit"));
        assert!(
            errors
                .exists("Ds/t1/part-00004.jsonl")
                .await
                .expect("exists")
        );

        // An earlier attempt's staging file (a local upload that never completed) is removed
        // by the first commit of the next invocation, and never listed as an object.
        let staging = dir.path().join("docs/Ds/t1/part-00006.jsonl#1");
        std::fs::write(&staging, b"{\"a\":\"half\"").expect("staging");
        assert!(
            docs.list("Ds/t1/")
                .await
                .expect("list")
                .iter()
                .all(|o| !o.key.contains('#'))
        );
        let mut resumed = part_objects(docs.clone(), "Ds/t1", false);
        resumed
            .write(6, DocumentBatch::Lines(b"{\"a\":6}\n"))
            .await
            .expect("write");
        assert!(resumed.commit(6, true).await.expect("commit"));
        assert!(!staging.exists(), "staging file left behind");
        assert!(docs.exists("Ds/t1/part-00006.jsonl").await.expect("exists"));

        // A part with nothing in it writes nothing.
        assert!(!doc_parts.commit(5, false).await.expect("commit"));
        assert!(!docs.exists("Ds/t1/part-00005.jsonl").await.expect("exists"));
    }
}
