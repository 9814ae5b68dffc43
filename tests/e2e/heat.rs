//! The Heat job against the test cloud: stack resources synced through the
//! resource-collection map with `source = "stack"` and `source_id = <stack id>`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use syncer_e2e::Scratch;
use syncer_plugin_sdk::{CloudRef, ListRequest, Plugin};
use syncer_testcloud::{Fault, FaultRule, Kind, TestCloud, TestCloudConfig, TestCloudHandle};

fn start() -> TestCloudHandle {
    TestCloud::start(TestCloudConfig {
        size: 200,
        seed: 11,
        ..Default::default()
    })
    .unwrap()
}

fn cloud_table(cloud: &TestCloudHandle) -> String {
    let c = cloud.credentials();
    format!(
        "auth_url = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\nproject_name = \"{}\"\n",
        c.auth_url, c.username, c.password, c.project_name
    )
}

fn config(cloud: &TestCloudHandle, extra: &str) -> String {
    format!(
        "[store.embedded]\npath = \"inventory.sqlite\"\n\n[clouds.test]\n{}\n[heat]\ninterval = \"15m\"\n{extra}\n",
        cloud_table(cloud)
    )
}

/// The documents of `collection` that the Heat job owns, by reference id.
fn stack_docs(s: &Scratch, collection: &str) -> BTreeMap<String, Value> {
    s.syncer(&["export", "--collection", collection])
        .json_lines()
        .into_iter()
        .filter(|d| d["source"] == "stack")
        .map(|d| (d["reference_id"].as_str().unwrap().to_owned(), d))
        .collect()
}

fn heat_runs(s: &Scratch) -> Vec<Value> {
    s.syncer(&["export", "--collection", "sync_runs"])
        .json_lines()
        .into_iter()
        .filter(|r| r["job"] == "test/heat")
        .collect()
}

/// Every (resource type, physical id, top-level stack id) of the cloud, read through
/// the heat plugin itself.
fn stack_resources(cloud: &TestCloudHandle) -> Vec<(String, String, String, Option<String>)> {
    let c = cloud.credentials();
    let settings = json!({"auth_url": c.auth_url, "username": c.username, "password": c.password, "project_name": c.project_name});
    let cloud_ref = CloudRef {
        name: "probe".into(),
        settings: settings.as_object().unwrap().clone(),
    };
    let heat = syncer_plugin_heat::plugin();
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = heat
            .list(&ListRequest {
                function: "stacks".into(),
                cloud: cloud_ref.clone(),
                cursor: cursor.clone(),
                page_size: 50,
                options: Default::default(),
            })
            .unwrap();
        for stack in &page.items {
            let mut options = serde_json::Map::new();
            options.insert(
                "stack".into(),
                json!(format!(
                    "{}/{}",
                    stack.name.as_deref().unwrap(),
                    stack.reference_id
                )),
            );
            let resources = heat
                .list(&ListRequest {
                    function: "resources".into(),
                    cloud: cloud_ref.clone(),
                    cursor: None,
                    page_size: 50,
                    options,
                })
                .unwrap();
            for r in resources.items {
                let m = &r.cloud_meta;
                out.push((
                    m["resource_type"].as_str().unwrap().to_owned(),
                    m["physical_resource_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    stack.reference_id.clone(),
                    m["parent_resource"].as_str().map(str::to_owned),
                ));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out
}

#[test]
fn the_heat_job_fills_every_mapped_collection_and_a_second_run_writes_nothing() {
    let cloud = start();
    let s = Scratch::new(&config(&cloud, ""));
    let run = s.syncer(&["once", "--job", "heat"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());

    // The stacks themselves, of several projects.
    let stacks = stack_docs(&s, "Stack");
    let expected: BTreeSet<String> = cloud.ids(Kind::Stack).into_iter().collect();
    assert_eq!(stacks.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let projects: BTreeSet<&str> = stacks
        .values()
        .filter_map(|d| d["project_id"].as_str())
        .collect();
    assert!(projects.len() > 1, "stacks of one project only");

    // Every mapped resource with a physical id is in its collection, owned by its stack.
    let resources = stack_resources(&cloud);
    let by_type = [
        ("OS::Nova::Server", "Instance", Kind::Server),
        ("OS::Neutron::Port", "Port", Kind::Port),
        ("OS::Neutron::Net", "Network", Kind::Network),
        ("OS::Neutron::Subnet", "Subnet", Kind::Subnet),
        ("OS::Cinder::Volume", "Volume", Kind::Volume),
        ("OS::Neutron::FloatingIP", "FloatingIP", Kind::FloatingIp),
        (
            "OS::Neutron::SecurityGroup",
            "SecurityGroup",
            Kind::SecurityGroup,
        ),
    ];
    for (heat_type, collection, kind) in by_type {
        let docs = stack_docs(&s, collection);
        let wanted: BTreeSet<&str> = resources
            .iter()
            .filter(|(t, id, ..)| t == heat_type && !id.is_empty())
            .map(|(_, id, ..)| id.as_str())
            .collect();
        assert!(!wanted.is_empty(), "no {heat_type} in any stack");
        assert_eq!(
            docs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            wanted,
            "{collection}"
        );
        for (id, doc) in &docs {
            assert!(
                cloud.name_of(kind, id).is_some(),
                "{collection} {id} is not a real {kind:?}"
            );
            let owner = doc["source_id"].as_str().unwrap();
            assert!(
                resources
                    .iter()
                    .any(|(_, p, stack, _)| p == id && stack == owner),
                "{id} is not in stack {owner}"
            );
            assert_eq!(
                doc["cloud_meta"]["id"],
                id.as_str(),
                "the detail, not the heat resource, is stored"
            );
        }
    }
    // Unmapped types are counted, not synced, and not errors.
    assert!(resources
        .iter()
        .any(|(t, ..)| t == "OS::Heat::RandomString"));

    // A nested stack's resources land in the right collections with the outer stack's id.
    let (_, nested_server, outer, _) = resources
        .iter()
        .find(|(t, p, _, parent)| t == "OS::Nova::Server" && parent.is_some() && !p.is_empty())
        .expect("the test cloud has a server in a nested stack");
    assert_eq!(
        stack_docs(&s, "Instance")[nested_server.as_str()]["source_id"],
        outer.as_str()
    );

    // Nothing changed: the second run writes nothing.
    assert_eq!(s.syncer(&["once", "--job", "heat"]).code(), 0);
    let runs = heat_runs(&s);
    let second = &runs[runs.len() / 2..];
    assert!(!second.is_empty());
    for record in second {
        for key in ["inserted", "updated", "retired"] {
            assert_eq!(record[key], 0, "{record}");
        }
    }
}

/// The physical id of a server some stack holds, and that stack.
fn a_stack_server(cloud: &TestCloudHandle) -> (String, String) {
    stack_resources(cloud)
        .into_iter()
        .find(|(t, p, ..)| t == "OS::Nova::Server" && !p.is_empty())
        .map(|(_, p, stack, _)| (p, stack))
        .unwrap()
}

#[test]
fn a_detail_that_404s_is_absent_and_retires() {
    let cloud = start();
    let s = Scratch::new(&config(&cloud, ""));
    assert_eq!(s.syncer(&["once", "--job", "heat"]).code(), 0);
    let (server, _) = a_stack_server(&cloud);
    cloud.delete(Kind::Server, &server).unwrap();
    let run = s.syncer(&["once", "--job", "heat"]);
    assert_eq!(run.code(), 0, "{}", run.stdout());
    assert_eq!(stack_docs(&s, "Instance")[server.as_str()]["active"], -1);
}

#[test]
fn a_detail_that_fails_retires_nothing_in_its_collection() {
    let cloud = start();
    let s = Scratch::new(&config(&cloud, ""));
    assert_eq!(s.syncer(&["once", "--job", "heat"]).code(), 0);
    let servers: Vec<String> = stack_resources(&cloud)
        .into_iter()
        .filter(|(t, p, ..)| t == "OS::Nova::Server" && !p.is_empty())
        .map(|(_, p, ..)| p)
        .collect();
    // One server is gone (it would retire); another one's detail answers 500.
    cloud.delete(Kind::Server, &servers[0]).unwrap();
    cloud.add_fault(FaultRule::new(
        format!("/compute/v2.1/servers/{}", servers[1]),
        Fault::internal_error(),
    ));
    let run = s.syncer(&["once", "--job", "heat"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let runs = heat_runs(&s);
    let instance = runs
        .iter()
        .rev()
        .find(|r| r["collection"] == "Instance")
        .unwrap();
    assert_eq!(instance["outcome"], "failed", "{instance}");
    assert!(
        instance["error"].as_str().unwrap().contains("HTTP 500"),
        "{instance}"
    );
    assert_eq!(
        stack_docs(&s, "Instance")[servers[0].as_str()]["active"],
        1,
        "a failed detail let its collection retire"
    );
    let port = runs
        .iter()
        .rev()
        .find(|r| r["collection"] == "Port")
        .unwrap();
    assert_eq!(
        port["outcome"], "succeeded",
        "other collections go on: {port}"
    );
}

#[test]
fn a_stack_deleted_between_runs_retires_its_resources() {
    let cloud = start();
    let s = Scratch::new(&config(&cloud, ""));
    assert_eq!(s.syncer(&["once", "--job", "heat"]).code(), 0);
    let (_, stack) = a_stack_server(&cloud);
    let owned: Vec<(String, String)> = ["Instance", "Port", "Network", "Volume"]
        .iter()
        .flat_map(|c| {
            stack_docs(&s, c)
                .into_iter()
                .filter(|(_, d)| d["source_id"] == stack.as_str())
                .map(move |(id, _)| (c.to_string(), id))
        })
        .collect();
    assert!(!owned.is_empty());
    cloud.delete(Kind::Stack, &stack).unwrap();
    let run = s.syncer(&["once", "--job", "heat"]);
    assert_eq!(run.code(), 0, "{}", run.stdout());
    assert_eq!(stack_docs(&s, "Stack")[stack.as_str()]["active"], -1);
    for (collection, id) in owned {
        let doc = &stack_docs(&s, &collection)[id.as_str()];
        // Unless another live stack also holds it (the test cloud shares some).
        if doc["source_id"] == stack.as_str() {
            assert_eq!(
                doc["active"], -1,
                "{collection} {id} of the deleted stack is still active"
            );
        }
    }
}

#[test]
fn a_mapped_type_whose_plugin_is_not_loaded_is_a_config_error() {
    let cloud = start();
    let text = config(&cloud, "").replace(
        "[store.embedded]",
        "[plugins]\nbuiltin = [\"heat\", \"compute\", \"image\", \"block-storage\", \"identity\"]\n\n[store.embedded]",
    );
    let s = Scratch::new(&text);
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("`OS::Neutron::Net` maps to `network.get_network` for collection `Network`, but plugin `network` is not loaded"),
        "{}",
        run.stderr()
    );

    let custom = config(&cloud, "[heat.resources]\n\"OS::Nova::Server\" = { collection = \"Instance\", get = \"compute.servers\" }\n");
    let s = Scratch::new(&custom);
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:13: heat.resources.\"OS::Nova::Server\": `OS::Nova::Server` maps to `compute.servers` for collection `Instance`, but `compute.servers` is a list function, not a get function"),
        "{}",
        run.stderr()
    );
}
