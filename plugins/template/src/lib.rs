//! `template`: the model plugin, and the demo cloud until the OpenStack plugins land.
//!
//! It serves a cloud that exists only in memory: `count` generated items spread over
//! `projects` projects, the same for the same settings. Copy it with
//! `cargo xtask new-plugin NAME` and replace the generator with calls to your cloud.

use serde::Deserialize;
use serde_json::json;
use syncer_plugin_sdk::{
    CloudRef, ErrorKind, GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource,
    SettingProblem,
};

/// The plugin's name, as jobs in `syncer.toml` refer to it.
pub const NAME: &str = "template";

/// The plugin. Holds nothing: every call carries the cloud it is about.
#[derive(Debug, Default)]
pub struct TemplatePlugin;

/// The settings this plugin reads from a `[clouds.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// How many items the cloud holds.
    #[serde(default = "default_count")]
    count: u32,
    /// Over how many projects they are spread.
    #[serde(default = "default_projects")]
    projects: u32,
    /// How long each page takes, as a slow cloud would (milliseconds).
    #[serde(default)]
    page_delay_ms: u64,
}

fn default_count() -> u32 {
    100
}

fn default_projects() -> u32 {
    3
}

impl Settings {
    fn of(cloud: &CloudRef) -> Result<Self, PluginError> {
        let value = serde_json::Value::Object(cloud.settings.clone());
        serde_json::from_value(value).map_err(|e| {
            PluginError::new(
                ErrorKind::BadRequest,
                format!("cloud `{}`: {e}", cloud.name),
            )
        })
    }

    fn item(&self, index: u32) -> Resource {
        let project = format!("project-{:02}", index % self.projects.max(1));
        let id = format!("item-{index:06}");
        Resource {
            reference_id: id.clone(),
            name: Some(format!("item {index}")),
            project_id: Some(project.clone()),
            cloud_meta: json!({
                "id": id,
                "name": format!("item {index}"),
                "project_id": project,
                "size_gb": 1 + index % 50,
                "status": "ACTIVE",
                "tags": ["generated"],
            }),
        }
    }
}

impl Plugin for TemplatePlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new(NAME, env!("CARGO_PKG_VERSION"))
            .list("items")
            .get("item")
    }

    fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        if request.function != "items" {
            return Err(PluginError::unknown_function(NAME, &request.function));
        }
        let settings = Settings::of(&request.cloud)?;
        // The cursor is the index of the first item of the page.
        let start: u32 = match &request.cursor {
            None => 0,
            Some(cursor) => cursor.parse().map_err(|_| {
                PluginError::new(ErrorKind::BadRequest, format!("bad cursor `{cursor}`"))
            })?,
        };
        let end = start
            .saturating_add(request.page_size.max(1))
            .min(settings.count);
        tracing::debug!(cloud = %request.cloud.name, start, end, "listing items");
        if settings.page_delay_ms > 0 {
            // Plugin calls run on the host's worker threads: blocking here is allowed.
            std::thread::sleep(std::time::Duration::from_millis(settings.page_delay_ms));
        }
        Ok(Page {
            items: (start..end).map(|i| settings.item(i)).collect(),
            next: (end < settings.count).then(|| end.to_string()),
            api_calls: 1,
            ..Page::default()
        })
    }

    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        if request.function != "item" {
            return Err(PluginError::unknown_function(NAME, &request.function));
        }
        let settings = Settings::of(&request.cloud)?;
        let index = request
            .id
            .strip_prefix("item-")
            .and_then(|n| n.parse::<u32>().ok());
        Ok(index
            .filter(|i| *i < settings.count)
            .map(|i| settings.item(i)))
    }

    fn check_cloud(&self, cloud: &CloudRef) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        for key in cloud.settings.keys() {
            if !matches!(key.as_str(), "count" | "projects" | "page_delay_ms") {
                problems.push(SettingProblem {
                    key: key.clone(),
                    message: "unknown key, expected one of `count`, `projects`, `page_delay_ms`"
                        .into(),
                });
            }
        }
        if problems.is_empty() {
            if let Err(e) = Settings::of(cloud) {
                problems.push(SettingProblem {
                    key: String::new(),
                    message: e.message,
                });
            }
        }
        problems
    }
}

syncer_plugin_sdk::export_plugin!(TemplatePlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn cloud(count: u32) -> CloudRef {
        let mut settings = Map::new();
        settings.insert("count".into(), count.into());
        CloudRef {
            name: "demo".into(),
            settings,
        }
    }

    #[test]
    fn pages_cover_every_item_once() {
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = TemplatePlugin
                .list(&ListRequest {
                    function: "items".into(),
                    cloud: cloud(25),
                    cursor: cursor.clone(),
                    page_size: 10,
                    options: Map::new(),
                })
                .unwrap();
            seen.extend(page.items.into_iter().map(|r| r.reference_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(seen[24], "item-000024");
    }

    #[test]
    fn get_distinguishes_not_found() {
        let get = |id: &str| {
            TemplatePlugin.get(&GetRequest {
                function: "item".into(),
                cloud: cloud(5),
                id: id.into(),
            })
        };
        assert_eq!(
            get("item-000004").unwrap().unwrap().reference_id,
            "item-000004"
        );
        assert_eq!(get("item-000005").unwrap(), None);
    }

    #[test]
    fn unknown_settings_are_reported() {
        let mut c = cloud(5);
        c.settings.insert("cuont".into(), 3.into());
        let problems = TemplatePlugin.check_cloud(&c);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "cuont");
    }
}
