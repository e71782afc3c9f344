//! `letsdata admin`: the operator's commands, run against the store directly (the same
//! LETSDATA_HOME or LETSDATA_DATABASE_URL as the server): tenants, users, API keys, the audit
//! log.

use crate::output::Output;
use clap::Subcommand;
use letsdata_engine::Engine;
use letsdata_store::{AccessStore, AuditEntry, NewApiKey, Scope, TenantRecord};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create and list tenants (organizations).
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Create and list the users of tenants.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Create, list and revoke API keys.
    Apikeys {
        #[command(subcommand)]
        command: ApiKeysCommand,
    },
    /// The audit log: every change made through the server or by these commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// 1 to 64 letters, digits, '-' or '_'; unique.
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: String,
    },
    /// List the tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user to a tenant.
    Create {
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: String,
        /// Unique over every tenant.
        #[arg(long, value_name = "EMAIL")]
        email: String,
    },
    /// List the users (of one tenant, or of all).
    List {
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create an API key; prints {"apiKeyId", "apiKey", ...}. The key is shown this once: only
    /// its hash is stored.
    Create {
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: String,
        /// The user the key acts as (a user of the tenant); default: the tenant itself.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// What the key may do, comma-separated: read (view and list), data (error records
        /// and output), logs, operate (stop, redrive, compute, code, descale, freeze), manage
        /// (create and delete datasets). Default: all.
        #[arg(long, value_name = "SCOPES", value_delimiter = ',')]
        scopes: Option<Vec<Scope>>,
        /// What the key is for.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// List the keys (of one tenant, or of all), revoked ones included; never their secrets.
    List {
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: Option<String>,
    },
    /// Revoke a key: its next request is refused.
    Revoke {
        #[arg(long = "apiKeyId", value_name = "ID")]
        api_key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The most recent entries first.
    List {
        #[arg(long = "tenantName", value_name = "NAME")]
        tenant_name: Option<String>,
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
    },
}

async fn tenant(store: &dyn AccessStore, name: &str) -> anyhow::Result<TenantRecord> {
    store.tenant_by_name(name).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "tenant {name:?} does not exist; `letsdata admin tenants list` shows the tenants"
        )
    })
}

async fn tenant_id(store: &dyn AccessStore, name: Option<&str>) -> anyhow::Result<Option<String>> {
    Ok(match name {
        Some(name) => Some(tenant(store, name).await?.tenant_id),
        None => None,
    })
}

/// Records an operator's change.
async fn audit(
    store: &dyn AccessStore,
    tenant_id: &str,
    action: &str,
    target: &str,
) -> anyhow::Result<()> {
    store
        .audit(&AuditEntry {
            at: letsdata_model::time::now_millis(),
            tenant_id: tenant_id.to_string(),
            actor: "operator".into(),
            user_id: None,
            action: action.into(),
            target: target.into(),
            outcome: "ok".into(),
        })
        .await?;
    Ok(())
}

pub async fn run(command: AdminCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    let store: &dyn AccessStore = engine.store().as_ref();
    match command {
        AdminCommand::Tenants { command } => match command {
            TenantsCommand::Create { tenant_name } => {
                let tenant = store.create_tenant(&tenant_name).await?;
                audit(store, &tenant.tenant_id, "tenants/create", &tenant_name).await?;
                out.print(&tenant)?;
            }
            TenantsCommand::List => out.print(&store.tenants().await?)?,
        },
        AdminCommand::Users { command } => match command {
            UsersCommand::Create { tenant_name, email } => {
                let tenant = tenant(store, &tenant_name).await?;
                let user = store.create_user(&tenant.tenant_id, &email).await?;
                audit(store, &tenant.tenant_id, "users/create", &email).await?;
                out.print(&user)?;
            }
            UsersCommand::List { tenant_name } => {
                let id = tenant_id(store, tenant_name.as_deref()).await?;
                out.print(&store.users(id.as_deref()).await?)?;
            }
        },
        AdminCommand::Apikeys { command } => match command {
            ApiKeysCommand::Create {
                tenant_name,
                email,
                scopes,
                description,
            } => {
                let tenant = tenant(store, &tenant_name).await?;
                let user = match &email {
                    Some(email) => Some(
                        store
                            .users(Some(&tenant.tenant_id))
                            .await?
                            .into_iter()
                            .find(|u| u.email == *email)
                            .ok_or_else(|| {
                                anyhow::anyhow!(
                                    "tenant {tenant_name:?} has no user {email:?}; add one with \
                                     `letsdata admin users create --tenantName {tenant_name} \
                                     --email {email}`"
                                )
                            })?
                            .user_id,
                    ),
                    None => None,
                };
                let scopes = scopes.unwrap_or_else(|| Scope::ALL.to_vec());
                if scopes.is_empty() {
                    anyhow::bail!(
                        "--scopes names no scope; give at least one, or leave it out for all"
                    );
                }
                let key = NewApiKey::generate(
                    &tenant.tenant_id,
                    user.as_deref(),
                    &scopes,
                    description.as_deref(),
                )?;
                store.insert_api_key(&key).await?;
                audit(
                    store,
                    &tenant.tenant_id,
                    "apikeys/create",
                    &key.record.api_key_id,
                )
                .await?;
                let mut value = serde_json::to_value(&key.record)?;
                value["apiKey"] = serde_json::Value::String(key.secret);
                // The secret is printed as is (Output::print would mask it).
                out.print_data(&value)?;
            }
            ApiKeysCommand::List { tenant_name } => {
                let id = tenant_id(store, tenant_name.as_deref()).await?;
                out.print(&store.api_keys(id.as_deref()).await?)?;
            }
            ApiKeysCommand::Revoke { api_key_id } => {
                let key = store.revoke_api_key(&api_key_id).await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "no API key has the id {api_key_id:?}; `letsdata admin apikeys list` shows them"
                    )
                })?;
                audit(store, &key.tenant_id, "apikeys/revoke", &api_key_id).await?;
                out.print(&key)?;
            }
        },
        AdminCommand::Audit {
            command: AuditCommand::List { tenant_name, limit },
        } => {
            let id = tenant_id(store, tenant_name.as_deref()).await?;
            out.print(&store.audit_log(id.as_deref(), limit).await?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
