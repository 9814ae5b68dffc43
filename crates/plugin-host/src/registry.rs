//! The registry: every plugin the host loaded, by name, and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use syncer_config::{Config, ConfigError, PluginsConfig};
use syncer_plugin_sdk::export::guarded;
use syncer_plugin_sdk::{
    CloudRef, FunctionKind, GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource,
};

use crate::dynamic;

/// Why a plugin could not be loaded. Each message names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be loaded as a plugin library.
    #[error("{}: {reason}", path.display())]
    Library {
        /// The library file.
        path: PathBuf,
        /// What is wrong, lowercase.
        reason: String,
    },
    /// The library was built for another ABI version.
    #[error("{}: built for plugin ABI version {found}, this host speaks version {expected}; rebuild it against this syncer's plugin SDK", path.display())]
    AbiMismatch {
        /// The library file.
        path: PathBuf,
        /// The version the library reports.
        found: u32,
        /// The host's version.
        expected: u32,
    },
    /// Two plugins have one name.
    #[error("two plugins are named `{name}`: {first} and {second}{hint}")]
    Duplicate {
        /// The plugin name.
        name: String,
        /// Where the first one came from.
        first: Origin,
        /// Where the second one came from.
        second: Origin,
        /// How to resolve it, if there is a way.
        hint: &'static str,
    },
    /// The manifest is not usable.
    #[error("{origin}: malformed manifest: {reason}")]
    BadManifest {
        /// Where the plugin came from.
        origin: Origin,
        /// What is wrong.
        reason: String,
    },
    /// The config names a built-in that this binary does not have.
    #[error("{}:{}: {}: no built-in plugin named `{name}`, this binary has: {available}", location.file.display(), location.line, location.key)]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The built-ins compiled in.
        available: String,
        /// Where the config names it.
        location: syncer_config::Location,
    },
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Linked into the host binary.
    Builtin,
    /// Loaded from a dynamic library.
    Dynamic(PathBuf),
}

impl Origin {
    /// `builtin` or `dynamic`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Builtin => "builtin",
            Origin::Dynamic(_) => "dynamic",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str("the built-in"),
            Origin::Dynamic(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One loaded plugin. Its calls never unwind: a panic comes back as an error of kind
/// `panic`.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// The manifest read at load time.
    pub manifest: Manifest,
    /// Where it came from.
    pub origin: Origin,
    plugin: Arc<dyn Plugin>,
}

impl LoadedPlugin {
    /// Wraps a built-in plugin.
    pub fn builtin(plugin: Arc<dyn Plugin>) -> Result<Self, LoadError> {
        let manifest = guarded(|| Ok(plugin.manifest())).map_err(|e| LoadError::BadManifest {
            origin: Origin::Builtin,
            reason: e.to_string(),
        })?;
        Self::checked(manifest, Origin::Builtin, plugin)
    }

    /// Loads the dynamic plugin at `path`.
    pub fn dynamic(path: PathBuf) -> Result<Self, LoadError> {
        let plugin = dynamic::load(&path)?;
        let manifest = plugin.manifest();
        Self::checked(manifest, Origin::Dynamic(path), Arc::new(plugin))
    }

    fn checked(
        manifest: Manifest,
        origin: Origin,
        plugin: Arc<dyn Plugin>,
    ) -> Result<Self, LoadError> {
        let bad = |reason: String| LoadError::BadManifest {
            origin: origin.clone(),
            reason,
        };
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if !valid_name(&manifest.name) {
            return Err(bad(format!(
                "plugin name `{}` must be non-empty lowercase letters, digits, `-` or `_`",
                manifest.name
            )));
        }
        if manifest.abi_version != syncer_plugin_sdk::abi::ABI_VERSION {
            return Err(bad(format!(
                "manifest says ABI version {}, expected {}",
                manifest.abi_version,
                syncer_plugin_sdk::abi::ABI_VERSION
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for function in &manifest.functions {
            if !valid_name(&function.name) {
                return Err(bad(format!(
                    "function name `{}` is not valid",
                    function.name
                )));
            }
            if !names.insert(&function.name) {
                return Err(bad(format!("function `{}` is listed twice", function.name)));
            }
        }
        Ok(LoadedPlugin {
            manifest,
            origin,
            plugin,
        })
    }

    /// One page of a list function.
    pub fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        guarded(|| self.plugin.list(request))
    }

    /// One resource by id; `Ok(None)` when the cloud does not know it.
    pub fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        guarded(|| self.plugin.get(request))
    }

    /// Problems the plugin finds in a cloud's settings.
    pub fn check_cloud(&self, cloud: &CloudRef) -> Vec<syncer_plugin_sdk::SettingProblem> {
        guarded(|| Ok(self.plugin.check_cloud(cloud))).unwrap_or_else(|e| {
            vec![syncer_plugin_sdk::SettingProblem {
                key: String::new(),
                message: e.to_string(),
            }]
        })
    }
}

/// Every loaded plugin, by name.
#[derive(Clone, Default)]
pub struct Registry {
    plugins: BTreeMap<String, LoadedPlugin>,
}

impl Registry {
    /// Loads what `config` asks for: the enabled built-ins out of `builtins`, then every
    /// dynamic library of `config.dir` and `config.paths`. Returns every problem found,
    /// not only the first.
    pub fn load(
        config: &PluginsConfig,
        builtins: Vec<Arc<dyn Plugin>>,
    ) -> Result<Self, Vec<LoadError>> {
        let mut errors = Vec::new();
        let mut registry = Registry::default();

        let mut available: BTreeMap<String, LoadedPlugin> = BTreeMap::new();
        for plugin in builtins {
            match LoadedPlugin::builtin(plugin) {
                Ok(loaded) => {
                    let name = loaded.manifest.name.clone();
                    if available.insert(name.clone(), loaded).is_some() {
                        errors.push(LoadError::Duplicate {
                            name,
                            first: Origin::Builtin,
                            second: Origin::Builtin,
                            hint: "",
                        });
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        match &config.builtin {
            None => registry.plugins = available,
            Some(wanted) => {
                for (name, location) in wanted {
                    match available.get(name) {
                        Some(p) => {
                            registry.plugins.insert(name.clone(), p.clone());
                        }
                        None => errors.push(LoadError::UnknownBuiltin {
                            name: name.clone(),
                            available: available.keys().cloned().collect::<Vec<_>>().join(", "),
                            location: location.clone(),
                        }),
                    }
                }
            }
        }

        let mut paths = Vec::new();
        if let Some((dir, _)) = &config.dir {
            match dynamic::libraries_in(dir) {
                Ok(found) => paths.extend(found),
                Err(e) => errors.push(e),
            }
        }
        paths.extend(config.paths.iter().map(|(p, _)| p.clone()));
        paths.dedup();

        for path in paths {
            let loaded = match LoadedPlugin::dynamic(path) {
                Ok(loaded) => loaded,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let name = loaded.manifest.name.clone();
            match registry.plugins.get(&name).map(|p| p.origin.clone()) {
                None => {
                    registry.plugins.insert(name, loaded);
                }
                Some(Origin::Builtin) if config.replace_builtins.contains(&name) => {
                    tracing::info!(plugin = %name, origin = %loaded.origin, "dynamic plugin replaces the built-in");
                    registry.plugins.insert(name, loaded);
                }
                Some(first) => errors.push(LoadError::Duplicate {
                    hint: if first == Origin::Builtin {
                        "; to use the dynamic one, add its name to `plugins.replace_builtins` (or leave it out of `plugins.builtin`)"
                    } else {
                        ""
                    },
                    name,
                    first,
                    second: loaded.origin,
                }),
            }
        }

        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(errors)
        }
    }

    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedPlugin> {
        self.plugins.get(name)
    }

    /// Every plugin, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &LoadedPlugin> {
        self.plugins.values()
    }

    /// The Heat job's plugin must list `stacks` and `resources`; every mapped type's
    /// get function must be loaded.
    fn check_heat(&self, heat: &syncer_config::HeatConfig, errors: &mut Vec<ConfigError>) {
        match self.get(&heat.plugin) {
            None => errors.push(heat.location.child("plugin").error(format!(
                "no plugin named `{}` is loaded for the Heat job",
                heat.plugin
            ))),
            Some(plugin) => {
                for function in ["stacks", "resources"] {
                    if plugin.manifest.function(function).map(|f| f.kind)
                        != Some(FunctionKind::List)
                    {
                        errors.push(heat.location.child("plugin").error(format!(
                            "plugin `{}` has no list function `{function}`, which the Heat job needs",
                            heat.plugin
                        )));
                    }
                }
            }
        }
        for mapping in &heat.resources {
            let problem = match self.get(&mapping.plugin) {
                None => Some(format!("plugin `{}` is not loaded", mapping.plugin)),
                Some(p) => match p.manifest.function(&mapping.function) {
                    Some(f) if f.kind == FunctionKind::Get => None,
                    Some(_) => Some(format!(
                        "`{}.{}` is a list function, not a get function",
                        mapping.plugin, mapping.function
                    )),
                    None => Some(format!(
                        "plugin `{}` has no function `{}`",
                        mapping.plugin, mapping.function
                    )),
                },
            };
            if let Some(problem) = problem {
                errors.push(mapping.location.error(format!(
                    "`{}` maps to `{}.{}` for collection `{}`, but {problem}",
                    mapping.resource_type, mapping.plugin, mapping.function, mapping.collection
                )));
            }
        }
    }

    /// Checks that every enabled collection names a loaded plugin and one of its list
    /// functions, and lets each plugin check the settings of the clouds it will serve.
    pub fn check_config(&self, config: &Config) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut served: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for collection in config.enabled_collections() {
            let Some(plugin) = self.get(&collection.plugin) else {
                let known: Vec<_> = self.plugins.keys().map(String::as_str).collect();
                errors.push(collection.plugin_location.error(format!(
                    "no plugin named `{}` is loaded, loaded plugins: {}",
                    collection.plugin,
                    if known.is_empty() {
                        "(none)".into()
                    } else {
                        known.join(", ")
                    }
                )));
                continue;
            };
            match plugin.manifest.function(&collection.function) {
                Some(f) if f.kind == FunctionKind::List => {}
                found => {
                    let lists: Vec<_> = plugin
                        .manifest
                        .functions
                        .iter()
                        .filter(|f| f.kind == FunctionKind::List)
                        .map(|f| f.name.as_str())
                        .collect();
                    let what = if found.is_some() {
                        "is a get function, not a list function"
                    } else {
                        "does not exist"
                    };
                    errors.push(collection.function_location.error(format!(
                        "function `{}.{}` {what}, list functions of `{}`: {}",
                        collection.plugin,
                        collection.function,
                        collection.plugin,
                        lists.join(", ")
                    )));
                    continue;
                }
            }
            for cloud in &collection.clouds {
                served.entry(cloud).or_default().insert(&collection.plugin);
            }
        }
        if let Some(heat) = &config.heat {
            self.check_heat(heat, &mut errors);
            for cloud in &heat.clouds {
                served.entry(cloud).or_default().insert(&heat.plugin);
            }
        }
        for (cloud, plugins) in served {
            let Some(cloud_config) = config.clouds.get(cloud) else {
                continue;
            };
            let cloud_ref = CloudRef {
                name: cloud.to_owned(),
                settings: cloud_config.settings.clone(),
            };
            for name in plugins {
                for problem in self.plugins[name].check_cloud(&cloud_ref) {
                    errors.push(
                        cloud_config
                            .location_of(&problem.key)
                            .error(format!("plugin `{name}`: {}", problem.message)),
                    );
                }
            }
        }
        errors
    }
}
