//! `block-storage`: OpenStack Cinder.

use syncer_openstack::{GetSpec, ListSpec, OpenStackPlugin, Paging, Service};

/// 3.67 and later need no project in the URL, which keeps one endpoint for all.
const CINDER: Option<(&str, &str)> = Some(("volume", "3.69"));

static LISTS: [ListSpec; 2] = [
    ListSpec {
        function: "volumes",
        service: Service::BlockStorage,
        path: &["volumes", "detail"],
        items: "volumes",
        paging: Paging::Links,
        all_projects: Some(("all_tenants", "1")),
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["os-vol-tenant-attr:tenant_id"],
        microversion: CINDER,
    },
    ListSpec {
        function: "snapshots",
        service: Service::BlockStorage,
        path: &["snapshots", "detail"],
        items: "snapshots",
        paging: Paging::Links,
        all_projects: Some(("all_tenants", "1")),
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["os-extended-snapshot-attributes:project_id"],
        microversion: CINDER,
    },
];

static GETS: [GetSpec; 2] = [
    GetSpec {
        function: "get_volume",
        list: &LISTS[0],
        path: &["volumes"],
        wrapper: Some("volume"),
    },
    GetSpec {
        function: "get_snapshot",
        list: &LISTS[1],
        path: &["snapshots"],
        wrapper: Some("snapshot"),
    },
];

/// The plugin.
pub fn plugin() -> OpenStackPlugin {
    OpenStackPlugin {
        name: "block-storage",
        version: env!("CARGO_PKG_VERSION"),
        lists: &LISTS,
        gets: &GETS,
    }
}

syncer_plugin_sdk::export_plugin!(plugin());
