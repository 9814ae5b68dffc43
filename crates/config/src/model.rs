//! The validated config. Every value here has been checked; later stages may assume it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::Location;

/// Default `[scheduler] max_workers`, as the seed's executor.
pub const DEFAULT_MAX_WORKERS: usize = 10;
/// Default page size asked of list functions.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// Default MongoDB database, the one the control panel reads.
pub const DEFAULT_DATABASE: &str = "ccp_db";
/// Default source tag of a collection's documents.
pub const DEFAULT_SOURCE: &str = "sync";
/// Default deletion guard: a run may retire at most this share of a scope.
pub const DEFAULT_MAX_RETIRE_SHARE: f64 = 0.5;

/// A whole, validated `syncer.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// Where the inventory lives.
    pub store: StoreConfig,
    /// Which plugins to load.
    pub plugins: PluginsConfig,
    /// Worker pool and defaults for jobs.
    pub scheduler: SchedulerConfig,
    /// The clouds, by name.
    pub clouds: BTreeMap<String, CloudConfig>,
    /// The collections, by name; each becomes one job per cloud.
    pub collections: BTreeMap<String, CollectionConfig>,
    /// `[http]`: the metrics and health endpoint.
    pub http: HttpConfig,
    /// `[ha]`: sharing jobs between replicas.
    pub ha: HaConfig,
    /// `[heat]`: the Heat job, when configured.
    pub heat: Option<HeatConfig>,
}

/// `[heat]`: stack resources synced through the resource-collection map.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatConfig {
    /// The plugin that lists stacks and their resources.
    pub plugin: String,
    /// How often to sync.
    pub interval: Duration,
    /// The clouds to sync (all when absent).
    pub clouds: Vec<String>,
    /// How deep into nested stacks to list resources.
    pub nested_depth: u32,
    /// Stacks per page.
    pub page_size: u32,
    /// Per-run timeout.
    pub timeout: Option<Duration>,
    /// Deletion guard for each collection the job syncs.
    pub max_retire_share: f64,
    /// The collection that holds the stacks themselves.
    pub stack_collection: String,
    /// Detail fetches in flight at once.
    pub concurrency: usize,
    /// The resource-collection map, one entry per Heat resource type.
    pub resources: Vec<HeatMapping>,
    /// Where `[heat]` starts.
    pub location: Location,
}

/// One entry of the resource-collection map.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMapping {
    /// The full Heat resource type, e.g. `OS::Nova::Server`.
    pub resource_type: String,
    /// The inventory collection its details go to.
    pub collection: String,
    /// The plugin whose get function fetches the detail.
    pub plugin: String,
    /// That get function.
    pub function: String,
    /// Where the entry stands.
    pub location: Location,
}

/// The resource-collection map used when `[heat.resources]` is absent:
/// (Heat resource type, collection, `plugin.get_function`).
pub const DEFAULT_HEAT_MAP: [(&str, &str, &str); 13] = [
    ("OS::Nova::Flavor", "Flavor", "compute.get_flavor"),
    (
        "OS::Neutron::FloatingIP",
        "FloatingIP",
        "network.get_floating_ip",
    ),
    ("OS::Glance::Image", "Image", "image.get_image"),
    ("OS::Nova::KeyPair", "KeyPair", "compute.get_keypair"),
    ("OS::Neutron::Net", "Network", "network.get_network"),
    ("OS::Keystone::Project", "Project", "identity.get_project"),
    ("OS::Neutron::Router", "Router", "network.get_router"),
    ("OS::Nova::Server", "Instance", "compute.get_server"),
    (
        "OS::Neutron::SecurityGroup",
        "SecurityGroup",
        "network.get_security_group",
    ),
    (
        "OS::Neutron::SecurityGroupRule",
        "SecurityGroupRule",
        "network.get_security_group_rule",
    ),
    ("OS::Neutron::Subnet", "Subnet", "network.get_subnet"),
    ("OS::Cinder::Volume", "Volume", "block-storage.get_volume"),
    ("OS::Neutron::Port", "Port", "network.get_port"),
];

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpConfig {
    /// Where `/metrics` and `/healthz` listen; off when `None`.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[ha]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaConfig {
    /// Take a lease in the store before each run, so replicas run each job once.
    pub enabled: bool,
    /// How long a lease outlives its last renewal; a dead replica's jobs move after it.
    pub lease: Duration,
    /// This replica's name in leases (default: host name, process id and a random part).
    pub owner: Option<String>,
}

/// Default `[ha] lease`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Where the inventory lives.
#[derive(Clone, PartialEq)]
pub enum StoreConfig {
    /// The embedded single-file store (the default).
    Embedded {
        /// The store file.
        path: PathBuf,
    },
    /// A MongoDB deployment.
    Mongodb {
        /// Connection string; may carry credentials, so never displayed.
        uri: String,
        /// Database name.
        database: String,
    },
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Embedded { path } => {
                f.debug_struct("Embedded").field("path", path).finish()
            }
            StoreConfig::Mongodb { database, .. } => f
                .debug_struct("Mongodb")
                .field("uri", &"<redacted>")
                .field("database", database)
                .finish(),
        }
    }
}

/// `[plugins]`: which built-ins to enable and where dynamic plugins come from.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginsConfig {
    /// Built-ins to enable; `None` means every built-in compiled into the binary.
    pub builtin: Option<Vec<(String, Location)>>,
    /// A directory whose every `*.so` is loaded as a plugin.
    pub dir: Option<(PathBuf, Location)>,
    /// Individual plugin libraries.
    pub paths: Vec<(PathBuf, Location)>,
    /// Names of built-ins that a dynamic plugin of the same name may replace.
    pub replace_builtins: Vec<String>,
}

/// `[scheduler]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// Threads that run plugin calls.
    pub max_workers: usize,
    /// Page size for jobs that do not set one.
    pub page_size: u32,
    /// Timeout for jobs that do not set one; `None` means no timeout.
    pub timeout: Option<Duration>,
    /// The largest start jitter of a job (never more than its interval).
    pub jitter: Duration,
    /// Wait before retrying a failed run; doubles per failure up to the interval.
    pub retry_initial: Duration,
    /// How long running runs may finish after SIGTERM/SIGINT.
    pub grace: Duration,
}

/// Default `[scheduler] jitter`.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(60);
/// Default `[scheduler] retry_initial`.
pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_secs(30);
/// Default `[scheduler] grace`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// `[clouds.NAME]`: settings handed to plugins as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// The cloud's name.
    pub name: String,
    /// Settings with `${NAME}` references resolved. May hold secrets.
    pub settings: Map<String, Value>,
    /// Where the table starts, for problems that plugins find in it.
    pub location: Location,
    /// Where each top-level setting stands.
    pub setting_locations: BTreeMap<String, Location>,
}

impl CloudConfig {
    /// Where `key` stands, or the table if it is not a top-level key.
    pub fn location_of(&self, key: &str) -> Location {
        self.setting_locations
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.location.child(key))
    }
}

/// `[collections.NAME]`: one inventory collection and the plugin function that fills it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionConfig {
    /// The collection's name in the inventory.
    pub name: String,
    /// Plugin name.
    pub plugin: String,
    /// The plugin's list function.
    pub function: String,
    /// How often to sync.
    pub interval: Duration,
    /// The clouds to sync it from (all clouds when the key is absent).
    pub clouds: Vec<String>,
    /// Source tag of its documents.
    pub source: String,
    /// Page size asked of the plugin.
    pub page_size: u32,
    /// Per-run timeout.
    pub timeout: Option<Duration>,
    /// Deletion guard: the largest share of a scope one run may retire.
    pub max_retire_share: f64,
    /// Options passed to the plugin function as they are.
    pub options: Map<String, Value>,
    /// `false` keeps the table but runs no job.
    pub enabled: bool,
    /// Where the table starts; `.child("plugin")` etc. for its keys.
    pub location: Location,
    /// Where the `plugin` key stands.
    pub plugin_location: Location,
    /// Where the `function` key stands.
    pub function_location: Location,
}

impl Config {
    /// The collections that run, in name order.
    pub fn enabled_collections(&self) -> impl Iterator<Item = &CollectionConfig> {
        self.collections.values().filter(|c| c.enabled)
    }
}
