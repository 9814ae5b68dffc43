//! What the CLI prints on stdout: tables for people, JSON for programs.

use std::fmt::Display;
use std::io::Write;

use serde_json::{json, Value};
use syncer_plugin_host::{Origin, Registry};
use syncer_store::{Outcome, RunRecord, UtcMillis};

use crate::jobs::JobSpec;

/// `syncer plugins`.
pub fn plugins(registry: &Registry, as_json: bool) {
    if as_json {
        let list: Vec<Value> = registry
            .iter()
            .map(|p| {
                json!({
                    "name": p.manifest.name,
                    "version": p.manifest.version,
                    "kind": p.origin.kind(),
                    "path": match &p.origin { Origin::Dynamic(path) => Value::from(path.display().to_string()), Origin::Builtin => Value::Null },
                    "abi_version": p.manifest.abi_version,
                    "functions": p.manifest.functions.iter().map(|f| json!({"name": f.name, "kind": f.kind})).collect::<Vec<_>>(),
                })
            })
            .collect();
        emit(serde_json::to_string_pretty(&list).expect("json"));
        return;
    }
    let rows: Vec<Vec<String>> = registry
        .iter()
        .map(|p| {
            vec![
                p.manifest.name.clone(),
                p.manifest.version.clone(),
                p.origin.kind().to_string(),
                match &p.origin {
                    Origin::Dynamic(path) => path.display().to_string(),
                    Origin::Builtin => "-".into(),
                },
                p.manifest
                    .functions
                    .iter()
                    .map(|f| format!("{} ({})", f.name, f.kind))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(&["NAME", "VERSION", "KIND", "PATH", "FUNCTIONS"], &rows);
}

/// `syncer once`: one row per job run.
pub fn runs(runs: &[RunRecord]) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            // A job that writes several collections (the Heat job) shows which one.
            let job = if r.job == format!("{}/{}", r.cloud, r.collection) {
                r.job.clone()
            } else {
                format!("{}:{}", r.job, r.collection)
            };
            vec![
                job,
                serde_json::to_value(r.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                r.listed.to_string(),
                r.inserted.to_string(),
                r.updated.to_string(),
                r.retired.to_string(),
                r.unchanged.to_string(),
                r.pages.to_string(),
                format!("{}ms", r.duration_ms),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "JOB",
            "OUTCOME",
            "LISTED",
            "INSERTED",
            "UPDATED",
            "RETIRED",
            "UNCHANGED",
            "PAGES",
            "TIME",
            "ERROR",
        ],
        &rows,
    );
}

/// `syncer status`: each job's last run and its next one.
pub fn status(rows: &[(JobSpec, Option<RunRecord>)], as_json: bool) {
    let next_of = |job: &JobSpec, run: &Option<RunRecord>| -> Option<UtcMillis> {
        run.as_ref()
            .map(|r| UtcMillis(r.started_at.0 + job.interval.as_millis() as i64))
    };
    if as_json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(job, run)| {
                json!({
                    "job": job.name,
                    "cloud": job.scope.cloud,
                    "collection": job.scope.collection,
                    "interval_secs": job.interval.as_secs(),
                    "last_run": run.as_ref().map(RunRecord::to_export_json),
                    "next_run": match (run, next_of(job, run)) {
                        (Some(r), _) if r.outcome == Outcome::Failed => Value::from("after backoff"),
                        (_, Some(next)) => Value::from(next.to_string()),
                        (None, None) => Value::from("at start"),
                        _ => Value::Null,
                    },
                })
            })
            .collect();
        emit(serde_json::to_string_pretty(&list).expect("json"));
        return;
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(job, run)| match run {
            None => vec![
                job.name.clone(),
                "-".into(),
                "never run".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "at start".into(),
                String::new(),
            ],
            Some(r) => vec![
                job.name.clone(),
                r.started_at.to_string(),
                outcome_text(r.outcome),
                r.listed.to_string(),
                r.inserted.to_string(),
                r.updated.to_string(),
                r.retired.to_string(),
                if r.outcome == Outcome::Failed {
                    "after backoff".into()
                } else {
                    next_of(job, run).map(|t| t.to_string()).unwrap_or_default()
                },
                r.error.clone().unwrap_or_default(),
            ],
        })
        .collect();
    table(
        &[
            "JOB", "LAST RUN", "OUTCOME", "LISTED", "INSERTED", "UPDATED", "RETIRED", "NEXT RUN",
            "ERROR",
        ],
        &table_rows,
    );
}

fn outcome_text(outcome: Outcome) -> String {
    serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `syncer export`: JSON lines, or a short table.
pub fn documents(docs: &[Value], as_json: bool) {
    if as_json {
        for doc in docs {
            emit(doc);
        }
        return;
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = docs
        .iter()
        .map(|d| {
            [
                "cloud",
                "reference_id",
                "name",
                "project_id",
                "active",
                "source",
            ]
            .iter()
            .map(|k| text(&d[*k]))
            .collect()
        })
        .collect();
    table(
        &[
            "CLOUD",
            "REFERENCE_ID",
            "NAME",
            "PROJECT_ID",
            "ACTIVE",
            "SOURCE",
        ],
        &rows,
    );
}

fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        emit(parts.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints one line. A closed stdout (`syncer export | head`) ends the process quietly,
/// as it does for every Unix filter.
fn emit(line: impl Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
