//! Fixtures shared by the store test suite: backend factories, datasets, tasks, logs and
//! checkpoints. Nothing here is backend-specific.

use async_trait::async_trait;
use letsdata_model::dataset::DatasetResources;
use letsdata_model::task::{Checkpoint, TaskDefinition, TaskExecutionLog, TaskProgress};
use letsdata_model::{
    Dataset, DatasetProgress, DatasetStatus, ExecutionLog, LeaseToken, Task, TaskId, TaskStatus,
};
use letsdata_store::{Lease, MetadataStore, NewTask, StoreError, TaskStore, Tenant};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Opens handles on one backing store. Every call to [`StoreFactory::open`] returns a new,
/// independent handle on the *same* data (for SQLite a new `SqliteStore` on the same
/// directory, for PostgreSQL a new pool on the same database), which is how the suite
/// simulates a restart or a second process.
#[async_trait]
pub trait StoreFactory: Send + Sync {
    async fn open(&self) -> Arc<dyn MetadataStore>;
}

/// A lease long enough that it never expires during a test.
pub const LEASE: Duration = Duration::from_secs(300);

/// A new dataset record for `tenant`, as the engine would insert it.
pub fn new_dataset(tenant: &Tenant, name: &str) -> Dataset {
    let now = letsdata_model::time::now_millis();
    let mut config = serde_json::Map::new();
    config.insert(
        "readConnector".into(),
        serde_json::json!({ "connectorDestination": "S3", "bucketName": "in-bucket" }),
    );
    config.insert("accessPolicyType".into(), serde_json::json!("Customer"));
    let mut initialization_workflow = serde_json::Map::new();
    initialization_workflow.insert("createTasks".into(), serde_json::json!({}));
    Dataset {
        dataset_name: name.to_string(),
        dataset_id: uuid::Uuid::new_v4().to_string().into(),
        tenant_id: tenant.tenant_id.clone(),
        user_id: tenant.user_id.clone(),
        dataset_status: DatasetStatus::Created,
        config,
        dataset_progress: DatasetProgress::default(),
        execution_logs: vec![ExecutionLog {
            start_datetime: now,
            end_datetime: None,
            status: None,
        }],
        initialization_workflow,
        redrive_workflows: Vec::new(),
        descale_workflow: serde_json::Map::new(),
        freeze_workflow: serde_json::Map::new(),
        delete_workflow: serde_json::Map::new(),
        resources: DatasetResources {
            read_bucket: "in-bucket".into(),
            write_bucket: "out-bucket".into(),
            error_bucket: "err-bucket".into(),
            object_store: "local".into(),
            task_database: String::new(),
            ..Default::default()
        },
        code: None,
        code_update_workflows: Vec::new(),
        last_error: None,
        create_datetime: now,
        update_datetime: now,
        version: 0,
    }
}

/// A task to insert with an explicit id and ordinal.
pub fn new_task(task_id: &str, ordinal: u64) -> NewTask {
    let mut files = BTreeMap::new();
    files.insert("DATAFILE".to_string(), format!("data/{task_id}.gz"));
    NewTask {
        task_id: task_id.into(),
        ordinal,
        task_type: "READ".to_string(),
        definition: TaskDefinition {
            reader_type: "SINGLEFILEREADER".to_string(),
            manifest_line: format!("data/{task_id}.gz"),
            manifest_index: ordinal,
            input: serde_json::json!({ "files": files })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
    }
}

/// The id of the `ordinal`-th task made by [`tasks`].
pub fn task_id(ordinal: u64) -> TaskId {
    TaskId::new(format!("task-{ordinal:04}"))
}

/// `n` tasks with ordinals `0..n` (ids from [`task_id`]).
pub fn tasks(n: u64) -> Vec<NewTask> {
    (0..n).map(|i| new_task(&task_id(i), i)).collect()
}

/// The log entry a worker passes to `claim`.
pub fn claim_log(worker: &str) -> TaskExecutionLog {
    TaskExecutionLog {
        worker_process_id: worker.to_string(),
        start_datetime: letsdata_model::time::now_millis(),
        end_datetime: None,
        outcome: None,
        message: None,
    }
}

/// The log entry a worker passes to `finish`.
pub fn finish_log(lease_log: &TaskExecutionLog, outcome: &str) -> TaskExecutionLog {
    TaskExecutionLog {
        end_datetime: Some(letsdata_model::time::now_millis()),
        outcome: Some(outcome.to_string()),
        message: Some(format!("finished with {outcome}")),
        ..lease_log.clone()
    }
}

/// A progress value where every counter is different, derived from `n`.
pub fn progress(n: u64) -> TaskProgress {
    TaskProgress {
        records_read: n,
        documents_written: 2 * n,
        error_records: 3 * n,
        skip_records: 4 * n,
        bytes_read: 1000 * n,
        input_bytes: 0,
    }
}

/// A checkpoint with progress [`progress`]`(n)`.
pub fn checkpoint(n: u64) -> Checkpoint {
    let mut offsets = BTreeMap::new();
    offsets.insert("DATAFILE".to_string(), (n * 4096).to_string());
    let mut last_record_types = BTreeMap::new();
    last_record_types.insert("DATAFILE".to_string(), "RECORD".to_string());
    let position = serde_json::json!({
        "offsets": offsets,
        "lastRecordTypes": last_record_types,
    });
    Checkpoint {
        next_part: n,
        progress: progress(n),
        end_of_input: false,
        staged_parts: Default::default(),
        position: position.as_object().cloned().unwrap_or_default(),
    }
}

/// Inserts a dataset named `name` for the local tenant, creates its task database and queue,
/// and inserts `n` tasks ([`tasks`]).
pub async fn dataset_with_tasks(
    store: &dyn MetadataStore,
    name: &str,
    n: u64,
) -> (Dataset, Arc<dyn TaskStore>) {
    let tenant = store.local_tenant().await.expect("local tenant");
    let dataset = new_dataset(&tenant, name);
    store
        .insert_dataset(&dataset)
        .await
        .expect("insert dataset");
    let task_store = store
        .create_task_store(&dataset.dataset_id)
        .await
        .expect("create task store");
    task_store.create_queue().await.expect("create queue");
    let inserted = task_store
        .insert_tasks(&tasks(n))
        .await
        .expect("insert tasks");
    assert_eq!(inserted, n);
    (dataset, task_store)
}

/// The stored task, which must exist.
pub async fn must_get(task_store: &dyn TaskStore, task_id: &str) -> Task {
    task_store
        .get_task(&TaskId::from(task_id))
        .await
        .expect("get task")
        .unwrap_or_else(|| panic!("task {task_id} not found"))
}

/// Records that the task of `lease` COMPLETED (worker `w`, no final checkpoint); the lease
/// must still hold.
pub async fn complete(task_store: &dyn TaskStore, lease: &Lease) {
    task_store
        .finish(
            lease,
            TaskStatus::Completed,
            None,
            finish_log(&claim_log("w"), "COMPLETED"),
            None,
        )
        .await
        .expect("finish the task as COMPLETED");
}

/// Asserts that `result` is [`StoreError::LeaseLost`] for `task_id` and `token`.
#[track_caller]
pub fn assert_lease_lost(result: Result<(), StoreError>, task_id: &str, token: LeaseToken) {
    match result {
        Err(StoreError::LeaseLost {
            task_id: lost_id,
            token: lost_token,
        }) => {
            assert_eq!(lost_id.as_str(), task_id);
            assert_eq!(lost_token, token);
        }
        other => panic!("expected LeaseLost for {task_id} with token {token}, got {other:?}"),
    }
}
