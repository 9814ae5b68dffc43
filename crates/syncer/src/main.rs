//! `syncer`: the host binary. CLI and glue only; the work is in the library crates.

mod builtins;
mod daemon;
mod heat;
mod http;
mod jobs;
mod memory;
mod metrics;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use syncer_config::{Config, StoreConfig};
use syncer_plugin_host::Registry;
use syncer_scheduler::WorkerPool;
use syncer_store::{Outcome, Store};

/// Keeps a MongoDB inventory of cloud resources in step with the clouds.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "SYNCER_CONFIG",
        default_value = "syncer.toml"
    )]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// List every loaded plugin: name, version, kind, origin, functions.
    Plugins {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Validate the config and the plugins it names; exit 2 on any problem.
    Check,
    /// One pass over all (or the named) jobs; exit 0 only if every job succeeded.
    Once {
        /// A job to run: `Collection` (every cloud) or `cloud/Collection`. Repeatable.
        #[arg(long = "job")]
        jobs: Vec<String>,
        /// Retire even when a run would retire more than the deletion guard allows.
        #[arg(long)]
        allow_mass_retire: bool,
        /// Only list, with no store at all: what the clouds alone cost.
        #[arg(long, conflicts_with = "allow_mass_retire")]
        list_only: bool,
    },
    /// Run every job on its interval until SIGTERM or SIGINT; SIGHUP reloads the config.
    Run,
    /// Each job's last run, its outcome and counts, and when it runs next.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a collection's documents (`sync_runs` for run records).
    Export {
        #[arg(long)]
        collection: String,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

/// Exit code for bad config or plugins, as `syncer check` promises.
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    memory::limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNCER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Config and plugins, loaded and checked together; every problem is printed.
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
}

pub(crate) fn load(path: &std::path::Path) -> Result<Loaded, Vec<String>> {
    let config = syncer_config::load(path)
        .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let registry = Registry::load(&config.plugins, builtins::all())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let problems = registry.check_config(&config);
    if !problems.is_empty() {
        return Err(problems.iter().map(ToString::to_string).collect());
    }
    Ok(Loaded { config, registry })
}

fn report_invalid(problems: &[String]) -> ExitCode {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!(
        "{} problem{} found",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    ExitCode::from(EXIT_INVALID)
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let loaded = match load(&cli.config) {
        Ok(loaded) => loaded,
        Err(problems) => return Ok(report_invalid(&problems)),
    };
    match cli.command {
        Command::Plugins { format } => {
            output::plugins(&loaded.registry, format == Format::Json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let jobs = jobs::plan(&loaded.config, &loaded.registry, false).len()
                + heat::plan(&loaded.config, &loaded.registry, false).len();
            println!(
                "{}: ok ({} plugins, {jobs} jobs)",
                loaded.config.file.display(),
                loaded.registry.iter().count(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Once {
            jobs: selectors,
            allow_mass_retire,
            list_only,
        } => once(loaded, &selectors, allow_mass_retire, list_only).await,
        Command::Run => daemon::run(&cli.config, loaded)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Status { format } => status(loaded, format == Format::Json).await,
        Command::Export { collection, format } => {
            let store = open_store(&loaded.config).await?;
            let docs = store.export(&collection).await?;
            output::documents(&docs, format == Format::Json);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn status(loaded: Loaded, as_json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(&loaded.config).await?;
    let mut rows = Vec::new();
    for job in jobs::plan(&loaded.config, &loaded.registry, false) {
        let last = store.last_run(&job.name).await?;
        rows.push((job, last));
    }
    output::status(&rows, as_json);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.store {
        StoreConfig::Embedded { path } => {
            let store = syncer_store_embedded::EmbeddedStore::open(path)?;
            Ok(Arc::new(store))
        }
        StoreConfig::Mongodb { uri, database } => {
            let store = syncer_store_mongo::MongoStore::connect(
                uri,
                database,
                syncer_store_mongo::MongoStore::DEFAULT_RETRY,
            )
            .await?;
            Ok(Arc::new(store))
        }
    }
}

async fn once(
    loaded: Loaded,
    selectors: &[String],
    allow_mass_retire: bool,
    list_only: bool,
) -> anyhow::Result<ExitCode> {
    let all = jobs::plan(&loaded.config, &loaded.registry, allow_mass_retire);
    let all_heat = heat::plan(&loaded.config, &loaded.registry, allow_mass_retire);
    for selector in selectors {
        let known = all.iter().any(|j| jobs::selects(selector, j))
            || all_heat.iter().any(|h| heat::selects(selector, h));
        if !known {
            let names: Vec<&str> = all
                .iter()
                .map(|j| j.name.as_str())
                .chain(all_heat.iter().map(|h| h.name.as_str()))
                .collect();
            eprintln!("no job named `{selector}`; jobs: {}", names.join(", "));
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    }
    let chosen = |matches: &dyn Fn(&str) -> bool| {
        selectors.is_empty() || selectors.iter().any(|s| matches(s))
    };
    let selected: Vec<_> = all
        .into_iter()
        .filter(|j| chosen(&|s| jobs::selects(s, j)))
        .collect();
    let selected_heat: Vec<_> = all_heat
        .into_iter()
        .filter(|h| chosen(&|s| heat::selects(s, h)))
        .collect();
    if list_only {
        let pool = WorkerPool::new(loaded.config.scheduler.max_workers);
        let mut tasks = tokio::task::JoinSet::new();
        for job in selected {
            let pool = pool.clone();
            tasks.spawn(async move { jobs::list_only(&job, &pool).await });
        }
        for spec in selected_heat {
            let pool = pool.clone();
            tasks.spawn(async move { heat::list_only(&spec, &pool).await });
        }
        let mut runs = Vec::new();
        while let Some(run) = tasks.join_next().await {
            runs.push(run.context("a job task failed")?);
        }
        runs.sort_by(|a, b| a.job.cmp(&b.job));
        output::runs(&runs);
        let ok = runs.iter().all(|r| r.outcome == Outcome::Succeeded);
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let store = open_store(&loaded.config).await?;
    let collections: Vec<String> = selected
        .iter()
        .map(|j| j.scope.collection.clone())
        .chain(selected_heat.iter().flat_map(heat::collections))
        .collect();
    store
        .prepare(&collections)
        .await
        .context("preparing the store")?;
    let pool = WorkerPool::new(loaded.config.scheduler.max_workers);

    // Jobs run concurrently; the pool bounds the plugin calls.
    let mut tasks = tokio::task::JoinSet::new();
    for job in selected {
        let (store, pool) = (store.clone(), pool.clone());
        tasks.spawn(async move { vec![jobs::run_once(&job, store.as_ref(), &pool).await] });
    }
    for spec in selected_heat {
        let (store, pool) = (store.clone(), pool.clone());
        tasks.spawn(async move { heat::run_once(&spec, store.as_ref(), &pool).await });
    }
    let mut runs = Vec::new();
    while let Some(records) = tasks.join_next().await {
        runs.extend(records.context("a job task failed")?);
    }
    runs.sort_by(|a, b| (&a.job, &a.collection).cmp(&(&b.job, &b.collection)));
    output::runs(&runs);
    let ok = runs.iter().all(|r| r.outcome == Outcome::Succeeded);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
