//! The S3 read source: one task per manifest line, read as files.

use super::manifest::{line_files, read_manifest};
use crate::aws::Access;
use crate::source::{
    FileInput, FilePosition, ReadSource, TaskInput, TaskSeed, TaskSeeds, from_fields,
};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use letsdata_model::spec::{ManifestSource, ReaderType, S3ReadConnector};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use std::collections::BTreeMap;

/// Reads the files a manifest lists from a bucket.
#[derive(Debug, Clone)]
pub struct S3Source {
    /// As whom the read bucket is reached (`bucketResourceLocation`).
    pub(super) access: Access,
    /// As whom the manifest's bucket is reached (`readerManifestResourceLocation`).
    pub(super) manifest_access: Access,
    pub(super) read: S3ReadConnector,
    pub(super) manifest: ManifestSource,
    pub(super) reader_type: ReaderType,
}

/// A file task's own fields: its files by file type.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FileTask {
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// Checks that a bucket exists, reached as `access`; the problem names `path`.
pub(super) async fn check_bucket(
    ctx: &ConnectorContext,
    access: &Access,
    bucket: &str,
    path: &str,
    problems: &mut Vec<Problem>,
) -> bool {
    let exists = async { ctx.objects_as(access).await?.require_bucket(bucket).await };
    match exists.await {
        Ok(()) => true,
        Err(e) => {
            problems.push(Problem {
                path: path.into(),
                message: e.to_string(),
            });
            false
        }
    }
}

#[async_trait]
impl ReadSource for S3Source {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: ConnectorResource::S3_BUCKET.to_string(),
            resource_location: self.read.bucket_resource_location.to_string(),
            name: self.read.bucket_name.clone(),
            ..Default::default()
        }
    }

    fn task_type(&self) -> &'static str {
        "READER"
    }

    fn wasm_interface(&self) -> &'static str {
        match self.read.reader_type {
            ReaderType::SingleFileReader => "SingleFileParser",
            ReaderType::SingleFileStateMachineReader => "SingleFileStateMachineReader",
            ReaderType::MultipleFileStateMachineReader => "MultipleFileStateMachineReader",
        }
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_bucket(
            ctx,
            &self.access,
            &self.read.bucket_name,
            "readConnector.bucketName",
            &mut problems,
        )
        .await;
        if let ManifestSource::S3Link { bucket, key, .. } = &self.manifest {
            let path = "manifestFile.manifestFileS3Uri";
            if check_bucket(ctx, &self.manifest_access, bucket, path, &mut problems).await {
                let exists = async {
                    let objects = ctx.objects_as(&self.manifest_access).await?;
                    objects.bucket(bucket)?.exists(key).await
                };
                let exists = exists.await;
                match exists {
                    Ok(true) => {}
                    Ok(false) => problems.push(Problem {
                        path: path.into(),
                        message: format!("the manifest s3://{bucket}/{key} does not exist"),
                    }),
                    Err(e) => problems.push(Problem {
                        path: path.into(),
                        message: e.to_string(),
                    }),
                }
            }
        }
        problems
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        let objects = ctx.objects_as(&self.manifest_access).await?;
        let lines = read_manifest(&objects, &self.manifest, self.reader_type).await?;
        if lines.is_empty() {
            return Err(ConnectorError::User(
                "the manifest has no non-empty lines: nothing to do".into(),
            ));
        }
        let reader_type = self.reader_type;
        // Made as they are taken: only the manifest's lines are held whole.
        Ok(Box::new(lines.into_iter().enumerate().map(
            move |(i, line)| {
                let files = FileTask {
                    files: line_files(reader_type, &line),
                };
                TaskSeed {
                    identity: format!("{i}:{line}"),
                    ordinal: i as u64,
                    definition: TaskDefinition {
                        reader_type: reader_type.constant().to_string(),
                        manifest_line: line,
                        manifest_index: i as u64,
                        input: crate::source::to_fields(&files),
                    },
                }
            },
        )))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        task: &TaskDefinition,
        position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError> {
        let own: FileTask = from_fields(&task.input, "file task")?;
        let files = if own.files.is_empty() {
            line_files(self.reader_type, &task.manifest_line)
        } else {
            own.files
        };
        Ok(TaskInput::Files(FileInput::new(
            ctx.objects_as(&self.access)
                .await?
                .bucket(&self.read.bucket_name)?,
            files,
            task.manifest_line.clone(),
            FilePosition::from_fields(position)?,
        )))
    }
}
