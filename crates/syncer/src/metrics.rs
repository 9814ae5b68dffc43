//! The daemon's Prometheus metrics: per job, what its runs did. One place records them
//! ([`Metrics::record`]) and one renders them ([`Metrics::render`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use syncer_store::{Outcome, RunRecord};

/// Upper bounds (seconds) of the run-duration histogram.
const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

#[derive(Default)]
struct JobMetrics {
    cloud: String,
    collection: String,
    runs: BTreeMap<&'static str, u64>,
    skipped: u64,
    duration_buckets: [u64; BUCKETS.len()],
    duration_sum: f64,
    duration_count: u64,
    resources: BTreeMap<&'static str, u64>,
    api_requests: u64,
    api_retries: u64,
    api_throttled: u64,
    last_success: Option<f64>,
}

/// Every job's metrics.
#[derive(Default)]
pub struct Metrics {
    /// By (job, collection): the Heat job writes several collections.
    jobs: Mutex<BTreeMap<(String, String), JobMetrics>>,
}

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Guarded => "guarded",
        Outcome::Failed => "failed",
    }
}

impl Metrics {
    /// Makes a job known, so it shows with zero counts before its first run.
    pub fn register(&self, job: &str, cloud: &str, collection: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = jobs
            .entry((job.to_owned(), collection.to_owned()))
            .or_default();
        entry.cloud = cloud.to_owned();
        entry.collection = collection.to_owned();
    }

    /// Records one finished run.
    pub fn record(&self, run: &RunRecord) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let m = jobs
            .entry((run.job.clone(), run.collection.clone()))
            .or_default();
        m.cloud.clone_from(&run.cloud);
        m.collection.clone_from(&run.collection);
        *m.runs.entry(outcome_label(run.outcome)).or_default() += 1;
        let seconds = run.duration_ms as f64 / 1000.0;
        for (bucket, bound) in m.duration_buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        m.duration_sum += seconds;
        m.duration_count += 1;
        for (action, n) in [
            ("listed", run.listed),
            ("inserted", run.inserted),
            ("updated", run.updated),
            ("retired", run.retired),
            ("unchanged", run.unchanged),
        ] {
            *m.resources.entry(action).or_default() += n;
        }
        m.api_requests += run.api_calls;
        m.api_retries += run.retries;
        m.api_throttled += run.throttled;
        if run.outcome == Outcome::Succeeded {
            m.last_success = Some((run.started_at.0 + run.duration_ms as i64) as f64 / 1000.0);
        }
    }

    /// Records a tick skipped because another replica holds the job's lease.
    pub fn skipped(&self, job: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut found = false;
        for ((name, _), m) in jobs.iter_mut() {
            if name == job {
                m.skipped += 1;
                found = true;
            }
        }
        if !found {
            jobs.entry((job.to_owned(), String::new()))
                .or_default()
                .skipped += 1;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let labels = |key: &(String, String), m: &JobMetrics| {
            format!(
                "job=\"{}\",cloud=\"{}\",collection=\"{}\"",
                escape(&key.0),
                escape(&m.cloud),
                escape(&key.1)
            )
        };
        let mut family =
            |name: &str, kind: &str, help: &str, lines: &mut dyn FnMut(&mut String)| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                lines(&mut out);
            };
        family(
            "syncer_job_runs_total",
            "counter",
            "Job runs by outcome.",
            &mut |out| {
                for (job, m) in jobs.iter() {
                    for outcome in ["succeeded", "guarded", "failed"] {
                        let n = m.runs.get(outcome).copied().unwrap_or(0);
                        let _ = writeln!(
                            out,
                            "syncer_job_runs_total{{{},outcome=\"{outcome}\"}} {n}",
                            labels(job, m)
                        );
                    }
                }
            },
        );
        family(
            "syncer_job_runs_skipped_total",
            "counter",
            "Ticks skipped because another replica holds the job's lease.",
            &mut |out| {
                for (job, m) in jobs.iter() {
                    let _ = writeln!(
                        out,
                        "syncer_job_runs_skipped_total{{{}}} {}",
                        labels(job, m),
                        m.skipped
                    );
                }
            },
        );
        family(
            "syncer_job_run_duration_seconds",
            "histogram",
            "Wall time of job runs.",
            &mut |out| {
                for (job, m) in jobs.iter() {
                    let l = labels(job, m);
                    for (bound, n) in BUCKETS.iter().zip(m.duration_buckets) {
                        let _ = writeln!(
                            out,
                            "syncer_job_run_duration_seconds_bucket{{{l},le=\"{bound}\"}} {n}"
                        );
                    }
                    let _ = writeln!(
                        out,
                        "syncer_job_run_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                        m.duration_count
                    );
                    let _ = writeln!(
                        out,
                        "syncer_job_run_duration_seconds_sum{{{l}}} {}",
                        m.duration_sum
                    );
                    let _ = writeln!(
                        out,
                        "syncer_job_run_duration_seconds_count{{{l}}} {}",
                        m.duration_count
                    );
                }
            },
        );
        family(
            "syncer_job_resources_total",
            "counter",
            "Resources by what the sync did with them.",
            &mut |out| {
                for (job, m) in jobs.iter() {
                    for action in ["listed", "inserted", "updated", "retired", "unchanged"] {
                        let n = m.resources.get(action).copied().unwrap_or(0);
                        let _ = writeln!(
                            out,
                            "syncer_job_resources_total{{{},action=\"{action}\"}} {n}",
                            labels(job, m)
                        );
                    }
                }
            },
        );
        for (name, help, pick) in [
            (
                "syncer_job_api_requests_total",
                "Cloud API requests made by job runs.",
                (|m: &JobMetrics| m.api_requests) as fn(&JobMetrics) -> u64,
            ),
            (
                "syncer_job_api_retries_total",
                "Cloud API requests that were retries.",
                |m: &JobMetrics| m.api_retries,
            ),
            (
                "syncer_job_api_throttled_total",
                "Cloud API answers that said slow down (429).",
                |m: &JobMetrics| m.api_throttled,
            ),
        ] {
            family(name, "counter", help, &mut |out| {
                for (job, m) in jobs.iter() {
                    let _ = writeln!(out, "{name}{{{}}} {}", labels(job, m), pick(m));
                }
            });
        }
        family(
            "syncer_job_last_success_timestamp_seconds",
            "gauge",
            "When the job last finished a successful run (Unix time).",
            &mut |out| {
                for (job, m) in jobs.iter() {
                    if let Some(t) = m.last_success {
                        let _ = writeln!(
                            out,
                            "syncer_job_last_success_timestamp_seconds{{{}}} {t}",
                            labels(job, m)
                        );
                    }
                }
            },
        );
        out
    }
}

/// Escapes a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
