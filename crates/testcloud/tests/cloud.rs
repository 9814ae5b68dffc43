mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{password_body, raw, C};
use serde_json::{json, Value};
use syncer_testcloud::{
    heat_type_kind, Counts, Fault, FaultRule, Kind, TestCloud, TestCloudConfig,
};

fn counts() -> Counts {
    Counts {
        projects: 3,
        servers: 50,
        flavors: 12,
        keypairs: 7,
        server_groups: 9,
        hypervisors: 6,
        images: 20,
        networks: 10,
        subnets: 10,
        ports: 125,
        routers: 3,
        floating_ips: 12,
        security_groups: 6,
        security_group_rules: 24,
        volumes: 25,
        snapshots: 12,
        stacks: 13,
        resources_per_stack: 10,
    }
}

fn cloud() -> C {
    C::new(TestCloudConfig {
        counts: Some(counts()),
        seed: 7,
        ..Default::default()
    })
}

/// Follow `<key>_links` next links (nova/cinder style); returns (ids, number of pages, last page length).
fn walk_links(c: &C, first: &str, key: &str, hdr: &[(&str, &str)]) -> (Vec<String>, usize, usize) {
    let mut url = first.to_string();
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let r = c.get_h(&url, hdr);
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let v = r.json();
        pages += 1;
        let items = v[key].as_array().unwrap();
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        let next = v[format!("{key}_links")]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["rel"] == "next"))
            .map(|x| x["href"].as_str().unwrap().to_string());
        match next {
            Some(n) => url = n,
            None => return (ids, pages, items.len()),
        }
        assert!(pages < 1000);
    }
}

fn set(v: &[String]) -> HashSet<String> {
    v.iter().cloned().collect()
}

#[test]
fn auth_password_app_credential_and_bad() {
    let c = cloud();
    let cr = c.cloud.credentials();
    let a = c.cloud.addr();
    let bad = raw(
        a,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("admin", "wrong", "admin")),
    )
    .unwrap();
    assert_eq!(bad.status, 401);
    assert!(bad.header("x-subject-token").is_none());
    let bad_user = raw(
        a,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("nobody", &cr.password, "admin")),
    )
    .unwrap();
    assert_eq!(bad_user.status, 401);
    let ok = raw(
        a,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("admin", &cr.password, "admin")),
    )
    .unwrap();
    assert_eq!(ok.status, 201);
    let t = ok.json();
    assert_eq!(t["token"]["project"]["id"], cr.project_id);
    assert_eq!(t["token"]["methods"], json!(["password"]));
    assert!(t["token"]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(t["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "admin"));

    let ac = |secret: &str| {
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": cr.application_credential_id, "secret": secret}}}})
        .to_string()
    };
    let r = raw(
        a,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&ac(&cr.application_credential_secret)),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let tok = r.header("x-subject-token").unwrap().to_string();
    assert_eq!(
        r.json()["token"]["methods"],
        json!(["application_credential"])
    );
    let r = raw(
        a,
        "GET",
        "/compute/v2.1/flavors/detail",
        &[("X-Auth-Token", &tok)],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let r = raw(
        a,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&ac("nope")),
    )
    .unwrap();
    assert_eq!(r.status, 401);

    // Missing / unknown token.
    assert_eq!(
        raw(a, "GET", "/compute/v2.1/servers/detail", &[], None)
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        raw(
            a,
            "GET",
            "/network/v2.0/ports",
            &[("X-Auth-Token", "bogus")],
            None
        )
        .unwrap()
        .status,
        401
    );
    // Version documents need no token.
    assert_eq!(raw(a, "GET", "/compute/", &[], None).unwrap().status, 200);
}

#[test]
fn catalog_shapes() {
    let c = cloud();
    let cr = c.cloud.credentials();
    let r = raw(
        c.cloud.addr(),
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("admin", &cr.password, "admin")),
    )
    .unwrap();
    let cat = r.json()["token"]["catalog"].as_array().unwrap().clone();
    let url = |ty: &str, iface: &str| -> String {
        let s = cat
            .iter()
            .find(|s| s["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty}"));
        let e = s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["interface"] == iface)
            .unwrap();
        assert_eq!(e["region"], "RegionOne");
        assert_eq!(e["region_id"], "RegionOne");
        e["url"].as_str().unwrap().to_string()
    };
    let b = &c.base;
    let p = &cr.project_id;
    assert_eq!(url("identity", "public"), format!("{b}/identity/v3"));
    assert_eq!(url("compute", "public"), format!("{b}/compute/v2.1"));
    assert_eq!(url("compute", "internal"), format!("{b}/compute/v2.1"));
    assert_eq!(url("image", "public"), format!("{b}/image"));
    assert_eq!(url("network", "public"), format!("{b}/network"));
    assert_eq!(url("volumev3", "public"), format!("{b}/volume/v3/{p}"));
    assert_eq!(url("block-storage", "public"), url("volumev3", "public"));
    assert_eq!(
        url("block-storage", "internal"),
        format!("{b}/volume/v3/{p}")
    );
    assert_eq!(url("orchestration", "public"), format!("{b}/heat/v1/{p}"));
    assert_eq!(c.cloud.auth_url(), format!("{b}/identity/v3"));
}

#[test]
fn nova_pagination_full_page_rule_and_all_tenants() {
    let c = cloud();
    let all = c.cloud.ids(Kind::Server);
    assert_eq!(all.len(), 50);
    // 50 servers, limit 10: five full pages, each with a next link, then an empty final page.
    let (ids, pages, last) = walk_links(
        &c,
        "/compute/v2.1/servers/detail?all_tenants=1&limit=10",
        "servers",
        &[],
    );
    assert_eq!(ids, all);
    assert_eq!((pages, last), (6, 0));
    // limit 15: 15,15,15,5 -> the short page has no link.
    let (ids, pages, last) = walk_links(
        &c,
        "/compute/v2.1/servers/detail?all_tenants=1&limit=15",
        "servers",
        &[],
    );
    assert_eq!(set(&ids), set(&all));
    assert_eq!((pages, last), (4, 5));
    // Without all_tenants: only the token's project.
    let mine = c.cloud.ids_in_project(Kind::Server, &c.admin_pid());
    assert!(!mine.is_empty() && mine.len() < all.len());
    let (ids, _, _) = walk_links(&c, "/compute/v2.1/servers/detail?limit=4", "servers", &[]);
    assert_eq!(ids, mine);
    // The next link keeps all_tenants.
    let v = c
        .get("/compute/v2.1/servers/detail?all_tenants=1&limit=2")
        .json();
    let href = v["servers_links"][0]["href"].as_str().unwrap();
    assert!(href.starts_with(&format!("{}/compute/v2.1/servers/detail?", c.base)));
    assert!(
        href.contains("all_tenants=1")
            && href.contains("limit=2")
            && href.contains(&format!("marker={}", all[1]))
    );
    // Without limit: up to max_limit, link when full (not full here).
    let v = c.get("/compute/v2.1/servers/detail?all_tenants=1").json();
    assert_eq!(v["servers"].as_array().unwrap().len(), 50);
    assert!(v.get("servers_links").is_none());
    // Unknown marker: 400.
    assert_eq!(
        c.get("/compute/v2.1/servers/detail?marker=nope").status,
        400
    );
    // Flavors, keypairs (2.35) and hypervisors (2.53) paginate the same way.
    let (f, _, last) = walk_links(&c, "/compute/v2.1/flavors/detail?limit=4", "flavors", &[]);
    assert_eq!((f.len(), last), (12, 0));
    let h = [("OpenStack-API-Version", "compute 2.88")];
    let (hy, pages, _) = walk_links(
        &c,
        "/compute/v2.1/os-hypervisors/detail?limit=3",
        "hypervisors",
        &h,
    );
    assert_eq!((hy.len(), pages), (6, 3));
    let mut url = "/compute/v2.1/os-keypairs?limit=3".to_string();
    let mut names = vec![];
    loop {
        let v = c
            .get_h(&url, &[("OpenStack-API-Version", "compute 2.35")])
            .json();
        let ks = v["keypairs"].as_array().unwrap();
        names.extend(
            ks.iter()
                .map(|k| k["keypair"]["name"].as_str().unwrap().to_string()),
        );
        match v["keypairs_links"].as_array() {
            Some(l) => url = l[0]["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(names, c.cloud.ids(Kind::Keypair));
    // Server groups: offset paging, no links.
    let v = c
        .get("/compute/v2.1/os-server-groups?all_projects=True&limit=5&offset=5")
        .json();
    assert_eq!(v["server_groups"].as_array().unwrap().len(), 4);
    assert!(v.get("server_groups_links").is_none());
    let mine = c.get("/compute/v2.1/os-server-groups").json()["server_groups"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(mine, 3);
}

#[test]
fn glance_pagination_relative_next_and_bare_show() {
    let c = cloud();
    let all = c.cloud.ids(Kind::Image);
    let mut url = "/image/v2/images?limit=5".to_string();
    let mut ids = vec![];
    let mut pages = 0;
    loop {
        let v = c.get(&url).json();
        pages += 1;
        assert_eq!(v["first"], "/v2/images");
        assert_eq!(v["schema"], "/v2/schemas/images");
        ids.extend(
            v["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        match v.get("next") {
            Some(n) => {
                let n = n.as_str().unwrap();
                assert!(n.starts_with("/v2/images?"), "{n}");
                url = format!("/image{n}");
            }
            None => {
                assert!(v["images"].as_array().unwrap().is_empty());
                break;
            }
        }
    }
    assert_eq!(ids, all);
    assert_eq!(pages, 5);
    let show = c.get(&format!("/image/v2/images/{}", all[3])).json();
    assert_eq!(show["id"], all[3].as_str());
    assert!(show.get("image").is_none());
    assert_eq!(show["self"], format!("/v2/images/{}", all[3]));
    assert_eq!(c.get("/image/").status, 300);
}

#[test]
fn neutron_pagination_no_next_on_last_page() {
    let c = cloud();
    for (coll, kind, key) in [
        ("ports", Kind::Port, "ports"),
        ("networks", Kind::Network, "networks"),
        ("subnets", Kind::Subnet, "subnets"),
        ("routers", Kind::Router, "routers"),
        ("floatingips", Kind::FloatingIp, "floatingips"),
        ("security-groups", Kind::SecurityGroup, "security_groups"),
        (
            "security-group-rules",
            Kind::SecurityGroupRule,
            "security_group_rules",
        ),
    ] {
        let all = c.cloud.ids(kind);
        let limit = 4;
        let (ids, pages, last) =
            walk_links(&c, &format!("/network/v2.0/{coll}?limit={limit}"), key, &[]);
        assert_eq!(ids, all, "{coll}");
        assert_eq!(pages, all.len().div_ceil(limit), "{coll}");
        assert!(last > 0, "{coll}: neutron never ends with an empty page");
        // No limit: everything, no links.
        let v = c.get(&format!("/network/v2.0/{coll}")).json();
        assert_eq!(v[key].as_array().unwrap().len(), all.len());
        assert!(v.get(format!("{key}_links")).is_none());
        // Show.
        let singular = match coll {
            "ports" => "port",
            "networks" => "network",
            "subnets" => "subnet",
            "routers" => "router",
            "floatingips" => "floatingip",
            "security-groups" => "security_group",
            _ => "security_group_rule",
        };
        let s = c.get(&format!("/network/v2.0/{coll}/{}", all[0])).json();
        assert_eq!(s[singular]["id"], all[0].as_str());
        assert_eq!(s[singular]["project_id"], s[singular]["tenant_id"]);
    }
    // Exactly divisible: 125 ports / 25 -> 5 pages, the 5th has no next.
    let (_, pages, last) = walk_links(&c, "/network/v2.0/ports?limit=25", "ports", &[]);
    assert_eq!((pages, last), (5, 25));
    assert_eq!(c.get("/network/v2.0/ports/nope").status, 404);
}

#[test]
fn cinder_pagination_all_tenants_and_microversion() {
    let c = cloud();
    let pid = c.admin_pid();
    let all = c.cloud.ids(Kind::Volume);
    assert_eq!(all.len(), 25);
    let (ids, pages, last) = walk_links(
        &c,
        &format!("/volume/v3/{pid}/volumes/detail?all_tenants=1&limit=5"),
        "volumes",
        &[],
    );
    assert_eq!(ids, all);
    assert_eq!((pages, last), (6, 0));
    let mine = c.cloud.ids_in_project(Kind::Volume, &pid);
    let (ids, _, _) = walk_links(
        &c,
        &format!("/volume/v3/{pid}/volumes/detail?limit=3"),
        "volumes",
        &[],
    );
    assert_eq!(ids, mine);
    let snaps = c.cloud.ids(Kind::Snapshot);
    let (ids, pages, last) = walk_links(
        &c,
        &format!("/volume/v3/{pid}/snapshots/detail?all_tenants=1&limit=4"),
        "snapshots",
        &[],
    );
    assert_eq!(ids, snaps);
    assert_eq!((pages, last), (4, 0));
    // Microversions.
    let url = format!("/volume/v3/{pid}/volumes/{}", all[0]);
    let r = c.get_h(&url, &[("OpenStack-API-Version", "volume 3.69")]);
    assert_eq!(r.header("openstack-api-version"), Some("volume 3.69"));
    assert!(r.json()["volume"].get("consumes_quota").is_some());
    let r = c.get(&url);
    assert_eq!(r.header("openstack-api-version"), Some("volume 3.0"));
    assert!(r.json()["volume"].get("consumes_quota").is_none());
    assert_eq!(
        c.get_h(&url, &[("OpenStack-API-Version", "volume 3.72")])
            .status,
        406
    );
    let v = c.get("/volume/").json();
    assert_eq!(v["versions"][0]["version"], "3.71");
    // From 3.67 the project segment is optional and means the token's project.
    let r = c.get_h(
        "/volume/v3/volumes/detail?limit=100",
        &[("OpenStack-API-Version", "volume 3.67")],
    );
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.json()["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, mine);
    assert_eq!(
        c.get_h(
            "/volume/v3/volumes/detail",
            &[("OpenStack-API-Version", "volume 3.66")]
        )
        .status,
        404
    );
}

#[test]
fn heat_pagination_short_page_and_global_tenant() {
    let c = cloud();
    let pid = c.admin_pid();
    let all = c.cloud.ids(Kind::Stack);
    assert_eq!(all.len(), 13);
    let mut ids = vec![];
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("/heat/v1/{pid}/stacks?global_tenant=True&limit=5");
        if let Some(m) = &marker {
            url.push_str(&format!("&marker={m}"));
        }
        let v = c.get(&url).json();
        pages += 1;
        assert!(v.get("stacks_links").is_none() && v.get("links").is_none());
        let page: Vec<String> = v["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        ids.extend(page.clone());
        if page.len() < 5 {
            break;
        }
        marker = page.last().cloned();
    }
    assert_eq!(ids, all);
    assert_eq!(pages, 3);
    let mine = c.get(&format!("/heat/v1/{pid}/stacks")).json();
    let n = mine["stacks"].as_array().unwrap().len();
    assert_eq!(
        n,
        c.cloud
            .ids_in_project(Kind::Stack, &pid)
            .iter()
            .filter(|id| all.contains(id))
            .count()
    );
    assert!(n < all.len());
}

#[test]
fn keystone_projects_pagination() {
    let c = cloud();
    let v = c.get("/identity/v3/projects?limit=2").json();
    assert_eq!(v["projects"].as_array().unwrap().len(), 2);
    let next = v["links"]["next"].as_str().unwrap().to_string();
    let v2 = c.get(&next).json();
    assert_eq!(v2["projects"].as_array().unwrap().len(), 1);
    assert!(v2["links"]["next"].is_null());
    let v = c.get("/identity/v3/projects").json();
    assert_eq!(v["projects"].as_array().unwrap().len(), 3);
    let pid = c.admin_pid();
    assert_eq!(
        c.get(&format!("/identity/v3/projects/{pid}")).json()["project"]["name"],
        "admin"
    );
}

#[test]
fn determinism_across_two_starts() {
    let a = cloud();
    let b = cloud();
    assert_eq!(a.admin_pid(), b.admin_pid());
    for k in Kind::ALL {
        assert_eq!(a.cloud.ids(k), b.cloud.ids(k), "{k:?}");
    }
    let pa = a.admin_pid();
    for path in [
        "/compute/v2.1/servers/detail?all_tenants=1".to_string(),
        "/network/v2.0/ports".into(),
        "/network/v2.0/security-groups".into(),
        "/image/v2/images".into(),
        format!("/volume/v3/{pa}/volumes/detail?all_tenants=1"),
        format!("/heat/v1/{pa}/stacks?global_tenant=True"),
    ] {
        let ba = a.get(&path).body.replace(&a.base, "BASE");
        let bb = b.get(&path).body.replace(&b.base, "BASE");
        assert_eq!(ba, bb, "{path}");
        assert!(ba.len() > 1000);
    }
    // A different seed gives different ids.
    let d = C::new(TestCloudConfig {
        counts: Some(counts()),
        seed: 8,
        ..Default::default()
    });
    assert_ne!(d.cloud.ids(Kind::Server), a.cloud.ids(Kind::Server));
}

/// The owning service's show URL for an item.
fn show_url(c: &C, kind: Kind, id: &str) -> String {
    let pid = c.admin_pid();
    match kind {
        Kind::Server => format!("/compute/v2.1/servers/{id}"),
        Kind::Keypair => format!("/compute/v2.1/os-keypairs/{id}"),
        Kind::Port => format!("/network/v2.0/ports/{id}"),
        Kind::Network => format!("/network/v2.0/networks/{id}"),
        Kind::Subnet => format!("/network/v2.0/subnets/{id}"),
        Kind::FloatingIp => format!("/network/v2.0/floatingips/{id}"),
        Kind::SecurityGroup => format!("/network/v2.0/security-groups/{id}"),
        Kind::Volume => format!("/volume/v3/{pid}/volumes/{id}"),
        Kind::Image => format!("/image/v2/images/{id}"),
        Kind::Stack => format!("/heat/v1/{pid}/stacks/{id}"),
        k => panic!("no show for {k:?}"),
    }
}

#[test]
fn cross_service_ids_resolve() {
    let c = cloud();
    let pid = c.admin_pid();
    let mut mapped = 0;
    let mut in_progress = 0;
    let mut nested_children = 0;
    let stacks = c
        .get(&format!("/heat/v1/{pid}/stacks?global_tenant=True"))
        .json();
    for s in stacks["stacks"].as_array().unwrap() {
        let (name, id) = (s["stack_name"].as_str().unwrap(), s["id"].as_str().unwrap());
        let spid = c.cloud.project_of(Kind::Stack, id).unwrap();
        let res = c.get(&format!(
            "/heat/v1/{spid}/stacks/{name}/{id}/resources?nested_depth=3"
        ));
        assert_eq!(res.status, 200, "{}", res.body);
        for r in res.json()["resources"].as_array().unwrap() {
            let phys = r["physical_resource_id"].as_str().unwrap();
            let ty = r["resource_type"].as_str().unwrap();
            if r.get("parent_resource").is_some() {
                nested_children += 1;
            }
            if phys.is_empty() {
                assert!(r["resource_status"]
                    .as_str()
                    .unwrap()
                    .ends_with("IN_PROGRESS"));
                in_progress += 1;
                continue;
            }
            let Some(kind) = heat_type_kind(ty) else {
                continue;
            };
            let resp = c.get(&show_url(&c, kind, phys));
            let ok = if kind == Kind::Stack {
                resp.status == 302
            } else {
                resp.status == 200
            };
            assert!(ok, "{ty} {phys} -> {}", resp.status);
            // Everything a stack created lives in the stack's project (keypairs: the admin user's).
            let owner = c.cloud.project_of(kind, phys);
            if kind != Kind::Keypair && kind != Kind::Stack {
                assert_eq!(owner.as_deref(), Some(spid.as_str()), "{ty} {phys}");
            }
            if kind == Kind::Stack {
                let links = r["links"].as_array().unwrap();
                assert!(links.iter().any(|l| l["rel"] == "nested"));
            }
            mapped += 1;
        }
    }
    assert!(mapped > 50, "{mapped}");
    assert!(in_progress > 0);
    assert!(nested_children > 0);
    // Resource show.
    let s = &stacks["stacks"][0];
    let (name, id) = (s["stack_name"].as_str().unwrap(), s["id"].as_str().unwrap());
    let spid = c.cloud.project_of(Kind::Stack, id).unwrap();
    let list = c
        .get(&format!("/heat/v1/{spid}/stacks/{name}/{id}/resources"))
        .json();
    let rn = list["resources"][0]["resource_name"].as_str().unwrap();
    let one = c
        .get(&format!(
            "/heat/v1/{spid}/stacks/{name}/{id}/resources/{rn}"
        ))
        .json();
    assert_eq!(one["resource"]["resource_name"], rn);
    assert!(one["resource"].get("attributes").is_some());
    // Lookup by id redirects to the canonical URL.
    let r = c.get(&format!("/heat/v1/{spid}/stacks/{id}"));
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").unwrap(),
        format!("{}/heat/v1/{spid}/stacks/{name}/{id}", c.base)
    );
    let show = c.get(r.header("location").unwrap()).json();
    assert_eq!(show["stack"]["parameters"]["OS::project_id"], spid.as_str());

    // Servers <-> ports <-> networks/subnets, volumes <-> servers, floating IPs -> ports.
    let servers = c.get("/compute/v2.1/servers/detail?all_tenants=1").json();
    let ports = c.get("/network/v2.0/ports").json();
    let port_ids: HashSet<&str> = ports["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let nets: HashSet<String> = c.cloud.ids(Kind::Network).into_iter().collect();
    let subs: HashSet<String> = c.cloud.ids(Kind::Subnet).into_iter().collect();
    let server_ids: HashSet<&str> = servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for p in ports["ports"].as_array().unwrap() {
        assert!(nets.contains(p["network_id"].as_str().unwrap()));
        for f in p["fixed_ips"].as_array().unwrap() {
            assert!(subs.contains(f["subnet_id"].as_str().unwrap()));
        }
        if p["device_owner"] == "compute:nova" {
            assert!(server_ids.contains(p["device_id"].as_str().unwrap()));
        }
    }
    let vols: HashSet<String> = c.cloud.ids(Kind::Volume).into_iter().collect();
    for s in servers["servers"].as_array().unwrap() {
        for v in s["os-extended-volumes:volumes_attached"]
            .as_array()
            .unwrap()
        {
            let vid = v["id"].as_str().unwrap();
            assert!(vols.contains(vid));
            let vp = c.cloud.project_of(Kind::Volume, vid).unwrap();
            let vol = c.get(&format!("/volume/v3/{vp}/volumes/{vid}")).json();
            assert_eq!(vol["volume"]["attachments"][0]["server_id"], s["id"]);
        }
        let fl = s["flavor"]["id"].as_str().unwrap();
        assert_eq!(c.get(&format!("/compute/v2.1/flavors/{fl}")).status, 200);
        if let Some(im) = s["image"].get("id") {
            assert_eq!(
                c.get(&format!("/image/v2/images/{}", im.as_str().unwrap()))
                    .status,
                200
            );
        } else {
            assert_eq!(s["image"], "");
        }
    }
    let fips = c.get("/network/v2.0/floatingips").json();
    let mut assoc = 0;
    for f in fips["floatingips"].as_array().unwrap() {
        if let Some(p) = f["port_id"].as_str() {
            assert!(port_ids.contains(p));
            assoc += 1;
        }
    }
    assert!(assoc > 0);
    let sgs = c.get("/network/v2.0/security-groups").json();
    let rules: usize = sgs["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["security_group_rules"].as_array().unwrap().len())
        .sum();
    assert_eq!(rules, c.cloud.count(Kind::SecurityGroupRule));
}

#[test]
fn microversion_negotiation_nova() {
    let c = cloud();
    let id = c.cloud.ids(Kind::Server)[0].clone();
    let url = format!("/compute/v2.1/servers/{id}");
    let r = c.get(&url);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.1"));
    assert!(r.json()["server"]["flavor"].get("id").is_some());
    let r = c.get_h(&url, &[("OpenStack-API-Version", "compute 2.60")]);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.60"));
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.60"));
    let f = &r.json()["server"]["flavor"];
    assert!(f.get("id").is_none() && f.get("original_name").is_some());
    let r = c.get_h(&url, &[("X-OpenStack-Nova-API-Version", "2.53")]);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.53"));
    let r = c.get_h(&url, &[("OpenStack-API-Version", "compute latest")]);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.100"));
    assert_eq!(
        c.get_h(&url, &[("OpenStack-API-Version", "compute 2.101")])
            .status,
        406
    );
    assert_eq!(
        c.get_h(&url, &[("OpenStack-API-Version", "compute 2.x")])
            .status,
        400
    );
    let v = c.get("/compute/v2.1/").json();
    assert_eq!(v["version"]["version"], "2.100");
    assert_eq!(v["version"]["min_version"], "2.1");
    let v = c.get("/compute/").json();
    assert!(v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["version"] == "2.100"));
}

#[test]
fn faults_status_retry_after_and_times() {
    let c = cloud();
    c.cloud.add_fault(
        FaultRule::new("/compute/v2.1/servers/detail", Fault::internal_error())
            .method("GET")
            .times(2),
    );
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 500);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 500);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    c.cloud
        .add_fault(FaultRule::new("/network/v2.0/ports", Fault::unavailable(7)).times(1));
    let r = c.get("/network/v2.0/ports");
    assert_eq!((r.status, r.header("retry-after")), (503, Some("7")));
    assert_eq!(c.get("/network/v2.0/ports").status, 200);
    c.cloud
        .add_fault(FaultRule::new("/image/v2/images", Fault::too_many_requests(2)).times(1));
    let r = c.get("/image/v2/images");
    assert_eq!((r.status, r.header("retry-after")), (429, Some("2")));
    assert_eq!(c.get("/image/v2/images").status, 200);
    c.cloud.clear_faults();
}

#[test]
fn fault_on_nth_page_only() {
    let c = cloud();
    c.cloud.add_fault(
        FaultRule::new("/compute/v2.1/servers/detail", Fault::internal_error())
            .page(3)
            .times(1),
    );
    let mut url = "/compute/v2.1/servers/detail?all_tenants=1&limit=10".to_string();
    let mut statuses = vec![];
    for _ in 0..6 {
        let r = c.get(&url);
        statuses.push(r.status);
        if r.status != 200 {
            continue; // retry the same page
        }
        match r.json()["servers_links"].as_array() {
            Some(l) => url = l[0]["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(statuses[..4], [200, 200, 500, 200]);
}

#[test]
fn fault_token_expiry_delay_reset_repeat_marker() {
    let mut c = cloud();
    // Token expires after 2 requests to servers/detail.
    c.cloud.add_fault(
        FaultRule::new("/compute/v2.1/servers", Fault::ExpireToken { after: 2 }).times(1),
    );
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 401);
    assert_eq!(
        c.get("/network/v2.0/networks").status,
        401,
        "expired everywhere"
    );
    c.login();
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    assert_eq!(c.get("/compute/v2.1/servers/detail").status, 200);
    // expire_all_tokens
    c.cloud.expire_all_tokens();
    assert_eq!(c.get("/network/v2.0/networks").status, 401);
    c.login();

    // Delay.
    c.cloud
        .add_fault(FaultRule::new("/network/v2.0/subnets", Fault::Delay { ms: 150 }).times(1));
    let t = Instant::now();
    assert_eq!(c.get("/network/v2.0/subnets").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));

    // Reset: no response at all.
    c.cloud
        .add_fault(FaultRule::new("/network/v2.0/routers", Fault::Reset).times(1));
    assert!(c.try_get_h("/network/v2.0/routers", &[]).is_err());
    assert_eq!(c.get("/network/v2.0/routers").status, 200);

    // Repeat marker: the page's next link repeats the request's own marker.
    c.cloud.add_fault(
        FaultRule::new("/network/v2.0/ports", Fault::RepeatMarker)
            .page(2)
            .times(1),
    );
    let v = c.get("/network/v2.0/ports?limit=10").json();
    let n1 = v["ports_links"][0]["href"].as_str().unwrap().to_string();
    let v2 = c.get(&n1).json();
    let n2 = v2["ports_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(n1, n2);
    let v3 = c.get(&n2).json();
    let n3 = v3["ports_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(n3, n2, "fired once");
}

#[test]
fn admin_endpoint_faults_stats_mutate() {
    let c = cloud();
    let a = c.cloud.addr();
    let rule = json!({"method": "GET", "path": "/volume/v3/*/volumes/detail", "fault": {"kind": "status", "status": 503, "retry_after": 1}, "times": 1});
    let r = raw(
        a,
        "POST",
        "/_testcloud/faults",
        &[],
        Some(&rule.to_string()),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let pid = c.admin_pid();
    assert_eq!(
        c.get(&format!("/volume/v3/{pid}/volumes/detail")).status,
        503
    );
    assert_eq!(
        c.get(&format!("/volume/v3/{pid}/volumes/detail")).status,
        200
    );
    let rule = json!({"path": "/network", "fault": {"kind": "reset"}});
    raw(
        a,
        "POST",
        "/_testcloud/faults",
        &[],
        Some(&rule.to_string()),
    )
    .unwrap();
    assert!(c.try_get_h("/network/v2.0/ports", &[]).is_err());
    assert_eq!(
        raw(a, "DELETE", "/_testcloud/faults", &[], None)
            .unwrap()
            .status,
        200
    );
    assert_eq!(c.get("/network/v2.0/ports").status, 200);
    let stats: Value = raw(a, "GET", "/_testcloud/stats", &[], None)
        .unwrap()
        .json();
    assert!(
        stats["requests_by_route"]["GET /volume/v3/{project_id}/volumes/detail"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let sid = c.cloud.ids(Kind::Server)[0].clone();
    let m = json!({"op": "rename", "kind": "server", "id": sid, "name": "renamed"});
    let r = raw(a, "POST", "/_testcloud/mutate", &[], Some(&m.to_string())).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        c.get(&format!("/compute/v2.1/servers/{sid}")).json()["server"]["name"],
        "renamed"
    );
    let m = json!({"op": "delete", "kind": "server", "id": "nope"});
    assert_eq!(
        raw(a, "POST", "/_testcloud/mutate", &[], Some(&m.to_string()))
            .unwrap()
            .status,
        404
    );
}

#[test]
fn mutation_add_change_delete_and_stack_delete() {
    let c = cloud();
    let sid = c.cloud.ids(Kind::Server)[3].clone();
    let before = c.get(&format!("/compute/v2.1/servers/{sid}")).json();
    c.cloud.set_status(Kind::Server, &sid, "SHUTOFF").unwrap();
    c.cloud.rename(Kind::Server, &sid, "web-01").unwrap();
    let after = c.get(&format!("/compute/v2.1/servers/{sid}")).json();
    assert_eq!(after["server"]["name"], "web-01");
    assert_eq!(after["server"]["status"], "SHUTOFF");
    assert_ne!(after["server"]["updated"], before["server"]["updated"]);
    assert_eq!(after["server"]["created"], before["server"]["created"]);

    c.cloud.delete(Kind::Server, &sid).unwrap();
    assert_eq!(c.get(&format!("/compute/v2.1/servers/{sid}")).status, 404);
    let (ids, _, _) = walk_links(
        &c,
        "/compute/v2.1/servers/detail?all_tenants=1&limit=10",
        "servers",
        &[],
    );
    assert!(!ids.contains(&sid));
    assert_eq!(ids.len(), 49);
    assert!(c.cloud.delete(Kind::Server, &sid).is_err());

    let pid = c.admin_pid();
    let new = c.cloud.add(Kind::Server, Some(&pid)).unwrap();
    let s = c.get(&format!("/compute/v2.1/servers/{new}")).json();
    assert_eq!(s["server"]["tenant_id"], pid.as_str());
    assert!(!s["server"]["addresses"].as_object().unwrap().is_empty());
    let nn = c.cloud.add(Kind::Network, None).unwrap();
    assert_eq!(c.get(&format!("/network/v2.0/networks/{nn}")).status, 200);
    let vid = c.cloud.add(Kind::Volume, Some(&pid)).unwrap();
    assert_eq!(
        c.get(&format!("/volume/v3/{pid}/volumes/{vid}")).status,
        200
    );

    // Deleting a stack removes it, its resources and what it created.
    let stack = c.cloud.ids(Kind::Stack)[0].clone();
    let spid = c.cloud.project_of(Kind::Stack, &stack).unwrap();
    let name = c.cloud.name_of(Kind::Stack, &stack).unwrap();
    let res = c
        .get(&format!("/heat/v1/{spid}/stacks/{name}/{stack}/resources"))
        .json();
    let server_phys: Vec<String> = res["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resource_type"] == "OS::Nova::Server" && r["physical_resource_id"] != "")
        .map(|r| r["physical_resource_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!server_phys.is_empty());
    c.cloud.delete(Kind::Stack, &stack).unwrap();
    assert_eq!(
        c.get(&format!("/heat/v1/{spid}/stacks/{name}/{stack}"))
            .status,
        404
    );
    assert_eq!(
        c.get(&format!("/heat/v1/{spid}/stacks/{name}/{stack}/resources"))
            .status,
        404
    );
    for s in server_phys {
        assert_eq!(c.get(&format!("/compute/v2.1/servers/{s}")).status, 404);
    }
    assert!(!c.cloud.ids(Kind::Stack).contains(&stack));

    // Mutation is deterministic: the same operations on a second cloud give the same ids.
    let d = cloud();
    d.cloud.delete(Kind::Server, &sid).unwrap();
    assert_eq!(d.cloud.add(Kind::Server, Some(&pid)).unwrap(), new);
}

#[test]
fn observability_counts_bytes_requests() {
    let c = cloud();
    c.cloud.reset_stats();
    c.get("/compute/v2.1/servers/detail?limit=5");
    c.get("/compute/v2.1/servers/detail?limit=5");
    let id = c.cloud.ids(Kind::Port)[0].clone();
    c.get(&format!("/network/v2.0/ports/{id}"));
    let s = c.cloud.stats();
    assert_eq!(s.count("GET /compute/v2.1/servers/detail"), 2);
    assert_eq!(s.count("GET /network/v2.0/ports/{id}"), 1);
    assert_eq!(s.requests.len(), 3);
    assert_eq!(s.requests[0].path, "/compute/v2.1/servers/detail?limit=5");
    assert_eq!(s.requests[0].token.as_deref(), Some(c.token.as_str()));
    assert_eq!(s.requests[2].status, 200);
    assert!(s.bytes_served > 5000);
    c.cloud.reset_stats();
    assert!(c.cloud.stats().requests.is_empty());
}

#[test]
fn large_startup_and_page_speed() {
    let t = Instant::now();
    let cloud = TestCloud::start(TestCloudConfig {
        counts: Some(Counts::benchmark()),
        ..Default::default()
    })
    .unwrap();
    let startup = t.elapsed();
    let base = cloud.base_url();
    let mut c = C {
        cloud,
        token: String::new(),
        base,
    };
    c.login();
    assert_eq!(c.cloud.count(Kind::Port), 100_000);
    assert_eq!(c.cloud.count(Kind::Server), 20_000);
    let h = [("OpenStack-API-Version", "compute 2.100")];
    let t = Instant::now();
    let r = c.get_h("/compute/v2.1/servers/detail?all_tenants=1&limit=1000", &h);
    let page = t.elapsed();
    assert_eq!(r.json()["servers"].as_array().unwrap().len(), 1000);
    let t = Instant::now();
    let p = c.get("/network/v2.0/ports?limit=1000");
    let ports = t.elapsed();
    assert_eq!(p.json()["ports"].as_array().unwrap().len(), 1000);
    println!(
        "benchmark counts: startup {startup:?}; 1000 servers page {page:?} ({} bytes); 1000 ports page {ports:?} ({} bytes)",
        r.body.len(),
        p.body.len()
    );
}

#[test]
fn nova_old_microversion_shapes_and_summary_list() {
    let c = cloud();
    // Before 2.53 hypervisor ids are ints and so are markers; before 2.33 there is no paging.
    let h = [("OpenStack-API-Version", "compute 2.33")];
    let v = c
        .get_h("/compute/v2.1/os-hypervisors/detail?limit=4", &h)
        .json();
    assert_eq!(v["hypervisors"][0]["id"], 1);
    let next = v["hypervisors_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.ends_with("marker=4"), "{next}");
    let v = c.get_h(&next, &h).json();
    assert_eq!(v["hypervisors"].as_array().unwrap().len(), 2);
    let v = c.get("/compute/v2.1/os-hypervisors/detail?limit=4").json();
    assert_eq!(v["hypervisors"].as_array().unwrap().len(), 6);
    assert!(v.get("hypervisors_links").is_none());
    assert_eq!(
        c.get("/compute/v2.1/os-hypervisors/2").json()["hypervisor"]["id"],
        2
    );
    // Keypairs before 2.35: no paging; show has the int id and user.
    let v = c.get("/compute/v2.1/os-keypairs?limit=2").json();
    assert_eq!(v["keypairs"].as_array().unwrap().len(), 7);
    assert!(v["keypairs"][0]["keypair"]["public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-"));
    let name = v["keypairs"][0]["keypair"]["name"].as_str().unwrap();
    let k = c.get(&format!("/compute/v2.1/os-keypairs/{name}")).json();
    assert!(k["keypair"]["id"].is_number() && k["keypair"]["user_id"].is_string());
    // Server groups: policies before 2.64, policy + rules from 2.64.
    let g = c.get("/compute/v2.1/os-server-groups").json();
    assert!(g["server_groups"][0]["policies"].is_array());
    let g = c
        .get_h(
            "/compute/v2.1/os-server-groups",
            &[("OpenStack-API-Version", "compute 2.64")],
        )
        .json();
    assert!(
        g["server_groups"][0]["policy"].is_string()
            && g["server_groups"][0]["project_id"].is_string()
    );
    // Summary list: id, name, links only.
    let v = c.get("/compute/v2.1/servers?all_tenants=1&limit=3").json();
    let s = v["servers"][0].as_object().unwrap();
    let mut keys: Vec<&str> = s.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "links", "name"]);
    assert!(v["servers_links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("/compute/v2.1/servers?"));
}

#[test]
fn heat_lookup_redirects_keep_resources_path() {
    let c = cloud();
    let id = c.cloud.ids(Kind::Stack)[1].clone();
    let pid = c.cloud.project_of(Kind::Stack, &id).unwrap();
    let name = c.cloud.name_of(Kind::Stack, &id).unwrap();
    let r = c.get(&format!(
        "/heat/v1/{pid}/stacks/{id}/resources?nested_depth=1"
    ));
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").unwrap(),
        format!(
            "{}/heat/v1/{pid}/stacks/{name}/{id}/resources?nested_depth=1",
            c.base
        )
    );
    let r = c.get(&format!("/heat/v1/{pid}/stacks/{name}"));
    assert_eq!(r.status, 302);
    assert_eq!(c.get(&format!("/heat/v1/{pid}/stacks/nope")).status, 404);
    assert_eq!(
        c.get(&format!("/heat/v1/{pid}/stacks/{name}/{id}/resources/nope"))
            .status,
        404
    );
}

#[test]
fn binary_prints_auth_url_and_serves() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_syncer-testcloud"))
        .args(["--size", "30", "--seed", "3", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = vec![];
    for _ in 0..8 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l);
    }
    let text = lines.concat();
    let auth = text
        .lines()
        .find_map(|l| l.strip_prefix("auth_url:"))
        .unwrap()
        .trim()
        .to_string();
    let addr: std::net::SocketAddr = auth
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = raw(addr, "GET", "/identity/v3", &[], None).unwrap();
    assert_eq!(r.status, 200);
    let r = raw(
        addr,
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("admin", "testcloud-admin-password", "admin")),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn token_ttl_expiry() {
    let cloud = TestCloud::start(TestCloudConfig {
        size: 10,
        token_ttl: Duration::ZERO,
        ..Default::default()
    })
    .unwrap();
    let cr = cloud.credentials();
    let r = raw(
        cloud.addr(),
        "POST",
        "/identity/v3/auth/tokens",
        &[],
        Some(&password_body("admin", &cr.password, "admin")),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let tok = r.header("x-subject-token").unwrap().to_string();
    let r = raw(
        cloud.addr(),
        "GET",
        "/compute/v2.1/flavors/detail",
        &[("X-Auth-Token", &tok)],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 401);
}

#[test]
fn the_admin_endpoint_lists_live_ids_of_a_kind() {
    let c = cloud();
    let ids: Vec<String> = serde_json::from_value(c.get("/_testcloud/ids/server").json()).unwrap();
    assert_eq!(ids, c.cloud.ids(Kind::Server));
    assert_eq!(c.get("/_testcloud/ids/nonsense").status, 400);
}
