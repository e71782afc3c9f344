//! Bucket administration on S3 (what `object_store` does not do): existence, creation,
//! deletion and aborting incomplete multipart uploads.

use super::S3Settings;
use crate::{ConnectorError, FailureKind};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};

fn client(s: &S3Settings) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .endpoint_url(&s.endpoint)
        .force_path_style(s.path_style);
    if let Some(grant) = &s.grant {
        b = b.credentials_provider(SharedCredentialsProvider::new(crate::aws::GrantProvider(
            grant.clone(),
        )));
    } else if let (Some(k), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
        b = b.credentials_provider(Credentials::new(
            k.clone(),
            secret.clone(),
            s.session_token.clone(),
            None,
            "letsdata-env",
        ));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

fn sdk_error(what: String, e: impl std::error::Error) -> ConnectorError {
    ConnectorError::Io {
        what,
        message: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        kind: FailureKind::Transient,
    }
}

/// Why S3 said 403 for bucket `name`, and what to grant, by whose credentials were used.
fn denied_to(s: &S3Settings, name: &str) -> String {
    let who = match &s.grant {
        Some(grant) => format!(
            "the access grant role {} (the dataset's accessGrantRoleArn) may not use it",
            grant.role_arn()
        ),
        None => "letsdata's own AWS credentials may not use it".to_string(),
    };
    format!(
        "HTTP 403 for the bucket: {who}; allow s3:ListBucket on arn:aws:s3:::{name} and the \
         object actions the connector needs on arn:aws:s3:::{name}/*"
    )
}

pub(super) async fn bucket_exists(s: &S3Settings, name: &str) -> Result<bool, ConnectorError> {
    match client(s).head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let not_found = e
                .as_service_error()
                .map(|se| se.is_not_found())
                .unwrap_or(false)
                || e.raw_response().map(|r| r.status().as_u16()) == Some(404);
            if not_found {
                Ok(false)
            } else if e.raw_response().map(|r| r.status().as_u16()) == Some(403) {
                Err(ConnectorError::AccessDenied {
                    bucket: name.to_string(),
                    key: String::new(),
                    message: denied_to(s, name),
                })
            } else {
                Err(sdk_error(format!("cannot check bucket {name:?}"), e))
            }
        }
    }
}

/// Creates the bucket; `false` when it exists already (in this account).
pub(super) async fn create_bucket(s: &S3Settings, name: &str) -> Result<bool, ConnectorError> {
    if bucket_exists(s, name).await? {
        return Ok(false);
    }
    let mut req = client(s).create_bucket().bucket(name);
    if s.region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    s.region.as_str(),
                ))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|se| se.is_bucket_already_owned_by_you()) {
                // Created between the check and now.
                Ok(false)
            } else if service.is_some_and(|se| se.is_bucket_already_exists()) {
                Err(ConnectorError::User(format!(
                    "bucket {name:?} belongs to another account: letsdata only writes to \
                     buckets it creates; delete the dataset and create it again (the name \
                     changes with the dataset id)"
                )))
            } else {
                Err(sdk_error(format!("cannot create bucket {name:?}"), e))
            }
        }
    }
}

/// The bucket's tags (none when it has no tag set).
pub(super) async fn bucket_tags(
    s: &S3Settings,
    name: &str,
) -> Result<Vec<(String, String)>, ConnectorError> {
    match client(s).get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
        Err(e)
            if e.as_service_error()
                .and_then(|se| aws_sdk_s3::error::ProvideErrorMetadata::code(se))
                == Some("NoSuchTagSet") =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(sdk_error(
            format!("cannot read the tags of bucket {name:?}"),
            e,
        )),
    }
}

/// Adds the tag `key` = `value` to the bucket, keeping its other tags.
pub(super) async fn tag_bucket(
    s: &S3Settings,
    name: &str,
    key: &str,
    value: &str,
) -> Result<(), ConnectorError> {
    let mut tags: Vec<_> = bucket_tags(s, name)
        .await?
        .into_iter()
        .filter(|(k, _)| k != key)
        .collect();
    tags.push((key.to_string(), value.to_string()));
    let build =
        |e: aws_sdk_s3::error::BuildError| sdk_error(format!("cannot tag bucket {name:?}"), e);
    let mut set = aws_sdk_s3::types::Tagging::builder();
    for (k, v) in tags {
        set = set.tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build)?,
        );
    }
    client(s)
        .put_bucket_tagging()
        .bucket(name)
        .tagging(set.build().map_err(build)?)
        .send()
        .await
        .map_err(|e| sdk_error(format!("cannot tag bucket {name:?}"), e))?;
    Ok(())
}

/// Whether the bucket holds no object and no incomplete upload.
pub(super) async fn bucket_is_empty(s: &S3Settings, name: &str) -> Result<bool, ConnectorError> {
    let what = || format!("cannot list bucket {name:?}");
    let objects = client(s)
        .list_objects_v2()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| sdk_error(what(), e))?;
    if objects.key_count.unwrap_or(0) > 0 || !objects.contents().is_empty() {
        return Ok(false);
    }
    Ok(list_uploads(s, name, "").await?.is_empty())
}

pub(super) async fn delete_bucket(s: &S3Settings, name: &str) -> Result<(), ConnectorError> {
    match client(s).delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(()),
        Err(e) => Err(sdk_error(format!("cannot delete bucket {name:?}"), e)),
    }
}

/// The incomplete multipart uploads under `prefix`: (key, upload id) pairs.
pub(super) async fn list_uploads(
    s: &S3Settings,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, String)>, ConnectorError> {
    let client = client(s);
    let (mut key_marker, mut upload_marker) = (None, None);
    let mut uploads = Vec::new();
    loop {
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_marker.take())
            .send()
            .await
            .map_err(|e| {
                sdk_error(
                    format!("cannot list the uploads of s3://{bucket}/{prefix}"),
                    e,
                )
            })?;
        for upload in page.uploads() {
            if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                uploads.push((key.to_string(), id.to_string()));
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(uploads);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        upload_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && upload_marker.is_none() {
            return Ok(uploads);
        }
    }
}

/// Aborts the multipart uploads (key, upload id); returns how many were still incomplete.
pub(super) async fn abort_uploads(
    s: &S3Settings,
    bucket: &str,
    uploads: &[(String, String)],
) -> Result<u64, ConnectorError> {
    let client = client(s);
    let mut aborted = 0;
    for (key, id) in uploads {
        match client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
        {
            Ok(_) => aborted += 1,
            // Completed or aborted meanwhile.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_no_such_upload()) => {}
            Err(e) => {
                return Err(sdk_error(
                    format!("cannot abort the upload of s3://{bucket}/{key}"),
                    e,
                ));
            }
        }
    }
    Ok(aborted)
}
