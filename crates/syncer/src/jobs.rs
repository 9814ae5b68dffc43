//! Jobs: one per (cloud, collection), each a plugin list function feeding the sync
//! engine through the worker pool.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use syncer_config::{CollectionConfig, Config};
use syncer_engine::{sync_scope, Listed, PageSource, Requests, SyncOptions};
use syncer_plugin_host::{LoadedPlugin, Registry};
use syncer_plugin_sdk::{CloudRef, ListRequest};
use syncer_scheduler::WorkerPool;
use syncer_store::{Outcome, RunRecord, Scope, Store, UtcMillis};
use tracing::Instrument;

/// One job: a collection synced from one cloud.
#[derive(Clone)]
pub struct JobSpec {
    /// `cloud/collection`.
    pub name: String,
    /// What it syncs into.
    pub scope: Scope,
    /// The plugin serving it.
    pub plugin: LoadedPlugin,
    /// The first page's request.
    pub request: ListRequest,
    /// Time between runs.
    pub interval: Duration,
    /// Per-run timeout.
    pub timeout: Option<Duration>,
    /// Engine options.
    pub options: SyncOptions,
    /// Changes whenever anything about the job changes (for reloads).
    pub fingerprint: u64,
}

/// The jobs of `config`, in name order. The config was checked against the registry,
/// so every plugin and function exists.
pub fn plan(config: &Config, registry: &Registry, allow_mass_retire: bool) -> Vec<JobSpec> {
    let mut jobs = Vec::new();
    for collection in config.enabled_collections() {
        let Some(plugin) = registry.get(&collection.plugin) else {
            continue;
        };
        for cloud in &collection.clouds {
            jobs.push(job(
                config,
                collection,
                cloud,
                plugin.clone(),
                allow_mass_retire,
            ));
        }
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    jobs
}

fn job(
    config: &Config,
    collection: &CollectionConfig,
    cloud: &str,
    plugin: LoadedPlugin,
    allow_mass_retire: bool,
) -> JobSpec {
    let request = ListRequest {
        function: collection.function.clone(),
        cloud: CloudRef {
            name: cloud.to_owned(),
            settings: config.clouds[cloud].settings.clone(),
        },
        cursor: None,
        page_size: collection.page_size,
        options: collection.options.clone(),
    };
    let mut hasher = DefaultHasher::new();
    (
        &collection.plugin,
        plugin.origin.to_string(),
        &plugin.manifest.version,
        serde_json::to_string(&request).unwrap_or_default(),
        collection.interval,
        collection.timeout,
        &collection.source,
        collection.max_retire_share.to_bits(),
    )
        .hash(&mut hasher);
    JobSpec {
        name: format!("{cloud}/{}", collection.name),
        scope: Scope {
            collection: collection.name.clone(),
            cloud: cloud.to_owned(),
            source: collection.source.clone(),
        },
        plugin,
        request,
        interval: collection.interval,
        timeout: collection.timeout,
        options: SyncOptions {
            max_retire_share: collection.max_retire_share,
            allow_mass_retire,
            ..SyncOptions::default()
        },
        fingerprint: hasher.finish(),
    }
}

/// Whether `selector` (`Collection` or `cloud/Collection`) names `job`.
pub fn selects(selector: &str, job: &JobSpec) -> bool {
    selector == job.name || selector == job.scope.collection
}

/// Runs one job once: lists through the pool, syncs, records. Never panics; the
/// record says how it went.
pub async fn run_once(job: &JobSpec, store: &dyn Store, pool: &WorkerPool) -> RunRecord {
    let span = tracing::info_span!("job", job = %job.name, cloud = %job.scope.cloud, collection = %job.scope.collection);
    run_in_span(job, store, pool).instrument(span).await
}

async fn run_in_span(job: &JobSpec, store: &dyn Store, pool: &WorkerPool) -> RunRecord {
    tracing::info!("run started");
    let started = Instant::now();
    let started_at = UtcMillis::now();
    let mut pages = PluginPages::new(job, pool);
    let sync = sync_scope(store, &job.name, &job.scope, &mut pages, &job.options);
    let run = match job.timeout {
        None => sync.await,
        Some(limit) => match tokio::time::timeout(limit, sync).await {
            Ok(run) => run,
            Err(_) => {
                // Abandoned mid-way: writes made so far are whole documents; nothing
                // was retired. Record it as failed.
                let run = timed_out(job, started_at, started.elapsed(), limit, pages.requests);
                if let Err(e) = store.record_run(&run).await {
                    tracing::error!(error = %e, "cannot record the run");
                }
                run
            }
        },
    };
    match run.outcome {
        Outcome::Succeeded => tracing::info!(
            run_id = %run.run_id, listed = run.listed, inserted = run.inserted, updated = run.updated,
            retired = run.retired, unchanged = run.unchanged, ms = run.duration_ms, "run succeeded"
        ),
        Outcome::Guarded => {
            tracing::warn!(run_id = %run.run_id, error = run.error.as_deref().unwrap_or(""), "run guarded")
        }
        Outcome::Failed => {
            tracing::error!(run_id = %run.run_id, error = run.error.as_deref().unwrap_or(""), "run failed")
        }
    }
    run
}

/// Lists `job` completely without a store: what the cloud side alone costs (for
/// `syncer once --list-only` and the benchmark). Nothing is read or written.
pub async fn list_only(job: &JobSpec, pool: &WorkerPool) -> RunRecord {
    let started = Instant::now();
    let mut run = RunRecord::start(String::new(), &job.name, &job.scope, UtcMillis::now());
    let mut pages = PluginPages::new(job, pool);
    loop {
        match pages.next_page().await {
            Ok(Some(items)) => {
                run.pages += 1;
                run.listed += items.len() as u64;
            }
            Ok(None) => {
                run.outcome = Outcome::Succeeded;
                break;
            }
            Err(e) => {
                run.error = Some(e);
                break;
            }
        }
    }
    let requests = pages.requests();
    run.api_calls = requests.api_calls;
    run.retries = requests.retries;
    run.throttled = requests.throttled;
    run.api_version = requests.api_version;
    run.duration_ms = started.elapsed().as_millis() as u64;
    run
}

fn timed_out(
    job: &JobSpec,
    started_at: UtcMillis,
    elapsed: Duration,
    limit: Duration,
    requests: Requests,
) -> RunRecord {
    let mut run = RunRecord::start(
        format!("timeout-{}-{}", job.name, started_at.0),
        &job.name,
        &job.scope,
        started_at,
    );
    run.duration_ms = elapsed.as_millis() as u64;
    run.api_calls = requests.api_calls;
    run.retries = requests.retries;
    run.throttled = requests.throttled;
    run.api_version = requests.api_version;
    run.error = Some(format!(
        "timed out after {}s; nothing retired",
        limit.as_secs()
    ));
    run
}

/// A plugin's list function as a stream of pages, each call made on the worker pool.
struct PluginPages {
    plugin: LoadedPlugin,
    pool: WorkerPool,
    request: ListRequest,
    done: bool,
    requests: Requests,
}

impl PluginPages {
    /// The listing of `job` from its first page.
    fn new(job: &JobSpec, pool: &WorkerPool) -> Self {
        PluginPages {
            plugin: job.plugin.clone(),
            pool: pool.clone(),
            request: job.request.clone(),
            done: false,
            requests: Requests::default(),
        }
    }
}

#[async_trait]
impl PageSource for PluginPages {
    async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, String> {
        if self.done {
            return Ok(None);
        }
        let plugin = self.plugin.clone();
        let request = self.request.clone();
        let page = self
            .pool
            .run(move || plugin.list(&request))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| {
                format!(
                    "{}.{}: {e}",
                    self.plugin.manifest.name, self.request.function
                )
            })?;
        self.requests.api_calls += u64::from(page.api_calls);
        self.requests.retries += u64::from(page.retries);
        self.requests.throttled += u64::from(page.throttled);
        if page.api_version.is_some() {
            self.requests.api_version = page.api_version.clone();
        }
        match page.next {
            Some(next) if self.request.cursor.as_deref() == Some(next.as_str()) => {
                return Err(format!(
                    "{}.{}: the cursor did not advance ({next}); stopping rather than looping",
                    self.plugin.manifest.name, self.request.function
                ));
            }
            Some(next) => self.request.cursor = Some(next),
            None => self.done = true,
        }
        Ok(Some(page.items.into_iter().map(Listed::from).collect()))
    }

    fn requests(&self) -> Requests {
        self.requests.clone()
    }
}
