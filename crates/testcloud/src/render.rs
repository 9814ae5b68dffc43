//! Rendering of generated items through the sample-based templates.

use std::fmt::Write;
use std::sync::OnceLock;

use crate::model::{subnet_cidr, Data, Device, Item, Kind, Phys, StackRes, Store};
use crate::tpl::{Set, Tpl, Vals};
use crate::util::{hexn, push_json_str, ts, Ts};

macro_rules! sample {
    ($p:literal) => {
        include_str!(concat!("../samples/", $p))
    };
}

pub struct Tpls {
    server_detail: Tpl,
    server_detail_new: Tpl,
    server_show: Tpl,
    server_show_new: Tpl,
    flavor: Tpl,
    flavor_new: Tpl,
    keypair_list: Tpl,
    keypair_show: Tpl,
    group: Tpl,
    group_new: Tpl,
    hyp: Tpl,
    hyp_new: Tpl,
    image: Tpl,
    network: Tpl,
    subnet: Tpl,
    port: Tpl,
    router: Tpl,
    fip: Tpl,
    sg: Tpl,
    rule: Tpl,
    volume: Tpl,
    volume_new: Tpl,
    snapshot: Tpl,
    snapshot_new: Tpl,
    stack_list: Tpl,
    stack_show: Tpl,
    res_list: Tpl,
    res_list_nested: Tpl,
    res_show: Tpl,
    project: Tpl,
    project_show: Tpl,
}

const SERVER_VARS: &[&str] = &[
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "created",
    "updated",
    "hostId",
    "key_name",
    "links",
    "flavor",
    "image",
    "addresses",
    "metadata",
    "accessIPv4",
    "accessIPv6",
    "OS-EXT-AZ:availability_zone",
    "OS-EXT-SRV-ATTR:host",
    "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "OS-EXT-SRV-ATTR:instance_name",
    "OS-EXT-SRV-ATTR:hostname",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "OS-EXT-STS:task_state",
    "os-extended-volumes:volumes_attached",
    "OS-SRV-USG:launched_at",
    "pinned_availability_zone",
    "scheduler_hints",
    "security_groups",
    "description",
    "locked_reason",
    "progress",
    "server_groups",
];
const ADMIN_EXTRA: &[&str] = &[
    "OS-EXT-SRV-ATTR:host",
    "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "OS-EXT-SRV-ATTR:instance_name",
];
const FLAVOR_VARS: &[&str] = &[
    "id",
    "name",
    "ram",
    "vcpus",
    "disk",
    "links",
    "swap",
    "description",
];
const KEYPAIR_VARS: &[&str] = &[
    "name",
    "fingerprint",
    "public_key",
    "type",
    "id",
    "user_id",
    "created_at",
];
const GROUP_VARS: &[&str] = &[
    "id",
    "name",
    "policies",
    "policy",
    "rules",
    "members",
    "project_id",
    "user_id",
];
const HYP_VARS: &[&str] = &[
    "id",
    "hypervisor_hostname",
    "host_ip",
    "service/host",
    "service/id",
    "state",
    "status",
    "running_vms",
    "vcpus",
    "memory_mb",
];
const IMAGE_VARS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "created_at",
    "updated_at",
    "self",
    "file",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_value",
    "min_disk",
    "tags",
];
const NET_VARS: &[&str] = &[
    "id",
    "name",
    "project_id",
    "tenant_id",
    "subnets",
    "shared",
    "router:external",
    "created_at",
    "updated_at",
    "revision_number",
    "status",
    "is_default",
    "qos_policy_id",
    "tags",
    "pvlan",
    "dns_domain",
    "description",
];
const SUBNET_VARS: &[&str] = &[
    "id",
    "name",
    "network_id",
    "project_id",
    "tenant_id",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
    "router:external",
];
const PORT_VARS: &[&str] = &[
    "id",
    "name",
    "network_id",
    "project_id",
    "tenant_id",
    "fixed_ips",
    "mac_address",
    "device_id",
    "device_owner",
    "status",
    "security_groups",
    "created_at",
    "updated_at",
    "dns_assignment",
    "dns_name",
    "dns_domain",
    "extra_dhcp_opts",
    "tags",
    "qos_network_policy_id",
    "qos_policy_id",
    "revision_number",
    "port_security_enabled",
    "data_plane_status",
];
const ROUTER_VARS: &[&str] = &[
    "id",
    "name",
    "project_id",
    "tenant_id",
    "external_gateway_info",
    "status",
    "created_at",
    "updated_at",
    "routes",
    "flavor_id",
    "tags",
    "revision_number",
];
const FIP_VARS: &[&str] = &[
    "id",
    "floating_ip_address",
    "fixed_ip_address",
    "port_id",
    "router_id",
    "floating_network_id",
    "status",
    "project_id",
    "tenant_id",
    "port_details",
    "created_at",
    "updated_at",
    "description",
    "dns_name",
    "dns_domain",
    "tags",
    "qos_network_policy_id",
    "qos_policy_id",
    "revision_number",
];
const SG_VARS: &[&str] = &[
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "security_group_rules",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];
const RULE_VARS: &[&str] = &[
    "id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "security_group_id",
    "project_id",
    "tenant_id",
    "created_at",
    "updated_at",
    "revision_number",
    "belongs_to_default_sg",
    "tags",
];
const VOLUME_VARS: &[&str] = &[
    "id",
    "name",
    "status",
    "size",
    "attachments",
    "bootable",
    "created_at",
    "updated_at",
    "links",
    "os-vol-tenant-attr:tenant_id",
    "user_id",
    "volume_type",
    "availability_zone",
    "metadata",
    "os-vol-host-attr:host",
    "description",
    "volume_type_id",
    "shared_targets",
];
const SNAP_VARS: &[&str] = &[
    "id",
    "name",
    "status",
    "size",
    "volume_id",
    "created_at",
    "updated_at",
    "os-extended-snapshot-attributes:project_id",
    "os-extended-snapshot-attributes:progress",
    "description",
    "metadata",
    "user_id",
];
const STACK_VARS: &[&str] = &[
    "id",
    "stack_name",
    "stack_status",
    "stack_status_reason",
    "creation_time",
    "updated_time",
    "links",
    "description",
    "parent",
    "stack_owner",
    "stack_user_project_id",
    "tags",
    "parameters",
    "template_description",
];
const RES_VARS: &[&str] = &[
    "resource_name",
    "logical_resource_id",
    "physical_resource_id",
    "resource_type",
    "resource_status",
    "resource_status_reason",
    "creation_time",
    "updated_time",
    "links",
    "required_by",
    "attributes",
    "description",
    "parent_resource",
];
const PROJECT_VARS: &[&str] = &[
    "id",
    "name",
    "description",
    "domain_id",
    "enabled",
    "links",
    "parent_id",
    "tags",
    "options",
];

pub fn tpls() -> &'static Tpls {
    static T: OnceLock<Tpls> = OnceLock::new();
    T.get_or_init(|| Tpls {
        server_detail: Tpl::new(
            sample!("nova/servers-details-resp.json"),
            "/servers/0",
            SERVER_VARS,
        ),
        server_detail_new: Tpl::with_extra(
            sample!("nova/v2.100/servers-details-resp.json"),
            "/servers/0",
            SERVER_VARS,
            ADMIN_EXTRA,
        ),
        server_show: Tpl::new(sample!("nova/server-get-resp.json"), "/server", SERVER_VARS),
        server_show_new: Tpl::with_extra(
            sample!("nova/v2.100/server-get-resp.json"),
            "/server",
            SERVER_VARS,
            ADMIN_EXTRA,
        ),
        flavor: Tpl::new(
            sample!("nova/flavors-detail-resp.json"),
            "/flavors/0",
            FLAVOR_VARS,
        ),
        flavor_new: Tpl::new(
            sample!("nova/v2.102/flavors-detail-resp.json"),
            "/flavors/0",
            FLAVOR_VARS,
        ),
        keypair_list: Tpl::new(
            sample!("nova/v2.35/keypairs-list-resp.json"),
            "/keypairs/0/keypair",
            KEYPAIR_VARS,
        ),
        keypair_show: Tpl::new(
            sample!("nova/v2.10/keypairs-get-resp.json"),
            "/keypair",
            KEYPAIR_VARS,
        ),
        group: Tpl::new(
            sample!("nova/server-groups-list-resp.json"),
            "/server_groups/0",
            GROUP_VARS,
        ),
        group_new: Tpl::new(
            sample!("nova/v2.64/server-groups-list-resp.json"),
            "/server_groups/0",
            GROUP_VARS,
        ),
        hyp: Tpl::new(
            sample!("nova/hypervisors-detail-resp.json"),
            "/hypervisors/0",
            HYP_VARS,
        ),
        hyp_new: Tpl::new(
            sample!("nova/v2.88/hypervisors-detail-resp.json"),
            "/hypervisors/0",
            HYP_VARS,
        ),
        image: Tpl::new(sample!("glance/image-show-response.json"), "", IMAGE_VARS),
        network: Tpl::new(
            sample!("neutron/network-show-response.json"),
            "/network",
            NET_VARS,
        ),
        subnet: Tpl::new(
            sample!("neutron/subnet-show-response.json"),
            "/subnet",
            SUBNET_VARS,
        ),
        port: Tpl::new(
            sample!("neutron/port-show-response.json"),
            "/port",
            PORT_VARS,
        ),
        router: Tpl::new(
            sample!("neutron/router-show-response.json"),
            "/router",
            ROUTER_VARS,
        ),
        fip: Tpl::new(
            sample!("neutron/floatingip-show-response.json"),
            "/floatingip",
            FIP_VARS,
        ),
        sg: Tpl::new(
            sample!("neutron/security-group-show-response.json"),
            "/security_group",
            SG_VARS,
        ),
        rule: Tpl::new(
            sample!("neutron/security-group-show-response.json"),
            "/security_group/security_group_rules/0",
            RULE_VARS,
        ),
        volume: Tpl::new(
            sample!("cinder/volume-show-response.json"),
            "/volume",
            VOLUME_VARS,
        ),
        volume_new: Tpl::new(
            sample!("cinder/v3.69/volume-show-response.json"),
            "/volume",
            VOLUME_VARS,
        ),
        snapshot: Tpl::new(
            sample!("cinder/snapshot-show-response.json"),
            "/snapshot",
            SNAP_VARS,
        ),
        snapshot_new: Tpl::new(
            sample!("cinder/v3.65/snapshot-show-response.json"),
            "/snapshot",
            SNAP_VARS,
        ),
        stack_list: Tpl::new(
            sample!("heat/stacks-list-response.json"),
            "/stacks/0",
            STACK_VARS,
        ),
        stack_show: Tpl::new(
            sample!("heat/stack-show-response.json"),
            "/stack",
            STACK_VARS,
        ),
        res_list: Tpl::new(
            sample!("heat/resources-list-response.json"),
            "/resources/0",
            RES_VARS,
        ),
        res_list_nested: Tpl::with_extra(
            sample!("heat/resources-list-response.json"),
            "/resources/0",
            RES_VARS,
            &["parent_resource"],
        ),
        res_show: Tpl::new(
            sample!("heat/resource-show-response.json"),
            "/resource",
            RES_VARS,
        ),
        project: Tpl::new(
            sample!("keystone/projects-list-response.json"),
            "/projects/0",
            PROJECT_VARS,
        ),
        project_show: Tpl::new(
            sample!("keystone/project-show-response.json"),
            "/project",
            PROJECT_VARS,
        ),
    })
}

/// Rendering context for one request.
pub struct Cx<'a> {
    pub st: &'a Store,
    pub base: &'a str,
    /// Negotiated nova microversion.
    pub nova: (u32, u32),
    /// Negotiated cinder microversion.
    pub cinder: (u32, u32),
}

/// Show (single object) or list element.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    List,
    Show,
}

fn links(out: &mut String, pairs: &[(&str, &str)]) {
    out.push('[');
    for (i, (href, rel)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"href\":");
        push_json_str(out, href);
        out.push_str(",\"rel\":\"");
        out.push_str(rel);
        out.push_str("\"}");
    }
    out.push(']');
}

fn str_list(out: &mut String, items: impl IntoIterator<Item = impl AsRef<str>>) {
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, s.as_ref());
    }
    out.push(']');
}

impl Cx<'_> {
    fn nova_ge(&self, maj: u32, min: u32) -> bool {
        self.nova >= (maj, min)
    }

    fn live(&self, k: Kind, i: u32) -> Option<&Item> {
        let it = self.st.item(k, i);
        (!it.deleted).then_some(it)
    }

    /// Render item `i` of kind `k` into `out`.
    pub fn render(&self, k: Kind, i: u32, shape: Shape, vals: &mut Vals, out: &mut String) {
        let t = tpls();
        let it = self.st.item(k, i);
        let pid = self.st.project_id(it.project);
        let upd = it.updated();
        match k {
            Kind::Server => self.server(it, i, shape, vals, out),
            Kind::Flavor => {
                let tpl = if self.nova_ge(2, 102) {
                    &t.flavor_new
                } else {
                    &t.flavor
                };
                let Data::Flavor { vcpus, ram, disk } = it.d else {
                    return;
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.n("ram", ram as i64);
                s.n("vcpus", vcpus as i64);
                s.n("disk", disk as i64);
                s.with("links", |b| {
                    links(
                        b,
                        &[
                            (
                                &format!("{}/compute/v2.1/flavors/{}", self.base, it.id),
                                "self",
                            ),
                            (
                                &format!("{}/compute/flavors/{}", self.base, it.id),
                                "bookmark",
                            ),
                        ],
                    )
                });
                if self.nova_ge(2, 75) {
                    s.n("swap", 0);
                } else {
                    s.s("swap", "");
                }
                s.os("description", None);
                tpl.render(vals, out);
            }
            Kind::Keypair => {
                let tpl = if shape == Shape::Show {
                    &t.keypair_show
                } else {
                    &t.keypair_list
                };
                let mut s = Set::new(tpl, vals);
                s.s("name", &it.name);
                let fp = hexn(self.st.seed, 201, i as u64, 32);
                let fp: Vec<&str> = (0..16).map(|j| &fp[j * 2..j * 2 + 2]).collect();
                s.s("fingerprint", &fp.join(":"));
                s.s(
                    "public_key",
                    &format!(
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} {}@testcloud\n",
                        hexn(self.st.seed, 202, i as u64, 43),
                        it.name
                    ),
                );
                s.s("type", "ssh");
                s.n("id", i as i64 + 1);
                s.s("user_id", &self.st.admin_user_id);
                s.s("created_at", &ts(it.created, Ts::Micro));
                tpl.render(vals, out);
            }
            Kind::ServerGroup => {
                let tpl = if self.nova_ge(2, 64) {
                    &t.group_new
                } else {
                    &t.group
                };
                let Data::ServerGroup { policy } = it.d else {
                    return;
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.with("policies", |b| str_list(b, [policy]));
                s.s("policy", policy);
                s.raw("rules", "{}");
                s.raw("members", "[]");
                s.s("project_id", pid);
                s.s("user_id", &self.st.admin_user_id);
                tpl.render(vals, out);
            }
            Kind::Hypervisor => {
                let new = self.nova_ge(2, 53);
                let tpl = if new { &t.hyp_new } else { &t.hyp };
                let mut s = Set::new(tpl, vals);
                if new {
                    s.s("id", &it.id);
                    s.s(
                        "service/id",
                        &crate::util::uuid(self.st.seed, 203, i as u64),
                    );
                } else {
                    s.n("id", i as i64 + 1);
                    s.n("service/id", i as i64 + 1000);
                }
                s.s("hypervisor_hostname", &it.name);
                s.s("service/host", it.name.split('.').next().unwrap_or(""));
                s.s(
                    "host_ip",
                    &format!("192.168.{}.{}", (i / 250) % 250, 10 + i % 240),
                );
                s.s("state", "up");
                s.s("status", &it.status);
                s.n("vcpus", 64);
                s.n("memory_mb", 262_144);
                tpl.render(vals, out);
            }
            Kind::Image => {
                let Data::Image { public, size } = it.d else {
                    return;
                };
                let tpl = &t.image;
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("status", &it.status);
                s.s("visibility", if public { "public" } else { "private" });
                s.s("owner", pid);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.s("self", &format!("/v2/images/{}", it.id));
                s.s("file", &format!("/v2/images/{}/file", it.id));
                s.n("size", size as i64);
                s.n("virtual_size", (size * 3) as i64);
                s.s("checksum", &hexn(self.st.seed, 204, i as u64, 32));
                s.s("os_hash_value", &hexn(self.st.seed, 205, i as u64, 128));
                s.n("min_disk", 1);
                s.raw("tags", "[]");
                tpl.render(vals, out);
            }
            Kind::Network => {
                let Data::Network {
                    subnets,
                    external,
                    shared,
                } = &it.d
                else {
                    return;
                };
                let tpl = &t.network;
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.with("subnets", |b| {
                    str_list(
                        b,
                        subnets
                            .iter()
                            .filter_map(|&x| self.live(Kind::Subnet, x))
                            .map(|x| x.id.as_str()),
                    )
                });
                s.b("shared", *shared);
                s.b("router:external", *external);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.n("revision_number", 1 + it.rev as i64);
                s.s("status", &it.status);
                s.b("is_default", *external);
                s.raw("qos_policy_id", "null");
                s.raw("tags", "[]");
                s.b("pvlan", false);
                s.s("dns_domain", "");
                s.s("description", "");
                tpl.render(vals, out);
            }
            Kind::Subnet => {
                let Data::Subnet {
                    network, net_no, ..
                } = it.d
                else {
                    return;
                };
                let tpl = &t.subnet;
                let cidr = subnet_cidr(net_no);
                let pre = &cidr[..cidr.len() - 4];
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("network_id", &self.st.item(Kind::Network, network).id);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.s("cidr", &cidr);
                s.s("gateway_ip", &format!("{pre}1"));
                s.with("allocation_pools", |b| {
                    let _ = write!(b, "[{{\"start\":\"{pre}2\",\"end\":\"{pre}254\"}}]");
                });
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.n("revision_number", 1 + it.rev as i64);
                s.raw("tags", "[]");
                s.b("router:external", network == 0);
                tpl.render(vals, out);
            }
            Kind::Port => {
                let Data::Port {
                    network,
                    subnet,
                    ip,
                    mac,
                    device,
                    sgs,
                } = &it.d
                else {
                    return;
                };
                let tpl = &t.port;
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("network_id", &self.st.item(Kind::Network, *network).id);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.with("fixed_ips", |b| match subnet {
                    Some(sn) => {
                        let _ = write!(
                            b,
                            "[{{\"ip_address\":\"{ip}\",\"subnet_id\":\"{}\"}}]",
                            self.st.item(Kind::Subnet, *sn).id
                        );
                    }
                    None => b.push_str("[]"),
                });
                s.s("mac_address", mac);
                let (dev, owner) = match device {
                    Device::Server(x) => {
                        (self.st.item(Kind::Server, *x).id.as_str(), "compute:nova")
                    }
                    Device::Router(x) => (
                        self.st.item(Kind::Router, *x).id.as_str(),
                        "network:router_interface",
                    ),
                    Device::Dhcp => ("dhcp-agent", "network:dhcp"),
                    Device::None => ("", ""),
                };
                s.s("device_id", dev);
                s.s("device_owner", owner);
                s.s("status", &it.status);
                s.with("security_groups", |b| {
                    str_list(
                        b,
                        sgs.iter()
                            .map(|&g| self.st.item(Kind::SecurityGroup, g).id.as_str()),
                    )
                });
                s.s("created_at", &ts(it.created, Ts::Naive));
                s.s("updated_at", &ts(upd, Ts::Naive));
                let host = format!("host-{}", ip.replace('.', "-"));
                s.with("dns_assignment", |b| {
                    if subnet.is_some() {
                        let _ = write!(
                            b,
                            "[{{\"hostname\":\"{host}\",\"ip_address\":\"{ip}\",\"fqdn\":\"{host}.cloud.test.\"}}]"
                        );
                    } else {
                        b.push_str("[]");
                    }
                });
                s.s("dns_name", "");
                s.s("dns_domain", "");
                s.raw("extra_dhcp_opts", "[]");
                s.raw("tags", "[]");
                s.raw("qos_network_policy_id", "null");
                s.raw("qos_policy_id", "null");
                s.n("revision_number", 1 + it.rev as i64);
                s.b("port_security_enabled", true);
                s.raw("data_plane_status", "null");
                tpl.render(vals, out);
            }
            Kind::Router => {
                let Data::Router { gw_network, ip } = &it.d else {
                    return;
                };
                let tpl = &t.router;
                let net = self.st.item(Kind::Network, *gw_network);
                let sub = match &net.d {
                    Data::Network { subnets, .. } => subnets
                        .first()
                        .map(|&x| self.st.item(Kind::Subnet, x).id.as_str()),
                    _ => None,
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.with("external_gateway_info", |b| {
                    let _ = write!(
                        b,
                        "{{\"enable_snat\":true,\"external_fixed_ips\":[{{\"ip_address\":\"{ip}\",\"subnet_id\":\"{}\"}}],\"network_id\":\"{}\"}}",
                        sub.unwrap_or(""),
                        net.id
                    );
                });
                s.s("status", &it.status);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.raw("routes", "[]");
                s.raw("flavor_id", "null");
                s.raw("tags", "[]");
                s.n("revision_number", 1 + it.rev as i64);
                tpl.render(vals, out);
            }
            Kind::FloatingIp => {
                let Data::FloatingIp {
                    port,
                    router,
                    network,
                    ip,
                } = &it.d
                else {
                    return;
                };
                let tpl = &t.fip;
                let pt = port.map(|p| self.st.item(Kind::Port, p));
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("floating_ip_address", ip);
                match pt.map(|p| (p, &p.d)) {
                    Some((
                        p,
                        Data::Port {
                            ip: fixed,
                            mac,
                            network: pn,
                            device,
                            ..
                        },
                    )) => {
                        s.s("fixed_ip_address", fixed);
                        s.s("port_id", &p.id);
                        let dev = match device {
                            Device::Server(x) => self.st.item(Kind::Server, *x).id.as_str(),
                            _ => "",
                        };
                        let pnet = &self.st.item(Kind::Network, *pn).id;
                        s.with("port_details", |b| {
                            let _ = write!(
                                b,
                                "{{\"status\":\"ACTIVE\",\"name\":\"\",\"admin_state_up\":true,\"network_id\":\"{pnet}\",\"device_owner\":\"compute:nova\",\"mac_address\":\"{mac}\",\"device_id\":\"{dev}\"}}"
                            );
                        });
                    }
                    _ => {
                        s.raw("fixed_ip_address", "null");
                        s.raw("port_id", "null");
                        s.raw("port_details", "null");
                    }
                }
                s.os(
                    "router_id",
                    router.map(|r| self.st.item(Kind::Router, r).id.as_str()),
                );
                s.s(
                    "floating_network_id",
                    &self.st.item(Kind::Network, *network).id,
                );
                s.s("status", &it.status);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.s("description", &it.name);
                s.s("dns_name", "");
                s.s("dns_domain", "");
                s.raw("tags", "[]");
                s.raw("qos_network_policy_id", "null");
                s.raw("qos_policy_id", "null");
                s.n("revision_number", 1 + it.rev as i64);
                tpl.render(vals, out);
            }
            Kind::SecurityGroup => {
                let Data::SecurityGroup { rules } = &it.d else {
                    return;
                };
                // Rules are rendered into a separate buffer first (they use their own template).
                let mut rb = String::with_capacity(rules.len() * 450);
                let mut rv = t.rule.vals();
                rb.push('[');
                let mut first = true;
                for &r in rules {
                    if self.st.item(Kind::SecurityGroupRule, r).deleted {
                        continue;
                    }
                    if !first {
                        rb.push(',');
                    }
                    first = false;
                    self.render(Kind::SecurityGroupRule, r, Shape::List, &mut rv, &mut rb);
                }
                rb.push(']');
                let tpl = &t.sg;
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("description", &it.name);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.raw("security_group_rules", &rb);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.n("revision_number", 1 + it.rev as i64);
                s.raw("tags", "[]");
                tpl.render(vals, out);
            }
            Kind::SecurityGroupRule => {
                let Data::Rule { group, n } = it.d else {
                    return;
                };
                let g = self.st.item(Kind::SecurityGroup, group);
                let tpl = &t.rule;
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                let (dir, eth, proto, port): (&str, &str, Option<&str>, Option<i64>) = match n % 4 {
                    0 => ("egress", "IPv4", None, None),
                    1 => ("egress", "IPv6", None, None),
                    2 => ("ingress", "IPv4", Some("tcp"), Some(22)),
                    _ => ("ingress", "IPv4", Some("tcp"), Some(443)),
                };
                s.s("direction", dir);
                s.s("ethertype", eth);
                s.os("protocol", proto);
                match port {
                    Some(p) => {
                        s.n("port_range_min", p);
                        s.n("port_range_max", p);
                        s.s("remote_ip_prefix", "0.0.0.0/0");
                    }
                    None => {
                        s.raw("port_range_min", "null");
                        s.raw("port_range_max", "null");
                        s.raw("remote_ip_prefix", "null");
                    }
                }
                s.raw("remote_group_id", "null");
                s.s("security_group_id", &g.id);
                s.s("project_id", pid);
                s.s("tenant_id", pid);
                s.s("created_at", &ts(it.created, Ts::Z));
                s.s("updated_at", &ts(upd, Ts::Z));
                s.n("revision_number", 1 + it.rev as i64);
                s.b("belongs_to_default_sg", g.name == "default");
                s.raw("tags", "[]");
                tpl.render(vals, out);
            }
            Kind::Volume => {
                let Data::Volume {
                    server,
                    size,
                    bootable,
                } = it.d
                else {
                    return;
                };
                let tpl = if self.cinder >= (3, 63) {
                    &t.volume_new
                } else {
                    &t.volume
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("status", &it.status);
                s.n("size", size as i64);
                s.with("attachments", |b| match server.and_then(|x| self.live(Kind::Server, x)) {
                    Some(sv) => {
                        let _ = write!(
                            b,
                            "[{{\"id\":\"{id}\",\"attachment_id\":\"{}\",\"volume_id\":\"{id}\",\"server_id\":\"{}\",\"host_name\":null,\"device\":\"/dev/vdb\",\"attached_at\":\"{}\"}}]",
                            crate::util::uuid(self.st.seed, 206, i as u64),
                            sv.id,
                            ts(it.created + 60, Ts::Micro),
                            id = it.id
                        );
                    }
                    None => b.push_str("[]"),
                });
                s.s("bootable", if bootable { "true" } else { "false" });
                s.s("created_at", &ts(it.created, Ts::Micro));
                if it.rev == 0 {
                    s.raw("updated_at", "null");
                } else {
                    s.s("updated_at", &ts(upd, Ts::Micro));
                }
                s.with("links", |b| {
                    links(
                        b,
                        &[
                            (
                                &format!("{}/volume/v3/{pid}/volumes/{}", self.base, it.id),
                                "self",
                            ),
                            (
                                &format!("{}/volume/{pid}/volumes/{}", self.base, it.id),
                                "bookmark",
                            ),
                        ],
                    )
                });
                s.s("os-vol-tenant-attr:tenant_id", pid);
                s.s("user_id", &self.st.admin_user_id);
                s.s("volume_type", "__DEFAULT__");
                s.s("availability_zone", "nova");
                s.raw("metadata", "{}");
                s.s("os-vol-host-attr:host", "cinder-volume@lvm#lvm");
                s.raw("description", "null");
                s.s("volume_type_id", &crate::util::uuid(self.st.seed, 207, 0));
                s.raw("shared_targets", "null");
                tpl.render(vals, out);
            }
            Kind::Snapshot => {
                let Data::Snapshot { volume, size } = it.d else {
                    return;
                };
                let tpl = if self.cinder >= (3, 65) {
                    &t.snapshot_new
                } else {
                    &t.snapshot
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.s("status", &it.status);
                s.n("size", size as i64);
                s.s("volume_id", &self.st.item(Kind::Volume, volume).id);
                s.s("created_at", &ts(it.created, Ts::Micro));
                if it.rev == 0 {
                    s.raw("updated_at", "null");
                } else {
                    s.s("updated_at", &ts(upd, Ts::Micro));
                }
                s.s("os-extended-snapshot-attributes:project_id", pid);
                s.s("os-extended-snapshot-attributes:progress", "100%");
                s.raw("description", "null");
                s.raw("metadata", "{}");
                s.s("user_id", &self.st.admin_user_id);
                tpl.render(vals, out);
            }
            Kind::Stack => {
                let Data::Stack { parent, .. } = &it.d else {
                    return;
                };
                let tpl = if shape == Shape::Show {
                    &t.stack_show
                } else {
                    &t.stack_list
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("stack_name", &it.name);
                s.s("stack_status", &it.status);
                s.s(
                    "stack_status_reason",
                    if it.status.ends_with("COMPLETE") {
                        "Stack CREATE completed successfully"
                    } else {
                        "Stack CREATE started"
                    },
                );
                s.s("creation_time", &ts(it.created, Ts::Z));
                if it.rev == 0 {
                    s.raw("updated_time", "null");
                } else {
                    s.s("updated_time", &ts(upd, Ts::Z));
                }
                s.with("links", |b| links(b, &[(&self.stack_url(it), "self")]));
                s.s("description", "generated stack");
                s.os(
                    "parent",
                    parent
                        .as_ref()
                        .map(|(p, _)| self.st.item(Kind::Stack, *p).id.as_str()),
                );
                s.s("stack_owner", "admin");
                s.s(
                    "stack_user_project_id",
                    &crate::util::hex32(self.st.seed, 208, it.project as u64),
                );
                s.raw("tags", "null");
                s.with("parameters", |b| {
                    let _ = write!(
                        b,
                        "{{\"OS::project_id\":\"{pid}\",\"OS::stack_id\":\"{}\",\"OS::stack_name\":",
                        it.id
                    );
                    push_json_str(b, &it.name);
                    b.push('}');
                });
                s.s("template_description", "generated stack");
                tpl.render(vals, out);
            }
            Kind::Project => {
                let tpl = if shape == Shape::Show {
                    &t.project_show
                } else {
                    &t.project
                };
                let mut s = Set::new(tpl, vals);
                s.s("id", &it.id);
                s.s("name", &it.name);
                s.os("description", None);
                s.s("domain_id", "default");
                s.b("enabled", true);
                s.with("links", |b| {
                    let _ = write!(
                        b,
                        "{{\"self\":\"{}/identity/v3/projects/{}\"}}",
                        self.base, it.id
                    );
                });
                s.s("parent_id", "default");
                s.raw("tags", "[]");
                s.raw("options", "{}");
                tpl.render(vals, out);
            }
        }
    }

    pub fn stack_url(&self, st: &Item) -> String {
        format!(
            "{}/heat/v1/{}/stacks/{}/{}",
            self.base,
            self.st.project_id(st.project),
            st.name,
            st.id
        )
    }

    /// Render a heat resource of stack `stack`.
    pub fn render_resource(
        &self,
        stack: &Item,
        r: &StackRes,
        parent_resource: Option<&str>,
        shape: Shape,
        vals: &mut Vals,
        out: &mut String,
    ) {
        let t = tpls();
        let tpl = match (shape, parent_resource) {
            (Shape::Show, _) => &t.res_show,
            (_, Some(_)) => &t.res_list_nested,
            _ => &t.res_list,
        };
        let surl = self.stack_url(stack);
        let mut s = Set::new(tpl, vals);
        s.s("resource_name", &r.name);
        s.s("logical_resource_id", &r.name);
        let phys = match &r.phys {
            Phys::Empty => String::new(),
            Phys::Text(x) => x.clone(),
            Phys::Ref(k, i) => self.st.item(*k, *i).id.clone(),
        };
        s.s("physical_resource_id", &phys);
        s.s("resource_type", &r.rtype);
        s.s("resource_status", &r.status);
        s.s(
            "resource_status_reason",
            if r.status.ends_with("COMPLETE") {
                "state changed"
            } else {
                ""
            },
        );
        s.s("creation_time", &ts(stack.created + 5, Ts::Naive));
        s.s("updated_time", &ts(stack.updated(), Ts::Naive));
        s.with("links", |b| {
            let me = format!("{surl}/resources/{}", r.name);
            match &r.phys {
                Phys::Ref(Kind::Stack, c) => {
                    let child = self.st.item(Kind::Stack, *c);
                    links(
                        b,
                        &[
                            (&me, "self"),
                            (&surl, "stack"),
                            (&self.stack_url(child), "nested"),
                        ],
                    )
                }
                _ => links(b, &[(&me, "self"), (&surl, "stack")]),
            }
        });
        s.raw("required_by", "[]");
        s.raw("attributes", "{}");
        s.s("description", "");
        if let Some(p) = parent_resource {
            s.s("parent_resource", p);
        }
        tpl.render(vals, out);
    }

    fn server(&self, it: &Item, i: u32, shape: Shape, vals: &mut Vals, out: &mut String) {
        let t = tpls();
        let new = self.nova_ge(2, 47);
        let tpl = match (shape, new) {
            (Shape::Show, true) => &t.server_show_new,
            (Shape::Show, false) => &t.server_show,
            (Shape::List, true) => &t.server_detail_new,
            (Shape::List, false) => &t.server_detail,
        };
        let Data::Server {
            flavor,
            image,
            ports,
            volumes,
            hypervisor,
            keypair,
        } = &it.d
        else {
            return;
        };
        let st = self.st;
        let pid = st.project_id(it.project);
        let hyp = st.item(Kind::Hypervisor, *hypervisor);
        let fl = st.item(Kind::Flavor, *flavor);
        let mut s = Set::new(tpl, vals);
        s.s("id", &it.id);
        s.s("name", &it.name);
        s.s("status", &it.status);
        s.s("tenant_id", pid);
        s.s("user_id", &st.admin_user_id);
        s.s("created", &ts(it.created, Ts::Z));
        s.s("updated", &ts(it.updated(), Ts::Z));
        s.s(
            "hostId",
            &hexn(
                st.seed,
                209,
                (it.project as u64) << 20 | *hypervisor as u64,
                56,
            ),
        );
        s.os(
            "key_name",
            keypair.map(|k| st.item(Kind::Keypair, k).name.as_str()),
        );
        s.with("links", |b| {
            links(
                b,
                &[
                    (
                        &format!("{}/compute/v2.1/servers/{}", self.base, it.id),
                        "self",
                    ),
                    (
                        &format!("{}/compute/servers/{}", self.base, it.id),
                        "bookmark",
                    ),
                ],
            )
        });
        s.with("flavor", |b| {
            if let Data::Flavor { vcpus, ram, disk } = fl.d {
                if new {
                    let _ = write!(
                        b,
                        "{{\"disk\":{disk},\"ephemeral\":0,\"extra_specs\":{{}},\"original_name\":"
                    );
                    push_json_str(b, &fl.name);
                    let _ = write!(b, ",\"ram\":{ram},\"swap\":0,\"vcpus\":{vcpus}}}");
                } else {
                    let _ = write!(b, "{{\"id\":\"{}\",\"links\":", fl.id);
                    links(
                        b,
                        &[(
                            &format!("{}/compute/flavors/{}", self.base, fl.id),
                            "bookmark",
                        )],
                    );
                    b.push('}');
                }
            }
        });
        s.with("image", |b| match image {
            Some(im) => {
                let im = &st.item(Kind::Image, *im).id;
                let _ = write!(b, "{{\"id\":\"{im}\",\"links\":");
                links(
                    b,
                    &[(&format!("{}/compute/images/{im}", self.base), "bookmark")],
                );
                if self.nova_ge(2, 98) {
                    b.push_str(",\"properties\":{}");
                }
                b.push('}');
            }
            None => b.push_str("\"\""),
        });
        s.with("addresses", |b| {
            // Grouped by network name.
            let mut groups: Vec<(&str, Vec<&Item>)> = Vec::new();
            for &p in ports {
                let pt = st.item(Kind::Port, p);
                if pt.deleted {
                    continue;
                }
                if let Data::Port { network, .. } = &pt.d {
                    let nn = st.item(Kind::Network, *network).name.as_str();
                    match groups.iter_mut().find(|(n, _)| *n == nn) {
                        Some(g) => g.1.push(pt),
                        None => groups.push((nn, vec![pt])),
                    }
                }
            }
            b.push('{');
            for (gi, (nn, pts)) in groups.iter().enumerate() {
                if gi > 0 {
                    b.push(',');
                }
                push_json_str(b, nn);
                b.push_str(":[");
                for (pi, pt) in pts.iter().enumerate() {
                    if pi > 0 {
                        b.push(',');
                    }
                    if let Data::Port { ip, mac, .. } = &pt.d {
                        let _ = write!(
                            b,
                            "{{\"addr\":\"{ip}\",\"OS-EXT-IPS-MAC:mac_addr\":\"{mac}\",\"OS-EXT-IPS:type\":\"fixed\",\"version\":4}}"
                        );
                    }
                }
                b.push(']');
            }
            b.push('}');
        });
        s.with("metadata", |b| {
            let _ = write!(
                b,
                "{{\"role\":\"{}\"}}",
                ["web", "db", "cache", "worker"][i as usize % 4]
            );
        });
        s.s("accessIPv4", "");
        s.s("accessIPv6", "");
        s.s("OS-EXT-AZ:availability_zone", "nova");
        let short = hyp.name.split('.').next().unwrap_or("");
        s.s("OS-EXT-SRV-ATTR:host", short);
        s.s("OS-EXT-SRV-ATTR:hypervisor_hostname", &hyp.name);
        s.s(
            "OS-EXT-SRV-ATTR:instance_name",
            &format!("instance-{:08x}", i + 1),
        );
        s.s("OS-EXT-SRV-ATTR:hostname", &it.name);
        let (vm, power, task) = match &*it.status {
            "ACTIVE" => ("active", 1, None),
            "SHUTOFF" => ("stopped", 4, None),
            "ERROR" => ("error", 0, None),
            "BUILD" => ("building", 0, Some("spawning")),
            _ => ("active", 1, None),
        };
        s.s("OS-EXT-STS:vm_state", vm);
        s.n("OS-EXT-STS:power_state", power);
        s.os("OS-EXT-STS:task_state", task);
        s.with("os-extended-volumes:volumes_attached", |b| {
            b.push('[');
            let mut first = true;
            for &v in volumes {
                let vo = st.item(Kind::Volume, v);
                if vo.deleted {
                    continue;
                }
                if !first {
                    b.push(',');
                }
                first = false;
                if self.nova_ge(2, 3) {
                    let _ = write!(
                        b,
                        "{{\"id\":\"{}\",\"delete_on_termination\":false}}",
                        vo.id
                    );
                } else {
                    let _ = write!(b, "{{\"id\":\"{}\"}}", vo.id);
                }
            }
            b.push(']');
        });
        s.s("OS-SRV-USG:launched_at", &ts(it.created + 30, Ts::Micro));
        s.raw("pinned_availability_zone", "null");
        s.raw("scheduler_hints", "{}");
        s.raw("security_groups", "[{\"name\":\"default\"}]");
        s.raw("description", "null");
        s.raw("locked_reason", "null");
        s.n("progress", if it.status == "ACTIVE" { 100 } else { 0 });
        s.raw("server_groups", "[]");
        tpl.render(vals, out);
    }
}
