//! The PostgreSQL backend: one database shared by every worker and CLI of an installation
//! (`LETSDATA_DATABASE_URL=postgres://…`).
//!
//! Tenants, datasets, task databases, tasks and per-minute metrics are tables of the one
//! database (see `migrations/postgres`); a dataset's "task database" is its rows of `tasks`.
//! Leases are taken, renewed and found expired on the database's clock, claims lock the rows
//! they take with `FOR UPDATE SKIP LOCKED` (two workers never get one task), and every write a
//! worker makes is conditional on its lease token, as on SQLite.

mod tasks;

pub use tasks::PostgresTaskStore;

use crate::row::{DatasetRow, WORKER_COLUMNS, WORKER_FORGOTTEN_MS, WorkerRow};
use crate::{MetadataStore, StoreError, TaskStore, Tenant, WorkerInfo};
use async_trait::async_trait;
use letsdata_model::{Dataset, DatasetId, DatasetStatus};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::sync::Arc;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long the server lets a session sit idle inside a transaction (see
/// [`PostgresStore::open_with`]).
const IDLE_IN_TRANSACTION: &str = "10s";

/// `postgres://host:port/database` of a store's URL: no user, password or parameters (for
/// messages).
pub fn redacted(url: &str) -> String {
    url.parse::<PgConnectOptions>().map_or_else(
        |_| "an invalid PostgreSQL URL".to_string(),
        |o| location_of(&o),
    )
}

fn location_of(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// The PostgreSQL metadata store.
pub struct PostgresStore {
    pool: PgPool,
    /// Where the database is, without credentials: `postgres://host:port/database`.
    location: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, with
    /// any of libpq's parameters) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|e| {
            StoreError::Config(format!(
                "LETSDATA_DATABASE_URL is not a valid PostgreSQL URL ({e}); expected \
                 postgres://user:password@host:5432/database"
            ))
        })?;
        Self::open_with(options).await
    }

    /// Connects with `options` and brings the schema up to date. Concurrent openers are safe:
    /// migrations run under PostgreSQL's advisory lock.
    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let location = location_of(&options);
        // A session left inside a transaction by a worker that lost its link (or froze) would
        // keep its row locks, and every other worker waiting on them, until TCP noticed, hours
        // later: the server ends it after this long instead. letsdata's transactions never wait
        // on their client that long (Create Tasks, which reads the manifest meanwhile, allows
        // itself more).
        let options =
            options.options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
        let unreachable = |e: sqlx::Error| match StoreError::from(e) {
            StoreError::Database { kind, message } => StoreError::Database {
                kind,
                message: format!("cannot connect to {location} (LETSDATA_DATABASE_URL): {message}"),
            },
            other => other,
        };
        // One connection first: a server that is down or refuses the credentials is reported
        // at once, as the server said it, not as a pool timing out.
        let first = PgConnection::connect_with(&options)
            .await
            .map_err(unreachable)?;
        first.close().await.map_err(unreachable)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            // A database that is down answers callers within this; they retry.
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::migration(e, &MIGRATOR))?;
        Ok(Self { pool, location })
    }

    /// Where the database is, without credentials.
    pub fn location(&self) -> &str {
        &self.location
    }

    async fn task_store(
        &self,
        dataset_id: &DatasetId,
        create: bool,
    ) -> Result<Arc<PostgresTaskStore>, StoreError> {
        let dataset = self
            .get_dataset_by_id(dataset_id)
            .await?
            .ok_or_else(|| StoreError::NoTaskDatabase(dataset_id.to_string()))?;
        let exists = if create {
            sqlx::query(
                "INSERT INTO task_databases (dataset_id, create_datetime)
                 VALUES ($1, letsdata_now_ms()) ON CONFLICT (dataset_id) DO NOTHING",
            )
            .bind(dataset_id.as_str())
            .execute(&self.pool)
            .await?;
            true
        } else {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM task_databases WHERE dataset_id = $1)",
            )
            .bind(dataset_id.as_str())
            .fetch_one(&self.pool)
            .await?
        };
        if !exists {
            return Err(StoreError::NoTaskDatabase(dataset_id.to_string()));
        }
        Ok(Arc::new(PostgresTaskStore::new(
            self.pool.clone(),
            &dataset,
            &self.location,
        )))
    }
}

crate::access::impl_access_store!(PostgresStore);

#[async_trait]
impl MetadataStore for PostgresStore {
    async fn local_tenant(&self) -> Result<Tenant, StoreError> {
        let tenant = Tenant::local();
        sqlx::query(
            "INSERT INTO tenants (tenant_id, tenant_name, user_id, create_datetime)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&tenant.tenant_id)
        .bind(&tenant.tenant_name)
        .bind(&tenant.user_id)
        .bind(letsdata_model::time::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(tenant)
    }

    async fn insert_dataset(&self, dataset: &Dataset) -> Result<(), StoreError> {
        let record = serde_json::to_string(dataset)?;
        let result = sqlx::query(
            "INSERT INTO datasets (dataset_id, tenant_id, dataset_name, dataset_status, version, record, create_datetime)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(dataset.dataset_id.as_str())
        .bind(&dataset.tenant_id)
        .bind(&dataset.dataset_name)
        .bind(dataset.dataset_status.as_str())
        .bind(dataset.version)
        .bind(record)
        .bind(dataset.create_datetime)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DatasetExists(dataset.dataset_name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_dataset(
        &self,
        tenant_id: &str,
        dataset_name: &str,
    ) -> Result<Option<Dataset>, StoreError> {
        let row = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets WHERE tenant_id = $1 AND dataset_name = $2",
        )
        .bind(tenant_id)
        .bind(dataset_name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DatasetRow::into_dataset).transpose()
    }

    async fn get_dataset_by_id(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Option<Dataset>, StoreError> {
        let row = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets WHERE dataset_id = $1",
        )
        .bind(dataset_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(DatasetRow::into_dataset).transpose()
    }

    async fn list_datasets(&self, tenant_id: &str) -> Result<Vec<Dataset>, StoreError> {
        let rows = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets WHERE tenant_id = $1
             ORDER BY create_datetime, dataset_name",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DatasetRow::into_dataset).collect()
    }

    async fn datasets_in(&self, statuses: &[DatasetStatus]) -> Result<Vec<Dataset>, StoreError> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets WHERE dataset_status = ANY($1)
             ORDER BY create_datetime, dataset_id",
        )
        .bind(&names)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DatasetRow::into_dataset).collect()
    }

    async fn register_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM workers WHERE last_seen_at < letsdata_now_ms() - $1")
            .bind(WORKER_FORGOTTEN_MS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO workers (worker_id, host, pid, version, concurrency, draining,
                                  started_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, letsdata_now_ms(), letsdata_now_ms())
             ON CONFLICT (worker_id) DO UPDATE SET draining = EXCLUDED.draining,
                 concurrency = EXCLUDED.concurrency, last_seen_at = EXCLUDED.last_seen_at",
        )
        .bind(&worker.worker_id)
        .bind(&worker.host)
        .bind(i64::from(worker.pid))
        .bind(&worker.version)
        .bind(worker.concurrency.map(i64::from))
        .bind(worker.draining)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unregister_worker(&self, worker_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE worker_id = $1")
            .bind(worker_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_workers(&self, within: Duration) -> Result<Vec<WorkerInfo>, StoreError> {
        let rows = sqlx::query_as::<_, WorkerRow>(&format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE last_seen_at >= letsdata_now_ms() - $1
             ORDER BY started_at, worker_id"
        ))
        .bind(i64::try_from(within.as_millis()).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkerInfo::from).collect())
    }

    async fn update_dataset(&self, dataset: &mut Dataset) -> Result<(), StoreError> {
        dataset.update_datetime = letsdata_model::time::now_millis();
        let record = serde_json::to_string(dataset)?;
        let result = sqlx::query(
            "UPDATE datasets SET dataset_status = $1, record = $2, version = version + 1
             WHERE dataset_id = $3 AND version = $4",
        )
        .bind(dataset.dataset_status.as_str())
        .bind(record)
        .bind(dataset.dataset_id.as_str())
        .bind(dataset.version)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::Conflict(dataset.dataset_name.clone()));
        }
        dataset.version += 1;
        Ok(())
    }

    async fn create_task_store(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Arc<dyn TaskStore>, StoreError> {
        Ok(self.task_store(dataset_id, true).await?)
    }

    async fn drop_task_store(&self, dataset_id: &DatasetId) -> Result<(), StoreError> {
        // Its tasks and metrics go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM task_databases WHERE dataset_id = $1")
            .bind(dataset_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn open_task_store(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Arc<dyn TaskStore>, StoreError> {
        Ok(self.task_store(dataset_id, false).await?)
    }
}
