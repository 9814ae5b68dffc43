//! `acme`: a plugin for a made-up cloud, built outside the syncer workspace.

use serde_json::json;
use syncer_plugin_sdk::{GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource};

#[derive(Default)]
struct Acme;

const WIDGETS: u32 = 57;

fn widget(i: u32) -> Resource {
    Resource {
        reference_id: format!("w-{i}"),
        name: Some(format!("widget {i}")),
        project_id: None,
        cloud_meta: json!({"id": format!("w-{i}"), "colour": if i % 2 == 0 { "red" } else { "blue" }}),
    }
}

impl Plugin for Acme {
    fn manifest(&self) -> Manifest {
        Manifest::new("acme", env!("CARGO_PKG_VERSION"))
            .list("widgets")
            .list("explode")
            .get("widget")
    }

    fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        match request.function.as_str() {
            "widgets" => {
                let start: u32 = request.cursor.as_deref().unwrap_or("0").parse().unwrap_or(0);
                let end = (start + request.page_size).min(WIDGETS);
                tracing::info!(start, end, "acme lists widgets");
                Ok(Page {
                    items: (start..end).map(widget).collect(),
                    next: (end < WIDGETS).then(|| end.to_string()),
                    api_calls: 1,
                    ..Page::default()
                })
            }
            "explode" => panic!("acme exploded on purpose"),
            other => Err(PluginError::unknown_function("acme", other)),
        }
    }

    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        let index = request.id.strip_prefix("w-").and_then(|n| n.parse().ok());
        Ok(index.filter(|i| *i < WIDGETS).map(widget))
    }
}

syncer_plugin_sdk::export_plugin!(Acme);
