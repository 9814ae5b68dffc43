//! Walks the spanned tree of a config file, building a [`Config`] and collecting every
//! problem on the way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use toml::Spanned;

use crate::duration::parse_duration;
use crate::model::*;
use crate::tree::{self, Entry, Node, Table};
use crate::{ConfigError, ConfigErrors, Location};

pub(crate) fn read(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut reader = Reader {
        file: path.to_owned(),
        text,
        env,
        errors: Vec::new(),
    };
    let root: Table = match tree::parse(text) {
        Ok(table) => table,
        Err(e) => {
            let line = e.span().map(|s| reader.line_of(s.start)).unwrap_or(0);
            return Err(ConfigErrors(vec![ConfigError {
                file: path.to_owned(),
                line,
                key: String::new(),
                message: format!("not valid TOML: {}", e.message()),
            }]));
        }
    };
    // Relative paths in the file are relative to the file, wherever syncer runs from.
    let base = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
        .unwrap_or_default();
    let config = reader.config(&root, &base);
    if reader.errors.is_empty() {
        Ok(config)
    } else {
        reader.errors.sort_by_key(|e| e.line);
        Err(ConfigErrors(reader.errors))
    }
}

struct Reader<'a> {
    file: PathBuf,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

/// One table being read: keys are taken as they are read; what is left is unknown.
struct TableRead<'t> {
    key: String,
    line: usize,
    entries: BTreeMap<&'t str, &'t Entry>,
    known: &'static [&'static str],
}

impl<'a> Reader<'a> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn location(&self, key: &str, offset: usize) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line_of(offset),
            key: key.to_owned(),
        }
    }

    fn error(&mut self, key: &str, offset: usize, message: impl Into<String>) {
        let error = self.location(key, offset).error(message);
        self.errors.push(error);
    }

    /// Starts reading `node` as a table named `key`, whose allowed keys are `known`.
    fn table<'t>(
        &mut self,
        key: &str,
        node: &'t Spanned<Node>,
        known: &'static [&'static str],
    ) -> Option<TableRead<'t>> {
        match node.get_ref() {
            Node::Table(table) => Some(TableRead {
                key: key.to_owned(),
                line: self.line_of(node.span().start),
                entries: table.iter().map(|(k, e)| (k.as_str(), e)).collect(),
                known,
            }),
            other => {
                let found = other.type_name();
                self.error(
                    key,
                    node.span().start,
                    format!("expected a table, found {found}"),
                );
                None
            }
        }
    }

    /// Reports every key of `table` that was not taken.
    fn finish(&mut self, table: TableRead<'_>) {
        for (name, entry) in table.entries {
            let path = join(&table.key, name);
            let expected = if table.known.is_empty() {
                String::new()
            } else {
                format!(", expected one of: {}", table.known.join(", "))
            };
            self.error(&path, entry.key_at, format!("unknown key{expected}"));
        }
    }

    fn take_string(&mut self, table: &mut TableRead<'_>, name: &str) -> Option<(String, Location)> {
        let node = &table.entries.remove(name)?.value;
        let path = join(&table.key, name);
        match node.get_ref() {
            Node::String(s) => {
                let location = self.location(&path, node.span().start);
                let resolved = self.resolve_env(&location, s)?;
                Some((resolved, location))
            }
            other => {
                let found = other.type_name();
                self.error(
                    &path,
                    node.span().start,
                    format!("expected a string, found {found}"),
                );
                None
            }
        }
    }

    fn take_integer(
        &mut self,
        table: &mut TableRead<'_>,
        name: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let node = &table.entries.remove(name)?.value;
        let path = join(&table.key, name);
        match node.get_ref() {
            Node::Integer(Some(i)) if (min..=max).contains(i) => Some(*i),
            Node::Integer(i) => {
                let found = i.map_or_else(|| "a larger one".to_string(), |i| i.to_string());
                self.error(
                    &path,
                    node.span().start,
                    format!("expected an integer from {min} to {max}, found {found}"),
                );
                None
            }
            other => {
                let found = other.type_name();
                self.error(
                    &path,
                    node.span().start,
                    format!("expected an integer, found {found}"),
                );
                None
            }
        }
    }

    fn take_bool(&mut self, table: &mut TableRead<'_>, name: &str) -> Option<bool> {
        let node = &table.entries.remove(name)?.value;
        match node.get_ref() {
            Node::Boolean(b) => Some(*b),
            other => {
                let found = other.type_name();
                let path = join(&table.key, name);
                self.error(
                    &path,
                    node.span().start,
                    format!("expected true or false, found {found}"),
                );
                None
            }
        }
    }

    fn take_share(&mut self, table: &mut TableRead<'_>, name: &str) -> Option<f64> {
        let node = &table.entries.remove(name)?.value;
        let path = join(&table.key, name);
        let value = match node.get_ref() {
            Node::Float(Some(f)) => *f,
            Node::Integer(Some(i)) => *i as f64,
            other => {
                let found = other.type_name();
                self.error(
                    &path,
                    node.span().start,
                    format!("expected a share from 0.0 to 1.0, found {found}"),
                );
                return None;
            }
        };
        if (0.0..=1.0).contains(&value) {
            Some(value)
        } else {
            self.error(
                &path,
                node.span().start,
                format!("expected a share from 0.0 to 1.0, found {value}"),
            );
            None
        }
    }

    fn take_duration(&mut self, table: &mut TableRead<'_>, name: &str) -> Option<Duration> {
        let (text, location) = self.take_string(table, name)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(message) => {
                self.errors.push(location.error(message));
                None
            }
        }
    }

    fn take_string_list(
        &mut self,
        table: &mut TableRead<'_>,
        name: &str,
    ) -> Option<Vec<(String, Location)>> {
        let node = &table.entries.remove(name)?.value;
        let path = join(&table.key, name);
        let Node::Array(items) = node.get_ref() else {
            let found = node.get_ref().type_name();
            self.error(
                &path,
                node.span().start,
                format!("expected an array of strings, found {found}"),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                Node::String(s) => {
                    let location = self.location(&path, item.span().start);
                    if let Some(resolved) = self.resolve_env(&location, s) {
                        out.push((resolved, location));
                    }
                }
                other => {
                    let found = other.type_name();
                    self.error(
                        &path,
                        item.span().start,
                        format!("expected a string, found {found}"),
                    );
                }
            }
        }
        Some(out)
    }

    /// A free-form table (cloud settings, job options) as JSON, with `${NAME}` resolved.
    fn take_free_table(
        &mut self,
        table: &mut TableRead<'_>,
        name: &str,
    ) -> Option<Map<String, Value>> {
        let node = &table.entries.remove(name)?.value;
        let path = join(&table.key, name);
        self.free_table(&path, node)
    }

    fn free_table(&mut self, path: &str, node: &Spanned<Node>) -> Option<Map<String, Value>> {
        match self.free_value(path, node)? {
            Value::Object(map) => Some(map),
            _ => {
                let found = node.get_ref().type_name();
                self.error(
                    path,
                    node.span().start,
                    format!("expected a table, found {found}"),
                );
                None
            }
        }
    }

    fn free_value(&mut self, path: &str, node: &Spanned<Node>) -> Option<Value> {
        Some(match node.get_ref() {
            Node::String(s) => {
                let location = self.location(path, node.span().start);
                Value::String(self.resolve_env(&location, s)?)
            }
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|item| self.free_value(path, item))
                    .collect(),
            ),
            Node::Table(table) => Value::Object(
                table
                    .iter()
                    .filter_map(|(k, v)| {
                        let child = join(path, k);
                        Some((k.clone(), self.free_value(&child, &v.value)?))
                    })
                    .collect(),
            ),
            Node::Integer(Some(i)) => Value::from(*i),
            Node::Float(Some(f)) => Value::from(*f),
            Node::Boolean(b) => Value::Bool(*b),
            other => {
                let found = other.type_name();
                self.error(
                    path,
                    node.span().start,
                    format!("{found} of this size or kind cannot be passed to a plugin"),
                );
                return None;
            }
        })
    }

    /// Replaces every `${NAME}` in `text` with the environment variable's value. The
    /// value is never echoed in an error: it may be a secret.
    fn resolve_env(&mut self, location: &Location, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.errors
                    .push(location.error(
                        "unterminated `${` in an environment reference, expected `${NAME}`",
                    ));
                return None;
            };
            let name = &after[..end];
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.errors.push(location.error(format!(
                    "`${{{name}}}` is not an environment reference, expected `${{NAME}}` with letters, digits and `_`"
                )));
                return None;
            }
            match (self.env)(name) {
                Some(value) => out.push_str(&value),
                None => {
                    self.errors
                        .push(location.error(format!("environment variable `{name}` is not set")));
                    return None;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    fn config(&mut self, root: &Table, base: &Path) -> Config {
        const TOP: &[&str] = &[
            "store",
            "plugins",
            "scheduler",
            "clouds",
            "collections",
            "http",
            "ha",
        ];
        // The root has no span of its own; its problems are at the keys.
        let root_node = Spanned::new(0..0, Node::Table(root.clone()));
        let mut top = self.table("", &root_node, TOP).expect("root is a table");

        let store = match top.entries.remove("store") {
            Some(entry) => self.store(&entry.value, base),
            None => None,
        }
        .unwrap_or_else(|| StoreConfig::Embedded {
            path: resolve(base, "syncer-inventory.sqlite"),
        });

        let plugins = match top.entries.remove("plugins") {
            Some(entry) => self.plugins(&entry.value, base),
            None => None,
        }
        .unwrap_or(PluginsConfig {
            builtin: None,
            dir: None,
            paths: Vec::new(),
            replace_builtins: Vec::new(),
        });

        let scheduler = match top.entries.remove("scheduler") {
            Some(entry) => self.scheduler(&entry.value),
            None => None,
        }
        .unwrap_or(SchedulerConfig {
            max_workers: DEFAULT_MAX_WORKERS,
            page_size: DEFAULT_PAGE_SIZE,
            timeout: None,
            jitter: DEFAULT_JITTER,
            retry_initial: DEFAULT_RETRY_INITIAL,
            grace: DEFAULT_GRACE,
        });

        let clouds = match top.entries.remove("clouds") {
            Some(entry) => self.clouds(&entry.value),
            None => BTreeMap::new(),
        };

        let collections = match top.entries.remove("collections") {
            Some(entry) => self.collections(&entry.value, &scheduler, &clouds),
            None => BTreeMap::new(),
        };
        let http = match top.entries.remove("http") {
            Some(entry) => self.http(&entry.value),
            None => HttpConfig::default(),
        };
        let ha = match top.entries.remove("ha") {
            Some(entry) => self.ha(&entry.value, &store),
            None => HaConfig {
                enabled: false,
                lease: DEFAULT_LEASE,
                owner: None,
            },
        };
        let heat = match top.entries.remove("heat") {
            Some(entry) => self.heat(&entry.value, &scheduler, &clouds),
            None => None,
        };
        self.finish(top);

        Config {
            http,
            ha,
            heat,
            file: self.file.clone(),
            store,
            plugins,
            scheduler,
            clouds,
            collections,
        }
    }

    fn store(&mut self, node: &Spanned<Node>, base: &Path) -> Option<StoreConfig> {
        let mut store = self.table("store", node, &["embedded", "mongodb"])?;
        let embedded = store.entries.remove("embedded");
        let mongodb = store.entries.remove("mongodb");
        self.finish(store);
        match (embedded, mongodb) {
            (Some(_), Some(Entry { key_at, .. })) => {
                self.error(
                    "store",
                    *key_at,
                    "set one of `store.embedded` and `store.mongodb`, not both",
                );
                None
            }
            (Some(Entry { value: e, .. }), None) => {
                let mut t = self.table("store.embedded", e, &["path"])?;
                let path = self.take_string(&mut t, "path");
                self.finish(t);
                Some(StoreConfig::Embedded {
                    path: resolve(
                        base,
                        &path
                            .map(|p| p.0)
                            .unwrap_or_else(|| "syncer-inventory.sqlite".into()),
                    ),
                })
            }
            (None, Some(Entry { value: m, .. })) => {
                let mut t = self.table("store.mongodb", m, &["uri", "database"])?;
                let line = t.line;
                let uri = self.take_string(&mut t, "uri");
                let database = self.take_string(&mut t, "database");
                self.finish(t);
                let Some((uri, _)) = uri else {
                    self.errors.push(Location { file: self.file.clone(), line, key: "store.mongodb.uri".into() }
                        .error("missing key, expected a MongoDB connection string like \"mongodb://host:27017\""));
                    return None;
                };
                Some(StoreConfig::Mongodb {
                    uri,
                    database: database
                        .map(|d| d.0)
                        .unwrap_or_else(|| DEFAULT_DATABASE.into()),
                })
            }
            (None, None) => None,
        }
    }

    fn plugins(&mut self, node: &Spanned<Node>, base: &Path) -> Option<PluginsConfig> {
        let mut t = self.table(
            "plugins",
            node,
            &["builtin", "dir", "paths", "replace_builtins"],
        )?;
        let builtin = self.take_string_list(&mut t, "builtin");
        let dir = self
            .take_string(&mut t, "dir")
            .map(|(d, loc)| (resolve(base, &d), loc));
        let paths = self
            .take_string_list(&mut t, "paths")
            .unwrap_or_default()
            .into_iter()
            .map(|(p, loc)| (resolve(base, &p), loc))
            .collect();
        let replace_builtins = self
            .take_string_list(&mut t, "replace_builtins")
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        self.finish(t);
        Some(PluginsConfig {
            builtin,
            dir,
            paths,
            replace_builtins,
        })
    }

    fn scheduler(&mut self, node: &Spanned<Node>) -> Option<SchedulerConfig> {
        let mut t = self.table(
            "scheduler",
            node,
            &[
                "max_workers",
                "page_size",
                "timeout",
                "jitter",
                "retry_initial",
                "grace",
            ],
        )?;
        let max_workers = self.take_integer(&mut t, "max_workers", 1, 1024);
        let page_size = self.take_integer(&mut t, "page_size", 1, 100_000);
        let timeout = self.take_duration(&mut t, "timeout");
        let jitter = self.take_duration(&mut t, "jitter");
        let retry_initial = self.take_duration(&mut t, "retry_initial");
        let grace = self.take_duration(&mut t, "grace");
        self.finish(t);
        Some(SchedulerConfig {
            max_workers: max_workers
                .map(|n| n as usize)
                .unwrap_or(DEFAULT_MAX_WORKERS),
            page_size: page_size.map(|n| n as u32).unwrap_or(DEFAULT_PAGE_SIZE),
            timeout,
            jitter: jitter.unwrap_or(DEFAULT_JITTER),
            retry_initial: retry_initial.unwrap_or(DEFAULT_RETRY_INITIAL),
            grace: grace.unwrap_or(DEFAULT_GRACE),
        })
    }

    fn http(&mut self, node: &Spanned<Node>) -> HttpConfig {
        let Some(mut t) = self.table("http", node, &["listen"]) else {
            return HttpConfig::default();
        };
        let listen = self
            .take_string(&mut t, "listen")
            .and_then(|(text, location)| match text.parse() {
                Ok(address) => Some(address),
                Err(_) => {
                    self.errors.push(location.error(format!(
                        "expected an address like \"127.0.0.1:9187\", found \"{text}\""
                    )));
                    None
                }
            });
        self.finish(t);
        HttpConfig { listen }
    }

    fn ha(&mut self, node: &Spanned<Node>, store: &StoreConfig) -> HaConfig {
        let mut ha = HaConfig {
            enabled: false,
            lease: DEFAULT_LEASE,
            owner: None,
        };
        let Some(mut t) = self.table("ha", node, &["enabled", "lease", "owner"]) else {
            return ha;
        };
        let line = t.line;
        ha.enabled = self.take_bool(&mut t, "enabled").unwrap_or(false);
        ha.lease = self.take_duration(&mut t, "lease").unwrap_or(DEFAULT_LEASE);
        ha.owner = self.take_string(&mut t, "owner").map(|o| o.0);
        self.finish(t);
        if ha.enabled && !matches!(store, StoreConfig::Mongodb { .. }) {
            let location = Location {
                file: self.file.clone(),
                line,
                key: "ha.enabled".into(),
            };
            self.errors.push(
                location.error(
                    "replicas share jobs through MongoDB: set [store.mongodb] to enable [ha]",
                ),
            );
        }
        ha
    }

    fn heat(
        &mut self,
        node: &Spanned<Node>,
        scheduler: &SchedulerConfig,
        clouds: &BTreeMap<String, CloudConfig>,
    ) -> Option<HeatConfig> {
        const KEYS: &[&str] = &[
            "plugin",
            "interval",
            "clouds",
            "nested_depth",
            "page_size",
            "timeout",
            "max_retire_share",
            "stack_collection",
            "concurrency",
            "resources",
        ];
        let mut t = self.table("heat", node, KEYS)?;
        let location = self.location("heat", node.span().start);
        let plugin = self.take_string(&mut t, "plugin").map(|p| p.0);
        let interval = self.take_duration(&mut t, "interval");
        let listed = self.take_string_list(&mut t, "clouds");
        let nested_depth = self.take_integer(&mut t, "nested_depth", 0, 100);
        let page_size = self.take_integer(&mut t, "page_size", 1, 100_000);
        let timeout = self.take_duration(&mut t, "timeout");
        let share = self.take_share(&mut t, "max_retire_share");
        let stack_collection = self.take_string(&mut t, "stack_collection").map(|s| s.0);
        let concurrency = self.take_integer(&mut t, "concurrency", 1, 256);
        let resources = match t.entries.remove("resources") {
            None => DEFAULT_HEAT_MAP
                .iter()
                .map(|(ty, collection, get)| {
                    let (plugin, function) = get.split_once('.').expect("plugin.function");
                    HeatMapping {
                        resource_type: (*ty).into(),
                        collection: (*collection).into(),
                        plugin: plugin.into(),
                        function: function.into(),
                        location: location.child("resources"),
                    }
                })
                .collect(),
            Some(entry) => self.heat_map(&entry.value),
        };
        self.finish(t);
        let mut names = Vec::new();
        match listed {
            Some(list) => {
                for (cloud, loc) in list {
                    if clouds.contains_key(&cloud) {
                        names.push(cloud);
                    } else {
                        self.errors
                            .push(loc.error(format!("no cloud named `{cloud}`")));
                    }
                }
            }
            None => names.extend(clouds.keys().cloned()),
        }
        Some(HeatConfig {
            plugin: plugin.unwrap_or_else(|| "heat".into()),
            interval: interval.unwrap_or(std::time::Duration::from_secs(900)),
            clouds: names,
            nested_depth: nested_depth.map(|n| n as u32).unwrap_or(5),
            page_size: page_size.map(|n| n as u32).unwrap_or(scheduler.page_size),
            timeout: timeout.or(scheduler.timeout),
            max_retire_share: share.unwrap_or(DEFAULT_MAX_RETIRE_SHARE),
            stack_collection: stack_collection.unwrap_or_else(|| "Stack".into()),
            concurrency: concurrency.map(|n| n as usize).unwrap_or(8),
            resources,
            location,
        })
    }

    /// `[heat.resources]`: `"OS::Nova::Server" = { collection = "Instance", get = "compute.get_server" }`.
    fn heat_map(&mut self, node: &Spanned<Node>) -> Vec<HeatMapping> {
        let mut out = Vec::new();
        let Some(mut t) = self.table("heat.resources", node, &[]) else {
            return out;
        };
        for (resource_type, entry) in std::mem::take(&mut t.entries) {
            let path = format!("heat.resources.\"{resource_type}\"");
            let location = self.location(&path, entry.key_at);
            let Some(mut m) = self.table(&path, &entry.value, &["collection", "get"]) else {
                continue;
            };
            let collection = self.take_string(&mut m, "collection");
            let get = self.take_string(&mut m, "get");
            self.finish(m);
            let (Some((collection, _)), Some((get, get_location))) = (collection, get) else {
                self.errors.push(
                    location.error(
                        "expected { collection = \"Instance\", get = \"compute.get_server\" }",
                    ),
                );
                continue;
            };
            match get.split_once('.') {
                Some((plugin, function)) if !plugin.is_empty() && !function.is_empty() => {
                    out.push(HeatMapping {
                        resource_type: resource_type.to_owned(),
                        collection,
                        plugin: plugin.into(),
                        function: function.into(),
                        location,
                    })
                }
                _ => self.errors.push(get_location.error(format!(
                    "expected a get function as \"plugin.function\", found \"{get}\""
                ))),
            }
        }
        out
    }

    fn clouds(&mut self, node: &Spanned<Node>) -> BTreeMap<String, CloudConfig> {
        let mut clouds = BTreeMap::new();
        // Cloud settings are the plugins' to define: any key is accepted here and the
        // plugins that serve the cloud check them (`Plugin::check_cloud`).
        let Some(mut t) = self.table("clouds", node, &[]) else {
            return clouds;
        };
        for (name, Entry { value, .. }) in std::mem::take(&mut t.entries) {
            let path = join("clouds", name);
            if let Some(settings) = self.free_table(&path, value) {
                let location = self.location(&path, value.span().start);
                let setting_locations = match value.get_ref() {
                    Node::Table(table) => table
                        .iter()
                        .map(|(key, entry)| {
                            (key.clone(), self.location(&join(&path, key), entry.key_at))
                        })
                        .collect(),
                    _ => BTreeMap::new(),
                };
                clouds.insert(
                    name.to_owned(),
                    CloudConfig {
                        name: name.to_owned(),
                        settings,
                        location,
                        setting_locations,
                    },
                );
            }
        }
        clouds
    }

    fn collections(
        &mut self,
        node: &Spanned<Node>,
        scheduler: &SchedulerConfig,
        clouds: &BTreeMap<String, CloudConfig>,
    ) -> BTreeMap<String, CollectionConfig> {
        const KEYS: &[&str] = &[
            "plugin",
            "function",
            "interval",
            "clouds",
            "source",
            "page_size",
            "timeout",
            "max_retire_share",
            "options",
            "enabled",
        ];
        let mut out = BTreeMap::new();
        let Some(mut t) = self.table("collections", node, &[]) else {
            return out;
        };
        for (name, Entry { value, .. }) in std::mem::take(&mut t.entries) {
            let path = join("collections", name);
            let Some(mut c) = self.table(&path, value, KEYS) else {
                continue;
            };
            let location = self.location(&path, value.span().start);
            let plugin = self.take_string(&mut c, "plugin");
            let function = self.take_string(&mut c, "function");
            let interval = self.take_duration(&mut c, "interval");
            let listed_clouds = self.take_string_list(&mut c, "clouds");
            let source = self.take_string(&mut c, "source");
            let page_size = self.take_integer(&mut c, "page_size", 1, 100_000);
            let timeout = self.take_duration(&mut c, "timeout");
            let share = self.take_share(&mut c, "max_retire_share");
            let options = self.take_free_table(&mut c, "options");
            let enabled = self.take_bool(&mut c, "enabled");
            self.finish(c);

            for (key, present) in [
                ("plugin", plugin.is_some()),
                ("function", function.is_some()),
                ("interval", interval.is_some()),
            ] {
                if !present && !self.errors.iter().any(|e| e.key == join(&path, key)) {
                    self.errors.push(location.child(key).error(match key {
                        "interval" => r#"missing key, expected a duration like "15m""#,
                        _ => "missing key, expected a string",
                    }));
                }
            }
            if let Some((source, loc)) = &source {
                if source.is_empty() || source == "stack" {
                    self.errors.push(loc.error("expected a source tag other than \"\" and \"stack\" (which the Heat job owns)"));
                }
            }
            let cloud_names: Vec<String> = match listed_clouds {
                Some(list) => {
                    let mut seen = BTreeSet::new();
                    for (cloud, loc) in &list {
                        if !clouds.contains_key(cloud) {
                            let known: Vec<_> = clouds.keys().map(String::as_str).collect();
                            self.errors.push(loc.error(format!(
                                "no cloud named `{cloud}`, expected one of: {}",
                                if known.is_empty() {
                                    "(no [clouds] defined)".to_string()
                                } else {
                                    known.join(", ")
                                }
                            )));
                        }
                        if !seen.insert(cloud.clone()) {
                            self.errors
                                .push(loc.error(format!("cloud `{cloud}` is listed twice")));
                        }
                    }
                    list.into_iter().map(|(c, _)| c).collect()
                }
                None => clouds.keys().cloned().collect(),
            };
            let enabled = enabled.unwrap_or(true);
            if enabled && cloud_names.is_empty() && clouds.is_empty() {
                self.errors
                    .push(location.error(
                        "no clouds to sync from, expected at least one [clouds.NAME] table",
                    ));
            }
            let (
                Some((plugin, plugin_location)),
                Some((function, function_location)),
                Some(interval),
            ) = (plugin, function, interval)
            else {
                continue;
            };
            out.insert(
                name.to_owned(),
                CollectionConfig {
                    name: name.to_owned(),
                    plugin,
                    function,
                    interval,
                    clouds: cloud_names,
                    source: source.map(|s| s.0).unwrap_or_else(|| DEFAULT_SOURCE.into()),
                    page_size: page_size.map(|n| n as u32).unwrap_or(scheduler.page_size),
                    timeout: timeout.or(scheduler.timeout),
                    max_retire_share: share.unwrap_or(DEFAULT_MAX_RETIRE_SHARE),
                    options: options.unwrap_or_default(),
                    enabled,
                    location,
                    plugin_location,
                    function_location,
                },
            );
        }
        out
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `path` relative to `base` (absolute paths stay), without `.` components.
fn resolve(base: &Path, path: &str) -> PathBuf {
    base.join(path).components().collect()
}
