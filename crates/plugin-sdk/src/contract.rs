//! The contract between host and plugin: one trait and the values that cross it.
//!
//! Every type here is `Serialize + Deserialize` because a dynamic plugin receives and
//! returns them as JSON buffers (see [`crate::abi`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A provider plugin: one cloud service, several `list` and `get` functions.
///
/// Functions are called from the host's worker-pool threads, never from inside an async
/// runtime, and may be called concurrently; a plugin that needs async I/O blocks on its
/// own runtime (see the `runtime` feature).
pub trait Plugin: Send + Sync + 'static {
    /// What the plugin is and which functions it serves. Must be cheap and constant.
    fn manifest(&self) -> Manifest;

    /// One page of a `list` function. The host passes back [`Page::next`] as
    /// [`ListRequest::cursor`] until a page has no `next`.
    fn list(&self, request: &ListRequest) -> Result<Page, PluginError>;

    /// One resource by its cloud id. `Ok(None)` means the cloud said "not found",
    /// which is not an error.
    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError>;

    /// Problems with one cloud's settings as this plugin reads them (unknown or missing
    /// keys, wrong types). Called by `syncer check` and at start-up; the default accepts
    /// anything.
    fn check_cloud(&self, cloud: &CloudRef) -> Vec<SettingProblem> {
        let _ = cloud;
        Vec::new()
    }
}

/// A plugin's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Unique plugin name, e.g. `compute`. Jobs name functions as `name.function`.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// The ABI version the plugin was built against; filled in by [`Manifest::new`].
    pub abi_version: u32,
    /// Functions the plugin serves.
    pub functions: Vec<FunctionSpec>,
}

impl Manifest {
    /// A manifest for the current ABI version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            abi_version: crate::abi::ABI_VERSION,
            functions: Vec::new(),
        }
    }

    /// Adds a `list` function.
    pub fn list(mut self, name: impl Into<String>) -> Self {
        self.functions.push(FunctionSpec {
            name: name.into(),
            kind: FunctionKind::List,
        });
        self
    }

    /// Adds a `get` function.
    pub fn get(mut self, name: impl Into<String>) -> Self {
        self.functions.push(FunctionSpec {
            name: name.into(),
            kind: FunctionKind::Get,
        });
        self
    }

    /// The function called `name`, if the plugin serves it.
    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// One function of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// Function name, unique within the plugin.
    pub name: String,
    /// Whether it lists pages or gets one resource.
    pub kind: FunctionKind,
}

/// The two kinds of plugin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionKind {
    /// All resources of one kind in one cloud, page by page.
    List,
    /// One resource by id.
    Get,
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunctionKind::List => "list",
            FunctionKind::Get => "get",
        })
    }
}

/// The cloud a call is about: its name in `syncer.toml` and its settings table, with
/// environment references already resolved.
///
/// Settings may hold secrets, so `Debug` shows only the name.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudRef {
    /// The cloud's name in `syncer.toml`.
    pub name: String,
    /// The cloud's settings table, as the plugin defines it.
    pub settings: Map<String, Value>,
}

impl fmt::Debug for CloudRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudRef")
            .field("name", &self.name)
            .field("settings", &"<redacted>")
            .finish()
    }
}

/// A request for one page of a `list` function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRequest {
    /// The function to call.
    pub function: String,
    /// The cloud to list.
    pub cloud: CloudRef,
    /// `None` for the first page, else the previous page's [`Page::next`].
    pub cursor: Option<String>,
    /// How many resources the host would like per page; the plugin may return fewer.
    pub page_size: u32,
    /// Job options from `syncer.toml` (`[collections.X.options]`), as the plugin defines them.
    #[serde(default)]
    pub options: Map<String, Value>,
}

/// A request for one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetRequest {
    /// The function to call.
    pub function: String,
    /// The cloud to ask.
    pub cloud: CloudRef,
    /// The cloud's id of the resource.
    pub id: String,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The resources on this page.
    pub items: Vec<Resource>,
    /// Cursor of the next page; `None` when this was the last one.
    pub next: Option<String>,
    /// API requests the plugin made for this page (for run records and metrics).
    #[serde(default)]
    pub api_calls: u32,
    /// Of those, requests that were retries (after a 5xx, a timeout, a reset).
    #[serde(default)]
    pub retries: u32,
    /// Of those, answers that said "slow down" (HTTP 429, or 503 with `Retry-After`).
    #[serde(default)]
    pub throttled: u32,
    /// The API (micro)version the service answered with, e.g. `compute 2.100`.
    #[serde(default)]
    pub api_version: Option<String>,
}

/// The envelope a plugin returns for each resource. The host adds everything else of
/// the inventory document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The cloud's id of the resource.
    pub reference_id: String,
    /// Display name, where the kind has one.
    #[serde(default)]
    pub name: Option<String>,
    /// Owning project, where the kind has one.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The raw API object as listed.
    pub cloud_meta: Value,
}

/// A problem with a cloud's settings, found by [`Plugin::check_cloud`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingProblem {
    /// The key inside the cloud's settings table, e.g. `auth_url`.
    pub key: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
}

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// Human-readable detail, lowercase, no trailing period, never a secret.
    pub message: String,
}

/// Classes of plugin failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The plugin does not serve the function named in the request.
    UnknownFunction,
    /// The request or the cloud settings were not usable.
    BadRequest,
    /// The cloud answered with an error or could not be reached.
    Cloud,
    /// The cloud did not answer in time.
    Timeout,
    /// The plugin panicked; the panic was caught at the boundary.
    Panic,
    /// Anything else inside the plugin or at the ABI boundary.
    Internal,
}

impl PluginError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }

    /// The request named a function this plugin does not serve.
    pub fn unknown_function(plugin: &str, function: &str) -> Self {
        Self::new(
            ErrorKind::UnknownFunction,
            format!("plugin `{plugin}` has no function `{function}`"),
        )
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::UnknownFunction => "unknown function",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::Cloud => "cloud error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Panic => "plugin panicked",
            ErrorKind::Internal => "internal error",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for PluginError {}
