//! `syncer run` as a process: intervals, signals, reload, metrics, health, status.
//! The tests wait on the daemon's JSON log lines, never on the clock.

use syncer_e2e::{http_get, Daemon, MongoBridge, Scratch};

fn config(extra_collections: &str, delay_ms: u32) -> String {
    format!(
        r#"
[store.embedded]
path = "inventory.sqlite"

[scheduler]
jitter = "1ms"
retry_initial = "1s"
grace = "30s"

[http]
listen = "127.0.0.1:0"

[clouds.demo]
count = 300
page_delay_ms = {delay_ms}

[collections.Item]
plugin = "template"
function = "items"
interval = "1s"
page_size = 100
{extra_collections}
"#
    )
}

fn http_address(daemon: &mut Daemon) -> String {
    let line = daemon.wait_message("serving /metrics and /healthz", None);
    line["fields"]["address"].as_str().unwrap().to_owned()
}

#[test]
fn runs_on_its_interval_serves_metrics_and_health_and_status_shows_it() {
    let s = Scratch::new(&config("", 0));
    let mut daemon = Daemon::start(&s);
    let address = http_address(&mut daemon);
    // A run is counted right after it logs success, before the next run starts: after
    // the fourth success line, at least three runs are in the metrics.
    for _ in 0..4 {
        daemon.wait_message("run succeeded", Some("demo/Item"));
    }

    let (code, metrics) = http_get(&address, "/metrics");
    assert_eq!(code, 200);
    let labels = r#"job="demo/Item",cloud="demo",collection="Item""#;
    let runs: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "syncer_job_runs_total{{{labels},outcome=\"succeeded\"}} "
            ))
        })
        .unwrap_or_else(|| panic!("no run counter in:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(runs >= 3, "{metrics}");
    assert!(
        metrics.contains(&format!(
            "syncer_job_resources_total{{{labels},action=\"inserted\"}} 300"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("syncer_job_api_requests_total{{{labels}}}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE syncer_job_run_duration_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "syncer_job_last_success_timestamp_seconds{{{labels}}} "
        )),
        "{metrics}"
    );
    assert_eq!(http_get(&address, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(http_get(&address, "/nope").0, 404);

    let status = s.syncer(&["status", "--format", "json"]).json();
    let job = &status[0];
    assert_eq!(job["job"], "demo/Item");
    assert_eq!(job["last_run"]["outcome"], "succeeded");
    assert!(job["next_run"].as_str().unwrap().ends_with('Z'), "{job}");
    let table = s.syncer(&["status"]).stdout();
    assert!(
        table.contains("demo/Item") && table.contains("succeeded"),
        "{table}"
    );

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
}

#[test]
fn sigterm_during_a_run_lets_it_finish_and_exits_0() {
    // Three pages of 400 ms each: the run is still going when SIGTERM arrives.
    let s = Scratch::new(&config("", 400).replace("interval = \"1s\"", "interval = \"1h\""));
    let mut daemon = Daemon::start(&s);
    daemon.wait_message("run started", Some("demo/Item"));
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(
        daemon
            .seen_from(0)
            .any(|l| l["fields"]["message"] == "run succeeded"),
        "{:#?}",
        daemon.seen
    );
    let runs = s
        .syncer(&["export", "--collection", "sync_runs"])
        .json_lines();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0]["outcome"].as_str(), runs[0]["inserted"].as_u64()),
        (Some("succeeded"), Some(300))
    );
    assert_eq!(
        s.syncer(&["export", "--collection", "Item"])
            .json_lines()
            .len(),
        300
    );
}

#[test]
fn sighup_applies_a_good_config_and_rejects_a_bad_one() {
    let s = Scratch::new(&config("", 0));
    let mut daemon = Daemon::start(&s);
    daemon.wait_message("run succeeded", Some("demo/Item"));

    let second =
        "\n[collections.Extra]\nplugin = \"template\"\nfunction = \"items\"\ninterval = \"1s\"\n";
    std::fs::write(s.path("syncer.toml"), config(second, 0)).unwrap();
    daemon.signal("HUP");
    let reloaded = daemon.wait_message("config reloaded", None);
    assert_eq!(reloaded["fields"]["jobs"], 2);
    daemon.wait_message("run succeeded", Some("demo/Extra"));

    std::fs::write(
        s.path("syncer.toml"),
        config(second, 0).replace("interval = \"1s\"", "interval = \"0s\""),
    )
    .unwrap();
    daemon.signal("HUP");
    let rejected = daemon.wait_message("config rejected", None);
    assert!(
        rejected["fields"]["problem"]
            .as_str()
            .unwrap()
            .contains("must be longer than zero"),
        "{rejected}"
    );
    // The old config keeps running: both jobs go on.
    daemon.wait_message("run succeeded", Some("demo/Item"));
    daemon.wait_message("run succeeded", Some("demo/Extra"));

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
}

#[test]
fn healthz_is_unhealthy_when_the_store_is_unreachable() {
    let bridge = MongoBridge::start();
    let uri = format!(
        "{}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
        bridge.uri
    );
    let text = config("", 0)
        .replace(
            "[store.embedded]\npath = \"inventory.sqlite\"",
            &format!("[store.mongodb]\nuri = \"{uri}\""),
        )
        .replace("interval = \"1s\"", "interval = \"1h\"");
    let s = Scratch::new(&text);
    let mut daemon = Daemon::start(&s);
    let address = http_address(&mut daemon);
    daemon.wait_message("run succeeded", Some("demo/Item"));
    assert_eq!(http_get(&address, "/healthz").0, 200);
    drop(bridge);
    let (code, body) = http_get(&address, "/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("unhealthy: store unavailable"), "{body}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
}
