//! A plugin crate outside the workspace, built as a third party would build it and
//! loaded into the unchanged host; its panicking function fails only its own job.

use std::path::PathBuf;
use std::process::Command;

use syncer_e2e::{root, Scratch};

/// Builds tests/outside-plugin on its own (it is a workspace of its own) and returns
/// the `.so`.
fn build_outside_plugin() -> PathBuf {
    let target = root().join("target/outside-plugin");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root().join("tests/outside-plugin/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success(), "building the outside plugin failed");
    target.join("debug/libacme_syncer_plugin.so")
}

#[test]
fn a_plugin_built_outside_the_workspace_loads_and_syncs() {
    let so = build_outside_plugin();
    let config = format!(
        r#"
[store.embedded]
path = "inventory.sqlite"

[plugins]
paths = [{:?}]

[clouds.acme-east]

[collections.Widget]
plugin = "acme"
function = "widgets"
interval = "1h"
page_size = 10

[collections.Boom]
plugin = "acme"
function = "explode"
interval = "1h"
"#,
        so.display().to_string()
    );
    let s = Scratch::new(&config);

    let plugins = s.syncer(&["plugins", "--format", "json"]);
    assert_eq!(plugins.code(), 0, "{}", plugins.stderr());
    let acme = plugins.plugin("acme");
    assert_eq!(
        (acme["kind"].as_str(), acme["version"].as_str()),
        (Some("dynamic"), Some("0.3.0"))
    );
    assert_eq!(acme["path"], so.display().to_string());

    // The panicking job fails; the other job completes; the host exits 1, not by crashing.
    let once = s.syncer(&["once"]);
    assert_eq!(once.code(), 1, "{}\n{}", once.stdout(), once.stderr());
    let out = once.stdout();
    assert!(out.contains("acme-east/Boom    failed"), "{out}");
    assert!(
        out.contains("plugin panicked: acme exploded on purpose"),
        "{out}"
    );
    assert!(out.contains("acme-east/Widget  succeeded  57"), "{out}");

    let docs = s.syncer(&["export", "--collection", "Widget"]).json_lines();
    assert_eq!(docs.len(), 57);
    let runs = s
        .syncer(&["export", "--collection", "sync_runs"])
        .json_lines();
    let widget_run = runs
        .iter()
        .find(|r| r["job"] == "acme-east/Widget")
        .unwrap();
    assert_eq!(widget_run["pages"], 6);
}

#[test]
fn a_dynamic_plugins_logs_reach_the_hosts_subscriber() {
    let so = build_outside_plugin();
    let config = format!(
        "[store.embedded]\npath = \"i.sqlite\"\n[plugins]\npaths = [{:?}]\n[clouds.c]\n[collections.Widget]\nplugin = \"acme\"\nfunction = \"widgets\"\ninterval = \"1h\"\n",
        so.display().to_string()
    );
    let s = Scratch::new(&config);
    let output = Command::new(syncer_e2e::syncer_bin())
        .args(["--log-format", "json", "once"])
        .current_dir(s.dir.path())
        .env("SYNCER_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success());
    let logs = String::from_utf8_lossy(&output.stderr);
    let line = logs
        .lines()
        .find(|l| l.contains("acme lists widgets"))
        .unwrap_or_else(|| panic!("plugin log not forwarded:\n{logs}"));
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(event["target"], "syncer::plugin");
    assert_eq!(event["fields"]["plugin_target"], "acme_syncer_plugin");
}
