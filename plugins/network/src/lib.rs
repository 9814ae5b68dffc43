//! `network`: OpenStack Neutron. An admin token lists every project's resources.

use syncer_openstack::{GetSpec, ListSpec, OpenStackPlugin, Paging, Service};

static LISTS: [ListSpec; 7] = [
    ListSpec {
        function: "networks",
        service: Service::Network,
        path: &["networks"],
        items: "networks",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "subnets",
        service: Service::Network,
        path: &["subnets"],
        items: "subnets",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "ports",
        service: Service::Network,
        path: &["ports"],
        items: "ports",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "routers",
        service: Service::Network,
        path: &["routers"],
        items: "routers",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "floating_ips",
        service: Service::Network,
        path: &["floatingips"],
        items: "floatingips",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "floating_ip_address",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "security_groups",
        service: Service::Network,
        path: &["security-groups"],
        items: "security_groups",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "name",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
    ListSpec {
        function: "security_group_rules",
        service: Service::Network,
        path: &["security-group-rules"],
        items: "security_group_rules",
        paging: Paging::Links,
        all_projects: None,
        unwrap: None,
        id_field: "id",
        name_field: "description",
        project_fields: &["project_id", "tenant_id"],
        microversion: None,
    },
];

static GETS: [GetSpec; 7] = [
    GetSpec {
        function: "get_network",
        list: &LISTS[0],
        path: &["networks"],
        wrapper: Some("network"),
    },
    GetSpec {
        function: "get_subnet",
        list: &LISTS[1],
        path: &["subnets"],
        wrapper: Some("subnet"),
    },
    GetSpec {
        function: "get_port",
        list: &LISTS[2],
        path: &["ports"],
        wrapper: Some("port"),
    },
    GetSpec {
        function: "get_router",
        list: &LISTS[3],
        path: &["routers"],
        wrapper: Some("router"),
    },
    GetSpec {
        function: "get_floating_ip",
        list: &LISTS[4],
        path: &["floatingips"],
        wrapper: Some("floatingip"),
    },
    GetSpec {
        function: "get_security_group",
        list: &LISTS[5],
        path: &["security-groups"],
        wrapper: Some("security_group"),
    },
    GetSpec {
        function: "get_security_group_rule",
        list: &LISTS[6],
        path: &["security-group-rules"],
        wrapper: Some("security_group_rule"),
    },
];

/// The plugin.
pub fn plugin() -> OpenStackPlugin {
    OpenStackPlugin {
        name: "network",
        version: env!("CARGO_PKG_VERSION"),
        lists: &LISTS,
        gets: &GETS,
    }
}

syncer_plugin_sdk::export_plugin!(plugin());
