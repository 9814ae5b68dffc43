//! `syncer` against MongoDB: the real driver over TCP to the wire-protocol bridge.

use syncer_e2e::{MongoBridge, Scratch};

fn config(uri: &str, count: u32) -> String {
    format!(
        r#"
[store.mongodb]
uri = "${{TEST_MONGODB_URI}}"
database = "ccp_db"

[clouds.demo]
count = {count}

[collections.Item]
plugin = "template"
function = "items"
interval = "15m"
page_size = 100
"#
    )
    .replace("${TEST_MONGODB_URI}", uri)
}

#[test]
fn once_twice_against_mongodb_writes_nothing_the_second_time() {
    let bridge = MongoBridge::start();
    let s = Scratch::new(&config(&bridge.uri, 730));
    let first = s.syncer(&["once"]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let second = s.syncer(&["once"]);
    assert_eq!(second.code(), 0, "{}", second.stderr());

    s.assert_second_run_wrote_nothing(730, 8);
    let docs = s.syncer(&["export", "--collection", "Item"]).json_lines();
    assert_eq!(docs.len(), 730);
    assert_eq!(docs[0]["reference_id"], "item-000000");
    assert!(docs[0]["created_at"]["$date"].is_string());

    // The cloud shrinks by 10 resources: they retire, nothing else is written.
    std::fs::write(s.path("syncer.toml"), config(&bridge.uri, 720)).unwrap();
    assert_eq!(s.syncer(&["once"]).code(), 0);
    let runs = s
        .syncer(&["export", "--collection", "sync_runs"])
        .json_lines();
    assert_eq!(
        (
            runs[2]["retired"].as_u64(),
            runs[2]["inserted"].as_u64(),
            runs[2]["updated"].as_u64()
        ),
        (Some(10), Some(0), Some(0))
    );
    let docs = s.syncer(&["export", "--collection", "Item"]).json_lines();
    assert_eq!(docs.iter().filter(|d| d["active"] == -1).count(), 10);
}

#[test]
fn the_embedded_and_mongodb_stores_export_the_same_inventory() {
    let bridge = MongoBridge::start();
    let mongo = Scratch::new(&config(&bridge.uri, 120));
    let embedded = Scratch::new(&config(&bridge.uri, 120).replace(
        &format!(
            "[store.mongodb]\nuri = \"{}\"\ndatabase = \"ccp_db\"",
            bridge.uri
        ),
        "[store.embedded]\npath = \"i.sqlite\"",
    ));
    for s in [&mongo, &embedded] {
        assert_eq!(s.syncer(&["once"]).code(), 0);
    }
    // Ids and times differ run to run; everything else must be identical.
    let strip = |mut docs: Vec<serde_json::Value>| {
        for d in &mut docs {
            for key in ["uuid", "created_at", "updated_at"] {
                d[key] = serde_json::Value::Null;
            }
            d["sync"]["last_seen"] = serde_json::Value::Null;
            d["sync"]["run_id"] = serde_json::Value::Null;
        }
        docs
    };
    let a = strip(
        mongo
            .syncer(&["export", "--collection", "Item"])
            .json_lines(),
    );
    let b = strip(
        embedded
            .syncer(&["export", "--collection", "Item"])
            .json_lines(),
    );
    assert_eq!(a.len(), 120);
    assert_eq!(a, b);
}

#[test]
fn an_unreachable_database_fails_the_run_with_a_clear_error_and_no_secret() {
    // Nothing listens on this loopback port (the bridge was started and stopped).
    let uri = {
        let bridge = MongoBridge::start();
        let uri = bridge
            .uri
            .replace("mongodb://", "mongodb://syncer:hunter2@");
        // Short driver timeouts from the URI keep the retries quick.
        format!("{uri}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
    };
    let s = Scratch::new(&config(&uri, 10).replace("interval", "timeout = \"60s\"\ninterval"));
    let run = s.syncer(&["once"]);
    assert_ne!(run.code(), 0);
    let text = format!("{}{}", run.stdout(), run.stderr());
    assert!(text.contains("store unavailable"), "{text}");
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}
