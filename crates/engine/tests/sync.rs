//! The sync algorithm against a real (embedded) store, one scenario per test.

use async_trait::async_trait;
use serde_json::{json, Value};
use syncer_engine::{sync_scope, Listed, PageSource, Requests, SyncOptions};
use syncer_plugin_sdk::Resource;
use syncer_store::{Outcome, RunRecord, Scope, Store};
use syncer_store_embedded::EmbeddedStore;

/// A listing served from memory: pages of resources, optionally failing at one page.
struct Pages {
    pages: std::vec::IntoIter<Vec<Listed>>,
    fail_at: Option<usize>,
    served: usize,
}

#[async_trait]
impl PageSource for Pages {
    async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, String> {
        self.served += 1;
        if Some(self.served) == self.fail_at {
            return Err("HTTP 500 from the cloud".into());
        }
        Ok(self.pages.next())
    }

    fn requests(&self) -> Requests {
        Requests {
            api_calls: self.served as u64,
            ..Requests::default()
        }
    }
}

fn resource(id: &str, version: u32) -> Listed {
    Resource {
        reference_id: id.into(),
        name: Some(format!("vm {id}")),
        project_id: Some("p1".into()),
        cloud_meta: json!({"id": id, "status": "ACTIVE", "version": version}),
    }
    .into()
}

fn listing(ids: impl IntoIterator<Item = u32>, version: u32) -> Vec<Listed> {
    ids.into_iter()
        .map(|i| resource(&format!("r{i:03}"), version))
        .collect()
}

/// One scenario's world: a store (embedded or MongoDB through the bridge), the scope
/// under test and the engine options.
struct Check {
    store: Box<dyn Store>,
    scope: Scope,
    options: SyncOptions,
    _guard: Box<dyn std::any::Any>,
}

impl Check {
    fn with(store: Box<dyn Store>, guard: Box<dyn std::any::Any>) -> Self {
        Check {
            store,
            scope: Scope {
                collection: "Instance".into(),
                cloud: "c1".into(),
                source: "sync".into(),
            },
            options: SyncOptions {
                batch_size: 7,
                ..SyncOptions::default()
            },
            _guard: guard,
        }
    }

    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("i.sqlite")).unwrap();
        Self::with(Box::new(store), Box::new(dir))
    }

    async fn mongodb() -> Self {
        let bridge = syncer_e2e::MongoBridge::start();
        let store = syncer_store_mongo::MongoStore::connect(
            &bridge.uri,
            "engine",
            syncer_store_mongo::MongoStore::DEFAULT_RETRY,
        )
        .await
        .unwrap();
        store.prepare(&["Instance".to_string()]).await.unwrap();
        Self::with(Box::new(store), Box::new(bridge))
    }

    /// Runs one sync of `items` split into pages of 10, failing at page `fail_at`.
    async fn run(&self, items: Vec<Listed>, fail_at: Option<usize>) -> RunRecord {
        let pages: Vec<Vec<Listed>> = items.chunks(10).map(|c| c.to_vec()).collect();
        let mut source = Pages {
            pages: pages.into_iter(),
            fail_at,
            served: 0,
        };
        sync_scope(
            self.store.as_ref(),
            "c1/Instance",
            &self.scope,
            &mut source,
            &self.options,
        )
        .await
    }

    async fn docs(&self) -> Vec<Value> {
        self.store.export("Instance").await.unwrap()
    }

    async fn doc(&self, id: &str) -> Value {
        self.docs()
            .await
            .into_iter()
            .find(|d| d["reference_id"] == id)
            .unwrap()
    }
}

fn counts(run: &RunRecord) -> (u64, u64, u64, u64) {
    (run.inserted, run.updated, run.retired, run.unchanged)
}

async fn the_same_listing_twice_writes_nothing_the_second_time(c: Check) {
    let first = c.run(listing(0..45, 1), None).await;
    assert_eq!(first.outcome, Outcome::Succeeded);
    assert_eq!(counts(&first), (45, 0, 0, 0));
    assert_eq!(first.pages, 5);
    let before = c.docs().await;

    let second = c.run(listing(0..45, 1), None).await;
    assert_eq!(second.outcome, Outcome::Succeeded);
    assert_eq!(counts(&second), (0, 0, 0, 45));
    assert_eq!(second.writes(), 0);
    assert_eq!(
        c.docs().await,
        before,
        "an unchanged listing must not touch documents"
    );

    let runs = c.store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, second.run_id);
}

async fn changed_content_is_updated_and_key_order_is_not_a_change(c: Check) {
    c.run(listing(0..5, 1), None).await;
    let mut items = listing(0..5, 1);
    // Same content, keys in another order: no change.
    items[0].resource.cloud_meta =
        serde_json::from_str(r#"{"version":1,"status":"ACTIVE","id":"r000"}"#).unwrap();
    // Real change.
    items[1] = resource("r001", 2);
    let run = c.run(items, None).await;
    assert_eq!(counts(&run), (0, 1, 0, 4));
    assert_eq!(c.doc("r001").await["cloud_meta"]["version"], 2);
}

async fn a_resource_that_comes_back_keeps_its_uuid(c: Check) {
    c.run(listing(0..20, 1), None).await;
    let uuid = c.doc("r005").await["uuid"].clone();

    let without: Vec<Listed> = listing(0..20, 1)
        .into_iter()
        .filter(|l| l.resource.reference_id != "r005")
        .collect();
    let run = c.run(without, None).await;
    assert_eq!(counts(&run), (0, 0, 1, 19));
    let gone = c.doc("r005").await;
    assert_eq!(gone["active"], -1);
    assert!(gone["terminated_at"]["$date"].is_string());

    let run = c.run(listing(0..20, 1), None).await;
    assert_eq!((run.updated, run.reactivated, run.inserted), (1, 1, 0));
    let back = c.doc("r005").await;
    assert_eq!(back["uuid"], uuid);
    assert_eq!(back["active"], 1);
    assert_eq!(back["terminated_at"], Value::Null);
}

async fn a_listing_that_fails_on_page_3_of_5_retires_nothing(c: Check) {
    c.run(listing(0..50, 1), None).await;

    // The cloud changed every resource, then failed while listing page 3.
    let run = c.run(listing(0..50, 2), Some(3)).await;
    assert_eq!(run.outcome, Outcome::Failed);
    assert!(
        run.error.as_deref().unwrap().contains("HTTP 500"),
        "{:?}",
        run.error
    );
    assert_eq!(run.retired, 0);
    assert_eq!(run.pages, 2);
    let docs = c.docs().await;
    assert_eq!(docs.len(), 50);
    assert!(
        docs.iter().all(|d| d["active"] == 1),
        "a failed listing retired something"
    );
    // What was listed before the failure is written whole; the rest is untouched.
    let versions: Vec<i64> = docs
        .iter()
        .map(|d| d["cloud_meta"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 20);
    assert_eq!(versions.iter().filter(|v| **v == 1).count(), 30);

    let recorded = &c.store.recent_runs(1).await.unwrap()[0];
    assert_eq!(recorded.outcome, Outcome::Failed);
}

async fn a_listing_that_shrinks_by_90_percent_is_guarded(mut c: Check) {
    c.run(listing(0..100, 1), None).await;

    let run = c.run(listing(0..10, 1), None).await;
    assert_eq!(run.outcome, Outcome::Guarded);
    assert_eq!(run.retired, 0);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("would retire 90 of 100"),
        "{:?}",
        run.error
    );
    assert!(c.docs().await.iter().all(|d| d["active"] == 1));

    c.options.allow_mass_retire = true;
    let run = c.run(listing(0..10, 1), None).await;
    assert_eq!(run.outcome, Outcome::Succeeded);
    assert_eq!(run.retired, 90);
}

async fn the_guard_share_is_configurable_and_small_scopes_are_exempt(mut c: Check) {
    c.run(listing(0..4, 1), None).await;
    // 3 of 4 is 75%, but 4 documents is below the guard's minimum scope.
    assert_eq!(c.run(listing(0..1, 1), None).await.retired, 3);

    c.options.max_retire_share = 0.1;
    c.run(listing(100..120, 1), None).await; // 20 new; the 1 left retires (1 of 21)
    let run = c.run(listing(100..117, 1), None).await; // 3 of 20 = 15% > 10%
    assert_eq!(run.outcome, Outcome::Guarded);
}

async fn a_duplicate_reference_id_gives_one_document_and_a_count(c: Check) {
    let mut items = listing(0..5, 1);
    items.push(resource("r002", 9));
    let run = c.run(items, None).await;
    assert_eq!((run.inserted, run.duplicates, run.listed), (5, 1, 5));
    assert_eq!(c.docs().await.len(), 5);
    assert_eq!(
        c.doc("r002").await["cloud_meta"]["version"],
        1,
        "the first listed wins"
    );
}

async fn keys_mongodb_refuses_are_stored_escaped_and_reported(c: Check) {
    let mut item = resource("r1", 1);
    item.resource.cloud_meta =
        json!({"id": "r1", "metadata": {"os.distro": "debian", "$ref": "x"}});
    let run = c.run(vec![item.clone()], None).await;
    assert_eq!((run.inserted, run.escaped), (1, 1));
    let meta = &c.doc("r1").await["cloud_meta"]["metadata"];
    assert_eq!(meta["os%2Edistro"], "debian");
    assert_eq!(meta["%24ref"], "x");
    let mut restored = c.doc("r1").await["cloud_meta"].clone();
    syncer_store::unescape_keys(&mut restored);
    assert_eq!(restored, item.resource.cloud_meta);
    // The hash is of the listed content, so the next identical run writes nothing.
    assert_eq!(c.run(vec![item], None).await.writes(), 0);
}

async fn scopes_never_touch_each_other(c: Check) {
    c.run(listing(0..10, 1), None).await;
    let other = Scope {
        cloud: "c2".into(),
        ..c.scope.clone()
    };
    let mut empty = Pages {
        pages: vec![].into_iter(),
        fail_at: None,
        served: 0,
    };
    let options = SyncOptions {
        allow_mass_retire: true,
        ..SyncOptions::default()
    };
    let run = sync_scope(
        c.store.as_ref(),
        "c2/Instance",
        &other,
        &mut empty,
        &options,
    )
    .await;
    assert_eq!(run.retired, 0);
    assert!(c.docs().await.iter().all(|d| d["active"] == 1));
}

/// Every scenario above, once per store.
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::Check::embedded().await).await;
                }
            )*
        }
        mod mongodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Check::mongodb().await).await;
                }
            )*
        }
    };
}

on_every_store!(
    the_same_listing_twice_writes_nothing_the_second_time,
    changed_content_is_updated_and_key_order_is_not_a_change,
    a_resource_that_comes_back_keeps_its_uuid,
    a_listing_that_fails_on_page_3_of_5_retires_nothing,
    a_listing_that_shrinks_by_90_percent_is_guarded,
    the_guard_share_is_configurable_and_small_scopes_are_exempt,
    a_duplicate_reference_id_gives_one_document_and_a_count,
    keys_mongodb_refuses_are_stored_escaped_and_reported,
    scopes_never_touch_each_other,
);
