//! Task claims and finishes per second through the store's own claim and finish code (what a
//! worker's pool calls), with many concurrent claimers, on PostgreSQL and on SQLite.
//!
//! `store_claims [--tasks N] [--claimers C] [--database-url URL]`: loads N tasks into a fresh
//! dataset, then C claimers (one tokio task each, sharing one store handle as a worker's
//! invocations do) each claim one task at a time and finish it COMPLETED until none is left.
//! PostgreSQL runs in a schema of its own (dropped at the end) with the server's settings
//! (`synchronous_commit` as configured: on by default); SQLite in a temporary directory.
//!
//! Not a test: nothing here asserts a speed.

use anyhow::Context;
use letsdata_model::dataset::DatasetResources;
use letsdata_model::task::{TaskDefinition, TaskExecutionLog};
use letsdata_model::{Dataset, DatasetProgress, DatasetStatus, TaskStatus};
use letsdata_store::{MetadataStore, NewTask};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(300);

fn dataset(tenant: &letsdata_store::Tenant) -> Dataset {
    let now = letsdata_model::time::now_millis();
    Dataset {
        dataset_name: format!("claims-{}", uuid::Uuid::new_v4().simple()),
        dataset_id: uuid::Uuid::new_v4().to_string().into(),
        tenant_id: tenant.tenant_id.clone(),
        user_id: tenant.user_id.clone(),
        dataset_status: DatasetStatus::Processing,
        config: serde_json::Map::new(),
        dataset_progress: DatasetProgress::default(),
        execution_logs: Vec::new(),
        initialization_workflow: serde_json::Map::new(),
        redrive_workflows: Vec::new(),
        descale_workflow: serde_json::Map::new(),
        freeze_workflow: serde_json::Map::new(),
        delete_workflow: serde_json::Map::new(),
        resources: DatasetResources::default(),
        code: None,
        code_update_workflows: Vec::new(),
        last_error: None,
        create_datetime: now,
        update_datetime: now,
        version: 0,
    }
}

fn log(worker: &str) -> TaskExecutionLog {
    TaskExecutionLog {
        worker_process_id: worker.to_string(),
        start_datetime: letsdata_model::time::now_millis(),
        end_datetime: None,
        outcome: None,
        message: None,
    }
}

/// Loads `tasks` tasks, then claims and finishes them with `claimers` claimers: the seconds
/// the claims and finishes took.
async fn run(store: Arc<dyn MetadataStore>, tasks: u64, claimers: usize) -> anyhow::Result<f64> {
    let tenant = store.local_tenant().await?;
    let dataset = dataset(&tenant);
    store.insert_dataset(&dataset).await?;
    let task_store = store.create_task_store(&dataset.dataset_id).await?;
    task_store.create_queue().await?;
    let (send, mut receive) = tokio::sync::mpsc::channel(4);
    let producer = tokio::spawn(async move {
        let all: Vec<NewTask> = (0..tasks)
            .map(|i| NewTask {
                task_id: format!("task-{i:08}").into(),
                ordinal: i,
                task_type: "READER".into(),
                definition: TaskDefinition {
                    reader_type: "SINGLEFILEREADER".into(),
                    manifest_line: format!("data/part-{i:08}.jsonl"),
                    manifest_index: i,
                    input: serde_json::Map::new(),
                },
            })
            .collect();
        for chunk in all.chunks(10_000) {
            if send.send(chunk.to_vec()).await.is_err() {
                break;
            }
        }
    });
    task_store.load_tasks(&mut receive).await?;
    producer.await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for c in 0..claimers {
        let tasks = task_store.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("bench:{c}");
            let mut done = 0u64;
            while let Some(lease) = tasks.claim(&owner, LEASE, log(&owner)).await? {
                let mut end = log(&owner);
                end.end_datetime = Some(letsdata_model::time::now_millis());
                end.outcome = Some("COMPLETED".into());
                tasks
                    .finish(&lease, TaskStatus::Completed, None, end, None)
                    .await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h.await??;
    }
    let took = started.elapsed().as_secs_f64();
    anyhow::ensure!(done == tasks, "{done} of {tasks} tasks finished");
    Ok(took)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mut tasks, mut claimers) = (20_000u64, 16usize);
    let mut url = std::env::var("LETSDATA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().context("a value after the flag");
        match a.as_str() {
            "--tasks" => tasks = value()?.parse()?,
            "--claimers" => claimers = value()?.parse()?,
            "--database-url" => url = value()?,
            other => anyhow::bail!(
                "unknown argument {other}; use --tasks N --claimers C --database-url URL"
            ),
        }
    }
    let report = |store: &str, took: f64| {
        println!(
            "{store:<10} {tasks} tasks claimed and finished by {claimers} claimers in {took:.2} s: \
             {:.0} tasks/s ({:.0} fenced writes/s)",
            tasks as f64 / took,
            2.0 * tasks as f64 / took
        );
    };

    // PostgreSQL, in a schema of its own.
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let schema = format!("letsdata_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("connecting to {}", letsdata_store::postgres::redacted(&url)))?;
    let commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await?;
    let postgres = letsdata_store::postgres::PostgresStore::open_with(
        options.clone().options([("search_path", schema.as_str())]),
    )
    .await;
    let took = match postgres {
        Ok(store) => run(Arc::new(store), tasks, claimers).await,
        Err(e) => Err(e.into()),
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await?;
    report(&format!("PostgreSQL (synchronous_commit {commit})"), took?);

    // SQLite (the embedded default), for comparison.
    let home = tempfile::tempdir()?;
    let sqlite = letsdata_store::sqlite::SqliteStore::open(home.path()).await?;
    report("SQLite", run(Arc::new(sqlite), tasks, claimers).await?);
    Ok(())
}
