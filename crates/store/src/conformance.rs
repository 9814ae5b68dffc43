//! The one conformance suite every store passes.
//!
//! Each case takes a fresh store. A store crate runs them all with
//! `syncer_store::conformance_suite!(make)`, where `make()` is an async function
//! returning `(store, guard)`; the guard keeps whatever backs the store alive.

use serde_json::json;

use crate::{
    InventoryDoc, Known, Outcome, RunRecord, Scope, Store, SyncMeta, Update, UtcMillis, Write,
    SYNC_RUNS,
};

/// Generates one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@cases $make;
            insert_and_read_state,
            update_changes_content_and_keeps_identity,
            retire_is_scoped_and_repeatable,
            update_reactivates_a_retired_document,
            one_bad_statement_fails_alone,
            runs_are_recorded_newest_first,
            export_is_ordered_and_shaped,
            last_run_is_the_newest_of_its_job,
            leases_go_to_one_owner_until_they_expire,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make().await;
                $crate::conformance::$case(&store).await;
            }
        )*
    };
}

fn scope(cloud: &str, source: &str) -> Scope {
    Scope {
        collection: "Widget".into(),
        cloud: cloud.into(),
        source: source.into(),
    }
}

/// A sample document of `scope`, for store tests.
pub fn doc(scope: &Scope, id: &str, hash: &str) -> InventoryDoc {
    InventoryDoc {
        uuid: format!("uuid-{}-{}-{id}", scope.cloud, scope.source),
        reference_id: id.into(),
        name: Some(format!("name {id}")),
        project_id: Some("p1".into()),
        cloud: scope.cloud.clone(),
        source: scope.source.clone(),
        source_id: None,
        active: 1,
        created_at: UtcMillis(1_700_000_000_000),
        updated_at: UtcMillis(1_700_000_000_000),
        terminated_at: None,
        cloud_meta: json!({"id": id, "nested": {"list": [1, 2, {"k": "v"}]}, "n": null}),
        sync: SyncMeta {
            hash: hash.into(),
            last_seen: UtcMillis(1_700_000_000_000),
            run_id: "run-1".into(),
        },
    }
}

fn update(id: &str, hash: &str) -> Write {
    Write::Update(Box::new(Update {
        reference_id: id.into(),
        name: Some(format!("renamed {id}")),
        project_id: Some("p2".into()),
        source_id: None,
        cloud_meta: json!({"id": id, "changed": true}),
        sync: SyncMeta {
            hash: hash.into(),
            last_seen: UtcMillis(1_700_000_100_000),
            run_id: "run-2".into(),
        },
        updated_at: UtcMillis(1_700_000_100_000),
    }))
}

async fn insert(store: &dyn Store, scope: &Scope, ids: &[&str]) {
    let writes = ids
        .iter()
        .map(|id| Write::Insert(Box::new(doc(scope, id, &format!("h-{id}")))))
        .collect();
    let result = store.write_batch(scope, writes).await.unwrap();
    assert_eq!(result.applied, ids.len() as u64, "{:?}", result.failed);
}

async fn exported(store: &dyn Store, scope: &Scope, id: &str) -> serde_json::Value {
    store
        .export(&scope.collection)
        .await
        .unwrap()
        .into_iter()
        .find(|d| {
            d["cloud"] == scope.cloud.as_str()
                && d["source"] == scope.source.as_str()
                && d["reference_id"] == id
        })
        .unwrap_or_else(|| panic!("{id} not exported"))
}

/// Inserted documents show in the scope's state with their hash and `active = 1`.
pub async fn insert_and_read_state(store: &dyn Store) {
    let s = scope("c1", "sync");
    store
        .prepare(std::slice::from_ref(&s.collection))
        .await
        .unwrap();
    insert(store, &s, &["a", "b", "c"]).await;
    let state = store.scope_state(&s).await.unwrap();
    assert_eq!(state.len(), 3);
    assert_eq!(
        state["b"],
        Known {
            hash: "h-b".into(),
            active: 1
        }
    );
    assert!(store
        .scope_state(&scope("c2", "sync"))
        .await
        .unwrap()
        .is_empty());
}

/// An update rewrites content but keeps `uuid` and `created_at`.
pub async fn update_changes_content_and_keeps_identity(store: &dyn Store) {
    let s = scope("c1", "sync");
    insert(store, &s, &["a"]).await;
    let before = exported(store, &s, "a").await;
    let result = store
        .write_batch(&s, vec![update("a", "h-a2")])
        .await
        .unwrap();
    assert_eq!(result.applied, 1);
    let after = exported(store, &s, "a").await;
    assert_eq!(after["uuid"], before["uuid"]);
    assert_eq!(after["created_at"], before["created_at"]);
    assert_eq!(after["name"], "renamed a");
    assert_eq!(after["project_id"], "p2");
    assert_eq!(after["cloud_meta"], json!({"id": "a", "changed": true}));
    assert_eq!(after["sync"]["hash"], "h-a2");
    assert_eq!(after["sync"]["run_id"], "run-2");
    assert_eq!(
        after["updated_at"],
        json!({"$date": "2023-11-14T22:15:00.000Z"})
    );
}

/// Retiring touches only the named documents of the scope, and repeating it is a no-op.
pub async fn retire_is_scoped_and_repeatable(store: &dyn Store) {
    let mine = scope("c1", "sync");
    let other_cloud = scope("c2", "sync");
    let other_source = scope("c1", "stack");
    for s in [&mine, &other_cloud, &other_source] {
        insert(store, s, &["a", "b"]).await;
    }
    let at = UtcMillis(1_700_000_200_000);
    let ids = vec!["a".to_string()];
    assert_eq!(store.retire(&mine, &ids, at, "run-3").await.unwrap(), 1);
    assert_eq!(store.retire(&mine, &ids, at, "run-3").await.unwrap(), 0);
    assert_eq!(store.scope_state(&mine).await.unwrap()["a"].active, -1);
    assert_eq!(store.scope_state(&mine).await.unwrap()["b"].active, 1);
    for s in [&other_cloud, &other_source] {
        assert!(store
            .scope_state(s)
            .await
            .unwrap()
            .values()
            .all(|k| k.active == 1));
    }
    let retired = exported(store, &mine, "a").await;
    assert_eq!(retired["active"], -1);
    assert_eq!(
        retired["terminated_at"],
        json!({"$date": "2023-11-14T22:16:40.000Z"})
    );
}

/// An update of a retired document brings it back: same `uuid`, `active = 1`,
/// `terminated_at` cleared.
pub async fn update_reactivates_a_retired_document(store: &dyn Store) {
    let s = scope("c1", "sync");
    insert(store, &s, &["a"]).await;
    let uuid = exported(store, &s, "a").await["uuid"].clone();
    store
        .retire(&s, &["a".into()], UtcMillis(1_700_000_200_000), "run-3")
        .await
        .unwrap();
    store
        .write_batch(&s, vec![update("a", "h-a3")])
        .await
        .unwrap();
    let back = exported(store, &s, "a").await;
    assert_eq!(back["uuid"], uuid);
    assert_eq!(back["active"], 1);
    assert_eq!(back["terminated_at"], serde_json::Value::Null);
}

/// A duplicate insert and an update of a missing document fail alone; the rest of the
/// batch is applied.
pub async fn one_bad_statement_fails_alone(store: &dyn Store) {
    let s = scope("c1", "sync");
    store
        .prepare(std::slice::from_ref(&s.collection))
        .await
        .unwrap();
    insert(store, &s, &["a"]).await;
    let writes = vec![
        Write::Insert(Box::new(doc(&s, "b", "h-b"))),
        Write::Insert(Box::new(doc(&s, "a", "h-a-again"))),
        update("missing", "h-m"),
        Write::Insert(Box::new(doc(&s, "c", "h-c"))),
    ];
    let result = store.write_batch(&s, writes).await.unwrap();
    assert_eq!(result.applied, 2);
    let failed: Vec<&str> = result.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, vec!["a", "missing"]);
    let state = store.scope_state(&s).await.unwrap();
    assert_eq!(state.len(), 3);
    assert_eq!(state["a"].hash, "h-a");
}

/// Run records come back newest first and export under `sync_runs`.
pub async fn runs_are_recorded_newest_first(store: &dyn Store) {
    let record = |n: i64| RunRecord {
        run_id: format!("run-{n}"),
        job: "c1/Widget".into(),
        collection: "Widget".into(),
        cloud: "c1".into(),
        source: "sync".into(),
        started_at: UtcMillis(1_700_000_000_000 + n * 1000),
        duration_ms: 12,
        outcome: if n == 2 {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        },
        listed: 10,
        inserted: n as u64,
        updated: 0,
        reactivated: 0,
        retired: 0,
        unchanged: 10 - n as u64,
        duplicates: 0,
        escaped: 0,
        write_errors: 0,
        pages: 1,
        api_calls: 1,
        retries: 0,
        throttled: 0,
        api_version: (n == 3).then(|| "compute 2.100".to_string()),
        error: (n == 2).then(|| "boom".to_string()),
    };
    for n in 1..=3 {
        store.record_run(&record(n)).await.unwrap();
    }
    let runs = store.recent_runs(2).await.unwrap();
    assert_eq!(runs, vec![record(3), record(2)]);
    let exported = store.export(SYNC_RUNS).await.unwrap();
    assert_eq!(exported.len(), 3);
    assert_eq!(exported[0]["run_id"], "run-1");
    assert_eq!(exported[1]["outcome"], "failed");
    assert_eq!(exported[1]["error"], "boom");
    assert_eq!(
        exported[0]["started_at"],
        json!({"$date": "2023-11-14T22:13:21.000Z"})
    );
}

/// Export shows every field of DESIGN.md section 5, ordered by cloud, source, id.
pub async fn export_is_ordered_and_shaped(store: &dyn Store) {
    insert(store, &scope("c2", "sync"), &["b", "a"]).await;
    insert(store, &scope("c1", "sync"), &["z"]).await;
    let docs = store.export("Widget").await.unwrap();
    let order: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["cloud"].as_str().unwrap(),
                d["reference_id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(order, vec!["c1/z", "c2/a", "c2/b"]);
    let expected = json!({
        "uuid": "uuid-c1-sync-z",
        "reference_id": "z",
        "name": "name z",
        "project_id": "p1",
        "cloud": "c1",
        "source": "sync",
        "source_id": null,
        "active": 1,
        "created_at": {"$date": "2023-11-14T22:13:20.000Z"},
        "updated_at": {"$date": "2023-11-14T22:13:20.000Z"},
        "terminated_at": null,
        "cloud_meta": {"id": "z", "nested": {"list": [1, 2, {"k": "v"}]}, "n": null},
        "sync": {"hash": "h-z", "last_seen": {"$date": "2023-11-14T22:13:20.000Z"}, "run_id": "run-1"},
    });
    assert_eq!(docs[0], expected);
    assert!(store.export("Nothing").await.unwrap().is_empty());
}

/// `last_run` finds the newest record of one job.
pub async fn last_run_is_the_newest_of_its_job(store: &dyn Store) {
    store.ping().await.unwrap();
    assert_eq!(store.last_run("c1/Widget").await.unwrap(), None);
    runs_are_recorded_newest_first(store).await;
    let last = store.last_run("c1/Widget").await.unwrap().unwrap();
    assert_eq!(last.run_id, "run-3");
    assert_eq!(store.last_run("c2/Widget").await.unwrap(), None);
}

/// A lease belongs to one owner until it expires; its owner can renew it.
pub async fn leases_go_to_one_owner_until_they_expire(store: &dyn Store) {
    let t = |s: i64| UtcMillis(1_700_000_000_000 + s * 1000);
    assert!(store
        .acquire_lease("c1/Widget", "a", t(0), t(60))
        .await
        .unwrap());
    assert!(
        !store
            .acquire_lease("c1/Widget", "b", t(10), t(70))
            .await
            .unwrap(),
        "b took a's live lease"
    );
    assert!(
        store
            .acquire_lease("c1/Other", "b", t(10), t(70))
            .await
            .unwrap(),
        "leases are per job"
    );
    assert!(
        store
            .acquire_lease("c1/Widget", "a", t(30), t(90))
            .await
            .unwrap(),
        "a could not renew"
    );
    assert!(
        !store
            .acquire_lease("c1/Widget", "b", t(80), t(140))
            .await
            .unwrap(),
        "the renewal did not extend the lease"
    );
    assert!(
        store
            .acquire_lease("c1/Widget", "b", t(91), t(151))
            .await
            .unwrap(),
        "b could not take an expired lease"
    );
    assert!(
        !store
            .acquire_lease("c1/Widget", "a", t(100), t(160))
            .await
            .unwrap(),
        "a took b's lease back"
    );
}
