//! The Heat job: every stack's resources (nested stacks too) mapped through the
//! resource-collection map, their details fetched through the owning plugins' get
//! functions, and synced with `source = "stack"`, `source_id = <stack id>`.
//!
//! One scope per (collection, cloud, "stack"), plus the stacks themselves in the stack
//! collection. A detail that answers "not found" is simply absent (so it retires); a
//! detail that fails makes its collection's listing incomplete (nothing there retires
//! this run); a stack listing that fails retires nothing anywhere.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map};
use syncer_config::Config;
use syncer_engine::{sync_scope, Listed, PageSource, Requests, SyncOptions};
use syncer_plugin_host::{LoadedPlugin, Registry};
use syncer_plugin_sdk::{CloudRef, GetRequest, ListRequest, Page, PluginError};
use syncer_scheduler::WorkerPool;
use syncer_store::{RunRecord, Scope, Store, UtcMillis};
use tracing::Instrument;

/// The source tag of every document the Heat job writes.
pub const SOURCE: &str = "stack";

/// One mapped Heat resource type.
#[derive(Clone)]
struct Mapping {
    collection: String,
    plugin: LoadedPlugin,
    function: String,
}

/// The Heat job of one cloud.
#[derive(Clone)]
pub struct HeatSpec {
    /// `cloud/heat`.
    pub name: String,
    cloud: CloudRef,
    heat: LoadedPlugin,
    map: BTreeMap<String, Mapping>,
    stack_collection: String,
    nested_depth: u32,
    page_size: u32,
    concurrency: usize,
    /// Time between runs.
    pub interval: Duration,
    timeout: Option<Duration>,
    options: SyncOptions,
    /// Changes whenever anything about the job changes (for reloads).
    pub fingerprint: u64,
}

/// The Heat jobs of `config` (none without `[heat]`), checked against `registry`.
pub fn plan(config: &Config, registry: &Registry, allow_mass_retire: bool) -> Vec<HeatSpec> {
    let Some(heat) = &config.heat else {
        return Vec::new();
    };
    let Some(plugin) = registry.get(&heat.plugin) else {
        return Vec::new();
    };
    let map: BTreeMap<String, Mapping> = heat
        .resources
        .iter()
        .filter_map(|m| {
            Some((
                m.resource_type.clone(),
                Mapping {
                    collection: m.collection.clone(),
                    plugin: registry.get(&m.plugin)?.clone(),
                    function: m.function.clone(),
                },
            ))
        })
        .collect();
    heat.clouds
        .iter()
        .map(|cloud| {
            let settings = config.clouds[cloud].settings.clone();
            let mut hasher = DefaultHasher::new();
            (
                format!("{heat:?}"),
                serde_json::to_string(&settings).unwrap_or_default(),
            )
                .hash(&mut hasher);
            HeatSpec {
                name: format!("{cloud}/heat"),
                cloud: CloudRef {
                    name: cloud.clone(),
                    settings,
                },
                heat: plugin.clone(),
                map: map.clone(),
                stack_collection: heat.stack_collection.clone(),
                nested_depth: heat.nested_depth,
                page_size: heat.page_size,
                concurrency: heat.concurrency,
                interval: heat.interval,
                timeout: heat.timeout,
                options: SyncOptions {
                    max_retire_share: heat.max_retire_share,
                    allow_mass_retire,
                    ..SyncOptions::default()
                },
                fingerprint: hasher.finish(),
            }
        })
        .collect()
}

/// Whether `selector` (`heat` or `cloud/heat`) names `spec`.
pub fn selects(selector: &str, spec: &HeatSpec) -> bool {
    selector == "heat" || selector == spec.name
}

/// The collections the job writes: every mapped one and the stack collection.
pub fn collections(spec: &HeatSpec) -> Vec<String> {
    let mut all: BTreeSet<String> = spec.map.values().map(|m| m.collection.clone()).collect();
    all.insert(spec.stack_collection.clone());
    all.into_iter().collect()
}

/// One run of the Heat job: one run record per collection it syncs.
pub async fn run_once(spec: &HeatSpec, store: &dyn Store, pool: &WorkerPool) -> Vec<RunRecord> {
    let span = tracing::info_span!("job", job = %spec.name, cloud = %spec.cloud.name);
    let started_at = UtcMillis::now();
    let run = async {
        tracing::info!("run started");
        let listing = list(spec, pool).await;
        sync_all(spec, store, pool, listing).await
    }
    .instrument(span);
    match spec.timeout {
        None => run.await,
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(runs) => runs,
            Err(_) => {
                let scope = Scope {
                    collection: spec.stack_collection.clone(),
                    cloud: spec.cloud.name.clone(),
                    source: SOURCE.into(),
                };
                let mut record = RunRecord::start(
                    format!("timeout-{}-{}", spec.name, started_at.0),
                    &spec.name,
                    &scope,
                    started_at,
                );
                record.error = Some(format!(
                    // Collections are synced one after another; those done before the
                    // limit keep their own run records.
                    "timed out after {}s; collections not synced by then retired nothing",
                    limit.as_secs()
                ));
                if let Err(e) = store.record_run(&record).await {
                    tracing::error!(error = %e, "cannot record the run");
                }
                vec![record]
            }
        },
    }
}

/// Lists everything the Heat job would sync without a store (stacks, resources,
/// details): one record, counting stacks plus details found.
pub async fn list_only(spec: &HeatSpec, pool: &WorkerPool) -> RunRecord {
    let started = std::time::Instant::now();
    let scope = Scope {
        collection: spec.stack_collection.clone(),
        cloud: spec.cloud.name.clone(),
        source: SOURCE.into(),
    };
    let mut run = RunRecord::start(String::new(), &spec.name, &scope, UtcMillis::now());
    let listing = list(spec, pool).await;
    run.listed = listing.stacks.len() as u64;
    run.pages = 1;
    run.api_calls = listing.requests.api_calls;
    run.retries = listing.requests.retries;
    run.throttled = listing.requests.throttled;
    run.error = listing.failure;
    if run.error.is_none() {
        for wanted in listing.wanted.into_values() {
            let details = fetch_details(spec, pool, wanted).await;
            run.listed += details.items.len() as u64;
            run.api_calls += details.api_calls;
            if run.error.is_none() {
                run.error = details.broken;
            }
        }
    }
    if run.error.is_none() {
        run.outcome = syncer_store::Outcome::Succeeded;
    }
    run.duration_ms = started.elapsed().as_millis() as u64;
    run
}

/// What the stack and resource listings found.
#[derive(Default)]
struct Listing {
    stacks: Vec<Listed>,
    /// The details to fetch, by collection.
    wanted: BTreeMap<String, Vec<Wanted>>,
    /// Why everything is incomplete (the stacks or a stack's resources could not be listed).
    failure: Option<String>,
    requests: Requests,
}

/// One mapped resource: whose get function, which physical id, which outermost stack.
struct Wanted {
    mapping: Mapping,
    physical: String,
    stack_id: String,
}

/// One collection's details.
struct Details {
    items: Vec<Listed>,
    /// Why the collection's listing is incomplete.
    broken: Option<String>,
    api_calls: u64,
}

async fn call_list(
    pool: &WorkerPool,
    plugin: &LoadedPlugin,
    request: ListRequest,
) -> Result<Page, String> {
    let plugin = plugin.clone();
    pool.run(move || plugin.list(&request))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e: PluginError| e.to_string())
}

fn count(requests: &mut Requests, page: &Page) {
    requests.api_calls += u64::from(page.api_calls);
    requests.retries += u64::from(page.retries);
    requests.throttled += u64::from(page.throttled);
}

/// Every stack, and each stack's mapped resources (nested stacks included).
async fn list(spec: &HeatSpec, pool: &WorkerPool) -> Listing {
    let mut out = Listing::default();
    // Every stack of every project, page by page.
    let mut request = ListRequest {
        function: "stacks".into(),
        cloud: spec.cloud.clone(),
        cursor: None,
        page_size: spec.page_size,
        options: Map::new(),
    };
    loop {
        match call_list(pool, &spec.heat, request.clone()).await {
            Ok(page) => {
                count(&mut out.requests, &page);
                out.stacks.extend(page.items.into_iter().map(|stack| {
                    let id = stack.reference_id.clone();
                    Listed {
                        resource: stack,
                        source_id: Some(id),
                    }
                }));
                match page.next {
                    Some(next) if request.cursor.as_deref() == Some(next.as_str()) => {
                        out.failure =
                            Some(format!("heat.stacks: the cursor did not advance ({next})"));
                        return out;
                    }
                    Some(next) => request.cursor = Some(next),
                    None => break,
                }
            }
            Err(e) => {
                out.failure = Some(format!("heat.stacks: {e}"));
                return out;
            }
        }
    }

    // Each stack's resources, nested stacks included; keep the mapped ones with a
    // physical id.
    let mut unmapped: BTreeMap<String, u64> = BTreeMap::new();
    let mut without_id = 0u64;
    for stack in &out.stacks {
        let name = stack.resource.name.clone().unwrap_or_default();
        let id = &stack.resource.reference_id;
        let mut options = Map::new();
        options.insert("stack".into(), json!(format!("{name}/{id}")));
        options.insert("nested_depth".into(), json!(spec.nested_depth));
        let request = ListRequest {
            function: "resources".into(),
            cloud: spec.cloud.clone(),
            cursor: None,
            page_size: spec.page_size,
            options,
        };
        let page = match call_list(pool, &spec.heat, request).await {
            Ok(page) => page,
            Err(e) => {
                out.failure = Some(format!("heat.resources of stack {id}: {e}"));
                return out;
            }
        };
        count(&mut out.requests, &page);
        for resource in page.items {
            let meta = &resource.cloud_meta;
            let kind = meta["resource_type"].as_str().unwrap_or_default();
            let physical = meta["physical_resource_id"].as_str().unwrap_or_default();
            if physical.is_empty() {
                without_id += 1;
                continue;
            }
            match spec.map.get(kind) {
                Some(mapping) => out
                    .wanted
                    .entry(mapping.collection.clone())
                    .or_default()
                    .push(Wanted {
                        mapping: mapping.clone(),
                        physical: physical.to_owned(),
                        stack_id: id.clone(),
                    }),
                None => *unmapped.entry(kind.to_owned()).or_default() += 1,
            }
        }
    }
    if !unmapped.is_empty() {
        tracing::info!(types = ?unmapped, "Heat resources of unmapped types are not synced");
    }
    if without_id > 0 {
        tracing::info!(
            count = without_id,
            "Heat resources without a physical id (in progress or failed) skipped"
        );
    }
    out
}

/// The details of one collection, at most `concurrency` calls at once (and the pool
/// bounds the threads). Collections are fetched and synced one after the other, so a
/// run holds one collection's details at a time, not the whole cloud's.
async fn fetch_details(spec: &HeatSpec, pool: &WorkerPool, wanted: Vec<Wanted>) -> Details {
    let mut out = Details {
        items: Vec::new(),
        broken: None,
        api_calls: 0,
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(spec.concurrency));
    let mut calls = tokio::task::JoinSet::new();
    for wanted in wanted {
        let (pool, permits, cloud) = (pool.clone(), permits.clone(), spec.cloud.clone());
        calls.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let plugin = wanted.mapping.plugin.clone();
            let request = GetRequest {
                function: wanted.mapping.function.clone(),
                cloud,
                id: wanted.physical.clone(),
            };
            let result = pool.run(move || plugin.get(&request)).await;
            (wanted, result)
        });
    }
    while let Some(joined) = calls.join_next().await {
        let Ok((wanted, result)) = joined else {
            continue;
        };
        out.api_calls += 1;
        match result {
            Ok(Ok(Some(resource))) => out.items.push(Listed {
                resource,
                source_id: Some(wanted.stack_id),
            }),
            // Gone from the cloud: absent, so it retires.
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                let Wanted {
                    mapping, physical, ..
                } = &wanted;
                out.broken.get_or_insert_with(|| {
                    format!(
                        "{}.{} {physical}: {e}",
                        mapping.plugin.manifest.name, mapping.function
                    )
                });
            }
            Err(e) => {
                out.broken.get_or_insert_with(|| e.to_string());
            }
        }
    }
    // Stable order: the engine keeps the first of duplicates (a resource two stacks share).
    out.items.sort_by(|a, b| {
        (&a.resource.reference_id, &a.source_id).cmp(&(&b.resource.reference_id, &b.source_id))
    });
    out
}

/// A listing already gathered: one page, then the error that made it incomplete.
struct Prepared {
    items: Option<Vec<Listed>>,
    error: Option<String>,
    requests: Requests,
}

#[async_trait]
impl PageSource for Prepared {
    async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, String> {
        if let Some(items) = self.items.take() {
            return Ok(Some(items));
        }
        match self.error.take() {
            Some(error) => Err(error),
            None => Ok(None),
        }
    }

    fn requests(&self) -> Requests {
        self.requests.clone()
    }
}

async fn sync_all(
    spec: &HeatSpec,
    store: &dyn Store,
    pool: &WorkerPool,
    mut listing: Listing,
) -> Vec<RunRecord> {
    let mut runs = Vec::new();
    for collection in collections(spec) {
        // The stack collection is complete once the stacks are listed; the others need
        // every stack's resources and every detail.
        let (items, error, requests) = if collection == spec.stack_collection {
            let error = listing
                .failure
                .clone()
                .filter(|failure| failure.starts_with("heat.stacks"));
            let items = std::mem::take(&mut listing.stacks);
            (items, error, listing.requests.clone())
        } else if let Some(failure) = &listing.failure {
            (Vec::new(), Some(failure.clone()), Requests::default())
        } else {
            let wanted = listing.wanted.remove(&collection).unwrap_or_default();
            let details = fetch_details(spec, pool, wanted).await;
            let requests = Requests {
                api_calls: details.api_calls,
                ..Requests::default()
            };
            (details.items, details.broken, requests)
        };
        let mut pages = Prepared {
            items: Some(items),
            error,
            requests,
        };
        let scope = Scope {
            collection: collection.clone(),
            cloud: spec.cloud.name.clone(),
            source: SOURCE.into(),
        };
        runs.push(sync_scope(store, &spec.name, &scope, &mut pages, &spec.options).await);
    }
    for run in &runs {
        match run.outcome {
            syncer_store::Outcome::Failed => {
                tracing::error!(collection = %run.collection, error = run.error.as_deref().unwrap_or(""), "run failed")
            }
            _ => {
                tracing::info!(collection = %run.collection, listed = run.listed, inserted = run.inserted, updated = run.updated, retired = run.retired, "run succeeded")
            }
        }
    }
    runs
}
