//! Reading what a dataset produced: error objects and records, task logs
//! (LetsData's `errors/list`, `errors` and `logs` Control API resources).

use crate::{Engine, EngineError};
use letsdata_connectors::aws::Access;
use letsdata_connectors::s3::{Bucket, ObjectInfo};
use letsdata_model::{Dataset, TaskId};
use serde::Serialize;

/// One error object of a task.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObject {
    pub task_id: String,
    /// `s3://<errorBucket>/<datasetName>/<taskId>/part-<n>.jsonl`
    pub error_file: String,
    pub size_bytes: u64,
    pub error_records: u64,
}

/// One page of `errors list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObjectPage {
    pub errors: Vec<ErrorObject>,
    /// Where the next page starts; `null` on the last page.
    pub next_token: Option<String>,
}

/// A dataset's error objects, listed (sorted by key) and read a page at a time.
pub struct ErrorObjects {
    dataset_name: String,
    /// The dataset's key prefix, the error bucket and its objects; `None` when the error
    /// bucket does not exist (not initialized yet, or deleted).
    listed: Option<(String, Bucket, Vec<ObjectInfo>)>,
}

impl ErrorObjects {
    /// Up to `limit` objects after `after` (a `nextToken` an earlier page returned), each
    /// read to count its records, and where the next page starts.
    pub async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ErrorObjectPage, EngineError> {
        let Some((prefix, bucket, objects)) = &self.listed else {
            return Ok(ErrorObjectPage {
                errors: Vec::new(),
                next_token: None,
            });
        };
        if let Some(token) = after
            && !token.starts_with(prefix.as_str())
        {
            return Err(EngineError::Refused(format!(
                "--nextToken: {token:?} is not a nextToken that errors list returned for dataset {:?}",
                self.dataset_name
            )));
        }
        let start = after.map_or(0, |t| objects.partition_point(|o| o.key.as_str() <= t));
        let limit = limit.max(1);
        let page = &objects[start.min(objects.len())..];
        let mut out = Vec::new();
        for object in page.iter().take(limit) {
            let data = bucket.read_all(&object.key).await?;
            let task = object
                .key
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default()
                .to_string();
            out.push(ErrorObject {
                task_id: task,
                error_file: format!("s3://{}/{}", bucket.name(), object.key),
                size_bytes: object.size,
                error_records: count_lines(&data),
            });
        }
        let next_token = (page.len() > limit).then(|| page[limit - 1].key.clone());
        Ok(ErrorObjectPage {
            errors: out,
            next_token,
        })
    }
}

impl Engine {
    /// The error bucket and the error objects of the dataset (all tasks, or one), sorted by key;
    /// `None` when the error bucket does not exist (not initialized yet, or deleted).
    async fn list_error_objects(
        &self,
        dataset_name: &str,
        task_id: Option<&TaskId>,
    ) -> Result<Option<(Dataset, Bucket, Vec<ObjectInfo>)>, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        if let Some(t) = task_id {
            self.task(dataset_name, t).await?;
        }
        // A Customer error bucket is read through the dataset's access grant.
        let spec = crate::datasets::spec_of(self, &dataset)?;
        let access = Access::of(
            spec.access_grant_role_arn.as_deref(),
            spec.error_connector.resource_location,
        );
        let objects = self.connectors.objects_as(&access).await?;
        if !objects
            .bucket_exists(&dataset.resources.error_bucket)
            .await?
        {
            return Ok(None);
        }
        let bucket = objects.bucket(&dataset.resources.error_bucket)?;
        let prefix = match task_id {
            Some(t) => format!("{}/{t}/", dataset.dataset_name),
            None => format!("{}/", dataset.dataset_name),
        };
        let objects = bucket.list(&prefix).await?;
        Ok(Some((dataset, bucket, objects)))
    }

    /// The dataset's error objects (all tasks, or one), listed once, to read in pages.
    pub async fn error_objects(
        &self,
        dataset_name: &str,
        task_id: Option<&TaskId>,
    ) -> Result<ErrorObjects, EngineError> {
        let listed = self.list_error_objects(dataset_name, task_id).await?;
        Ok(ErrorObjects {
            dataset_name: dataset_name.to_string(),
            listed: listed.map(|(dataset, bucket, objects)| {
                (format!("{}/", dataset.dataset_name), bucket, objects)
            }),
        })
    }

    /// Every error record of a task, in the order they were written.
    pub async fn error_records(
        &self,
        dataset_name: &str,
        task_id: &TaskId,
    ) -> Result<Vec<serde_json::Value>, EngineError> {
        let Some((_, bucket, objects)) =
            self.list_error_objects(dataset_name, Some(task_id)).await?
        else {
            return Ok(Vec::new());
        };
        let mut records = Vec::new();
        for object in objects {
            let data = bucket.read_all(&object.key).await?;
            for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let value = serde_json::from_slice(line).map_err(|e| {
                    EngineError::Corrupt(format!(
                        "s3://{}/{}: an error record is not JSON: {e}",
                        bucket.name(),
                        object.key
                    ))
                })?;
                records.push(value);
            }
        }
        Ok(records)
    }

    /// The task's log file (empty when the task has not logged anything at its log level).
    pub async fn task_log(
        &self,
        dataset_name: &str,
        task_id: &TaskId,
    ) -> Result<String, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        self.task(dataset_name, task_id).await?;
        // A shared store keeps every machine's invocations' lines.
        if self.settings.database_url.is_some()
            && let Some(tasks) = self.existing_task_store(&dataset).await?
            && let Some(text) = tasks.task_log(task_id).await?
        {
            return Ok(text);
        }
        let path = self
            .home
            .join("datasets")
            .join(&dataset.dataset_id)
            .join("logs")
            .join(format!("{task_id}.log"));
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(EngineError::Corrupt(format!(
                "cannot read the task log {}: {e}",
                path.display()
            ))),
        }
    }
}

fn count_lines(data: &[u8]) -> u64 {
    data.iter().filter(|b| **b == b'\n').count() as u64
}
