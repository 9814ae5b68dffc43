//! `compute`: OpenStack Nova.

use syncer_openstack::{GetSpec, ListSpec, OpenStackPlugin, Paging, Service};

const NOVA: Option<(&str, &str)> = Some(("compute", "2.100"));

static LISTS: [ListSpec; 5] = [
    ListSpec {
        function: "servers",
        service: Service::Compute,
        path: &["servers", "detail"],
        items: "servers",
        paging: Paging::Links,
        all_projects: Some(("all_tenants", "1")),
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["tenant_id"],
        microversion: NOVA,
    },
    ListSpec {
        function: "flavors",
        service: Service::Compute,
        path: &["flavors", "detail"],
        items: "flavors",
        paging: Paging::Links,
        // Private flavors too, for an admin.
        all_projects: Some(("is_public", "None")),
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &[],
        microversion: NOVA,
    },
    ListSpec {
        function: "keypairs",
        service: Service::Compute,
        path: &["os-keypairs"],
        items: "keypairs",
        paging: Paging::Links,
        all_projects: None,
        unwrap: Some("keypair"),
        // Keypairs are addressed, and paged, by name.
        id_field: "name",
        name_field: "name",
        project_fields: &[],
        microversion: NOVA,
    },
    ListSpec {
        function: "server_groups",
        service: Service::Compute,
        path: &["os-server-groups"],
        items: "server_groups",
        paging: Paging::Offset,
        all_projects: Some(("all_projects", "True")),
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id"],
        microversion: NOVA,
    },
    ListSpec {
        function: "hypervisors",
        service: Service::Compute,
        path: &["os-hypervisors", "detail"],
        items: "hypervisors",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "hypervisor_hostname",
        project_fields: &[],
        microversion: NOVA,
    },
];

static GETS: [GetSpec; 3] = [
    GetSpec {
        function: "get_server",
        list: &LISTS[0],
        path: &["servers"],
        wrapper: Some("server"),
    },
    GetSpec {
        function: "get_flavor",
        list: &LISTS[1],
        path: &["flavors"],
        wrapper: Some("flavor"),
    },
    GetSpec {
        function: "get_keypair",
        list: &LISTS[2],
        path: &["os-keypairs"],
        wrapper: Some("keypair"),
    },
];

/// The plugin.
pub fn plugin() -> OpenStackPlugin {
    OpenStackPlugin {
        name: "compute",
        version: env!("CARGO_PKG_VERSION"),
        lists: &LISTS,
        gets: &GETS,
    }
}

syncer_plugin_sdk::export_plugin!(plugin());
