//! `image`: OpenStack Glance.

use syncer_openstack::{GetSpec, ListSpec, OpenStackPlugin, Paging, Service};

static LISTS: [ListSpec; 1] = [ListSpec {
    function: "images",
    service: Service::Image,
    path: &["images"],
    items: "images",
    paging: Paging::Glance,
    // Glance lists every image an admin may see without asking.
    all_projects: None,
    unwrap: None,
    id_field: "id",
    name_field: "name",
    project_fields: &["owner"],
    microversion: None,
}];

static GETS: [GetSpec; 1] = [GetSpec {
    function: "get_image",
    list: &LISTS[0],
    path: &["images"],
    wrapper: None,
}];

/// The plugin.
pub fn plugin() -> OpenStackPlugin {
    OpenStackPlugin {
        name: "image",
        version: env!("CARGO_PKG_VERSION"),
        lists: &LISTS,
        gets: &GETS,
    }
}

syncer_plugin_sdk::export_plugin!(plugin());
