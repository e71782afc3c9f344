//! Behavioural test suite for [`MetadataStore`] and [`TaskStore`].
//!
//! The tests in [`suite`] only see the traits, so every backend runs the same suite:
//! `store_test_suite!(backend_name, factory_fn)` expands to one `#[tokio::test]` per test,
//! where `factory_fn()` is an async fn returning a [`StoreFactory`] on a fresh, empty backing
//! store (kept alive for the duration of the test), or `None` when the backend's tests are
//! skipped on purpose (PostgreSQL with `LETSDATA_SKIP_POSTGRES_TESTS`). Tests that need a single handle receive
//! `Arc<dyn MetadataStore>`; tests that simulate a restart or a second process receive the
//! factory and open several handles on the same data.
//!
//! No test asserts on timing: concurrency tests check outcomes only.

#![allow(clippy::unwrap_used)]

mod common;

use common::StoreFactory;
use letsdata_store::MetadataStore;
use letsdata_store::postgres::PostgresStore;
use letsdata_store::sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use std::sync::Arc;

/// Expands to the whole suite for one backend. See the module docs.
macro_rules! store_test_suite {
    ($backend:ident, $factory:path) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            store_test_suite!(@single $factory;
                local_tenant_is_stable,
                tenants_users_and_api_keys,
                revoked_and_unknown_keys_do_not_authenticate,
                the_audit_log_keeps_each_tenants_entries_newest_first,
                insert_get_and_list_datasets,
                duplicate_dataset_name_is_rejected,
                update_dataset_bumps_version_and_rejects_stale_versions,
                datasets_in_finds_the_datasets_in_those_statuses,
                racing_dataset_updates_have_exactly_one_winner,
                task_store_must_be_created_before_it_is_opened,
                create_task_store_and_queue_are_idempotent,
                insert_tasks_is_idempotent,
                load_tasks_adds_the_whole_list_at_once_or_nothing,
                claim_returns_none_when_nothing_is_runnable,
                claim_follows_ordinal_order,
                claim_many_takes_up_to_max_in_ordinal_order,
                renew_extends_held_leases_and_reports_stops_and_losses,
                a_final_checkpoint_with_the_finish_is_unpublished_until_published,
                claim_sets_processing_and_appends_an_execution_log,
                heartbeat_extends_the_lease,
                huge_lease_durations_are_accepted,
                checkpoint_persists_checkpoint_and_progress,
                finish_completed_releases_the_lease,
                finish_rerun_requeues_with_a_higher_token_and_keeps_the_checkpoint,
                finish_errored_sets_last_error,
                reap_takes_only_expired_leases_and_dead_workers_tasks,
                stale_lease_is_fenced_after_reap,
                stale_lease_is_fenced_after_reap_and_reclaim,
                stale_lease_cannot_finish_twice,
                a_token_of_another_owner_is_fenced,
                leases_lists_processing_tasks,
                task_logs_append_in_order,
                the_cap_does_not_count_the_claimers_finishing_tasks,
                workers_register_renew_and_lapse,
                one_worker_at_a_time_holds_the_monitor_duty,
                leases_say_which_expired_on_the_store_clock,
                counts_and_list_tasks_aggregate_statuses_and_progress,
                task_pages_cover_the_list_once_in_manifest_order,
                json_task_pages_print_as_the_tasks_do,
                concurrent_claims_hand_out_each_task_once,
                concurrent_claim_and_finish_complete_each_task_once,
                many_finishes_at_once_each_get_their_own_answer,
            );
            store_test_suite!(@factory $factory;
                local_tenant_is_stable_across_reopen,
                reopened_store_sees_the_same_data,
                task_database_created_elsewhere_can_be_opened,
                concurrent_task_store_creation_from_several_instances,
                fencing_holds_across_store_instances,
                concurrent_claims_from_two_instances_hand_out_each_task_once,
                the_claim_cap_holds_across_instances,
                reader_instance_reads_while_another_instance_writes,
            );
        }
    };
    (@single $factory:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some(factory) = $factory().await else { return };
                let store = $crate::common::StoreFactory::open(&factory).await;
                $crate::suite::$test(store).await;
            }
        )*
    };
    (@factory $factory:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some(factory) = $factory().await else { return };
                $crate::suite::$test(&factory).await;
            }
        )*
    };
}

/// SQLite: every handle is a new `SqliteStore::open` on the same temporary directory.
struct SqliteFactory {
    home: tempfile::TempDir,
}

#[async_trait::async_trait]
impl StoreFactory for SqliteFactory {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        Arc::new(SqliteStore::open(self.home.path()).await.unwrap())
    }
}

async fn sqlite_factory() -> Option<SqliteFactory> {
    Some(SqliteFactory {
        home: tempfile::tempdir().unwrap(),
    })
}

store_test_suite!(sqlite, sqlite_factory);

/// PostgreSQL: each test gets its own schema (the store's tables, functions and migrations
/// table all land in it through `search_path`) in the database of `LETSDATA_TEST_DATABASE_URL`,
/// dropped when the test ends; every handle is a new `PostgresStore` (a new pool) on it.
struct PostgresFactory {
    options: PgConnectOptions,
    schema: String,
}

#[async_trait::async_trait]
impl StoreFactory for PostgresFactory {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        let options = self
            .options
            .clone()
            .options([("search_path", self.schema.as_str())]);
        Arc::new(PostgresStore::open_with(options).await.unwrap())
    }
}

impl Drop for PostgresFactory {
    fn drop(&mut self) {
        let options = self.options.clone();
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        // A runtime of its own: this runs while the test's runtime shuts down.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = sqlx::PgConnection::connect_with(&options).await?;
                sqlx::query(&drop).execute(&mut conn).await.map(|_| ())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping the test schema {}: {e}", self.schema);
        }
    }
}

/// The PostgreSQL server of the tests. Without one the tests fail, unless
/// `LETSDATA_SKIP_POSTGRES_TESTS` (or `LETSDATA_SKIP_S3_TESTS`, which skips every test needing a
/// service) asks to skip them, with a note: a missing server never passes silently.
async fn postgres_factory() -> Option<PostgresFactory> {
    let url = match std::env::var("LETSDATA_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("LETSDATA_SKIP_POSTGRES_TESTS").is_ok()
            || std::env::var("LETSDATA_SKIP_S3_TESTS").is_ok() =>
        {
            eprintln!("skipped: LETSDATA_TEST_DATABASE_URL is not set (scripts/test.sh sets it)");
            return None;
        }
        _ => panic!(
            "LETSDATA_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh (it finds or starts PostgreSQL), or set LETSDATA_SKIP_POSTGRES_TESTS=1"
        ),
    };
    let options: PgConnectOptions = url.parse().unwrap();
    let schema = format!("letsdata_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(PostgresFactory { options, schema })
}

store_test_suite!(postgres, postgres_factory);

/// PostgreSQL-specific: processes starting at once on a fresh store (a worker and `datasets
/// create`, say) all get the local tenant; none fails on another's insert of it (a conflict on
/// the tenant name, not only the id). Ten fresh schemas, eight instances each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_local_tenant_from_several_instances_at_once() {
    for _ in 0..10 {
        let Some(factory) = postgres_factory().await else {
            return;
        };
        let mut stores = Vec::new();
        for _ in 0..8 {
            let store = StoreFactory::open(&factory).await;
            // Connected, so that the inserts below start together.
            store.list_datasets("nobody").await.unwrap();
            stores.push(store);
        }
        let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
        let racing: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    store.local_tenant().await
                })
            })
            .collect();
        let mut tenants = Vec::new();
        for r in racing {
            tenants.push(r.await.unwrap().expect("the local tenant"));
        }
        assert!(tenants.windows(2).all(|w| w[0] == w[1]), "{tenants:?}");
    }
}

/// SQLite-specific: several processes opening a fresh `$LETSDATA_HOME` at once (e.g. `letsdata
/// run` and `letsdata datasets view` on first use) must all succeed and agree on the tenant.
/// Each opener races to switch the new file into WAL mode and to apply the migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_first_open_of_a_fresh_home() {
    const ROUNDS: usize = 5;
    const OPENERS: usize = 8;
    let root = tempfile::tempdir().unwrap();
    for round in 0..ROUNDS {
        let home = root.path().join(format!("home-{round}"));
        let handles: Vec<_> = (0..OPENERS)
            .map(|_| {
                let home = home.clone();
                tokio::spawn(async move {
                    let store = SqliteStore::open(&home).await?;
                    store.local_tenant().await
                })
            })
            .collect();
        let mut tenants = Vec::new();
        for handle in handles {
            tenants.push(handle.await.unwrap().unwrap());
        }
        assert!(tenants.windows(2).all(|w| w[0] == w[1]));
    }
}

/// SQLite-specific: the task database lives under the dataset's directory.
#[tokio::test]
async fn sqlite_task_database_lives_in_the_dataset_directory() {
    let home = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(home.path()).await.unwrap();
    let (dataset, _tasks) = common::dataset_with_tasks(&store, "layout", 1).await;
    assert!(home.path().join("letsdata.db").exists());
    assert_eq!(
        store.dataset_dir(&dataset.dataset_id),
        home.path().join("datasets").join(&dataset.dataset_id)
    );
    assert!(
        store
            .dataset_dir(&dataset.dataset_id)
            .join("tasks.db")
            .exists()
    );
}

/// The backend-independent tests.
mod suite {
    use crate::common::*;
    use letsdata_model::task::TaskExecutionLog;
    use letsdata_model::{DatasetStatus, LeaseToken, TaskId, TaskProgress, TaskStatus};
    use letsdata_store::{
        Lease, MetadataStore, Renewal, StoreError, TaskCounts, TaskCursor, TaskPage, TaskStore,
    };
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use std::time::Duration;

    // ---------------------------------------------------------------- metadata

    pub async fn local_tenant_is_stable(store: Arc<dyn MetadataStore>) {
        let first = store.local_tenant().await.unwrap();
        let second = store.local_tenant().await.unwrap();
        assert_eq!(first, second);
        assert!(!first.tenant_id.is_empty());
        assert!(!first.user_id.is_empty());
        assert!(!first.tenant_name.is_empty());
    }

    pub async fn tenants_users_and_api_keys(store: Arc<dyn MetadataStore>) {
        use letsdata_store::{NewApiKey, Scope};
        let local = store.local_tenant().await.unwrap();
        let acme = store.create_tenant("acme").await.unwrap();
        assert_ne!(acme.tenant_id, local.tenant_id);
        assert!(matches!(
            store.create_tenant("acme").await,
            Err(StoreError::Exists { what: "tenant", .. })
        ));
        assert!(matches!(
            store.create_tenant("../etc").await,
            Err(StoreError::Invalid(_))
        ));
        let mut names: Vec<String> = store
            .tenants()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.tenant_name)
            .collect();
        names.sort();
        assert_eq!(names, vec!["acme".to_string(), "local".to_string()]);
        assert_eq!(
            store.tenant_by_name("acme").await.unwrap(),
            Some(acme.clone())
        );
        assert_eq!(
            store.tenant_by_id(&acme.tenant_id).await.unwrap(),
            Some(acme.clone())
        );
        assert_eq!(store.tenant_by_name("nobody").await.unwrap(), None);

        let ada = store
            .create_user(&acme.tenant_id, "ada@acme.example")
            .await
            .unwrap();
        assert!(matches!(
            store
                .create_user(&local.tenant_id, "ada@acme.example")
                .await,
            Err(StoreError::Exists { what: "user", .. })
        ));
        assert!(matches!(
            store.create_user(&acme.tenant_id, "not an email").await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            store.users(Some(&acme.tenant_id)).await.unwrap(),
            vec![ada.clone()]
        );
        assert!(
            store
                .users(Some(&local.tenant_id))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.users(None).await.unwrap().len(), 1);

        // A key acting as a user, and one as the tenant itself.
        let as_ada = NewApiKey::generate(
            &acme.tenant_id,
            Some(&ada.user_id),
            &[Scope::Read, Scope::Logs],
            Some("dashboards"),
        )
        .unwrap();
        store.insert_api_key(&as_ada).await.unwrap();
        let as_tenant = NewApiKey::generate(&acme.tenant_id, None, &Scope::ALL, None).unwrap();
        store.insert_api_key(&as_tenant).await.unwrap();
        let caller = store.authenticate(&as_ada.secret).await.unwrap().unwrap();
        assert_eq!(caller.key, as_ada.record);
        assert_eq!(caller.tenant.tenant_id, acme.tenant_id);
        assert_eq!(caller.tenant.tenant_name, "acme");
        assert_eq!(caller.tenant.user_id, ada.user_id);
        let caller = store
            .authenticate(&as_tenant.secret)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(caller.tenant.user_id, acme.user_id);
        assert_eq!(caller.key.scopes, Scope::ALL.to_vec());
        let keys = store.api_keys(Some(&acme.tenant_id)).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&as_ada.record) && keys.contains(&as_tenant.record));
        assert!(
            store
                .api_keys(Some(&local.tenant_id))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn revoked_and_unknown_keys_do_not_authenticate(store: Arc<dyn MetadataStore>) {
        use letsdata_store::{NewApiKey, Scope};
        let tenant = store.create_tenant("revokers").await.unwrap();
        let key = NewApiKey::generate(&tenant.tenant_id, None, &[Scope::Read], None).unwrap();
        store.insert_api_key(&key).await.unwrap();
        assert!(store.authenticate(&key.secret).await.unwrap().is_some());
        // The hash is not the key, and a key that differs in one character is another key.
        assert!(store.authenticate(&key.hash).await.unwrap().is_none());
        let mut other = key.secret.clone();
        let last = other.pop().unwrap();
        other.push(if last == 'A' { 'B' } else { 'A' });
        assert!(store.authenticate(&other).await.unwrap().is_none());
        assert!(store.authenticate("").await.unwrap().is_none());

        let revoked = store
            .revoke_api_key(&key.record.api_key_id)
            .await
            .unwrap()
            .unwrap();
        let at = revoked.revoked_datetime.expect("revoked");
        assert!(store.authenticate(&key.secret).await.unwrap().is_none());
        // Revoking again keeps the first time; an unknown id is None.
        let again = store
            .revoke_api_key(&key.record.api_key_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.revoked_datetime, Some(at));
        assert!(store.revoke_api_key("ak-nope").await.unwrap().is_none());
        let listed = store.api_keys(Some(&tenant.tenant_id)).await.unwrap();
        assert_eq!(listed, vec![revoked]);
    }

    pub async fn the_audit_log_keeps_each_tenants_entries_newest_first(
        store: Arc<dyn MetadataStore>,
    ) {
        use letsdata_store::AuditEntry;
        let a = store.create_tenant("audited-a").await.unwrap();
        let b = store.create_tenant("audited-b").await.unwrap();
        let entry = |tenant: &str, n: i64| AuditEntry {
            at: 1_000 + n,
            tenant_id: tenant.to_string(),
            actor: format!("ak-{n}"),
            user_id: (n % 2 == 0).then(|| "u".to_string()),
            action: "dataset/create".into(),
            target: format!("D{n}"),
            outcome: "201".into(),
        };
        for n in 0..5 {
            store.audit(&entry(&a.tenant_id, n)).await.unwrap();
            store.audit(&entry(&b.tenant_id, 100 + n)).await.unwrap();
        }
        let of_a = store.audit_log(Some(&a.tenant_id), 3).await.unwrap();
        assert_eq!(
            of_a,
            vec![
                entry(&a.tenant_id, 4),
                entry(&a.tenant_id, 3),
                entry(&a.tenant_id, 2)
            ]
        );
        assert_eq!(store.audit_log(None, 100).await.unwrap().len(), 10);
        assert_eq!(
            store.audit_log(Some(&b.tenant_id), 100).await.unwrap()[0],
            entry(&b.tenant_id, 104)
        );
    }

    pub async fn local_tenant_is_stable_across_reopen(factory: &dyn StoreFactory) {
        let first = factory.open().await.local_tenant().await.unwrap();
        let second = factory.open().await.local_tenant().await.unwrap();
        assert_eq!(first, second);
    }

    pub async fn insert_get_and_list_datasets(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        assert!(
            store
                .list_datasets(&tenant.tenant_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .get_dataset(&tenant.tenant_id, "a")
                .await
                .unwrap()
                .is_none()
        );

        let mut a = new_dataset(&tenant, "a");
        let mut b = new_dataset(&tenant, "b");
        let mut c = new_dataset(&tenant, "c");
        // Deterministic listing order: creation time, then name.
        a.create_datetime = 3_000;
        b.create_datetime = 1_000;
        c.create_datetime = 1_000;
        for d in [&a, &b, &c] {
            store.insert_dataset(d).await.unwrap();
        }

        let got = store.get_dataset(&tenant.tenant_id, "a").await.unwrap();
        assert_eq!(got.as_ref(), Some(&a));
        let got = store.get_dataset_by_id(&b.dataset_id).await.unwrap();
        assert_eq!(got.as_ref(), Some(&b));
        assert!(
            store
                .get_dataset(&tenant.tenant_id, "zz")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .get_dataset_by_id(&"no-such-id".into())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .get_dataset("no-such-tenant", "a")
                .await
                .unwrap()
                .is_none()
        );

        let listed = store.list_datasets(&tenant.tenant_id).await.unwrap();
        let names: Vec<_> = listed.iter().map(|d| d.dataset_name.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        assert_eq!(listed[0], b);
        assert!(
            store
                .list_datasets("no-such-tenant")
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn duplicate_dataset_name_is_rejected(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        let original = new_dataset(&tenant, "dup");
        store.insert_dataset(&original).await.unwrap();

        let mut again = new_dataset(&tenant, "dup");
        again.dataset_status = DatasetStatus::Processing;
        match store.insert_dataset(&again).await {
            Err(StoreError::DatasetExists(name)) => assert_eq!(name, "dup"),
            other => panic!("expected DatasetExists, got {other:?}"),
        }
        // The original is untouched and the duplicate was not stored under its own id.
        let stored = store.get_dataset(&tenant.tenant_id, "dup").await.unwrap();
        assert_eq!(stored, Some(original));
        assert!(
            store
                .get_dataset_by_id(&again.dataset_id)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store.list_datasets(&tenant.tenant_id).await.unwrap().len(),
            1
        );
    }

    pub async fn datasets_in_finds_the_datasets_in_those_statuses(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        for (name, status) in [
            ("created", DatasetStatus::Created),
            ("processing", DatasetStatus::Processing),
            ("completed", DatasetStatus::Completed),
        ] {
            let mut dataset = new_dataset(&tenant, name);
            store.insert_dataset(&dataset).await.unwrap();
            dataset.dataset_status = status;
            store.update_dataset(&mut dataset).await.unwrap();
        }
        let names = |found: Vec<letsdata_model::Dataset>| -> BTreeSet<String> {
            found.into_iter().map(|d| d.dataset_name).collect()
        };
        let running = store
            .datasets_in(&[DatasetStatus::Created, DatasetStatus::Processing])
            .await
            .unwrap();
        assert_eq!(
            names(running),
            BTreeSet::from(["created".to_string(), "processing".to_string()])
        );
        let done = store
            .datasets_in(&[DatasetStatus::Completed])
            .await
            .unwrap();
        assert_eq!(names(done), BTreeSet::from(["completed".to_string()]));
        assert!(store.datasets_in(&[]).await.unwrap().is_empty());
    }

    pub async fn update_dataset_bumps_version_and_rejects_stale_versions(
        store: Arc<dyn MetadataStore>,
    ) {
        let tenant = store.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "versioned");
        store.insert_dataset(&dataset).await.unwrap();

        let mut fresh = store
            .get_dataset_by_id(&dataset.dataset_id)
            .await
            .unwrap()
            .unwrap();
        let mut stale = fresh.clone();
        let v0 = fresh.version;

        fresh.dataset_status = DatasetStatus::Initializing;
        fresh.last_error = Some("first".into());
        store.update_dataset(&mut fresh).await.unwrap();
        assert_eq!(fresh.version, v0 + 1);
        let stored = store
            .get_dataset_by_id(&dataset.dataset_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, fresh);

        // The copy read before the update is stale.
        stale.dataset_status = DatasetStatus::Errored;
        stale.last_error = Some("stale".into());
        match store.update_dataset(&mut stale).await {
            Err(StoreError::Conflict(name)) => assert_eq!(name, "versioned"),
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert_eq!(
            stale.version, v0,
            "a failed update must not bump the caller's version"
        );
        let stored = store
            .get_dataset_by_id(&dataset.dataset_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.dataset_status, DatasetStatus::Initializing);
        assert_eq!(stored.last_error.as_deref(), Some("first"));
        assert_eq!(stored.version, v0 + 1);

        // Successive updates of the same copy keep working.
        fresh.dataset_status = DatasetStatus::Processing;
        store.update_dataset(&mut fresh).await.unwrap();
        assert_eq!(fresh.version, v0 + 2);
        let by_name = store
            .get_dataset(&tenant.tenant_id, "versioned")
            .await
            .unwrap();
        assert_eq!(by_name, Some(fresh));
    }

    pub async fn racing_dataset_updates_have_exactly_one_winner(store: Arc<dyn MetadataStore>) {
        const RACERS: usize = 8;
        let tenant = store.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "race");
        store.insert_dataset(&dataset).await.unwrap();
        let read = store
            .get_dataset_by_id(&dataset.dataset_id)
            .await
            .unwrap()
            .unwrap();

        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let handles: Vec<_> = (0..RACERS)
            .map(|i| {
                let store = store.clone();
                let barrier = barrier.clone();
                let mut copy = read.clone();
                tokio::spawn(async move {
                    copy.last_error = Some(format!("writer {i}"));
                    barrier.wait().await;
                    let result = store.update_dataset(&mut copy).await;
                    (result, copy)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for handle in handles {
            match handle.await.unwrap() {
                (Ok(()), copy) => winners.push(copy),
                (Err(StoreError::Conflict(_)), _) => {}
                (Err(e), _) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one racer must win");
        let stored = store
            .get_dataset_by_id(&dataset.dataset_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.version, read.version + 1);
        assert_eq!(stored, winners[0]);
    }

    pub async fn task_store_must_be_created_before_it_is_opened(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "no-tasks-yet");
        store.insert_dataset(&dataset).await.unwrap();

        match store.open_task_store(&dataset.dataset_id).await {
            Err(StoreError::NoTaskDatabase(id)) => assert_eq!(id, dataset.dataset_id.as_str()),
            Err(e) => panic!("expected NoTaskDatabase, got {e:?}"),
            Ok(_) => panic!("expected NoTaskDatabase, got a task store"),
        }
        assert!(matches!(
            store.open_task_store(&"no-such-dataset".into()).await,
            Err(StoreError::NoTaskDatabase(_))
        ));

        let created = store.create_task_store(&dataset.dataset_id).await.unwrap();
        created.create_queue().await.unwrap();
        created.insert_tasks(&tasks(2)).await.unwrap();
        let opened = store.open_task_store(&dataset.dataset_id).await.unwrap();
        assert_eq!(opened.counts().await.unwrap().total, 2);
        let task = must_get(&*opened, &task_id(1)).await;
        assert_eq!(task.dataset_id, dataset.dataset_id);
        assert_eq!(task.dataset_name, dataset.dataset_name);
        assert_eq!(task.tenant_id, dataset.tenant_id);
    }

    pub async fn create_task_store_and_queue_are_idempotent(store: Arc<dyn MetadataStore>) {
        let (dataset, first) = dataset_with_tasks(&*store, "idempotent", 3).await;
        let lease = first
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        first
            .checkpoint(&lease, &checkpoint(4), LEASE)
            .await
            .unwrap();

        // Creating again neither fails nor wipes what is there.
        let second = store.create_task_store(&dataset.dataset_id).await.unwrap();
        second.create_queue().await.unwrap();
        first.create_queue().await.unwrap();
        let counts = second.counts().await.unwrap();
        assert_eq!(counts.total, 3);
        assert_eq!(counts.processing, 1);
        assert_eq!(counts.progress, progress(4));
        let task = must_get(&*second, &lease.task.task_id).await;
        assert_eq!(task.checkpoint, Some(checkpoint(4)));
        // And the lease taken through the first handle is still valid through the second.
        second.heartbeat(&lease, LEASE).await.unwrap();
    }

    // ------------------------------------------------------------ persistence

    pub async fn reopened_store_sees_the_same_data(factory: &dyn StoreFactory) {
        let (dataset, tenant, lease) = {
            let store = factory.open().await;
            let tenant = store.local_tenant().await.unwrap();
            let (mut dataset, tasks) = dataset_with_tasks(&*store, "persisted", 3).await;
            dataset.dataset_status = DatasetStatus::Processing;
            store.update_dataset(&mut dataset).await.unwrap();
            let lease = tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .unwrap();
            tasks
                .checkpoint(&lease, &checkpoint(7), LEASE)
                .await
                .unwrap();
            (dataset, tenant, lease)
        };

        let store = factory.open().await;
        assert_eq!(store.local_tenant().await.unwrap(), tenant);
        let stored = store
            .get_dataset(&tenant.tenant_id, "persisted")
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&dataset));
        assert_eq!(
            store.list_datasets(&tenant.tenant_id).await.unwrap(),
            vec![dataset.clone()]
        );

        let tasks = store.open_task_store(&dataset.dataset_id).await.unwrap();
        let counts = tasks.counts().await.unwrap();
        assert_eq!((counts.total, counts.created, counts.processing), (3, 2, 1));
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Processing);
        assert_eq!(task.checkpoint, Some(checkpoint(7)));
        assert_eq!(task.task_progress, progress(7));
        // The lease survives the restart: its holder can go on.
        tasks.heartbeat(&lease, LEASE).await.unwrap();
        complete(&*tasks, &lease).await;
        // The version survives too: an update from the pre-restart copy works once.
        let mut copy = dataset.clone();
        store.update_dataset(&mut copy).await.unwrap();
        let mut stale = dataset;
        assert!(matches!(
            store.update_dataset(&mut stale).await,
            Err(StoreError::Conflict(_))
        ));
    }

    pub async fn task_database_created_elsewhere_can_be_opened(factory: &dyn StoreFactory) {
        let reader = factory.open().await;
        let writer = factory.open().await;
        let tenant = writer.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "elsewhere");
        writer.insert_dataset(&dataset).await.unwrap();

        // Not created yet, as seen from the other instance.
        assert!(matches!(
            reader.open_task_store(&dataset.dataset_id).await,
            Err(StoreError::NoTaskDatabase(_))
        ));
        let tasks_w = writer.create_task_store(&dataset.dataset_id).await.unwrap();
        tasks_w.insert_tasks(&tasks(4)).await.unwrap();
        // Created now: the other instance must not have remembered the failure.
        let tasks_r = reader.open_task_store(&dataset.dataset_id).await.unwrap();
        assert_eq!(tasks_r.counts().await.unwrap().total, 4);
        // And creating it from the other instance is still idempotent.
        let again = reader.create_task_store(&dataset.dataset_id).await.unwrap();
        assert_eq!(again.insert_tasks(&tasks(4)).await.unwrap(), 0);
        assert_eq!(tasks_w.counts().await.unwrap().total, 4);
    }

    pub async fn concurrent_task_store_creation_from_several_instances(factory: &dyn StoreFactory) {
        const INSTANCES: usize = 6;
        const N: u64 = 10;
        let first = factory.open().await;
        let tenant = first.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "created-concurrently");
        first.insert_dataset(&dataset).await.unwrap();

        let mut stores = vec![first];
        for _ in 1..INSTANCES {
            stores.push(factory.open().await);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(INSTANCES));
        let handles: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let barrier = barrier.clone();
                let dataset_id = dataset.dataset_id.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let tasks = store.create_task_store(&dataset_id).await?;
                    tasks.create_queue().await?;
                    let inserted = tasks.insert_tasks(&crate::common::tasks(N)).await?;
                    Ok::<_, StoreError>((inserted, tasks))
                })
            })
            .collect();
        let mut inserted = 0;
        for handle in handles {
            let (n, tasks) = handle.await.unwrap().unwrap();
            inserted += n;
            assert_eq!(tasks.counts().await.unwrap().total, N);
        }
        assert_eq!(inserted, N, "each task is inserted by exactly one instance");
    }

    // ------------------------------------------------------------------ tasks

    /// Sends `chunks` to a load, as Create Tasks does.
    async fn load(
        tasks: &dyn letsdata_store::TaskStore,
        chunks: Vec<Vec<letsdata_store::NewTask>>,
    ) -> Result<(u64, u64), letsdata_store::StoreError> {
        let (send, mut receive) = tokio::sync::mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            send.send(chunk).await.unwrap();
        }
        drop(send);
        tasks.load_tasks(&mut receive).await
    }

    pub async fn load_tasks_adds_the_whole_list_at_once_or_nothing(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "load");
        store.insert_dataset(&dataset).await.unwrap();
        let tasks_store = store.create_task_store(&dataset.dataset_id).await.unwrap();
        tasks_store.create_queue().await.unwrap();

        // A list naming one task twice: refused with that task, and nothing is created.
        let mut twice = tasks(5);
        twice.push(new_task(&task_id(2), 7));
        match load(
            &*tasks_store,
            vec![twice[..3].to_vec(), twice[3..].to_vec()],
        )
        .await
        {
            Err(letsdata_store::StoreError::DuplicateTask(id)) => {
                assert_eq!(id, task_id(2).as_str())
            }
            other => panic!("expected DuplicateTask, got {other:?}"),
        }
        assert_eq!(tasks_store.counts().await.unwrap().total, 0);

        // The list in chunks: every task, in manifest order, runnable.
        let all = tasks(2500);
        let chunks: Vec<_> = all.chunks(1000).map(|c| c.to_vec()).collect();
        assert_eq!(
            load(&*tasks_store, chunks.clone()).await.unwrap(),
            (2500, 2500)
        );
        let counts = tasks_store.counts().await.unwrap();
        assert_eq!((counts.total, counts.created), (2500, 2500));
        let first = tasks_store
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.task.task_id, task_id(0));
        assert_eq!(first.task.task_progress, Default::default());

        // Loaded again (Create Tasks run again after a crash): the tasks there are kept, ids
        // stay unique, and later inserts find them.
        assert_eq!(load(&*tasks_store, chunks).await.unwrap(), (2500, 0));
        assert_eq!(tasks_store.counts().await.unwrap().total, 2500);
        assert_eq!(
            must_get(&*tasks_store, &first.task.task_id)
                .await
                .task_status,
            TaskStatus::Processing
        );
        assert_eq!(tasks_store.insert_tasks(&tasks(2501)).await.unwrap(), 1);
        // A second handle, as another process, sees the same unique ids.
        let other = store.open_task_store(&dataset.dataset_id).await.unwrap();
        assert_eq!(other.insert_tasks(&tasks(2502)).await.unwrap(), 1);
        assert_eq!(tasks_store.counts().await.unwrap().total, 2502);
    }

    pub async fn insert_tasks_is_idempotent(store: Arc<dyn MetadataStore>) {
        let (_, tasks_store) = dataset_with_tasks(&*store, "insert", 3).await;
        assert_eq!(tasks_store.insert_tasks(&tasks(3)).await.unwrap(), 0);
        assert_eq!(tasks_store.insert_tasks(&[]).await.unwrap(), 0);
        // Two known ids and one new one: only the new one counts.
        assert_eq!(tasks_store.insert_tasks(&tasks(4)).await.unwrap(), 1);
        assert_eq!(tasks_store.counts().await.unwrap().total, 4);

        // Re-inserting never resets a task that has moved on.
        let lease = tasks_store
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        tasks_store
            .checkpoint(&lease, &checkpoint(2), LEASE)
            .await
            .unwrap();
        let before = must_get(&*tasks_store, &lease.task.task_id).await;
        let mut changed = new_task(&lease.task.task_id, 99);
        changed.task_type = "OTHER".into();
        assert_eq!(tasks_store.insert_tasks(&[changed]).await.unwrap(), 0);
        assert_eq!(must_get(&*tasks_store, &lease.task.task_id).await, before);

        // Definitions round-trip.
        let task = must_get(&*tasks_store, &task_id(3)).await;
        let expected = new_task(&task_id(3), 3);
        assert_eq!(task.task_definition, expected.definition);
        assert_eq!(task.task_type, expected.task_type);
        assert_eq!(task.task_status, TaskStatus::Created);
        assert_eq!(task.checkpoint, None);
        assert_eq!(task.last_error, None);
        assert!(task.task_execution_logs.is_empty());
        assert_eq!(task.task_progress, Default::default());
        assert!(
            tasks_store
                .get_task(&"no-such-task".into())
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn claim_returns_none_when_nothing_is_runnable(store: Arc<dyn MetadataStore>) {
        let (_, empty) = dataset_with_tasks(&*store, "empty", 0).await;
        assert!(
            empty
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );

        let (_, tasks) = dataset_with_tasks(&*store, "busy", 3).await;
        let a = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        let b = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        let c = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        // All three are PROCESSING.
        assert!(
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );
        complete(&*tasks, &a).await;
        tasks
            .finish(
                &b,
                TaskStatus::Errored,
                Some("boom"),
                finish_log(&claim_log("w"), "ERRORED"),
                None,
            )
            .await
            .unwrap();
        // Terminal and PROCESSING tasks are not runnable.
        assert!(
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );
        complete(&*tasks, &c).await;
        assert!(
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(tasks.counts().await.unwrap().unfinished(), 0);
    }

    pub async fn claim_follows_ordinal_order(store: Arc<dyn MetadataStore>) {
        let tenant = store.local_tenant().await.unwrap();
        let dataset = new_dataset(&tenant, "ordered");
        store.insert_dataset(&dataset).await.unwrap();
        let tasks = store.create_task_store(&dataset.dataset_id).await.unwrap();
        tasks.create_queue().await.unwrap();
        // Ids sort differently from ordinals, and insertion order is neither.
        let batch = [
            new_task("e", 5),
            new_task("d", 2),
            new_task("a", 9),
            new_task("z", 0),
            new_task("m", 7),
        ];
        assert_eq!(tasks.insert_tasks(&batch).await.unwrap(), 5);

        let z = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(z.task.task_id, "z");
        let d = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.task.task_id, "d");
        // A RERUN task with a lower ordinal comes before CREATED tasks with higher ones.
        tasks
            .finish(
                &z,
                TaskStatus::Rerun,
                None,
                finish_log(&claim_log("w"), "RERUN"),
                None,
            )
            .await
            .unwrap();
        let z2 = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(z2.task.task_id, "z");
        let mut order = Vec::new();
        while let Some(lease) = tasks.claim("w", LEASE, claim_log("w")).await.unwrap() {
            order.push(lease.task.task_id.clone());
        }
        assert_eq!(order, ["e", "m", "a"]);
    }

    pub async fn claim_many_takes_up_to_max_in_ordinal_order(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "many", 5).await;
        let log = claim_log("w");
        let first = tasks
            .claim_many("w", LEASE, log.clone(), 3, usize::MAX.into())
            .await
            .unwrap();
        let ids: Vec<TaskId> = first.iter().map(|l| l.task.task_id.clone()).collect();
        assert_eq!(ids, [task_id(0), task_id(1), task_id(2)]);
        for lease in &first {
            assert_eq!(lease.task.task_status, TaskStatus::Processing);
            assert_eq!(lease.owner, "w");
            assert_eq!(lease.task.task_execution_logs, vec![log.clone()]);
        }
        // A RERUN task with a lower ordinal comes first again.
        tasks
            .finish(
                &first[1],
                TaskStatus::Rerun,
                None,
                finish_log(&claim_log("w"), "RERUN"),
                None,
            )
            .await
            .unwrap();
        let rest = tasks
            .claim_many("w", LEASE, claim_log("w"), 10, usize::MAX.into())
            .await
            .unwrap();
        let ids: Vec<TaskId> = rest.iter().map(|l| l.task.task_id.clone()).collect();
        assert_eq!(ids, [task_id(1), task_id(3), task_id(4)]);
        assert!(rest[0].token > first[1].token);
        assert!(
            tasks
                .claim_many("w", LEASE, claim_log("w"), 10, usize::MAX.into())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(tasks.leases().await.unwrap().len(), 5);
    }

    pub async fn renew_extends_held_leases_and_reports_stops_and_losses(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, tasks) = dataset_with_tasks(&*store, "renew", 3).await;
        let short = Duration::from_secs(5);
        let mut leases = tasks
            .claim_many("w", short, claim_log("w"), 2, usize::MAX.into())
            .await
            .unwrap();
        leases.extend(tasks.claim("gone", short, claim_log("gone")).await.unwrap());
        let held: Vec<(TaskId, LeaseToken)> = leases
            .iter()
            .map(|l| (l.task.task_id.clone(), l.token))
            .collect();
        // One asked to stop, one taken over (reaped and claimed again).
        tasks
            .request_stop(Some(&[held[0].0.clone()]), "stop")
            .await
            .unwrap();
        assert_eq!(
            reaped_ids(&*tasks, &["gone"]).await,
            vec![held[2].0.clone()]
        );
        let again = tasks.claim("w2", LEASE, claim_log("w2")).await.unwrap();
        assert_eq!(again.unwrap().task.task_id, held[2].0);

        let before = tasks.leases().await.unwrap();
        let found = tasks.renew("w", &held, LEASE).await.unwrap();
        assert_eq!(
            found,
            vec![
                Renewal::Held {
                    stop_requested: true
                },
                Renewal::Held {
                    stop_requested: false
                },
                Renewal::Lost,
            ]
        );
        let after = tasks.leases().await.unwrap();
        let expiry = |leases: &[letsdata_store::LeaseInfo], id: &TaskId| {
            leases
                .iter()
                .find(|l| &l.task_id == id)
                .map(|l| l.expires_at)
                .unwrap()
        };
        for (id, _) in &held[..2] {
            assert!(
                expiry(&after, id) > expiry(&before, id),
                "the held lease of {id} was extended"
            );
        }
        assert_eq!(
            expiry(&after, &held[2].0),
            expiry(&before, &held[2].0),
            "the new owner's lease is untouched"
        );
        assert!(tasks.renew("w", &[], LEASE).await.unwrap().is_empty());
    }

    pub async fn a_final_checkpoint_with_the_finish_is_unpublished_until_published(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, tasks) = dataset_with_tasks(&*store, "final", 3).await;
        let leases = tasks
            .claim_many("w", LEASE, claim_log("w"), 3, usize::MAX.into())
            .await
            .unwrap();
        let staged = |n: u64| {
            let mut last = checkpoint(n);
            last.end_of_input = true;
            last.staged_parts.documents = Some(serde_json::json!({"part": n}));
            last
        };
        // Two complete with a final checkpoint that staged a part, one with nothing staged.
        let mut empty = checkpoint(1);
        empty.end_of_input = true;
        let finals = [staged(4), staged(2), empty];
        for (lease, last) in leases.iter().zip(&finals) {
            tasks
                .finish(
                    lease,
                    TaskStatus::Completed,
                    None,
                    finish_log(&claim_log("w"), "COMPLETED"),
                    Some(last),
                )
                .await
                .unwrap();
        }
        for (lease, last) in leases.iter().zip(&finals) {
            let task = must_get(&*tasks, &lease.task.task_id).await;
            assert_eq!(task.task_status, TaskStatus::Completed);
            assert_eq!(task.checkpoint.as_ref(), Some(last));
            assert_eq!(task.task_progress, last.progress);
        }
        let counts = tasks.counts().await.unwrap();
        assert_eq!(counts.completed, 3);
        assert_eq!(counts.progress, progress(7));
        let metrics: u64 = tasks
            .minute_counters()
            .await
            .unwrap()
            .iter()
            .map(|m| m.progress.records_read)
            .sum();
        assert_eq!(metrics, progress(7).records_read, "final checkpoints count");
        let counted = tasks.minute_counters().await.unwrap();

        let unpublished = tasks.unpublished(10).await.unwrap();
        let ids: Vec<TaskId> = unpublished.iter().map(|t| t.task_id.clone()).collect();
        assert_eq!(ids, [task_id(0), task_id(1)]);
        assert_eq!(tasks.unpublished(1).await.unwrap().len(), 1);
        tasks.published(&[task_id(0)]).await.unwrap();
        // Twice is fine, and tasks with nothing to publish are left as they are.
        tasks.published(&[task_id(0), task_id(2)]).await.unwrap();
        tasks.published(&[]).await.unwrap();
        // Marking parts published is no checkpoint: the metrics stay as they were.
        assert_eq!(tasks.minute_counters().await.unwrap(), counted);
        let ids: Vec<TaskId> = tasks
            .unpublished(10)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(ids, [task_id(1)]);
        // Published: the staged parts are forgotten, the rest of the checkpoint is kept.
        let task = must_get(&*tasks, &task_id(0)).await;
        let mut expected = staged(4);
        expected.staged_parts = Default::default();
        assert_eq!(task.checkpoint, Some(expected));
        tasks.published(&[task_id(1)]).await.unwrap();
        assert!(tasks.unpublished(10).await.unwrap().is_empty());
        assert_eq!(
            must_get(&*tasks, &task_id(2)).await.checkpoint.as_ref(),
            Some(&finals[2])
        );
    }

    pub async fn claim_sets_processing_and_appends_an_execution_log(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "claim", 1).await;
        let log = claim_log("worker-1");
        let before = letsdata_model::time::now_millis();
        let lease = tasks
            .claim("worker-1", LEASE, log.clone())
            .await
            .unwrap()
            .unwrap();

        assert_eq!(lease.owner, "worker-1");
        assert_eq!(lease.task.task_id, task_id(0));
        assert_eq!(lease.task.task_status, TaskStatus::Processing);
        assert_eq!(lease.task.worker_process_id.as_deref(), Some("worker-1"));
        assert_eq!(lease.task.task_execution_logs, vec![log.clone()]);
        // The returned task is what is stored.
        let stored = must_get(&*tasks, &task_id(0)).await;
        assert_eq!(stored, lease.task);

        let leases = tasks.leases().await.unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].task_id, task_id(0));
        assert_eq!(leases[0].owner, "worker-1");
        assert_eq!(leases[0].token, lease.token);
        assert!(leases[0].expires_at >= before + LEASE.as_millis() as i64);

        // A second invocation appends a second entry after the first one's closing entry.
        let done = finish_log(&log, "RERUN");
        tasks
            .finish(&lease, TaskStatus::Rerun, None, done.clone(), None)
            .await
            .unwrap();
        let log2 = claim_log("worker-2");
        let lease2 = tasks
            .claim("worker-2", LEASE, log2.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lease2.task.task_execution_logs, vec![done, log2]);
        assert_eq!(lease2.task.worker_process_id.as_deref(), Some("worker-2"));
        assert!(lease2.token > lease.token);
    }

    pub async fn heartbeat_extends_the_lease(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "heartbeat", 1).await;
        let lease = tasks
            .claim("w", Duration::from_secs(60), claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        let first = tasks.leases().await.unwrap()[0].expires_at;
        tasks
            .heartbeat(&lease, Duration::from_secs(3600))
            .await
            .unwrap();
        let extended = tasks.leases().await.unwrap()[0].expires_at;
        assert!(extended > first, "{extended} should be later than {first}");
        // A heartbeat changes nothing else.
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Processing);
        assert_eq!(task.task_execution_logs, lease.task.task_execution_logs);
        assert_eq!(tasks.leases().await.unwrap()[0].token, lease.token);
    }

    pub async fn huge_lease_durations_are_accepted(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "forever", 1).await;
        let lease = tasks
            .claim("w", Duration::MAX, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        tasks.heartbeat(&lease, Duration::MAX).await.unwrap();
        tasks
            .checkpoint(&lease, &checkpoint(1), Duration::MAX)
            .await
            .unwrap();
        let leases = tasks.leases().await.unwrap();
        assert_eq!(leases.len(), 1);
        assert!(
            leases[0].expires_at > letsdata_model::time::now_millis(),
            "a huge lease must not wrap around into the past: {}",
            leases[0].expires_at
        );
    }

    pub async fn checkpoint_persists_checkpoint_and_progress(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "checkpoint", 2).await;
        let lease = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();

        tasks
            .checkpoint(&lease, &checkpoint(3), LEASE)
            .await
            .unwrap();
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.checkpoint, Some(checkpoint(3)));
        assert_eq!(task.task_progress, progress(3));
        assert_eq!(task.task_status, TaskStatus::Processing);
        assert_eq!(tasks.counts().await.unwrap().progress, progress(3));

        // A later checkpoint replaces the earlier one (progress is absolute, not added).
        let mut last = checkpoint(10);
        last.end_of_input = true;
        tasks.checkpoint(&lease, &last, LEASE).await.unwrap();
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.checkpoint, Some(last));
        assert_eq!(task.task_progress, progress(10));
        assert_eq!(tasks.counts().await.unwrap().progress, progress(10));
        // The other task is untouched.
        let other = must_get(&*tasks, &task_id(1)).await;
        assert_eq!(other.checkpoint, None);
        assert_eq!(other.task_progress, Default::default());
        // The checkpoint is kept once the task completes.
        complete(&*tasks, &lease).await;
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_progress, progress(10));
        assert!(task.checkpoint.is_some_and(|c| c.end_of_input));
    }

    pub async fn finish_completed_releases_the_lease(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "complete", 1).await;
        let log = claim_log("w");
        let lease = tasks.claim("w", LEASE, log.clone()).await.unwrap().unwrap();
        let done = finish_log(&log, "COMPLETED");
        tasks
            .finish(&lease, TaskStatus::Completed, None, done.clone(), None)
            .await
            .unwrap();

        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Completed);
        assert_eq!(task.last_error, None);
        assert_eq!(task.task_execution_logs, vec![done]);
        assert!(tasks.leases().await.unwrap().is_empty());
        assert!(
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );
        // The lease is spent.
        assert_lease_lost(
            tasks.heartbeat(&lease, LEASE).await,
            &lease.task.task_id,
            lease.token,
        );
    }

    pub async fn finish_rerun_requeues_with_a_higher_token_and_keeps_the_checkpoint(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, tasks) = dataset_with_tasks(&*store, "rerun", 1).await;
        let log = claim_log("w1");
        let first = tasks
            .claim("w1", LEASE, log.clone())
            .await
            .unwrap()
            .unwrap();
        tasks
            .checkpoint(&first, &checkpoint(5), LEASE)
            .await
            .unwrap();
        tasks
            .finish(
                &first,
                TaskStatus::Rerun,
                None,
                finish_log(&log, "RERUN"),
                None,
            )
            .await
            .unwrap();

        let queued = must_get(&*tasks, &first.task.task_id).await;
        assert_eq!(queued.task_status, TaskStatus::Rerun);
        assert_eq!(queued.checkpoint, Some(checkpoint(5)));
        assert_eq!(queued.task_progress, progress(5));
        assert!(tasks.leases().await.unwrap().is_empty());
        assert_eq!(tasks.counts().await.unwrap().rerun, 1);

        let second = tasks
            .claim("w2", LEASE, claim_log("w2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.task.task_id, first.task.task_id);
        assert!(
            second.token > first.token,
            "{} > {}",
            second.token,
            first.token
        );
        assert_eq!(second.task.checkpoint, Some(checkpoint(5)));
        assert_eq!(second.task.task_progress, progress(5));
        assert_eq!(second.task.task_execution_logs.len(), 2);
        // The first lease is dead; the second works.
        assert_lease_lost(
            tasks.heartbeat(&first, LEASE).await,
            &first.task.task_id,
            first.token,
        );
        tasks
            .checkpoint(&second, &checkpoint(6), LEASE)
            .await
            .unwrap();
        tasks
            .finish(
                &second,
                TaskStatus::Completed,
                None,
                finish_log(&log, "COMPLETED"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(tasks.counts().await.unwrap().completed, 1);
    }

    pub async fn finish_errored_sets_last_error(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "errored", 2).await;
        let log = claim_log("w");
        let lease = tasks.claim("w", LEASE, log.clone()).await.unwrap().unwrap();
        tasks
            .checkpoint(&lease, &checkpoint(2), LEASE)
            .await
            .unwrap();
        let done = finish_log(&log, "ERRORED");
        tasks
            .finish(
                &lease,
                TaskStatus::Errored,
                Some("reader failed: bad gzip"),
                done.clone(),
                None,
            )
            .await
            .unwrap();

        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Errored);
        assert_eq!(task.last_error.as_deref(), Some("reader failed: bad gzip"));
        assert_eq!(task.task_execution_logs, vec![done]);
        assert_eq!(task.checkpoint, Some(checkpoint(2)));
        assert!(tasks.leases().await.unwrap().is_empty());
        // An errored task is terminal: the next claim gets the other task.
        let next = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.task.task_id, task_id(1));
        assert!(
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .is_none()
        );
        let errored = tasks.list_tasks(Some(TaskStatus::Errored)).await.unwrap();
        assert_eq!(errored, vec![task]);
    }

    /// The ids of the tasks [`TaskStore::reap`] reaped with these dead owners.
    async fn reaped_ids(tasks: &dyn TaskStore, dead: &[&str]) -> Vec<TaskId> {
        let dead: Vec<String> = dead.iter().map(|d| d.to_string()).collect();
        let mut ids: Vec<TaskId> = tasks
            .reap(&dead)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.task_id)
            .collect();
        ids.sort();
        ids
    }

    pub async fn reap_takes_only_expired_leases_and_dead_workers_tasks(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, tasks) = dataset_with_tasks(&*store, "reap", 3).await;
        let id = task_id(0);
        // Nothing to reap when nothing is PROCESSING.
        assert!(reaped_ids(&*tasks, &["w"]).await.is_empty());
        assert_eq!(
            must_get(&*tasks, &id).await.task_status,
            TaskStatus::Created
        );

        let lease = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        let live = tasks
            .claim("alive", LEASE, claim_log("alive"))
            .await
            .unwrap()
            .unwrap();
        tasks
            .checkpoint(&lease, &checkpoint(3), LEASE)
            .await
            .unwrap();
        let before = must_get(&*tasks, &id).await;
        // Live leases of live workers are left alone.
        assert!(reaped_ids(&*tasks, &[]).await.is_empty());
        assert!(reaped_ids(&*tasks, &["someone-else"]).await.is_empty());
        assert_eq!(must_get(&*tasks, &id).await, before);
        assert_eq!(tasks.leases().await.unwrap().len(), 2);

        let reaped = tasks.reap(&["w".to_string()]).await.unwrap();
        assert_eq!(
            reaped,
            vec![letsdata_store::Reaped {
                task_id: id.clone(),
                owner: "w".into(),
                exited: true
            }]
        );
        assert_eq!(reaped[0].reason(), "worker w exited while running the task");
        let reaped = must_get(&*tasks, &id).await;
        assert_eq!(reaped.task_status, TaskStatus::Rerun);
        assert_eq!(
            reaped.checkpoint,
            Some(checkpoint(3)),
            "reaping keeps the checkpoint"
        );
        assert_eq!(reaped.task_progress, progress(3));
        let last = reaped.task_execution_logs.last().unwrap();
        assert_eq!(last.outcome.as_deref(), Some("LEASE_LOST"));
        assert_eq!(
            last.message.as_deref(),
            Some("worker w exited while running the task")
        );
        assert!(last.end_datetime.is_some());
        assert_eq!(last.worker_process_id, "w");
        let left = tasks.leases().await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].task_id, live.task.task_id);
        // Only once.
        assert!(reaped_ids(&*tasks, &["w"]).await.is_empty());
        assert_eq!(must_get(&*tasks, &id).await, reaped);
        // The reaped task is claimable again, ahead of higher ordinals.
        let again = tasks
            .claim("w2", LEASE, claim_log("w2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.task.task_id, id);
        assert!(again.token > lease.token);
        assert_eq!(again.task.checkpoint, Some(checkpoint(3)));
    }

    /// Asserts that every write through `stale` fails with `LeaseLost` and changes nothing.
    async fn assert_fenced(tasks: &dyn TaskStore, stale: &Lease) {
        let id = &stale.task.task_id;
        let before = must_get(tasks, id).await;
        let leases_before = tasks.leases().await.unwrap();
        let counts_before = tasks.counts().await.unwrap();
        let metrics_before = tasks.minute_counters().await.unwrap();
        let mut final_checkpoint = checkpoint(999);
        final_checkpoint.end_of_input = true;
        final_checkpoint.staged_parts.documents = Some(serde_json::json!({"staged": "zombie"}));

        assert_lease_lost(tasks.heartbeat(stale, LEASE).await, id, stale.token);
        assert_eq!(
            tasks
                .renew(&stale.owner, &[(id.clone(), stale.token)], LEASE)
                .await
                .unwrap(),
            vec![Renewal::Lost]
        );
        assert_lease_lost(
            tasks.checkpoint(stale, &checkpoint(999), LEASE).await,
            id,
            stale.token,
        );
        for status in [
            TaskStatus::Completed,
            TaskStatus::Rerun,
            TaskStatus::Errored,
        ] {
            let log = TaskExecutionLog {
                worker_process_id: stale.owner.clone(),
                start_datetime: 0,
                end_datetime: Some(1),
                outcome: Some(status.as_str().into()),
                message: Some("zombie".into()),
            };
            for last in [None, Some(&final_checkpoint)] {
                assert_lease_lost(
                    tasks
                        .finish(stale, status, Some("zombie error"), log.clone(), last)
                        .await,
                    id,
                    stale.token,
                );
            }
        }

        assert_eq!(
            must_get(tasks, id).await,
            before,
            "a fenced write changed the task"
        );
        let leases_after = tasks.leases().await.unwrap();
        assert_eq!(leases_after.len(), leases_before.len());
        for (a, b) in leases_after.iter().zip(&leases_before) {
            assert_eq!(
                (&a.task_id, &a.owner, a.token),
                (&b.task_id, &b.owner, b.token)
            );
            assert_eq!(
                a.expires_at, b.expires_at,
                "a fenced heartbeat extended the lease"
            );
        }
        assert_eq!(tasks.counts().await.unwrap(), counts_before);
        assert_eq!(
            tasks.minute_counters().await.unwrap(),
            metrics_before,
            "a fenced checkpoint counted in the metrics"
        );
        assert!(tasks.unpublished(10).await.unwrap().is_empty());
    }

    pub async fn stale_lease_is_fenced_after_reap(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "fenced-reap", 1).await;
        let lease = tasks
            .claim("zombie", LEASE, claim_log("zombie"))
            .await
            .unwrap()
            .unwrap();
        tasks
            .checkpoint(&lease, &checkpoint(1), LEASE)
            .await
            .unwrap();
        assert_eq!(
            reaped_ids(&*tasks, &["zombie"]).await,
            vec![lease.task.task_id.clone()]
        );

        assert_fenced(&*tasks, &lease).await;
        let task = must_get(&*tasks, &lease.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Rerun);
        assert_eq!(task.checkpoint, Some(checkpoint(1)));
        assert_eq!(task.last_error, None);
    }

    pub async fn stale_lease_is_fenced_after_reap_and_reclaim(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "fenced-reclaim", 1).await;
        let old = tasks
            .claim("zombie", LEASE, claim_log("zombie"))
            .await
            .unwrap()
            .unwrap();
        tasks.checkpoint(&old, &checkpoint(1), LEASE).await.unwrap();
        assert_eq!(
            reaped_ids(&*tasks, &["zombie"]).await,
            vec![old.task.task_id.clone()]
        );
        let new = tasks
            .claim("successor", LEASE, claim_log("successor"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(new.task.task_id, old.task.task_id);
        assert!(new.token > old.token);
        tasks.checkpoint(&new, &checkpoint(2), LEASE).await.unwrap();

        assert_fenced(&*tasks, &old).await;
        // The successor's state is intact and its lease still works.
        let task = must_get(&*tasks, &new.task.task_id).await;
        assert_eq!(task.task_status, TaskStatus::Processing);
        assert_eq!(task.worker_process_id.as_deref(), Some("successor"));
        assert_eq!(task.checkpoint, Some(checkpoint(2)));
        assert_eq!(task.last_error, None);
        let leases = tasks.leases().await.unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(
            (leases[0].owner.as_str(), leases[0].token),
            ("successor", new.token)
        );
        // Reaping the old owner's tasks leaves the successor's alone.
        assert!(reaped_ids(&*tasks, &["zombie"]).await.is_empty());
        tasks.heartbeat(&new, LEASE).await.unwrap();
        tasks
            .finish(
                &new,
                TaskStatus::Completed,
                None,
                finish_log(&claim_log("s"), "COMPLETED"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            must_get(&*tasks, &new.task.task_id).await.task_status,
            TaskStatus::Completed
        );
        assert_fenced(&*tasks, &old).await;
    }

    /// A lease's token under another owner (what a claim the database lost in a crash would
    /// leave: the next claim may get the same token) writes nothing.
    pub async fn a_token_of_another_owner_is_fenced(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "fenced-owner", 1).await;
        let real = tasks
            .claim("successor", LEASE, claim_log("successor"))
            .await
            .unwrap()
            .unwrap();
        let impostor = Lease {
            owner: "lost-claim".into(),
            ..real.clone()
        };
        assert_fenced(&*tasks, &impostor).await;
        tasks
            .checkpoint(&real, &checkpoint(1), LEASE)
            .await
            .unwrap();
    }

    pub async fn stale_lease_cannot_finish_twice(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "finish-twice", 1).await;
        let lease = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        tasks
            .finish(
                &lease,
                TaskStatus::Rerun,
                None,
                finish_log(&claim_log("w"), "RERUN"),
                None,
            )
            .await
            .unwrap();
        // The worker's own lease ends with finish, even before anyone reclaims the task.
        assert_fenced(&*tasks, &lease).await;
        assert_eq!(
            must_get(&*tasks, &lease.task.task_id).await.task_status,
            TaskStatus::Rerun
        );
    }

    pub async fn fencing_holds_across_store_instances(factory: &dyn StoreFactory) {
        let a = factory.open().await;
        let (dataset, tasks_a) = dataset_with_tasks(&*a, "fenced-across", 1).await;
        let b = factory.open().await;
        let tasks_b = b.open_task_store(&dataset.dataset_id).await.unwrap();

        let old = tasks_a
            .claim("a", LEASE, claim_log("a"))
            .await
            .unwrap()
            .unwrap();
        // The reaper lives in the other process.
        let info = tasks_b.leases().await.unwrap().pop().unwrap();
        assert_eq!((info.owner.as_str(), info.token), ("a", old.token));
        assert_eq!(reaped_ids(&*tasks_b, &["a"]).await, vec![info.task_id]);
        let new = tasks_b
            .claim("b", LEASE, claim_log("b"))
            .await
            .unwrap()
            .unwrap();
        assert!(new.token > old.token);

        assert_fenced(&*tasks_a, &old).await;
        assert_fenced(&*tasks_b, &old).await;
        // A lease is valid through any handle.
        tasks_a
            .checkpoint(&new, &checkpoint(4), LEASE)
            .await
            .unwrap();
        assert_eq!(
            must_get(&*tasks_b, &new.task.task_id).await.checkpoint,
            Some(checkpoint(4))
        );
    }

    pub async fn leases_say_which_expired_on_the_store_clock(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "expiry", 2).await;
        let live = tasks
            .claim("w0", LEASE, claim_log("w0"))
            .await
            .unwrap()
            .unwrap();
        let gone = tasks
            .claim("w1", Duration::from_millis(1), claim_log("w1"))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let expired: BTreeMap<TaskId, bool> = tasks
            .leases()
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.task_id, l.expired))
            .collect();
        assert_eq!(expired.get(&live.task.task_id), Some(&false));
        assert_eq!(expired.get(&gone.task.task_id), Some(&true));
        // The expired lease is reaped; the live one is not touched.
        let reaped = tasks.reap(&[]).await.unwrap();
        assert_eq!(reaped.len(), 1);
        assert_eq!(reaped[0].task_id, gone.task.task_id);
        assert_eq!(reaped[0].reason(), "worker w1 stopped renewing its lease");
        assert_eq!(
            must_get(&*tasks, &gone.task.task_id)
                .await
                .task_execution_logs
                .last()
                .unwrap()
                .message
                .as_deref(),
            Some("worker w1 stopped renewing its lease")
        );
        let left: Vec<TaskId> = tasks
            .leases()
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.task_id)
            .collect();
        assert_eq!(left, vec![live.task.task_id.clone()]);
    }

    pub async fn workers_register_renew_and_lapse(store: Arc<dyn MetadataStore>) {
        let worker = |id: &str, draining: bool| letsdata_store::WorkerInfo {
            worker_id: id.into(),
            host: "h".into(),
            pid: 42,
            version: "0.0.0".into(),
            concurrency: Some(4),
            draining,
            started_at: 0,
            last_seen_at: 0,
        };
        let within = Duration::from_secs(30);
        assert!(store.live_workers(within).await.unwrap().is_empty());
        store.register_worker(&worker("a", false)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        store.register_worker(&worker("b", false)).await.unwrap();
        let live = store.live_workers(within).await.unwrap();
        let ids: Vec<&str> = live.iter().map(|w| w.worker_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "oldest first");
        assert_eq!((live[0].pid, live[0].concurrency), (42, Some(4)));
        assert!(live[0].started_at > 0 && live[0].last_seen_at >= live[0].started_at);
        // Renewing keeps the start and records the draining.
        let started = live[0].started_at;
        tokio::time::sleep(Duration::from_millis(20)).await;
        store.register_worker(&worker("a", true)).await.unwrap();
        let a = store.live_workers(within).await.unwrap().remove(0);
        assert_eq!(a.started_at, started);
        assert!(a.draining);
        assert!(a.last_seen_at > started);
        // Unseen for longer than `within`: not live.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            store
                .live_workers(Duration::from_millis(50))
                .await
                .unwrap()
                .is_empty()
        );
        store.unregister_worker("a").await.unwrap();
        let ids: Vec<String> = store
            .live_workers(within)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.worker_id)
            .collect();
        assert_eq!(ids, ["b"]);
    }

    pub async fn one_worker_at_a_time_holds_the_monitor_duty(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "monitor", 1).await;
        assert!(tasks.hold_monitor("a", LEASE).await.unwrap());
        assert!(tasks.hold_monitor("a", LEASE).await.unwrap(), "renewed");
        assert!(!tasks.hold_monitor("b", LEASE).await.unwrap());
        // Another's release does nothing; the holder's frees it at once.
        tasks.release_monitor("b").await.unwrap();
        assert!(!tasks.hold_monitor("b", LEASE).await.unwrap());
        tasks.release_monitor("a").await.unwrap();
        assert!(
            tasks
                .hold_monitor("b", Duration::from_millis(1))
                .await
                .unwrap()
        );
        // An expired duty is taken over.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tasks.hold_monitor("a", LEASE).await.unwrap());
        assert!(!tasks.hold_monitor("b", LEASE).await.unwrap());
    }

    pub async fn the_cap_does_not_count_the_claimers_finishing_tasks(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, tasks) = dataset_with_tasks(&*store, "finishing", 5).await;
        let first = tasks
            .claim_many("w", LEASE, claim_log("w"), 5, 2.into())
            .await
            .unwrap();
        assert_eq!(first.len(), 2);
        assert!(
            tasks
                .claim_many("w", LEASE, claim_log("w"), 5, 2.into())
                .await
                .unwrap()
                .is_empty(),
            "the cap is reached"
        );
        // One of them only records its end: one more may be claimed, not two.
        let finishing = [first[0].task.task_id.clone()];
        let cap = letsdata_store::Cap {
            most: 2,
            finishing: &finishing,
        };
        let more = tasks
            .claim_many("w", LEASE, claim_log("w"), 5, cap)
            .await
            .unwrap();
        assert_eq!(more.len(), 1);
        assert!(
            tasks
                .claim_many("w", LEASE, claim_log("w"), 5, cap)
                .await
                .unwrap()
                .is_empty()
        );
        // Once its end is recorded it is not PROCESSING anyway: no room is counted twice.
        complete(&*tasks, &first[0]).await;
        assert!(
            tasks
                .claim_many("w", LEASE, claim_log("w"), 5, cap)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn task_logs_append_in_order(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "logs", 2).await;
        assert_eq!(tasks.task_log(&task_id(0)).await.unwrap(), None);
        tasks
            .append_task_log(&task_id(0), "first invocation\n")
            .await
            .unwrap();
        tasks
            .append_task_log(&task_id(1), "another task\n")
            .await
            .unwrap();
        tasks
            .append_task_log(&task_id(0), "second invocation\n")
            .await
            .unwrap();
        assert_eq!(
            tasks.task_log(&task_id(0)).await.unwrap().as_deref(),
            Some("first invocation\nsecond invocation\n")
        );
        assert_eq!(
            tasks.task_log(&task_id(1)).await.unwrap().as_deref(),
            Some("another task\n")
        );
    }

    pub async fn leases_lists_processing_tasks(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "leases", 5).await;
        assert!(tasks.leases().await.unwrap().is_empty());
        let mut held = BTreeMap::new();
        for owner in ["w0", "w1", "w2", "w3"] {
            let lease = tasks
                .claim(owner, LEASE, claim_log(owner))
                .await
                .unwrap()
                .unwrap();
            held.insert(lease.task.task_id.clone(), lease);
        }
        let done = held.remove(&task_id(0)).unwrap();
        tasks
            .finish(
                &done,
                TaskStatus::Completed,
                None,
                finish_log(&claim_log("w0"), "COMPLETED"),
                None,
            )
            .await
            .unwrap();
        let rerun = held.remove(&task_id(1)).unwrap();
        tasks
            .finish(
                &rerun,
                TaskStatus::Rerun,
                None,
                finish_log(&claim_log("w1"), "RERUN"),
                None,
            )
            .await
            .unwrap();

        let mut leases = tasks.leases().await.unwrap();
        leases.sort_by(|x, y| x.task_id.cmp(&y.task_id));
        let listed: Vec<_> = leases
            .iter()
            .map(|l| (l.task_id.clone(), l.owner.clone(), l.token))
            .collect();
        let expected: Vec<_> = held
            .values()
            .map(|l| (l.task.task_id.clone(), l.owner.clone(), l.token))
            .collect();
        assert_eq!(listed, expected);
        assert!(leases.iter().all(|l| l.expires_at > 0));
        let processing = tasks
            .list_tasks(Some(TaskStatus::Processing))
            .await
            .unwrap();
        let ids: Vec<_> = processing.iter().map(|t| t.task_id.clone()).collect();
        assert_eq!(ids, held.keys().cloned().collect::<Vec<_>>());
    }

    pub async fn counts_and_list_tasks_aggregate_statuses_and_progress(
        store: Arc<dyn MetadataStore>,
    ) {
        let (_, empty) = dataset_with_tasks(&*store, "no-tasks", 0).await;
        assert_eq!(empty.counts().await.unwrap(), TaskCounts::default());
        assert!(empty.list_tasks(None).await.unwrap().is_empty());

        let (_, tasks) = dataset_with_tasks(&*store, "counts", 6).await;
        let mut leases = Vec::new();
        for _ in 0..5 {
            leases.push(
                tasks
                    .claim("w", LEASE, claim_log("w"))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let fin = |status: TaskStatus| finish_log(&claim_log("w"), status.as_str());
        // task 0: COMPLETED with progress 1
        tasks
            .checkpoint(&leases[0], &checkpoint(1), LEASE)
            .await
            .unwrap();
        tasks
            .finish(
                &leases[0],
                TaskStatus::Completed,
                None,
                fin(TaskStatus::Completed),
                None,
            )
            .await
            .unwrap();
        // task 1: RERUN with progress 10
        tasks
            .checkpoint(&leases[1], &checkpoint(10), LEASE)
            .await
            .unwrap();
        tasks
            .finish(
                &leases[1],
                TaskStatus::Rerun,
                None,
                fin(TaskStatus::Rerun),
                None,
            )
            .await
            .unwrap();
        // task 2: ERRORED without progress
        tasks
            .finish(
                &leases[2],
                TaskStatus::Errored,
                Some("bad"),
                fin(TaskStatus::Errored),
                None,
            )
            .await
            .unwrap();
        // task 3: PROCESSING with progress 100; task 4: PROCESSING without; task 5: CREATED
        tasks
            .checkpoint(&leases[3], &checkpoint(100), LEASE)
            .await
            .unwrap();

        let counts = tasks.counts().await.unwrap();
        let mut expected_progress = progress(1);
        expected_progress.add(&progress(10));
        expected_progress.add(&progress(100));
        assert_eq!(
            counts,
            TaskCounts {
                total: 6,
                created: 1,
                processing: 2,
                rerun: 1,
                completed: 1,
                errored: 1,
                progress: expected_progress,
                // Every task that ran did so in one attempt.
                max_lease_token: 1,
            }
        );
        assert_eq!(counts.unfinished(), 4);

        let ids =
            |v: Vec<letsdata_model::Task>| v.into_iter().map(|t| t.task_id).collect::<Vec<_>>();
        let all = tasks.list_tasks(None).await.unwrap();
        assert_eq!(ids(all.clone()), (0..6).map(task_id).collect::<Vec<_>>());
        for task in &all {
            assert_eq!(
                Some(task),
                tasks.get_task(&task.task_id).await.unwrap().as_ref()
            );
        }
        let by_status = |s| {
            let tasks = tasks.clone();
            async move { ids(tasks.list_tasks(Some(s)).await.unwrap()) }
        };
        assert_eq!(by_status(TaskStatus::Created).await, [task_id(5)]);
        assert_eq!(
            by_status(TaskStatus::Processing).await,
            [task_id(3), task_id(4)]
        );
        assert_eq!(by_status(TaskStatus::Rerun).await, [task_id(1)]);
        assert_eq!(by_status(TaskStatus::Completed).await, [task_id(0)]);
        assert_eq!(by_status(TaskStatus::Errored).await, [task_id(2)]);
        // The filtered lists partition the whole list.
        let mut union = BTreeSet::new();
        for s in TaskStatus::ALL {
            for task in tasks.list_tasks(Some(s)).await.unwrap() {
                assert_eq!(task.task_status, s);
                assert!(union.insert(task.task_id));
            }
        }
        assert_eq!(union.len(), 6);
        // The RERUN task's second attempt (and the CREATED one's first).
        for _ in 0..2 {
            tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .expect("a task to claim");
        }
        assert_eq!(tasks.counts().await.unwrap().max_lease_token, 2);
    }

    /// Every page size walks the whole list (or one status) exactly once, in ordinal order and
    /// then by task id where ordinals repeat; the last page has no cursor; a cursor's text
    /// form parses back; text that is not one is refused.
    pub async fn task_pages_cover_the_list_once_in_manifest_order(store: Arc<dyn MetadataStore>) {
        let (_, empty) = dataset_with_tasks(&*store, "no-pages", 0).await;
        let page = empty.list_tasks_page(None, None, 10).await.unwrap();
        assert!(page.tasks.is_empty() && page.next.is_none());

        let (_, tasks) = dataset_with_tasks(&*store, "pages", 23).await;
        // Two more tasks sharing ordinals with others (ids sort after `task-…`).
        tasks
            .insert_tasks(&[new_task("zz-5", 5), new_task("aa-5", 5)])
            .await
            .unwrap();
        let lease = tasks
            .claim("w", LEASE, claim_log("w"))
            .await
            .unwrap()
            .unwrap();
        complete(&*tasks, &lease).await;
        let mut expected: Vec<(u64, String)> = (0..23)
            .map(|i| (i, task_id(i).to_string()))
            .chain([(5, "zz-5".to_string()), (5, "aa-5".to_string())])
            .collect();
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
        let walk = |status: Option<TaskStatus>, limit: usize| {
            let tasks = tasks.clone();
            async move {
                let mut seen = Vec::new();
                let mut after: Option<TaskCursor> = None;
                let mut pages = 0;
                loop {
                    let TaskPage { tasks: page, next } = tasks
                        .list_tasks_page(status, after.as_ref(), limit)
                        .await
                        .unwrap();
                    pages += 1;
                    assert!(page.len() <= limit);
                    if let Some(s) = status {
                        assert!(page.iter().all(|t| t.task_status == s));
                    }
                    seen.extend(page.iter().map(|t| t.task_id.to_string()));
                    match next {
                        Some(next) => {
                            assert_eq!(page.len(), limit, "only the last page is short");
                            assert_eq!(next.to_string().parse::<TaskCursor>(), Ok(next.clone()));
                            after = Some(next);
                        }
                        None => break,
                    }
                }
                (seen, pages)
            }
        };
        for limit in [1, 2, 5, 24, 25, 26, 1000] {
            let (seen, pages) = walk(None, limit).await;
            assert_eq!(seen, expected, "page size {limit}");
            assert_eq!(
                pages,
                expected.len().div_ceil(limit).max(1),
                "page size {limit}"
            );
        }
        let (completed, _) = walk(Some(TaskStatus::Completed), 1).await;
        assert_eq!(completed, [task_id(0).to_string()]);
        for limit in [1, 4] {
            let (created, _) = walk(Some(TaskStatus::Created), limit).await;
            assert_eq!(created, expected[1..].to_vec(), "page size {limit}");
        }
        for bad in ["", "12", "x.task", "3.", "-1.task-0001"] {
            assert!(bad.parse::<TaskCursor>().is_err(), "{bad:?}");
        }
    }

    /// A page as JSON to write out is the page of tasks, encoded: byte for byte the text of
    /// the decoded tasks (queued, processing, checkpointed, completed, errored with a message),
    /// with the same cursor; a status filter and a cursor select the same tasks.
    pub async fn json_task_pages_print_as_the_tasks_do(store: Arc<dyn MetadataStore>) {
        let (_, tasks) = dataset_with_tasks(&*store, "json-pages", 6).await;
        let log = claim_log("w");
        let done = tasks.claim("w", LEASE, log.clone()).await.unwrap().unwrap();
        complete(&*tasks, &done).await;
        let errored = tasks.claim("w", LEASE, log.clone()).await.unwrap().unwrap();
        tasks
            .checkpoint(&errored, &checkpoint(2), LEASE)
            .await
            .unwrap();
        tasks
            .finish(
                &errored,
                TaskStatus::Errored,
                Some("reader failed: \"bad\" gzip\n"),
                finish_log(&log, "ERRORED"),
                None,
            )
            .await
            .unwrap();
        let running = tasks.claim("w", LEASE, log.clone()).await.unwrap().unwrap();
        // Its input's size is known (a single uncompressed file).
        let mut sized = checkpoint(3);
        sized.progress.input_bytes = 10_000;
        tasks.checkpoint(&running, &sized, LEASE).await.unwrap();
        let _claimed = tasks.claim("w", LEASE, log).await.unwrap().unwrap();

        let mut pages = 0;
        for (status, limit) in [
            (None, 4),
            (None, 100),
            (Some(TaskStatus::Processing), 1),
            (Some(TaskStatus::Created), 5),
        ] {
            let mut after: Option<TaskCursor> = None;
            loop {
                let typed = tasks
                    .list_tasks_page(status, after.as_ref(), limit)
                    .await
                    .unwrap();
                let json = tasks
                    .list_tasks_json_page(status, after.as_ref(), limit)
                    .await
                    .unwrap();
                assert_eq!(json.tasks.len(), typed.tasks.len());
                assert_eq!(
                    serde_json::to_string(&json.tasks).unwrap(),
                    serde_json::to_string(&typed.tasks).unwrap(),
                    "status {status:?}, page size {limit}"
                );
                assert_eq!(json.next, typed.next);
                pages += 1;
                match typed.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        assert_eq!(pages, 2 + 1 + 2 + 1);
        let all = tasks.list_tasks_page(None, None, 100).await.unwrap();
        let running = all.tasks.iter().find(|t| t.task_id == running.task.task_id);
        assert_eq!(
            running.map(|t| t.task_progress.input_bytes),
            Some(10_000),
            "the input's size is kept with the progress"
        );
    }

    // ------------------------------------------------------------- concurrency

    /// Checks that every one of the `n` tasks was claimed exactly once.
    fn assert_each_claimed_once(claimed: Vec<(TaskId, LeaseToken)>, n: u64) {
        let mut per_task: BTreeMap<TaskId, usize> = BTreeMap::new();
        for (id, _) in &claimed {
            *per_task.entry(id.clone()).or_default() += 1;
        }
        let twice: Vec<_> = per_task.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            twice.is_empty(),
            "tasks handed to more than one claimer: {twice:?}"
        );
        assert_eq!(claimed.len() as u64, n, "every task must be claimed");
        let expected: Vec<_> = (0..n).map(task_id).collect();
        assert_eq!(per_task.into_keys().collect::<Vec<_>>(), expected);
    }

    pub async fn concurrent_claims_hand_out_each_task_once(store: Arc<dyn MetadataStore>) {
        const N: u64 = 48;
        const CLAIMERS: usize = 16;
        let (_, tasks) = dataset_with_tasks(&*store, "concurrent-claims", N).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
        let handles: Vec<_> = (0..CLAIMERS)
            .map(|c| {
                let tasks = tasks.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let owner = format!("claimer-{c}");
                    barrier.wait().await;
                    let mut got = Vec::new();
                    // Claim without finishing: PROCESSING tasks must never be handed out again.
                    while let Some(lease) =
                        tasks.claim(&owner, LEASE, claim_log(&owner)).await.unwrap()
                    {
                        assert_eq!(lease.owner, owner);
                        got.push((lease.task.task_id, lease.token));
                        tokio::task::yield_now().await;
                    }
                    got
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for handle in handles {
            claimed.extend(handle.await.unwrap());
        }
        assert_each_claimed_once(claimed, N);
        let counts = tasks.counts().await.unwrap();
        assert_eq!((counts.processing, counts.created), (N, 0));
        assert_eq!(tasks.leases().await.unwrap().len() as u64, N);
    }

    pub async fn concurrent_claim_and_finish_complete_each_task_once(
        store: Arc<dyn MetadataStore>,
    ) {
        const N: u64 = 40;
        const CLAIMERS: usize = 10;
        let (_, tasks) = dataset_with_tasks(&*store, "concurrent-finish", N).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
        let handles: Vec<_> = (0..CLAIMERS)
            .map(|c| {
                let tasks = tasks.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let owner = format!("worker-{c}");
                    barrier.wait().await;
                    let mut got = Vec::new();
                    while let Some(lease) =
                        tasks.claim(&owner, LEASE, claim_log(&owner)).await.unwrap()
                    {
                        let n = lease.task.task_definition.manifest_index;
                        tasks
                            .checkpoint(&lease, &checkpoint(n), LEASE)
                            .await
                            .unwrap();
                        tasks
                            .finish(
                                &lease,
                                TaskStatus::Completed,
                                None,
                                finish_log(&claim_log(&owner), "COMPLETED"),
                                None,
                            )
                            .await
                            .unwrap();
                        got.push((lease.task.task_id, lease.token));
                    }
                    got
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for handle in handles {
            claimed.extend(handle.await.unwrap());
        }
        assert_each_claimed_once(claimed, N);
        let counts = tasks.counts().await.unwrap();
        assert_eq!((counts.completed, counts.unfinished()), (N, 0));
        let mut total = Default::default();
        for i in 0..N {
            letsdata_model::TaskProgress::add(&mut total, &progress(i));
        }
        assert_eq!(counts.progress, total);
        for task in tasks.list_tasks(None).await.unwrap() {
            assert_eq!(task.task_execution_logs.len(), 1, "{}", task.task_id);
        }
    }

    /// Finishes made at the same moment (merged into one statement per batch by the SQLite
    /// group commit): held leases, leases another owner took, with and without a final
    /// checkpoint, COMPLETED and ERRORED. Each write gets its own answer and changes its own
    /// task only.
    pub async fn many_finishes_at_once_each_get_their_own_answer(store: Arc<dyn MetadataStore>) {
        const N: u64 = 48;
        let (_, tasks) = dataset_with_tasks(&*store, "many-finishes", N).await;
        let log = claim_log("w");
        let leases = tasks
            .claim_many("w", LEASE, log.clone(), N as usize, (N as usize).into())
            .await
            .unwrap();
        assert_eq!(leases.len(), N as usize);
        // Every fourth finish is made with a lease this owner does not hold.
        let stale = |i: u64| i % 4 == 3;
        let mut running = tokio::task::JoinSet::new();
        for lease in &leases {
            let i = lease.task.task_definition.manifest_index;
            let lease = if stale(i) {
                Lease {
                    owner: "lost-claim".into(),
                    ..lease.clone()
                }
            } else {
                lease.clone()
            };
            let (tasks, log) = (tasks.clone(), log.clone());
            running.spawn(async move {
                let (status, error) = if i % 3 == 0 {
                    (TaskStatus::Errored, Some(format!("task {i} \"failed\"\n")))
                } else {
                    (TaskStatus::Completed, None)
                };
                let last = (i % 2 == 0).then(|| checkpoint(i));
                let done = finish_log(&log, status.as_str());
                let outcome = tasks
                    .finish(
                        &lease,
                        status,
                        error.as_deref(),
                        done.clone(),
                        last.as_ref(),
                    )
                    .await;
                (i, lease, done, outcome)
            });
        }
        let mut checkpoints = 0;
        let mut total = TaskProgress::default();
        while let Some(joined) = running.join_next().await {
            let (i, lease, done, outcome) = joined.unwrap();
            let task = must_get(&*tasks, &lease.task.task_id).await;
            if stale(i) {
                assert_lease_lost(outcome, &lease.task.task_id, lease.token);
                assert_eq!(task.task_status, TaskStatus::Processing, "task {i}");
                assert_eq!(task.task_execution_logs, vec![log.clone()], "task {i}");
                continue;
            }
            outcome.unwrap_or_else(|e| panic!("task {i}: {e}"));
            let status = if i % 3 == 0 {
                TaskStatus::Errored
            } else {
                TaskStatus::Completed
            };
            assert_eq!(task.task_status, status, "task {i}");
            assert_eq!(
                task.last_error,
                (i % 3 == 0).then(|| format!("task {i} \"failed\"\n")),
                "task {i}"
            );
            assert_eq!(task.task_execution_logs, vec![done], "task {i}");
            if i % 2 == 0 {
                assert_eq!(task.checkpoint, Some(checkpoint(i)), "task {i}");
                assert_eq!(task.task_progress, progress(i), "task {i}");
                checkpoints += 1;
                TaskProgress::add(&mut total, &progress(i));
            } else {
                assert_eq!(task.checkpoint, None, "task {i}");
            }
        }
        let counts = tasks.counts().await.unwrap();
        assert_eq!(counts.processing, N / 4);
        assert_eq!(counts.completed + counts.errored, N - N / 4);
        // The finishes with a final checkpoint, and only they, counted in the metrics.
        let minutes = tasks.minute_counters().await.unwrap();
        assert_eq!(
            minutes.iter().map(|m| m.checkpoints).sum::<u64>(),
            checkpoints
        );
        let mut counted = TaskProgress::default();
        for minute in &minutes {
            TaskProgress::add(&mut counted, &minute.progress);
        }
        assert_eq!(counted, total);
    }

    pub async fn the_claim_cap_holds_across_instances(factory: &dyn StoreFactory) {
        use std::sync::atomic::Ordering::SeqCst;
        const CAP: usize = 3;
        let first = factory.open().await;
        let (dataset, a) = dataset_with_tasks(&*first, "capped", 40).await;
        let second = factory.open().await;
        let b = second.open_task_store(&dataset.dataset_id).await.unwrap();
        let held = a
            .claim_many("a", LEASE, claim_log("a"), 10, CAP.into())
            .await
            .unwrap();
        assert_eq!(held.len(), CAP, "a claim stops at the cap");
        assert!(
            b.claim_many("b", LEASE, claim_log("b"), 10, CAP.into())
                .await
                .unwrap()
                .is_empty(),
            "another instance finds the cap reached"
        );
        let done = &held[0];
        a.finish(
            done,
            TaskStatus::Completed,
            None,
            finish_log(&claim_log("a"), "COMPLETED"),
            None,
        )
        .await
        .unwrap();
        let freed = b
            .claim_many("b", LEASE, claim_log("b"), 10, CAP.into())
            .await
            .unwrap();
        assert_eq!(freed.len(), 1, "a finished task frees its place");
        for lease in held[1..].iter().chain(&freed) {
            a.finish(
                lease,
                TaskStatus::Completed,
                None,
                finish_log(&claim_log("a"), "COMPLETED"),
                None,
            )
            .await
            .unwrap();
        }
        // Racing claimers of both instances, each finishing what it got: never more than
        // CAP leased at once.
        let instances = [a.clone(), b.clone()];
        let leased = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut handles = Vec::new();
        for (i, tasks) in instances.iter().enumerate() {
            for c in 0..4 {
                let (tasks, leased, most) = (tasks.clone(), leased.clone(), most.clone());
                handles.push(tokio::spawn(async move {
                    let owner = format!("i{i}c{c}");
                    for _ in 0..20 {
                        let got = tasks
                            .claim_many(&owner, LEASE, claim_log(&owner), 2, CAP.into())
                            .await
                            .unwrap();
                        let now = leased.fetch_add(got.len(), SeqCst) + got.len();
                        most.fetch_max(now, SeqCst);
                        for lease in got {
                            tokio::task::yield_now().await;
                            // Counted out before the finish commits: never under-counted.
                            leased.fetch_sub(1, SeqCst);
                            tasks
                                .finish(
                                    &lease,
                                    TaskStatus::Completed,
                                    None,
                                    finish_log(&claim_log(&owner), "COMPLETED"),
                                    None,
                                )
                                .await
                                .unwrap();
                        }
                    }
                }));
            }
        }
        for h in handles {
            h.await.unwrap();
        }
        assert!(
            most.load(SeqCst) <= CAP,
            "{} tasks were leased at once with a cap of {CAP}",
            most.load(SeqCst)
        );
        assert!(
            a.counts().await.unwrap().completed > 10,
            "the racing claimers got tasks"
        );
    }

    pub async fn concurrent_claims_from_two_instances_hand_out_each_task_once(
        factory: &dyn StoreFactory,
    ) {
        const N: u64 = 60;
        const CLAIMERS_PER_INSTANCE: usize = 6;
        let first = factory.open().await;
        let (dataset, tasks_first) = dataset_with_tasks(&*first, "two-processes", N).await;
        let second = factory.open().await;
        let tasks_second = second.open_task_store(&dataset.dataset_id).await.unwrap();
        let instances = [tasks_first.clone(), tasks_second.clone()];

        let barrier = Arc::new(tokio::sync::Barrier::new(2 * CLAIMERS_PER_INSTANCE));
        let mut handles = Vec::new();
        for (i, tasks) in instances.iter().enumerate() {
            // Finish through the *other* instance: fencing state lives in the store.
            let other = instances[1 - i].clone();
            for c in 0..CLAIMERS_PER_INSTANCE {
                let tasks = tasks.clone();
                let other = other.clone();
                let barrier = barrier.clone();
                handles.push(tokio::spawn(async move {
                    let owner = format!("process-{i}-worker-{c}");
                    barrier.wait().await;
                    let mut got = Vec::new();
                    while let Some(lease) =
                        tasks.claim(&owner, LEASE, claim_log(&owner)).await.unwrap()
                    {
                        // Every other task is left PROCESSING, the rest completed.
                        if lease.task.task_definition.manifest_index % 2 == 0 {
                            other
                                .finish(
                                    &lease,
                                    TaskStatus::Completed,
                                    None,
                                    finish_log(&claim_log(&owner), "COMPLETED"),
                                    None,
                                )
                                .await
                                .unwrap();
                        }
                        got.push((lease.task.task_id, lease.token));
                    }
                    got
                }));
            }
        }
        let mut claimed = Vec::new();
        for handle in handles {
            claimed.extend(handle.await.unwrap());
        }
        assert_each_claimed_once(claimed, N);
        for tasks in &instances {
            let counts = tasks.counts().await.unwrap();
            assert_eq!(
                (counts.completed, counts.processing, counts.total),
                (N / 2, N / 2, N)
            );
        }
    }

    pub async fn reader_instance_reads_while_another_instance_writes(factory: &dyn StoreFactory) {
        const N: u64 = 30;
        let writer = factory.open().await;
        let (dataset, writer_tasks) = dataset_with_tasks(&*writer, "read-while-write", N).await;
        let reader = factory.open().await;
        let reader_tasks = reader.open_task_store(&dataset.dataset_id).await.unwrap();

        // Lock-step phase: each write is visible to the reader as soon as it returns.
        for i in 0..3 {
            let lease = writer_tasks
                .claim("w", LEASE, claim_log("w"))
                .await
                .unwrap()
                .unwrap();
            let seen = must_get(&*reader_tasks, &lease.task.task_id).await;
            assert_eq!(seen.task_status, TaskStatus::Processing);
            writer_tasks
                .checkpoint(&lease, &checkpoint(i + 1), LEASE)
                .await
                .unwrap();
            let seen = must_get(&*reader_tasks, &lease.task.task_id).await;
            assert_eq!(seen.checkpoint, Some(checkpoint(i + 1)));
            complete(&*writer_tasks, &lease).await;
            assert_eq!(reader_tasks.counts().await.unwrap().completed, i + 1);
        }

        // Free-running phase: the reader keeps reading while the writer works through the rest.
        let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
        let writer_job = {
            let writer_tasks = writer_tasks.clone();
            tokio::spawn(async move {
                while let Some(lease) = writer_tasks
                    .claim("w", LEASE, claim_log("w"))
                    .await
                    .unwrap()
                {
                    for step in 1..=3 {
                        writer_tasks
                            .checkpoint(&lease, &checkpoint(step), LEASE)
                            .await
                            .unwrap();
                    }
                    complete(&*writer_tasks, &lease).await;
                }
                done_tx.send(true).unwrap();
            })
        };
        let reader_job = {
            let reader = reader.clone();
            let reader_tasks = reader_tasks.clone();
            let dataset_id = dataset.dataset_id.clone();
            tokio::spawn(async move {
                let mut last_completed = 0;
                let mut reads = 0u64;
                loop {
                    let finished = *done_rx.borrow_and_update();
                    let counts = reader_tasks.counts().await.unwrap();
                    assert_eq!(counts.total, N);
                    assert!(counts.processing <= 1);
                    assert!(
                        counts.completed >= last_completed,
                        "completed went backwards"
                    );
                    last_completed = counts.completed;
                    let listed = reader_tasks.list_tasks(None).await.unwrap();
                    assert_eq!(listed.len() as u64, N);
                    let _ = reader_tasks.leases().await.unwrap();
                    assert!(
                        reader
                            .get_dataset_by_id(&dataset_id)
                            .await
                            .unwrap()
                            .is_some()
                    );
                    reads += 1;
                    if finished {
                        return (last_completed, reads);
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        writer_job.await.unwrap();
        let (completed, reads) = reader_job.await.unwrap();
        assert!(reads >= 1);
        assert_eq!(
            completed, N,
            "the reader's last read came after the writer finished"
        );
        assert_eq!(
            reader_tasks.counts().await.unwrap(),
            writer_tasks.counts().await.unwrap()
        );
    }
}

/// A schema a later release migrated is refused with both versions named (SQLite).
#[tokio::test]
async fn sqlite_a_schema_newer_than_this_binary_is_refused() {
    let home = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(home.path()).await.unwrap());
    let url = format!("sqlite://{}", home.path().join("letsdata.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from a later release', TRUE, X'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let refused = SqliteStore::open(home.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("at version 99990101000000, newer than this letsdata's (version "),
        "{refused}"
    );
}

/// A schema a later release migrated is refused with both versions named (PostgreSQL).
#[tokio::test]
async fn postgres_a_schema_newer_than_this_binary_is_refused() {
    let Some(factory) = postgres_factory().await else {
        return;
    };
    drop(factory.open().await);
    let options = factory
        .options
        .clone()
        .options([("search_path", factory.schema.as_str())]);
    let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from a later release', TRUE, '\\x00'::BYTEA, 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let refused = PostgresStore::open_with(options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("at version 99990101000000, newer than this letsdata's (version "),
        "{refused}"
    );
}
