//! `letsdata.db`: tenants and datasets.

use super::{SqliteTaskStore, migrate, open_pool};
use crate::row::{DatasetRow, WORKER_COLUMNS, WORKER_FORGOTTEN_MS, WorkerRow};
use crate::{MetadataStore, StoreError, TaskStore, Tenant, WorkerInfo};
use async_trait::async_trait;
use letsdata_model::{Dataset, DatasetId, DatasetStatus};
use sqlx::sqlite::SqlitePool;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite/metadata");

/// The SQLite metadata store rooted at `$LETSDATA_HOME`.
pub struct SqliteStore {
    home: PathBuf,
    pool: SqlitePool,
    task_stores: Mutex<HashMap<DatasetId, Arc<SqliteTaskStore>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("home", &self.home)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store under `home`.
    pub async fn open(home: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(home).map_err(|source| StoreError::Io {
            path: home.display().to_string(),
            source,
        })?;
        let pool = open_pool(&home.join("letsdata.db"), true).await?;
        migrate(&pool, &MIGRATOR).await?;
        Ok(Self {
            home: home.to_path_buf(),
            pool,
            task_stores: Mutex::new(HashMap::new()),
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Directory holding a dataset's internal files (its task database).
    pub fn dataset_dir(&self, dataset_id: &str) -> PathBuf {
        self.home.join("datasets").join(dataset_id)
    }

    fn task_db_path(&self, dataset_id: &str) -> PathBuf {
        self.dataset_dir(dataset_id).join("tasks.db")
    }

    async fn task_store(
        &self,
        dataset_id: &DatasetId,
        create: bool,
    ) -> Result<Arc<SqliteTaskStore>, StoreError> {
        let cached = self
            .task_stores
            .lock()
            .expect("task store cache lock poisoned")
            .get(dataset_id)
            .cloned();
        if let Some(s) = cached {
            return Ok(s);
        }
        let dataset = self
            .get_dataset_by_id(dataset_id)
            .await?
            .ok_or_else(|| StoreError::NoTaskDatabase(dataset_id.to_string()))?;
        let path = self.task_db_path(dataset_id);
        if !create && !path.exists() {
            return Err(StoreError::NoTaskDatabase(dataset_id.to_string()));
        }
        if create {
            let dir = self.dataset_dir(dataset_id);
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let store = Arc::new(SqliteTaskStore::open(&dataset, &path, create).await?);
        self.task_stores
            .lock()
            .expect("task store cache lock poisoned")
            .insert(dataset_id.clone(), store.clone());
        Ok(store)
    }
}

crate::access::impl_access_store!(SqliteStore);

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn local_tenant(&self) -> Result<Tenant, StoreError> {
        let _writing = crate::quiesce::writing().await;
        let tenant = Tenant::local();
        sqlx::query(
            "INSERT INTO tenants (tenant_id, tenant_name, user_id, create_datetime)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
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
        let _writing = crate::quiesce::writing().await;
        let record = serde_json::to_string(dataset)?;
        let result = sqlx::query(
            "INSERT INTO datasets (dataset_id, tenant_id, dataset_name, dataset_status, version, record, create_datetime)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
            "SELECT record, version FROM datasets WHERE tenant_id = ?1 AND dataset_name = ?2",
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
            "SELECT record, version FROM datasets WHERE dataset_id = ?1",
        )
        .bind(dataset_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(DatasetRow::into_dataset).transpose()
    }

    async fn list_datasets(&self, tenant_id: &str) -> Result<Vec<Dataset>, StoreError> {
        let rows = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets WHERE tenant_id = ?1 ORDER BY create_datetime, dataset_name",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DatasetRow::into_dataset).collect()
    }

    async fn datasets_in(&self, statuses: &[DatasetStatus]) -> Result<Vec<Dataset>, StoreError> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query_as::<_, DatasetRow>(
            "SELECT record, version FROM datasets
             WHERE dataset_status IN (SELECT value FROM json_each(?1))
             ORDER BY create_datetime, dataset_id",
        )
        .bind(serde_json::to_string(&names)?)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DatasetRow::into_dataset).collect()
    }

    async fn register_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        let _writing = crate::quiesce::writing().await;
        let now = letsdata_model::time::now_millis();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM workers WHERE last_seen_at < ?1")
            .bind(now - WORKER_FORGOTTEN_MS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO workers (worker_id, host, pid, version, concurrency, draining,
                                  started_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (worker_id) DO UPDATE SET draining = excluded.draining,
                 concurrency = excluded.concurrency, last_seen_at = excluded.last_seen_at",
        )
        .bind(&worker.worker_id)
        .bind(&worker.host)
        .bind(i64::from(worker.pid))
        .bind(&worker.version)
        .bind(worker.concurrency.map(i64::from))
        .bind(worker.draining)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unregister_worker(&self, worker_id: &str) -> Result<(), StoreError> {
        let _writing = crate::quiesce::writing().await;
        sqlx::query("DELETE FROM workers WHERE worker_id = ?1")
            .bind(worker_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_workers(&self, within: Duration) -> Result<Vec<WorkerInfo>, StoreError> {
        let since = letsdata_model::time::now_millis()
            .saturating_sub(i64::try_from(within.as_millis()).unwrap_or(i64::MAX));
        let rows = sqlx::query_as::<_, WorkerRow>(&format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE last_seen_at >= ?1
             ORDER BY started_at, worker_id"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkerInfo::from).collect())
    }

    async fn update_dataset(&self, dataset: &mut Dataset) -> Result<(), StoreError> {
        let _writing = crate::quiesce::writing().await;
        dataset.update_datetime = letsdata_model::time::now_millis();
        let record = serde_json::to_string(dataset)?;
        let result = sqlx::query(
            "UPDATE datasets SET dataset_status = ?1, record = ?2, version = version + 1
             WHERE dataset_id = ?3 AND version = ?4",
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
        let cached = self
            .task_stores
            .lock()
            .expect("task store cache lock poisoned")
            .remove(dataset_id);
        if let Some(store) = cached {
            store.close().await;
        }
        let path = self.task_db_path(dataset_id);
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: file.display().to_string(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    async fn open_task_store(
        &self,
        dataset_id: &DatasetId,
    ) -> Result<Arc<dyn TaskStore>, StoreError> {
        Ok(self.task_store(dataset_id, false).await?)
    }
}
