//! `heat`: OpenStack Heat stacks and their resources.
//!
//! - `stacks`: every project's stacks (`global_tenant`), paged by marker;
//! - `resources`: one stack's resources with nested stacks' (`nested_depth`), for the
//!   stack named by the `stack` option (`NAME/ID`); one page;
//! - `get_stack` (by id) and `get_resource` (`STACK_NAME/STACK_ID/RESOURCE_NAME`).
//!
//! Heat's catalog URL already carries `/v1/{project_id}`; paths here are relative to it.

use serde_json::Value;
use syncer_openstack::client::Cost;
use syncer_openstack::{listing, Client, GetSpec, ListSpec, Paging, Service};
use syncer_plugin_sdk::{
    CloudRef, ErrorKind, GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource,
    SettingProblem,
};

static STACKS: ListSpec = ListSpec {
    function: "stacks",
    service: Service::Orchestration,
    path: &["stacks"],
    items: "stacks",
    paging: Paging::ShortPage,
    all_projects: Some(("global_tenant", "True")),
    unwrap: None,
    id_field: "id",
    name_field: "stack_name",
    // Heat's stack has no owner field: the project is in its links (see below).
    project_fields: &[],
    microversion: None,
};

static GET_STACK: GetSpec = GetSpec {
    function: "get_stack",
    list: &STACKS,
    path: &["stacks"],
    wrapper: Some("stack"),
};

/// Default depth of nested stacks to list.
const NESTED_DEPTH: u64 = 5;

/// The plugin.
#[derive(Debug, Default)]
pub struct HeatPlugin;

/// The plugin, for the host's list of built-ins.
pub fn plugin() -> HeatPlugin {
    HeatPlugin
}

/// The project of a stack, from its `self` link `.../v1/{project}/stacks/...`.
fn project_of(stack: &Value) -> Option<String> {
    let href = stack["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "self")?["href"]
        .as_str()?;
    let (before, _) = href.split_once("/stacks/")?;
    before.rsplit('/').next().map(str::to_owned)
}

fn bad(message: String) -> PluginError {
    PluginError::new(ErrorKind::BadRequest, message)
}

fn resource_envelope(stack_id: &str, item: Value) -> Resource {
    let name = item["resource_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Resource {
        reference_id: format!("{stack_id}/{name}"),
        name: Some(name),
        project_id: None,
        cloud_meta: item,
    }
}

impl Plugin for HeatPlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new("heat", env!("CARGO_PKG_VERSION"))
            .list("stacks")
            .list("resources")
            .get("get_stack")
            .get("get_resource")
    }

    fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        let client = Client::for_cloud(&request.cloud)?;
        let runtime = syncer_plugin_sdk::runtime::runtime();
        match request.function.as_str() {
            "stacks" => {
                let mut page = runtime.block_on(listing::list_page(&client, &STACKS, request))?;
                for stack in &mut page.items {
                    stack.project_id = project_of(&stack.cloud_meta);
                }
                Ok(page)
            }
            "resources" => {
                let stack = request
                    .options
                    .get("stack")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("resources needs the `stack` option (NAME/ID)".into()))?;
                let (_, stack_id) = stack
                    .split_once('/')
                    .ok_or_else(|| bad(format!("`{stack}` is not NAME/ID")))?;
                let depth = request
                    .options
                    .get("nested_depth")
                    .and_then(Value::as_u64)
                    .unwrap_or(NESTED_DEPTH);
                let (name, id) = stack.split_once('/').expect("checked");
                let mut cost = Cost::default();
                let query = [("nested_depth".to_string(), depth.to_string())];
                let body = runtime.block_on(client.get(
                    Service::Orchestration,
                    &["stacks", name, id, "resources"],
                    &query,
                    None,
                    &mut cost,
                ))?;
                let items = match body {
                    None => Vec::new(), // the stack went away between the two calls
                    Some(mut body) => match body["resources"].take() {
                        Value::Array(items) => items,
                        _ => Vec::new(),
                    },
                };
                Ok(Page {
                    items: items
                        .into_iter()
                        .map(|item| resource_envelope(stack_id, item))
                        .collect(),
                    next: None,
                    api_calls: cost.api_calls,
                    retries: cost.retries,
                    throttled: cost.throttled,
                    api_version: None,
                })
            }
            other => Err(PluginError::unknown_function("heat", other)),
        }
    }

    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        let client = Client::for_cloud(&request.cloud)?;
        let runtime = syncer_plugin_sdk::runtime::runtime();
        match request.function.as_str() {
            "get_stack" => {
                let mut found =
                    runtime.block_on(listing::get_one(&client, &GET_STACK, &request.id))?;
                if let Some(stack) = &mut found {
                    stack.project_id = project_of(&stack.cloud_meta);
                }
                Ok(found)
            }
            "get_resource" => {
                let parts: Vec<&str> = request.id.splitn(3, '/').collect();
                let [name, id, resource] = parts[..] else {
                    return Err(bad(format!(
                        "`{}` is not STACK_NAME/STACK_ID/RESOURCE_NAME",
                        request.id
                    )));
                };
                let mut cost = Cost::default();
                let body = runtime.block_on(client.get(
                    Service::Orchestration,
                    &["stacks", name, id, "resources", resource],
                    &[],
                    None,
                    &mut cost,
                ))?;
                Ok(body
                    .and_then(|b| b.get("resource").cloned())
                    .map(|item| resource_envelope(id, item)))
            }
            other => Err(PluginError::unknown_function("heat", other)),
        }
    }

    fn check_cloud(&self, cloud: &CloudRef) -> Vec<SettingProblem> {
        syncer_openstack::settings::check(cloud)
    }
}

syncer_plugin_sdk::export_plugin!(HeatPlugin);

#[cfg(test)]
mod tests {
    use super::project_of;
    use serde_json::json;

    #[test]
    fn the_project_comes_from_the_self_link() {
        let stack =
            json!({"links": [{"rel": "self", "href": "http://h/heat/v1/abc123/stacks/s/1"}]});
        assert_eq!(project_of(&stack).as_deref(), Some("abc123"));
        assert_eq!(project_of(&json!({"links": []})), None);
    }
}
