//! Who may do what: tenants, their users, API keys and the audit log of what they changed.
//!
//! An installation has tenants (organizations); every dataset belongs to one, and every
//! dataset query names the tenant. The operator creates tenants, users and API keys with
//! `letsdata admin`, against the store directly; `letsdata server` authenticates each request
//! by its key: a key is 256 random bits, shown once when created and stored only as its
//! SHA-256, limited to a set of [`Scope`]s, and revocable (a revoked key fails its next
//! request: keys are looked up on every request, never cached).

use crate::{StoreError, Tenant};
use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::fmt;
use std::str::FromStr;

/// A tenant as `admin tenants list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRecord {
    pub tenant_id: String,
    pub tenant_name: String,
    /// The tenant's own principal: the user id of what its keys without a user do.
    pub user_id: String,
    pub create_datetime: i64,
}

impl TenantRecord {
    /// The tenant acting as itself (a key without a user).
    pub fn tenant(&self) -> Tenant {
        Tenant {
            tenant_id: self.tenant_id.clone(),
            tenant_name: self.tenant_name.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    pub create_datetime: i64,
}

/// What an API key may do. A request needs the one scope of its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// View and list datasets, tasks, metrics, code and redrives (no user data).
    Read,
    /// Read user data: error records and the documents a dataset wrote.
    Data,
    /// Read task logs.
    Logs,
    /// Stop and redrive tasks; update compute and code; descale and freeze datasets.
    Operate,
    /// Create and delete datasets.
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Data,
        Scope::Logs,
        Scope::Operate,
        Scope::Manage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Data => "data",
            Scope::Logs => "logs",
            Scope::Operate => "operate",
            Scope::Manage => "manage",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown scope {s:?}: expected read, data, logs, operate or manage")
            })
    }
}

/// An API key's record (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    pub api_key_id: String,
    pub tenant_id: String,
    /// The user the key acts as; `None`: the tenant itself.
    pub user_id: Option<String>,
    pub scopes: Vec<Scope>,
    pub description: Option<String>,
    pub create_datetime: i64,
    pub revoked_datetime: Option<i64>,
}

impl ApiKeyRecord {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// A key just made: its record, the secret (shown once) and the hash the store keeps.
#[derive(Debug)]
pub struct NewApiKey {
    pub record: ApiKeyRecord,
    pub secret: String,
    pub hash: String,
}

/// The prefix of every key's secret, so a leaked one is recognizable (secret scanners).
pub const API_KEY_PREFIX: &str = "ldk_";

impl NewApiKey {
    /// A new key of `tenant_id` (acting as `user_id`, or the tenant) with `scopes`:
    /// 256 bits from the operating system's random source.
    pub fn generate(
        tenant_id: &str,
        user_id: Option<&str>,
        scopes: &[Scope],
        description: Option<&str>,
    ) -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            StoreError::Config(format!("cannot read the system's random source: {e}"))
        })?;
        let secret = format!(
            "{API_KEY_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        Ok(Self {
            record: ApiKeyRecord {
                api_key_id: format!("ak-{}", uuid::Uuid::new_v4().simple()),
                tenant_id: tenant_id.to_string(),
                user_id: user_id.map(str::to_string),
                scopes,
                description: description.map(str::to_string),
                create_datetime: letsdata_model::time::now_millis(),
                revoked_datetime: None,
            },
            hash: hash_api_key(&secret),
            secret,
        })
    }
}

/// What the store keeps of a key's secret: its SHA-256, hex. The secret is 256 random bits,
/// so a plain hash is as strong as a salted one and can be looked up by value.
pub fn hash_api_key(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// What a request's key resolved to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKeyRecord,
    /// The tenant, acting as the key's user (or as itself).
    pub tenant: Tenant,
}

/// One change made through the API or by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub tenant_id: String,
    /// The API key that made the change, or `operator` for `letsdata admin`.
    pub actor: String,
    pub user_id: Option<String>,
    /// What was done: `dataset/create`, `tasks/stop`, `apikeys/revoke`, …
    pub action: String,
    /// What it was done to: a dataset name, a key id, a tenant name.
    pub target: String,
    /// How it ended: an HTTP status code for requests, `ok` for the operator's.
    pub outcome: String,
}

/// Checks a tenant name: 1 to 64 letters, digits, `-` or `_`.
pub fn check_tenant_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(StoreError::Invalid(format!(
            "tenant name {name:?}: expected 1 to 64 letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

/// Checks an email address (the shape only: something@domain, at most 254 characters).
pub fn check_email(email: &str) -> Result<(), StoreError> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid {
        return Err(StoreError::Invalid(format!(
            "email {email:?}: expected an address like name@example.com"
        )));
    }
    Ok(())
}

/// Tenants, users, API keys and the audit log: what `letsdata admin` manages and
/// `letsdata server` checks.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates a tenant; [`StoreError::Exists`] if the name is taken.
    async fn create_tenant(&self, tenant_name: &str) -> Result<TenantRecord, StoreError>;
    /// Every tenant, oldest first.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    async fn tenant_by_name(&self, tenant_name: &str) -> Result<Option<TenantRecord>, StoreError>;
    async fn tenant_by_id(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// Adds a user to a tenant; [`StoreError::Exists`] if the email is taken (on any tenant).
    async fn create_user(&self, tenant_id: &str, email: &str) -> Result<UserRecord, StoreError>;
    /// The users of a tenant, or of every tenant; oldest first.
    async fn users(&self, tenant_id: Option<&str>) -> Result<Vec<UserRecord>, StoreError>;
    /// Stores a new key (its hash, never its secret).
    async fn insert_api_key(&self, key: &NewApiKey) -> Result<(), StoreError>;
    /// The keys of a tenant, or of every tenant, revoked ones included; oldest first.
    async fn api_keys(&self, tenant_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key: its next request fails. Returns the key's record as revoked, `None` if
    /// no key has that id. Revoking a revoked key keeps its first revocation time.
    async fn revoke_api_key(&self, api_key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// The caller a key's secret authenticates: `None` if it is unknown or revoked.
    async fn authenticate(&self, secret: &str) -> Result<Option<Caller>, StoreError>;
    /// Appends to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The audit log of a tenant (or of every tenant), newest first, at most `limit` entries.
    async fn audit_log(
        &self,
        tenant_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Scopes as the stores keep them: comma-separated names.
pub(crate) fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn scopes_from_text(text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(StoreError::Corrupt))
        .collect()
}

/// An API key row, as both backends read it.
#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub(crate) api_key_id: String,
    pub(crate) tenant_id: String,
    pub(crate) user_id: Option<String>,
    pub(crate) scopes: String,
    pub(crate) description: Option<String>,
    pub(crate) create_datetime: i64,
    pub(crate) revoked_datetime: Option<i64>,
}

pub(crate) const API_KEY_COLUMNS: &str =
    "api_key_id, tenant_id, user_id, scopes, description, create_datetime, revoked_datetime";

impl ApiKeyRow {
    pub(crate) fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        Ok(ApiKeyRecord {
            scopes: scopes_from_text(&self.scopes)?,
            api_key_id: self.api_key_id,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            description: self.description,
            create_datetime: self.create_datetime,
            revoked_datetime: self.revoked_datetime,
        })
    }
}

/// A key's row joined with its tenant, for [`AccessStore::authenticate`].
#[derive(sqlx::FromRow)]
pub(crate) struct CallerRow {
    #[sqlx(flatten)]
    pub(crate) key: ApiKeyRow,
    pub(crate) tenant_name: String,
    pub(crate) tenant_user_id: String,
}

pub(crate) const CALLER_QUERY_COLUMNS: &str = "k.api_key_id, k.tenant_id, k.user_id, k.scopes, \
     k.description, k.create_datetime, k.revoked_datetime, t.tenant_name, \
     t.user_id AS tenant_user_id";

impl CallerRow {
    pub(crate) fn into_caller(self) -> Result<Caller, StoreError> {
        let key = self.key.into_record()?;
        Ok(Caller {
            tenant: Tenant {
                tenant_id: key.tenant_id.clone(),
                tenant_name: self.tenant_name,
                user_id: key.user_id.clone().unwrap_or(self.tenant_user_id),
            },
            key,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub(crate) at: i64,
    pub(crate) tenant_id: String,
    pub(crate) actor: String,
    pub(crate) user_id: Option<String>,
    pub(crate) action: String,
    pub(crate) target: String,
    pub(crate) outcome: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        Self {
            at: r.at,
            tenant_id: r.tenant_id,
            actor: r.actor,
            user_id: r.user_id,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
        }
    }
}

/// A new tenant's record: a random id, and its own principal's user id.
pub(crate) fn new_tenant(tenant_name: &str) -> Result<TenantRecord, StoreError> {
    check_tenant_name(tenant_name)?;
    Ok(TenantRecord {
        tenant_id: uuid::Uuid::new_v4().to_string(),
        tenant_name: tenant_name.to_string(),
        user_id: uuid::Uuid::new_v4().to_string(),
        create_datetime: letsdata_model::time::now_millis(),
    })
}

pub(crate) fn new_user(tenant_id: &str, email: &str) -> Result<UserRecord, StoreError> {
    check_email(email)?;
    Ok(UserRecord {
        user_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_string(),
        email: email.to_string(),
        create_datetime: letsdata_model::time::now_millis(),
    })
}

/// The [`AccessStore`] of a backend whose store has a sqlx `pool`: the statements are the same
/// on SQLite and PostgreSQL (`$n` parameters, `ON CONFLICT`, `RETURNING`).
macro_rules! impl_access_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::access::AccessStore for $store {
            async fn create_tenant(
                &self,
                tenant_name: &str,
            ) -> Result<$crate::access::TenantRecord, $crate::StoreError> {
                let tenant = $crate::access::new_tenant(tenant_name)?;
                let inserted = sqlx::query(
                    "INSERT INTO tenants (tenant_id, tenant_name, user_id, create_datetime)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_name) DO NOTHING",
                )
                .bind(&tenant.tenant_id)
                .bind(&tenant.tenant_name)
                .bind(&tenant.user_id)
                .bind(tenant.create_datetime)
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 0 {
                    return Err($crate::StoreError::Exists {
                        what: "tenant",
                        name: tenant_name.to_string(),
                    });
                }
                Ok(tenant)
            }

            async fn tenants(
                &self,
            ) -> Result<Vec<$crate::access::TenantRecord>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, (String, String, String, i64)>(
                    "SELECT tenant_id, tenant_name, user_id, create_datetime FROM tenants
                     ORDER BY create_datetime, tenant_name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map($crate::access::tenant_of_row)
                    .collect())
            }

            async fn tenant_by_name(
                &self,
                tenant_name: &str,
            ) -> Result<Option<$crate::access::TenantRecord>, $crate::StoreError> {
                let row = sqlx::query_as::<_, (String, String, String, i64)>(
                    "SELECT tenant_id, tenant_name, user_id, create_datetime FROM tenants
                     WHERE tenant_name = $1",
                )
                .bind(tenant_name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map($crate::access::tenant_of_row))
            }

            async fn tenant_by_id(
                &self,
                tenant_id: &str,
            ) -> Result<Option<$crate::access::TenantRecord>, $crate::StoreError> {
                let row = sqlx::query_as::<_, (String, String, String, i64)>(
                    "SELECT tenant_id, tenant_name, user_id, create_datetime FROM tenants
                     WHERE tenant_id = $1",
                )
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map($crate::access::tenant_of_row))
            }

            async fn create_user(
                &self,
                tenant_id: &str,
                email: &str,
            ) -> Result<$crate::access::UserRecord, $crate::StoreError> {
                let user = $crate::access::new_user(tenant_id, email)?;
                let inserted = sqlx::query(
                    "INSERT INTO users (user_id, tenant_id, email, create_datetime)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING",
                )
                .bind(&user.user_id)
                .bind(&user.tenant_id)
                .bind(&user.email)
                .bind(user.create_datetime)
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 0 {
                    return Err($crate::StoreError::Exists {
                        what: "user",
                        name: email.to_string(),
                    });
                }
                Ok(user)
            }

            async fn users(
                &self,
                tenant_id: Option<&str>,
            ) -> Result<Vec<$crate::access::UserRecord>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, (String, String, String, i64)>(
                    "SELECT user_id, tenant_id, email, create_datetime FROM users
                     WHERE $1 IS NULL OR tenant_id = $1 ORDER BY create_datetime, email",
                )
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user_id, tenant_id, email, create_datetime)| {
                        $crate::access::UserRecord {
                            user_id,
                            tenant_id,
                            email,
                            create_datetime,
                        }
                    })
                    .collect())
            }

            async fn insert_api_key(
                &self,
                key: &$crate::access::NewApiKey,
            ) -> Result<(), $crate::StoreError> {
                let r = &key.record;
                sqlx::query(
                    "INSERT INTO api_keys (api_key_id, key_hash, tenant_id, user_id, scopes,
                                           description, create_datetime)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&r.api_key_id)
                .bind(&key.hash)
                .bind(&r.tenant_id)
                .bind(&r.user_id)
                .bind($crate::access::scopes_to_text(&r.scopes))
                .bind(&r.description)
                .bind(r.create_datetime)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn api_keys(
                &self,
                tenant_id: Option<&str>,
            ) -> Result<Vec<$crate::access::ApiKeyRecord>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, $crate::access::ApiKeyRow>(&format!(
                    "SELECT {} FROM api_keys WHERE $1 IS NULL OR tenant_id = $1
                     ORDER BY create_datetime, api_key_id",
                    $crate::access::API_KEY_COLUMNS
                ))
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| r.into_record()).collect()
            }

            async fn revoke_api_key(
                &self,
                api_key_id: &str,
            ) -> Result<Option<$crate::access::ApiKeyRecord>, $crate::StoreError> {
                let row = sqlx::query_as::<_, $crate::access::ApiKeyRow>(&format!(
                    "UPDATE api_keys SET revoked_datetime = COALESCE(revoked_datetime, $2)
                     WHERE api_key_id = $1 RETURNING {}",
                    $crate::access::API_KEY_COLUMNS
                ))
                .bind(api_key_id)
                .bind(letsdata_model::time::now_millis())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| r.into_record()).transpose()
            }

            async fn authenticate(
                &self,
                secret: &str,
            ) -> Result<Option<$crate::access::Caller>, $crate::StoreError> {
                let row = sqlx::query_as::<_, $crate::access::CallerRow>(&format!(
                    "SELECT {} FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
                     WHERE k.key_hash = $1 AND k.revoked_datetime IS NULL",
                    $crate::access::CALLER_QUERY_COLUMNS
                ))
                .bind($crate::access::hash_api_key(secret))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| r.into_caller()).transpose()
            }

            async fn audit(
                &self,
                e: &$crate::access::AuditEntry,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO audit_log (at, tenant_id, actor, user_id, action, target, outcome)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.at)
                .bind(&e.tenant_id)
                .bind(&e.actor)
                .bind(&e.user_id)
                .bind(&e.action)
                .bind(&e.target)
                .bind(&e.outcome)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                tenant_id: Option<&str>,
                limit: usize,
            ) -> Result<Vec<$crate::access::AuditEntry>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, $crate::access::AuditRow>(
                    "SELECT at, tenant_id, actor, user_id, action, target, outcome FROM audit_log
                     WHERE $1 IS NULL OR tenant_id = $1 ORDER BY seq DESC LIMIT $2",
                )
                .bind(tenant_id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}
pub(crate) use impl_access_store;

pub(crate) fn tenant_of_row(
    (tenant_id, tenant_name, user_id, create_datetime): (String, String, String, i64),
) -> TenantRecord {
    TenantRecord {
        tenant_id,
        tenant_name,
        user_id,
        create_datetime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_as_their_hash() {
        let a = NewApiKey::generate("t", None, &[Scope::Read, Scope::Read], None).expect("key");
        let b = NewApiKey::generate("t", None, &[Scope::Read], None).expect("key");
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(API_KEY_PREFIX));
        // 32 bytes, base64url without padding: 43 characters.
        assert_eq!(a.secret.len(), API_KEY_PREFIX.len() + 43);
        assert_eq!(a.hash, hash_api_key(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.secret));
        assert_eq!(a.record.scopes, vec![Scope::Read]);
    }

    #[test]
    fn names_emails_and_scopes_are_checked() {
        assert!(check_tenant_name("acme-corp_1").is_ok());
        for bad in ["", "a b", "../x", "a/b", &"x".repeat(65)] {
            assert!(check_tenant_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_email("ada@example.com").is_ok());
        for bad in ["ada", "@example.com", "ada@localhost", "a da@example.com"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert_eq!("operate".parse::<Scope>(), Ok(Scope::Operate));
        assert!("admin".parse::<Scope>().is_err());
        assert_eq!(
            scopes_from_text(&scopes_to_text(&Scope::ALL)).expect("scopes"),
            Scope::ALL.to_vec()
        );
    }
}
