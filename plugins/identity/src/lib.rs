//! `identity`: OpenStack Keystone projects.

use syncer_openstack::{GetSpec, ListSpec, OpenStackPlugin, Paging, Service};

static LISTS: [ListSpec; 1] = [ListSpec {
    function: "projects",
    service: Service::Identity,
    path: &["projects"],
    items: "projects",
    paging: Paging::Keystone,
    all_projects: None,
    unwrap: None,
    id_field: "id",
    name_field: "name",
    // A project's own id is the project a control panel filters it by.
    project_fields: &["id"],
    microversion: None,
}];

static GETS: [GetSpec; 1] = [GetSpec {
    function: "get_project",
    list: &LISTS[0],
    path: &["projects"],
    wrapper: Some("project"),
}];

/// The plugin.
pub fn plugin() -> OpenStackPlugin {
    OpenStackPlugin {
        name: "identity",
        version: env!("CARGO_PKG_VERSION"),
        lists: &LISTS,
        gets: &GETS,
    }
}

syncer_plugin_sdk::export_plugin!(plugin());
