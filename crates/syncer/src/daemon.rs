//! `syncer run`: every job on its interval until SIGTERM/SIGINT; SIGHUP re-reads the
//! config and applies job changes; `/metrics` and `/healthz` when `[http]` says so;
//! job leases in MongoDB when `[ha]` says so.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use syncer_config::{Config, HaConfig};
use syncer_scheduler::{jitter_for, Job, Scheduler, WorkerPool};
use syncer_store::{Outcome, RunRecord, Store, UtcMillis};
use tokio::signal::unix::{signal, SignalKind};

use crate::jobs;
use crate::metrics::Metrics;
use crate::Loaded;

/// Everything a job run needs besides its spec.
#[derive(Clone)]
struct Shared {
    store: Arc<dyn Store>,
    pool: WorkerPool,
    metrics: Arc<Metrics>,
    lease: Option<Lease>,
}

#[derive(Clone)]
struct Lease {
    owner: String,
    ttl: Duration,
}

pub async fn run(config_path: &Path, loaded: Loaded) -> anyhow::Result<()> {
    let store = crate::open_store(&loaded.config).await?;
    let pool = WorkerPool::new(loaded.config.scheduler.max_workers);
    let metrics = Arc::new(Metrics::default());
    let lease = lease_of(&loaded.config.ha);
    let shared = Shared {
        store: store.clone(),
        pool: pool.clone(),
        metrics: metrics.clone(),
        lease,
    };

    if let Some(address) = loaded.config.http.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} ([http] listen)"))?;
        let bound = listener.local_addr()?;
        tracing::info!(address = %bound, "serving /metrics and /healthz");
        tokio::spawn(crate::http::serve(listener, metrics.clone(), store.clone()));
    }

    let mut scheduler = Scheduler::new();
    let mut current = loaded.config;
    apply(&mut scheduler, &current, &loaded.registry, &shared).await?;
    tracing::info!(
        jobs = scheduler.job_names().len(),
        workers = pool.size(),
        store = store.kind(),
        ha = shared.lease.is_some(),
        "syncer running"
    );

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                match crate::load(config_path) {
                    Err(problems) => {
                        for problem in &problems {
                            tracing::error!(problem = %problem, "config rejected");
                        }
                        tracing::error!(problems = problems.len(), "config rejected; the running config stays");
                    }
                    Ok(reloaded) if reloaded.config.store != current.store || reloaded.config.ha != current.ha => {
                        tracing::error!("config rejected: [store] and [ha] changes need a restart; the running config stays");
                    }
                    Ok(reloaded) => {
                        if reloaded.config.scheduler.max_workers != current.scheduler.max_workers
                            || reloaded.config.http != current.http
                        {
                            tracing::warn!("max_workers and [http] changes apply at the next restart");
                        }
                        // A failure here changes nothing: the store is prepared before
                        // the job set is swapped.
                        match apply(&mut scheduler, &reloaded.config, &reloaded.registry, &shared).await {
                            Ok(()) => {
                                tracing::info!(jobs = scheduler.job_names().len(), "config reloaded");
                                current = reloaded.config;
                            }
                            Err(e) => tracing::error!(error = format!("{e:#}"), "config rejected; the running config stays"),
                        }
                    }
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!(
        grace_secs = current.scheduler.grace.as_secs(),
        "shutting down: no new runs; waiting for running ones"
    );
    let abandoned = scheduler.shutdown(current.scheduler.grace).await;
    tracing::info!(abandoned = abandoned.len(), "stopped");
    Ok(())
}

fn lease_of(ha: &HaConfig) -> Option<Lease> {
    ha.enabled.then(|| Lease {
        owner: ha.owner.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!(
                "{}-{}-{}",
                host.trim(),
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            )
        }),
        ttl: ha.lease,
    })
}

/// Makes the scheduler run the jobs of `config`.
async fn apply(
    scheduler: &mut Scheduler,
    config: &Config,
    registry: &syncer_plugin_host::Registry,
    shared: &Shared,
) -> anyhow::Result<()> {
    let specs = jobs::plan(config, registry, false);
    let heat_specs = crate::heat::plan(config, registry, false);
    let collections: Vec<String> = specs
        .iter()
        .map(|j| j.scope.collection.clone())
        .chain(heat_specs.iter().flat_map(crate::heat::collections))
        .collect();
    shared
        .store
        .prepare(&collections)
        .await
        .context("preparing the store")?;
    let mut scheduled = Vec::new();
    for spec in specs {
        shared
            .metrics
            .register(&spec.name, &spec.scope.cloud, &spec.scope.collection);
        let (name, interval, fingerprint) = (spec.name.clone(), spec.interval, spec.fingerprint);
        scheduled.push(schedule(
            config,
            shared,
            &name,
            interval,
            fingerprint,
            Arc::new(spec),
            |spec, shared| async move {
                vec![jobs::run_once(&spec, shared.store.as_ref(), &shared.pool).await]
            },
        ));
    }
    for spec in heat_specs {
        let (name, interval, fingerprint) = (spec.name.clone(), spec.interval, spec.fingerprint);
        scheduled.push(schedule(
            config,
            shared,
            &name,
            interval,
            fingerprint,
            Arc::new(spec),
            |spec, shared| async move {
                crate::heat::run_once(&spec, shared.store.as_ref(), &shared.pool).await
            },
        ));
    }
    scheduler.apply(scheduled);
    Ok(())
}

/// A scheduler job whose every tick runs `run(spec, shared)` under the job's lease.
fn schedule<S, F, Fut>(
    config: &Config,
    shared: &Shared,
    name: &str,
    interval: Duration,
    fingerprint: u64,
    spec: Arc<S>,
    run: F,
) -> Job
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Shared) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<RunRecord>> + Send + 'static,
{
    let shared = shared.clone();
    let job_name = name.to_owned();
    Job {
        name: name.to_owned(),
        interval,
        jitter: jitter_for(name, config.scheduler.jitter.min(interval)),
        retry_initial: config.scheduler.retry_initial,
        fingerprint,
        run: Arc::new(move || {
            let (spec, shared, name) = (spec.clone(), shared.clone(), job_name.clone());
            Box::pin(async move {
                let inner = shared.clone();
                leased_run(&name, interval, &shared, move || run(spec, inner)).await
            })
        }),
    }
}

/// One tick of a job: with `[ha]`, only if this replica holds (or can take) the job's
/// lease, renewing it while the run lasts and keeping it through the next tick, so
/// each job runs on one replica per interval and moves when its replica dies.
async fn leased_run<F, Fut>(name: &str, interval: Duration, shared: &Shared, run: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<RunRecord>>,
{
    let Some(lease) = &shared.lease else {
        return record(shared, run().await);
    };
    let take = |until: Duration| {
        let now = UtcMillis::now();
        shared.store.acquire_lease(
            name,
            &lease.owner,
            now,
            UtcMillis(now.0 + until.as_millis() as i64),
        )
    };
    match take(lease.ttl).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job = %name, "another replica holds the lease");
            shared.metrics.skipped(name);
            return true;
        }
        Err(e) => {
            tracing::warn!(job = %name, error = %e, "cannot take the job's lease");
            return false;
        }
    }
    let renewer = {
        let (store, name, owner, ttl) = (
            shared.store.clone(),
            name.to_owned(),
            lease.owner.clone(),
            lease.ttl,
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                let now = UtcMillis::now();
                match store
                    .acquire_lease(
                        &name,
                        &owner,
                        now,
                        UtcMillis(now.0 + ttl.as_millis() as i64),
                    )
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::error!(job = %name, "lost the job's lease while running"),
                    Err(e) => {
                        tracing::warn!(job = %name, error = %e, "cannot renew the job's lease")
                    }
                }
            }
        })
    };
    let ok = record(shared, run().await);
    renewer.abort();
    if let Err(e) = take(interval + lease.ttl).await {
        tracing::warn!(job = %name, error = %e, "cannot extend the job's lease");
    }
    ok
}

/// Counts the records of one tick; the tick succeeded unless a run failed.
fn record(shared: &Shared, runs: Vec<RunRecord>) -> bool {
    for run in &runs {
        shared.metrics.record(run);
    }
    runs.iter().all(|run| run.outcome != Outcome::Failed)
}
