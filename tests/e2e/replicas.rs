//! Several `syncer run` replicas sharing one MongoDB (the wire bridge): each job runs on
//! exactly one replica per interval, and a killed replica's jobs move to another.

use syncer_e2e::{Daemon, MongoBridge, Scratch};

const JOBS: [&str; 2] = ["demo/Alpha", "demo/Beta"];

fn config(uri: &str) -> String {
    format!(
        r#"
[store.mongodb]
uri = "{uri}"

[scheduler]
jitter = "1ms"

[ha]
enabled = true
lease = "2s"

[clouds.demo]
count = 50

[collections.Alpha]
plugin = "template"
function = "items"
interval = "1s"

[collections.Beta]
plugin = "template"
function = "items"
interval = "1s"
"#
    )
}

/// Logs of the lease decisions too, for the replicas that only watch.
const DEBUG: &str = "info,syncer::daemon=debug";

fn starts_by_job(s: &Scratch) -> Vec<(String, i64)> {
    s.syncer(&["export", "--collection", "sync_runs"])
        .json_lines()
        .iter()
        .map(|r| {
            let started = r["started_at"]["$date"].as_str().unwrap().to_owned();
            (r["job"].as_str().unwrap().to_owned(), millis(&started))
        })
        .collect()
}

/// `2026-12-04T16:12:59.038Z` -> milliseconds within the day (enough to compare runs
/// of one test).
fn millis(date: &str) -> i64 {
    let time = &date[11..23];
    let h: i64 = time[0..2].parse().unwrap();
    let m: i64 = time[3..5].parse().unwrap();
    let s: i64 = time[6..8].parse().unwrap();
    let ms: i64 = time[9..12].parse().unwrap();
    ((h * 60 + m) * 60 + s) * 1000 + ms
}

fn replicas(count: usize) {
    let bridge = MongoBridge::start();
    let s = Scratch::new(&config(&bridge.uri));
    let mut cluster = Daemon::start(&s);
    for job in JOBS {
        cluster.wait_message_from(Some(0), "run succeeded", Some(job));
    }
    // The others start while replica 0 holds both leases: they must stand aside.
    for _ in 1..count {
        let index = cluster.add(&s, DEBUG);
        for job in JOBS {
            cluster.wait_message_from(Some(index), "another replica holds the lease", Some(job));
        }
    }
    for _ in 0..3 {
        for job in JOBS {
            cluster.wait_message_from(Some(0), "run succeeded", Some(job));
        }
    }
    for index in 0..count {
        cluster.signal_to(index, "TERM");
        assert_eq!(cluster.wait_exit_of(index), Some(0));
    }
    for index in 1..count {
        assert!(
            !cluster
                .seen_from(index)
                .any(|l| l["fields"]["message"] == "run started"),
            "replica {index} ran a job another replica held"
        );
    }
    // Once per interval: a second replica running the same tick would start within
    // milliseconds of the first; the gap allows for lease round-trips under load.
    let starts = starts_by_job(&s);
    for job in JOBS {
        let mut times: Vec<i64> = starts
            .iter()
            .filter(|(j, _)| j == job)
            .map(|(_, t)| *t)
            .collect();
        times.sort();
        assert!(times.len() >= 4, "{job}: {times:?}");
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= 950,
                "{job} ran twice in one interval: {times:?}"
            );
        }
    }
}

#[test]
fn two_replicas_run_each_job_once_per_interval() {
    replicas(2);
}

#[test]
fn three_replicas_run_each_job_once_per_interval() {
    replicas(3);
}

#[test]
fn a_killed_replicas_jobs_are_taken_over_after_the_lease_expires() {
    let bridge = MongoBridge::start();
    let s = Scratch::new(&config(&bridge.uri));
    let mut cluster = Daemon::start(&s);
    for job in JOBS {
        cluster.wait_message_from(Some(0), "run succeeded", Some(job));
    }
    let standby = cluster.add(&s, DEBUG);
    for job in JOBS {
        cluster.wait_message_from(Some(standby), "another replica holds the lease", Some(job));
    }
    cluster.signal_to(0, "KILL");
    cluster.wait_exit_of(0);
    for job in JOBS {
        cluster.wait_message_from(Some(standby), "run succeeded", Some(job));
    }
    cluster.signal_to(standby, "TERM");
    assert_eq!(cluster.wait_exit_of(standby), Some(0));
}
