//! The CLI on good and bad configs, with built-in plugins.

use syncer_e2e::Scratch;

const DEMO: &str = r#"
[store.embedded]
path = "inventory.sqlite"

[clouds.demo]
count = 1234
projects = 4

[collections.Item]
plugin = "template"
function = "items"
interval = "15m"
page_size = 100
"#;

#[test]
fn once_twice_writes_nothing_the_second_time() {
    let s = Scratch::new(DEMO);
    let first = s.syncer(&["once"]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert!(
        first
            .stdout()
            .contains("demo/Item  succeeded  1234    1234"),
        "{}",
        first.stdout()
    );

    let second = s.syncer(&["once", "--job", "Item"]);
    assert_eq!(second.code(), 0, "{}", second.stderr());

    let runs = s.assert_second_run_wrote_nothing(1234, 13);
    assert_eq!(runs[1]["unchanged"], 1234);

    let docs = s.syncer(&["export", "--collection", "Item"]).json_lines();
    assert_eq!(docs.len(), 1234);
    let doc = &docs[7];
    assert_eq!(doc["reference_id"], "item-000007");
    assert_eq!(doc["project_id"], "project-03");
    assert_eq!(
        (
            doc["cloud"].as_str(),
            doc["source"].as_str(),
            doc["active"].as_i64()
        ),
        (Some("demo"), Some("sync"), Some(1))
    );
    assert!(doc["created_at"]["$date"].is_string());
}

#[test]
fn the_shipped_config_checks_and_config_comes_from_syncer_config() {
    let s = Scratch::new("this is not toml");
    let shipped = syncer_e2e::root().join("syncer.toml");
    let output = std::process::Command::new(syncer_e2e::syncer_bin())
        .arg("check")
        .env("SYNCER_CONFIG", &shipped)
        .env("SYNCER_DEMO_PASSWORD", "not-checked-by-check")
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (7 plugins, 17 jobs)"));
}

#[test]
fn a_typo_in_a_key_is_reported_with_file_line_and_key() {
    let s = Scratch::new(&DEMO.replace("page_size", "page_sise"));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:13: collections.Item.page_sise: unknown key, expected one of: plugin, function, interval"),
        "{}",
        run.stderr()
    );
}

#[test]
fn bad_intervals_are_refused_with_what_was_expected() {
    for (bad, message) in [
        (
            "0s",
            r#"syncer.toml:12: collections.Item.interval: must be longer than zero, found "0s""#,
        ),
        (
            "abc",
            r#"syncer.toml:12: collections.Item.interval: expected a duration like "90s", "15m" or "1h" (units ms, s, m, h, d), found "abc""#,
        ),
    ] {
        let s = Scratch::new(&DEMO.replace("\"15m\"", &format!("\"{bad}\"")));
        let run = s.syncer(&["once"]);
        assert_eq!(run.code(), 2, "{bad}");
        assert!(run.stderr().contains(message), "{bad}: {}", run.stderr());
    }
}

#[test]
fn a_missing_plugin_or_function_is_a_config_error() {
    let s = Scratch::new(&DEMO.replace("plugin = \"template\"", "plugin = \"nosuch\""));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:10: collections.Item.plugin: no plugin named `nosuch` is loaded, loaded plugins: block-storage, compute, heat, identity, image, network, template"),
        "{}",
        run.stderr()
    );

    let s = Scratch::new(&DEMO.replace("function = \"items\"", "function = \"item\""));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:11: collections.Item.function: function `template.item` is a get function, not a list function, list functions of `template`: items"),
        "{}",
        run.stderr()
    );
}

#[test]
fn plugins_check_the_settings_of_the_clouds_they_serve() {
    let s = Scratch::new(&DEMO.replace("projects = 4", "projcets = 4"));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:7: clouds.demo.projcets: plugin `template`: unknown key, expected one of `count`, `projects`, `page_delay_ms`"),
        "{}",
        run.stderr()
    );
}

#[test]
fn an_unknown_job_is_refused() {
    let s = Scratch::new(DEMO);
    let run = s.syncer(&["once", "--job", "Nope"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("no job named `Nope`; jobs: demo/Item"),
        "{}",
        run.stderr()
    );
}

#[test]
fn plugins_lists_the_builtins() {
    let s = Scratch::new(DEMO);
    let run = s.syncer(&["plugins", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let plugins = run.json();
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "block-storage",
            "compute",
            "heat",
            "identity",
            "image",
            "network",
            "template"
        ]
    );
    assert!(plugins
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["kind"] == "builtin" && p["path"].is_null()));
    let plugins = serde_json::Value::Array(vec![plugins[6].clone()]);
    assert_eq!(plugins[0]["path"], serde_json::Value::Null);
    assert_eq!(
        plugins[0]["functions"],
        serde_json::json!([{"name": "items", "kind": "list"}, {"name": "item", "kind": "get"}])
    );
}

#[test]
fn a_crash_mid_run_leaves_the_committed_batches_and_the_next_run_repairs() {
    // 3,000 items in pages of 500, 300 ms a page: the engine's batches commit as it goes.
    let batch = syncer_engine::SyncOptions::default().batch_size;
    let s = Scratch::new(
        &DEMO
            .replace("count = 1234", "count = 3000\npage_delay_ms = 300")
            .replace("page_size = 100", "page_size = 500"),
    );
    let mut once = syncer_e2e::Daemon::empty();
    once.add_command(&s, "info,syncer_engine=debug", &["once"]);
    once.wait_message("batch written", None);
    once.signal("KILL");
    once.wait_exit();

    let committed = s.syncer(&["export", "--collection", "Item"]).json_lines();
    assert!(
        !committed.is_empty() && committed.len() < 3000,
        "{} documents after the crash",
        committed.len()
    );
    assert_eq!(
        committed.len() % batch,
        0,
        "a batch of {batch} was half-committed: {}",
        committed.len()
    );
    assert!(committed
        .iter()
        .all(|d| d["uuid"].is_string() && d["cloud_meta"]["id"].is_string()));

    let repaired = s.syncer(&["once"]);
    assert_eq!(repaired.code(), 0, "{}", repaired.stderr());
    let runs = s
        .syncer(&["export", "--collection", "sync_runs"])
        .json_lines();
    let last = runs.last().unwrap();
    assert_eq!(
        last["inserted"].as_u64().unwrap() + last["unchanged"].as_u64().unwrap(),
        3000
    );
    assert_eq!(
        last["unchanged"].as_u64().unwrap() as usize,
        committed.len()
    );
    assert_eq!(
        s.syncer(&["export", "--collection", "Item"])
            .json_lines()
            .len(),
        3000
    );
}

#[test]
fn a_run_past_its_timeout_is_abandoned_as_failed_and_retires_nothing() {
    let s = Scratch::new(DEMO);
    assert_eq!(s.syncer(&["once"]).code(), 0);
    // The cloud turns slow (400 ms a page, 13 pages) and the run may take 1 s: it is
    // abandoned before the listing completes, so nothing may be retired.
    std::fs::write(
        s.path("syncer.toml"),
        DEMO.replace("count = 1234", "count = 1300\npage_delay_ms = 400")
            .replace("page_size = 100", "page_size = 100\ntimeout = \"1s\""),
    )
    .unwrap();
    let run = s.syncer(&["once"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(
        run.stdout().contains("timed out after 1s; nothing retired"),
        "{}",
        run.stdout()
    );
    let runs = s
        .syncer(&["export", "--collection", "sync_runs"])
        .json_lines();
    assert_eq!(runs.last().unwrap()["outcome"], "failed");
    let docs = s.syncer(&["export", "--collection", "Item"]).json_lines();
    assert_eq!(docs.len(), 1234);
    assert!(docs.iter().all(|d| d["active"] == 1));
}

#[test]
fn list_only_lists_without_touching_any_store() {
    let s = Scratch::new(DEMO);
    let run = s.syncer(&["once", "--list-only"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout()
            .contains("demo/Item  succeeded  1234    0         0        0        0          13"),
        "{}",
        run.stdout()
    );
    assert!(
        !s.path("inventory.sqlite").exists(),
        "--list-only opened the store"
    );
}
