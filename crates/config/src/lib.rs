//! `syncer.toml`: the operator's config, read and validated.
//!
//! [`load`] returns a [`Config`] or every problem found, each with file, line and key
//! ([`ConfigError`]). Unknown keys are errors. Strings may reference environment
//! variables as `${NAME}` so secrets stay out of the file. Relative paths are resolved
//! against the directory of the config file.
//!
//! This crate knows the shape of the file, not what plugins exist: checks that need the
//! loaded plugins (does `compute.servers` exist?) report through [`Location::error`].

mod duration;
mod model;
mod read;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::parse_duration;
pub use model::{
    CloudConfig, CollectionConfig, Config, HaConfig, HeatConfig, HeatMapping, HttpConfig,
    PluginsConfig, SchedulerConfig, StoreConfig, DEFAULT_DATABASE, DEFAULT_GRACE, DEFAULT_HEAT_MAP,
    DEFAULT_JITTER, DEFAULT_LEASE, DEFAULT_MAX_RETIRE_SHARE, DEFAULT_MAX_WORKERS,
    DEFAULT_PAGE_SIZE, DEFAULT_RETRY_INITIAL, DEFAULT_SOURCE,
};

/// Where a key stands in the config file, kept so that later checks can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Dotted key path, e.g. `collections.Instance.interval`.
    pub key: String,
}

impl Location {
    /// A problem at this location.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            key: self.key.clone(),
            message: message.into(),
        }
    }

    /// A location for a key nested under this one (same line).
    pub fn child(&self, key: &str) -> Location {
        Location {
            key: if key.is_empty() {
                self.key.clone()
            } else {
                format!("{}.{key}", self.key)
            },
            ..self.clone()
        }
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem is with the file as a whole.
    pub line: usize,
    /// Dotted key path; empty when the problem is with the file as a whole.
    pub key: String,
    /// What was expected, lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_all(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

fn display_all(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the config file at `path`, resolving `${NAME}` references from
/// the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 0,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Validates config `text` as if read from `path`, resolving `${NAME}` with `env`.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    read::read(path, text, env)
}
