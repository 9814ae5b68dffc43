//! Every config problem is reported at once, with file, line and key.

use std::path::Path;
use std::time::Duration;

use syncer_config::{parse, ConfigErrors, StoreConfig};

fn env(name: &str) -> Option<String> {
    match name {
        "DEMO_PASSWORD" => Some("s3cret-value".into()),
        "MONGO_URI" => Some("mongodb://user:pw@db:27017".into()),
        _ => None,
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("syncer.toml"), text, &env) {
        Ok(_) => panic!("expected errors"),
        Err(ConfigErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = r#"
[store.mongodb]
uri = "${MONGO_URI}"

[scheduler]
max_workers = 4

[clouds.demo]
count = 10
password = "${DEMO_PASSWORD}"

[collections.Item]
plugin = "template"
function = "items"
interval = "15m"
timeout = "1h30m"
"#;

#[test]
fn a_good_config_reads_with_defaults() {
    let config = parse(Path::new("/etc/syncer/syncer.toml"), GOOD, &env).unwrap();
    assert_eq!(
        config.store,
        StoreConfig::Mongodb {
            uri: "mongodb://user:pw@db:27017".into(),
            database: "ccp_db".into()
        }
    );
    assert_eq!(config.scheduler.max_workers, 4);
    let item = &config.collections["Item"];
    assert_eq!(item.interval, Duration::from_secs(900));
    assert_eq!(item.timeout, Some(Duration::from_secs(5400)));
    assert_eq!(item.clouds, vec!["demo".to_string()]);
    assert_eq!(item.source, "sync");
    assert_eq!(item.max_retire_share, 0.5);
    assert_eq!(item.location.line, 12);
    assert_eq!(config.clouds["demo"].settings["password"], "s3cret-value");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = parse(Path::new("syncer.toml"), GOOD, &env).unwrap();
    let shown = format!("{:?}", config.store);
    assert!(!shown.contains("pw@"), "{shown}");
}

#[test]
fn a_typo_in_a_key_names_file_line_and_key() {
    let text = GOOD.replace("interval = \"15m\"", "intervall = \"15m\"");
    assert_eq!(
        errors(&text),
        vec![
            "syncer.toml:12: collections.Item.interval: missing key, expected a duration like \"15m\"",
            "syncer.toml:15: collections.Item.intervall: unknown key, expected one of: plugin, function, interval, clouds, source, page_size, timeout, max_retire_share, options, enabled",
        ]
    );
}

#[test]
fn bad_intervals_are_refused() {
    let zero = GOOD.replace("\"15m\"", "\"0s\"");
    assert_eq!(
        errors(&zero),
        vec!["syncer.toml:15: collections.Item.interval: must be longer than zero, found \"0s\""]
    );
    let abc = GOOD.replace("\"15m\"", "\"abc\"");
    assert_eq!(
        errors(&abc),
        vec![
            r#"syncer.toml:15: collections.Item.interval: expected a duration like "90s", "15m" or "1h" (units ms, s, m, h, d), found "abc""#
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
[scheduler]
max_workers = 0
page_sise = 10

[clouds.demo]
password = "${NOT_SET_ANYWHERE}"

[collections.Item]
plugin = "template"
function = 7
interval = "1x"
clouds = ["demo", "nowhere"]
"#;
    assert_eq!(
        errors(text),
        vec![
            "syncer.toml:3: scheduler.max_workers: expected an integer from 1 to 1024, found 0",
            "syncer.toml:4: scheduler.page_sise: unknown key, expected one of: max_workers, page_size, timeout, jitter, retry_initial, grace",
            "syncer.toml:7: clouds.demo.password: environment variable `NOT_SET_ANYWHERE` is not set",
            "syncer.toml:11: collections.Item.function: expected a string, found an integer",
            r#"syncer.toml:12: collections.Item.interval: expected a duration like "90s", "15m" or "1h" (units ms, s, m, h, d), found "1x""#,
            "syncer.toml:13: collections.Item.clouds: no cloud named `nowhere`, expected one of: demo",
        ]
    );
}

#[test]
fn broken_toml_names_the_line() {
    let errs = errors("[store\npath = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("syncer.toml:1: not valid TOML"),
        "{}",
        errs[0]
    );
}

#[test]
fn an_unknown_section_is_an_error() {
    let text = format!("{GOOD}\n[colections.X]\nplugin = \"a\"\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "syncer.toml:18: colections: unknown key, expected one of: store, plugins"
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn env_values_never_appear_in_errors() {
    let text = GOOD.replace(
        "count = 10",
        "count = \"${DEMO_PASSWORD}\"\n[clouds.demo.x]\ny = \"${NOPE}\"",
    );
    for e in errors(&text) {
        assert!(!e.contains("s3cret"), "{e}");
    }
}

#[test]
fn the_store_is_one_of_two() {
    let text = "[store.embedded]\npath = \"a.db\"\n[store.mongodb]\nuri = \"mongodb://x\"\n";
    assert_eq!(
        errors(text),
        vec!["syncer.toml:3: store: set one of `store.embedded` and `store.mongodb`, not both"]
    );
}

#[test]
fn http_and_ha_are_read_and_checked() {
    let text = format!(
        "{GOOD}\n[http]\nlisten = \"127.0.0.1:9187\"\n[ha]\nenabled = true\nlease = \"45s\"\n"
    );
    let config = parse(Path::new("syncer.toml"), &text, &env).unwrap();
    assert_eq!(config.http.listen, Some("127.0.0.1:9187".parse().unwrap()));
    assert!(config.ha.enabled);
    assert_eq!(config.ha.lease, Duration::from_secs(45));

    let bad = text.replace("127.0.0.1:9187", "localhost");
    assert_eq!(
        errors(&bad),
        vec![
            r#"syncer.toml:19: http.listen: expected an address like "127.0.0.1:9187", found "localhost""#
        ]
    );
    let embedded = text.replace(
        "[store.mongodb]\nuri = \"${MONGO_URI}\"",
        "[store.embedded]\npath = \"x\"",
    );
    assert_eq!(
        errors(&embedded),
        vec!["syncer.toml:20: ha.enabled: replicas share jobs through MongoDB: set [store.mongodb] to enable [ha]"]
    );
}
