//! As whom letsdata reaches a resource: its own AWS identity, or a tenant's access grant role.
//!
//! A `LetsData` resource (one letsdata made, or its own buckets) is reached with the process's
//! AWS credentials. A `Customer` resource belongs to the tenant: when it is on AWS (buckets
//! in S3, with `LETSDATA_AWS_ENDPOINT` or `AWS_ENDPOINT_URL` set; Kinesis streams, SQS queues,
//! DynamoDB tables and streams always), letsdata assumes the dataset's `accessGrantRoleArn`
//! through STS and reaches the resource with the role's temporary credentials, as LetsData
//! does. The external id of the `AssumeRole` call is the tenant's id: a role whose trust policy
//! requires `sts:ExternalId` = that id can be used by that tenant's datasets only (another
//! tenant naming the same role ARN is refused by STS, AWS's answer to the "confused deputy").
//!
//! [`GrantCredentials`] keeps the role's credentials and assumes the role again five minutes
//! before they expire; it serves both the AWS SDK clients ([`ProvideCredentials`]) and the
//! `object_store` S3 client ([`object_store::CredentialProvider`]).

use super::{RetryPolicy, retry, sdk_error};
use crate::{ConnectorError, FailureKind};
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use letsdata_model::spec::ResourceLocation;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long before they expire assumed credentials are replaced.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// As whom a resource is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    /// With letsdata's own credentials.
    Own,
    /// With the credentials of this role (a dataset's `accessGrantRoleArn`), assumed with the
    /// tenant's id as the external id.
    Grant { role_arn: String },
}

impl Access {
    /// The access for a resource at `location` of a dataset whose `accessGrantRoleArn` is
    /// `role_arn`: the grant for a `Customer` resource when the dataset names a role (it must
    /// when its resources are on AWS; validation says so), letsdata's own otherwise.
    pub fn of(role_arn: Option<&str>, location: ResourceLocation) -> Self {
        match (location, role_arn) {
            (ResourceLocation::Customer, Some(role)) => Self::Grant {
                role_arn: role.to_string(),
            },
            _ => Self::Own,
        }
    }
}

/// A role's temporary credentials, assumed for one tenant and renewed before they expire.
pub struct GrantCredentials {
    sts: aws_sdk_sts::Client,
    retry: RetryPolicy,
    role_arn: String,
    external_id: String,
    session_name: String,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for GrantCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantCredentials")
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id)
            .finish_non_exhaustive()
    }
}

impl GrantCredentials {
    /// Assumes `role_arn` for tenant `tenant_id` with the identity of `config` (letsdata's own),
    /// once, so that a role letsdata may not assume fails here, with a message saying what the
    /// role's trust policy needs.
    pub async fn assume(
        config: &SdkConfig,
        retry: RetryPolicy,
        role_arn: &str,
        tenant_id: &str,
    ) -> Result<Arc<Self>, ConnectorError> {
        let grant = Self {
            sts: aws_sdk_sts::Client::new(config),
            retry,
            role_arn: role_arn.to_string(),
            external_id: tenant_id.to_string(),
            session_name: session_name(tenant_id),
            current: tokio::sync::Mutex::new(None),
        };
        grant.credentials().await?;
        Ok(Arc::new(grant))
    }

    /// The role assumed.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// The role's credentials: the ones held while they have more than [`REFRESH_BEFORE`] to
    /// live, else new ones.
    pub async fn credentials(&self) -> Result<Credentials, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(held) = current.as_ref() {
            let fresh = held
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + REFRESH_BEFORE);
            if fresh {
                return Ok(held.clone());
            }
        }
        let what = format!(
            "cannot assume accessGrantRoleArn {:?} (external id {:?})",
            self.role_arn, self.external_id
        );
        let assumed = retry(&self.retry, "sts:AssumeRole", || {
            self.sts
                .assume_role()
                .role_arn(&self.role_arn)
                .external_id(&self.external_id)
                .role_session_name(&self.session_name)
                .send()
        })
        .await
        .map_err(|e| {
            let e = sdk_error(what.clone(), e);
            match e.kind() {
                // Letsdata's own identity is missing: the role is not the problem.
                _ if matches!(e, ConnectorError::NoAwsCredentials { .. }) => e,
                FailureKind::User => ConnectorError::User(format!(
                    "{e}; the role's trust policy must let letsdata's AWS identity assume it \
                     with sts:ExternalId {:?} (this tenant's id), and the role must be \
                     allowed to use the dataset's Customer resources",
                    self.external_id
                )),
                _ => e,
            }
        })?;
        let Some(c) = assumed.credentials else {
            return Err(ConnectorError::Aws {
                what,
                code: None,
                message: "STS answered without credentials".into(),
                kind: FailureKind::Transient,
            });
        };
        let expiry = SystemTime::try_from(c.expiration).ok();
        let credentials = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            expiry,
            "letsdata-access-grant",
        );
        tracing::debug!(role_arn = %self.role_arn, ?expiry, "assumed the access grant role");
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

/// The role session name: `letsdata-<tenant id>`, within STS's 64 characters of `[\w+=,.@-]`.
fn session_name(tenant_id: &str) -> String {
    let mut name: String = format!("letsdata-{tenant_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64);
    name
}

/// [`GrantCredentials`] as a credential provider of the AWS SDK and of `object_store`.
#[derive(Debug, Clone)]
pub struct GrantProvider(pub Arc<GrantCredentials>);

impl ProvideCredentials for GrantProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.0.credentials().await.map_err(|e| match e {
                // Still "no credentials" for the call that needed the role's.
                ConnectorError::NoAwsCredentials { .. } => CredentialsError::not_loaded(e),
                e => CredentialsError::provider_error(e),
            })
        })
    }
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for GrantProvider {
    type Credential = object_store::aws::AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<Self::Credential>> {
        let c = self
            .0
            .credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(Arc::new(object_store::aws::AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_resources_use_the_grant_when_the_dataset_names_a_role() {
        let role = "arn:aws:iam::123456789012:role/LetsDataAccess";
        assert_eq!(
            Access::of(Some(role), ResourceLocation::Customer),
            Access::Grant {
                role_arn: role.into()
            }
        );
        assert_eq!(
            Access::of(Some(role), ResourceLocation::LetsData),
            Access::Own
        );
        assert_eq!(Access::of(None, ResourceLocation::Customer), Access::Own);
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(
            session_name("6f1c2d7e-aaaa-4bbb-8ccc-0123456789ab"),
            "letsdata-6f1c2d7e-aaaa-4bbb-8ccc-0123456789ab"
        );
        assert_eq!(session_name("a b/c"), "letsdata-a-b-c");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
