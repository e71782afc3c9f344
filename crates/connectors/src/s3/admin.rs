//! Bucket administration on S3 (what `object_store` does not do): existence and creation.

use super::S3Settings;
use crate::{ConnectorError, FailureKind};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

fn client(s: &S3Settings) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .endpoint_url(&s.endpoint)
        .force_path_style(s.path_style);
    if let (Some(k), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
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
            } else {
                Err(sdk_error(format!("cannot check bucket {name:?}"), e))
            }
        }
    }
}

pub(super) async fn create_bucket(s: &S3Settings, name: &str) -> Result<(), ConnectorError> {
    if bucket_exists(s, name).await? {
        return Ok(());
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
        Ok(_) => Ok(()),
        Err(e) => {
            let owned = e.as_service_error().is_some_and(|se| {
                se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()
            });
            if owned {
                Ok(())
            } else {
                Err(sdk_error(format!("cannot create bucket {name:?}"), e))
            }
        }
    }
}

pub(super) async fn delete_bucket(s: &S3Settings, name: &str) -> Result<(), ConnectorError> {
    match client(s).delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(()),
        Err(e) => Err(sdk_error(format!("cannot delete bucket {name:?}"), e)),
    }
}
