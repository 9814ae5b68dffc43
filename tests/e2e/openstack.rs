//! `syncer once` with the OpenStack plugins against the OpenStack API test cloud: every
//! list function, several projects and many pages, re-syncs after mutations, and each
//! fault with the job's outcome and what it may not retire.

use std::collections::BTreeSet;

use serde_json::Value;
use syncer_e2e::Scratch;
use syncer_testcloud::{
    Fault, FaultRule, Kind, Mutation, TestCloud, TestCloudConfig, TestCloudHandle,
};

/// (collection, plugin, function, the test cloud's kind)
const COLLECTIONS: [(&str, &str, &str, Kind); 16] = [
    ("Instance", "compute", "servers", Kind::Server),
    ("Flavor", "compute", "flavors", Kind::Flavor),
    ("KeyPair", "compute", "keypairs", Kind::Keypair),
    ("ServerGroup", "compute", "server_groups", Kind::ServerGroup),
    ("Hypervisor", "compute", "hypervisors", Kind::Hypervisor),
    ("Image", "image", "images", Kind::Image),
    ("Network", "network", "networks", Kind::Network),
    ("Subnet", "network", "subnets", Kind::Subnet),
    ("Port", "network", "ports", Kind::Port),
    ("Router", "network", "routers", Kind::Router),
    ("FloatingIP", "network", "floating_ips", Kind::FloatingIp),
    (
        "SecurityGroup",
        "network",
        "security_groups",
        Kind::SecurityGroup,
    ),
    (
        "SecurityGroupRule",
        "network",
        "security_group_rules",
        Kind::SecurityGroupRule,
    ),
    ("Volume", "block-storage", "volumes", Kind::Volume),
    (
        "VolumeSnapshot",
        "block-storage",
        "snapshots",
        Kind::Snapshot,
    ),
    ("Project", "identity", "projects", Kind::Project),
];

fn start(size: usize) -> TestCloudHandle {
    TestCloud::start(TestCloudConfig {
        size,
        seed: 7,
        ..Default::default()
    })
    .unwrap()
}

/// A config syncing `collections` from the test cloud with password auth.
fn config(
    cloud: &TestCloudHandle,
    collections: &[(&str, &str, &str, Kind)],
    cloud_extra: &str,
) -> String {
    let c = cloud.credentials();
    let mut text = format!(
        r#"
[store.embedded]
path = "inventory.sqlite"

[clouds.test]
auth_url = "{}"
username = "{}"
password = "${{TEST_OS_PASSWORD}}"
project_name = "{}"
user_domain_name = "{}"
project_domain_name = "{}"
{cloud_extra}
"#,
        c.auth_url, c.username, c.project_name, c.user_domain_name, c.project_domain_name
    )
    .replace("${TEST_OS_PASSWORD}", &c.password);
    for (collection, plugin, function, _) in collections {
        text.push_str(&format!(
            "\n[collections.{collection}]\nplugin = \"{plugin}\"\nfunction = \"{function}\"\ninterval = \"15m\"\npage_size = 7\n"
        ));
    }
    text
}

fn exported_ids(s: &Scratch, collection: &str, active: i64) -> BTreeSet<String> {
    s.syncer(&["export", "--collection", collection])
        .json_lines()
        .iter()
        .filter(|d| d["active"] == active)
        .map(|d| d["reference_id"].as_str().unwrap().to_owned())
        .collect()
}

fn last_run(s: &Scratch, job: &str) -> Value {
    s.syncer(&["export", "--collection", "sync_runs"])
        .json_lines()
        .into_iter()
        .rfind(|r| r["job"] == job)
        .unwrap_or_else(|| panic!("no run of {job}"))
}

#[test]
fn every_list_function_syncs_the_whole_cloud_across_projects_and_pages() {
    let cloud = start(120);
    let s = Scratch::new(&config(&cloud, &COLLECTIONS, ""));
    let check = s.syncer(&["check"]);
    assert_eq!(check.code(), 0, "{}", check.stderr());
    let run = s.syncer(&["once"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());

    for (collection, _, _, kind) in COLLECTIONS {
        let expected: BTreeSet<String> = cloud.ids(kind).into_iter().collect();
        assert!(!expected.is_empty(), "the test cloud has no {kind:?}");
        assert_eq!(exported_ids(&s, collection, 1), expected, "{collection}");
        let record = last_run(&s, &format!("test/{collection}"));
        assert_eq!(record["outcome"], "succeeded", "{record}");
        let pages = record["pages"].as_u64().unwrap();
        assert!(
            pages >= (expected.len() as u64).div_ceil(7),
            "{collection}: {pages} pages for {}",
            expected.len()
        );
    }
    // Servers of several projects, with their owners and raw bodies.
    let servers = s
        .syncer(&["export", "--collection", "Instance"])
        .json_lines();
    let projects: BTreeSet<&str> = servers
        .iter()
        .map(|d| d["project_id"].as_str().unwrap())
        .collect();
    assert!(projects.len() > 1, "servers of one project only");
    for d in &servers {
        let id = d["reference_id"].as_str().unwrap();
        assert_eq!(
            d["project_id"].as_str(),
            cloud.project_of(Kind::Server, id).as_deref()
        );
        assert_eq!(
            d["name"].as_str(),
            cloud.name_of(Kind::Server, id).as_deref()
        );
        assert_eq!(d["cloud_meta"]["id"], id);
    }
    // The negotiated microversions are recorded in the runs.
    assert_eq!(
        last_run(&s, "test/Instance")["api_version"],
        "compute 2.100"
    );
    assert_eq!(last_run(&s, "test/Volume")["api_version"], "volume 3.69");
    assert_eq!(last_run(&s, "test/Network")["api_version"], Value::Null);
    // Neutron says which page is the last: no extra empty request.
    let networks = cloud.count(Kind::Network) as u64;
    assert_eq!(
        last_run(&s, "test/Network")["api_calls"],
        networks.div_ceil(7)
    );
    let volumes = s.syncer(&["export", "--collection", "Volume"]).json_lines();
    assert!(
        volumes
            .iter()
            .all(|d| d["cloud_meta"].get("consumes_quota").is_some()),
        "cinder 3.69 fields missing"
    );

    // Nothing changed: the second pass writes nothing.
    assert_eq!(s.syncer(&["once"]).code(), 0);
    for (collection, ..) in COLLECTIONS {
        let record = last_run(&s, &format!("test/{collection}"));
        for key in ["inserted", "updated", "retired"] {
            assert_eq!(record[key], 0, "{collection}: {record}");
        }
    }
}

#[test]
fn a_resync_after_mutations_writes_exactly_the_changes() {
    let cloud = start(120);
    let compute = &COLLECTIONS[..1];
    let network = &COLLECTIONS[6..7];
    let both = [compute[0], network[0]];
    let s = Scratch::new(&config(&cloud, &both, ""));
    assert_eq!(s.syncer(&["once"]).code(), 0);

    let servers = cloud.ids(Kind::Server);
    cloud
        .mutate(Mutation::Rename {
            kind: Kind::Server,
            id: servers[0].clone(),
            name: "renamed".into(),
        })
        .unwrap();
    cloud
        .mutate(Mutation::Delete {
            kind: Kind::Server,
            id: servers[1].clone(),
        })
        .unwrap();
    let added = cloud.add(Kind::Network, None).unwrap();
    assert_eq!(s.syncer(&["once"]).code(), 0);

    let record = last_run(&s, "test/Instance");
    assert_eq!(
        (
            record["updated"].as_u64(),
            record["retired"].as_u64(),
            record["inserted"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let record = last_run(&s, "test/Network");
    assert_eq!(
        (record["inserted"].as_u64(), record["updated"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(exported_ids(&s, "Network", 1).contains(&added));
    assert!(exported_ids(&s, "Instance", -1).contains(&servers[1]));
}

/// Syncs servers once, deletes one in the cloud, adds `fault`, syncs again; returns
/// the second run's record.
fn servers_with_fault(
    rule: FaultRule,
    cloud_extra: &str,
) -> (Value, Scratch, TestCloudHandle, String) {
    let cloud = start(120);
    let s = Scratch::new(&config(&cloud, &COLLECTIONS[..1], cloud_extra));
    assert_eq!(s.syncer(&["once"]).code(), 0);
    let gone = cloud.ids(Kind::Server)[3].clone();
    cloud.delete(Kind::Server, &gone).unwrap();
    cloud.add_fault(rule);
    s.syncer(&["once"]);
    (last_run(&s, "test/Instance"), s, cloud, gone)
}

const SERVERS: &str = "/compute/v2.1/servers/detail";

#[test]
fn a_transient_500_is_retried_and_the_listing_completes() {
    let (record, s, _cloud, gone) = servers_with_fault(
        FaultRule::new(SERVERS, Fault::internal_error())
            .page(3)
            .times(2),
        "",
    );
    assert_eq!(record["outcome"], "succeeded", "{record}");
    assert_eq!(record["retries"], 2, "{record}");
    assert!(exported_ids(&s, "Instance", -1).contains(&gone));
}

#[test]
fn a_persistent_500_fails_the_job_and_retires_nothing() {
    let (record, s, _cloud, gone) =
        servers_with_fault(FaultRule::new(SERVERS, Fault::internal_error()).page(3), "");
    assert_eq!(record["outcome"], "failed", "{record}");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500 after 4 attempts"),
        "{record}"
    );
    assert_eq!(record["retired"], 0);
    assert!(
        exported_ids(&s, "Instance", 1).contains(&gone),
        "a failed listing retired something"
    );
}

#[test]
fn throttling_429_and_503_are_waited_out_honouring_retry_after() {
    for fault in [Fault::too_many_requests(1), Fault::unavailable(1)] {
        let (record, ..) = servers_with_fault(FaultRule::new(SERVERS, fault).page(2).times(1), "");
        assert_eq!(record["outcome"], "succeeded", "{record}");
        assert_eq!(record["throttled"], 1, "{record}");
    }
}

#[test]
fn throttling_past_the_limit_fails_the_job_and_retires_nothing() {
    let (record, s, _cloud, gone) = servers_with_fault(
        FaultRule::new(SERVERS, Fault::too_many_requests(5)).page(2),
        "throttle_limit = \"2s\"",
    );
    assert_eq!(record["outcome"], "failed", "{record}");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("still throttled (HTTP 429)"),
        "{record}"
    );
    assert!(exported_ids(&s, "Instance", 1).contains(&gone));
}

#[test]
fn a_token_that_expires_mid_listing_is_renewed_once_and_the_listing_goes_on() {
    let (record, s, cloud, gone) = servers_with_fault(
        FaultRule::new(SERVERS, Fault::ExpireToken { after: 3 }).times(1),
        "",
    );
    assert_eq!(record["outcome"], "succeeded", "{record}");
    assert!(exported_ids(&s, "Instance", -1).contains(&gone));
    // One token for the first run, one for the second, one after the expiry.
    let auths = cloud.stats().count("POST /identity/v3/auth/tokens");
    assert_eq!(auths, 3, "{:#?}", cloud.stats().requests_by_route);
}

#[test]
fn slow_answers_and_connection_resets_are_retried() {
    let (record, ..) = servers_with_fault(
        FaultRule::new(SERVERS, Fault::Delay { ms: 3000 })
            .page(2)
            .times(1),
        "request_timeout = \"1s\"",
    );
    assert_eq!(record["outcome"], "succeeded", "{record}");
    assert!(record["retries"].as_u64().unwrap() >= 1, "{record}");

    let (record, ..) =
        servers_with_fault(FaultRule::new(SERVERS, Fault::Reset).page(2).times(1), "");
    assert_eq!(record["outcome"], "succeeded", "{record}");
    assert!(record["retries"].as_u64().unwrap() >= 1, "{record}");
}

#[test]
fn a_page_that_repeats_its_marker_fails_the_job_and_retires_nothing() {
    let (record, s, _cloud, gone) =
        servers_with_fault(FaultRule::new(SERVERS, Fault::RepeatMarker).page(2), "");
    assert_eq!(record["outcome"], "failed", "{record}");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("the cursor did not advance"),
        "{record}"
    );
    assert!(exported_ids(&s, "Instance", 1).contains(&gone));
}

#[test]
fn get_functions_return_details_and_not_found() {
    use syncer_plugin_sdk::{CloudRef, GetRequest, Plugin};
    let cloud = start(60);
    let c = cloud.credentials();
    let settings = serde_json::json!({
        "auth_url": c.auth_url, "username": c.username, "password": c.password,
        "project_name": c.project_name,
    });
    let cloud_ref = CloudRef {
        name: "get-test".into(),
        settings: settings.as_object().unwrap().clone(),
    };
    let get = |plugin: &dyn Plugin, function: &str, id: &str| {
        plugin
            .get(&GetRequest {
                function: function.into(),
                cloud: cloud_ref.clone(),
                id: id.into(),
            })
            .unwrap()
    };
    let compute = syncer_plugin_compute::plugin();
    let server = cloud.ids(Kind::Server)[0].clone();
    let found = get(&compute, "get_server", &server).expect("the server exists");
    assert_eq!(found.reference_id, server);
    assert_eq!(found.cloud_meta["id"], server.as_str());
    assert!(
        found.cloud_meta.get("server_groups").is_some(),
        "show carries the 2.71+ fields"
    );
    assert_eq!(get(&compute, "get_server", "no-such-server"), None);
    let image = cloud.ids(Kind::Image)[0].clone();
    assert_eq!(
        get(&syncer_plugin_image::plugin(), "get_image", &image)
            .unwrap()
            .reference_id,
        image
    );
    let port = cloud.ids(Kind::Port)[0].clone();
    assert_eq!(
        get(&syncer_plugin_network::plugin(), "get_port", &port)
            .unwrap()
            .reference_id,
        port
    );
    let volume = cloud.ids(Kind::Volume)[0].clone();
    assert_eq!(
        get(
            &syncer_plugin_block_storage::plugin(),
            "get_volume",
            &volume
        )
        .unwrap()
        .reference_id,
        volume
    );
}

/// A config whose `[clouds.test]` table is `cloud_table`, syncing flavors.
fn flavors_with(cloud_table: &str) -> String {
    format!(
        "[store.embedded]\npath = \"inventory.sqlite\"\n\n[clouds.test]\n{cloud_table}\n\n[collections.Flavor]\nplugin = \"compute\"\nfunction = \"flavors\"\ninterval = \"15m\"\n"
    )
}

#[test]
fn credentials_come_from_clouds_yaml_os_variables_or_an_application_credential() {
    let cloud = start(60);
    let c = cloud.credentials();
    let flavors: BTreeSet<String> = cloud.ids(Kind::Flavor).into_iter().collect();

    // clouds.yaml named by OS_CLIENT_CONFIG_FILE.
    let s = Scratch::new(&flavors_with("cloud = \"lab\""));
    std::fs::create_dir_all(s.path("conf")).unwrap();
    let yaml = format!(
        "clouds:\n  lab:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    interface: public\n",
        c.auth_url, c.username, c.password, c.project_name, c.region_name
    );
    let file = s.path("conf/lab-clouds.yaml");
    std::fs::write(&file, yaml).unwrap();
    let run = s.syncer_with_env(
        &["once"],
        &[("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap())],
    );
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert_eq!(exported_ids(&s, "Flavor", 1), flavors);
    let missing = s.syncer(&["once"]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stdout().contains("no clouds.yaml for cloud `lab`"),
        "{}",
        missing.stdout()
    );

    // OS_* variables.
    let s = Scratch::new(&flavors_with("from_env = true"));
    let run = s.syncer_with_env(
        &["once"],
        &[
            ("OS_AUTH_URL", &c.auth_url),
            ("OS_USERNAME", &c.username),
            ("OS_PASSWORD", &c.password),
            ("OS_PROJECT_NAME", &c.project_name),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ],
    );
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert_eq!(exported_ids(&s, "Flavor", 1), flavors);

    // An application credential, its secret from the environment.
    let table = format!(
        "auth_url = \"{}\"\napplication_credential_id = \"{}\"\napplication_credential_secret = \"${{APP_SECRET}}\"",
        c.auth_url, c.application_credential_id
    );
    let s = Scratch::new(&flavors_with(&table));
    let run = s.syncer_with_env(
        &["once"],
        &[("APP_SECRET", &c.application_credential_secret)],
    );
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    // The config names ${APP_SECRET}: reading the store needs it set too.
    let docs = s
        .syncer_with_env(
            &["export", "--collection", "Flavor"],
            &[("APP_SECRET", "x")],
        )
        .json_lines();
    let ids: BTreeSet<String> = docs
        .iter()
        .map(|d| d["reference_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, flavors);
    // A wrong secret fails the job with the cloud's answer, and the secret is not shown.
    let run = s.syncer_with_env(&["once"], &[("APP_SECRET", "wrong-secret-value")]);
    assert_eq!(run.code(), 1);
    let text = format!("{}{}", run.stdout(), run.stderr());
    assert!(text.contains("cannot authenticate"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
}

#[test]
fn bad_openstack_settings_are_config_errors_with_their_key() {
    let s = Scratch::new(&flavors_with(
        "auth_url = \"http://127.0.0.1:1/v3\"\nusername = \"u\"\npasword = \"p\"",
    ));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("syncer.toml:7: clouds.test.pasword: plugin `compute`: cloud `test`: unknown field `pasword`"),
        "{}",
        run.stderr()
    );
    let s = Scratch::new(&flavors_with(
        "auth_url = \"http://127.0.0.1:1/v3\"\nusername = \"u\"\npassword = \"p\"",
    ));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("clouds.test.project_name: plugin `compute`: missing key: password authentication needs `project_name` or `project_id`"),
        "{}",
        run.stderr()
    );
}

#[test]
fn all_projects_can_be_turned_off_per_job() {
    let cloud = start(120);
    let text = config(&cloud, &COLLECTIONS[..1], "").replace(
        "[collections.Instance]\n",
        "[collections.Instance]\noptions = { all_projects = false }\n",
    );
    let s = Scratch::new(&text);
    assert_eq!(s.syncer(&["once"]).code(), 0);
    let admin = cloud.admin_project_id();
    let mine: BTreeSet<String> = cloud
        .ids_in_project(Kind::Server, &admin)
        .into_iter()
        .collect();
    assert!(
        mine.len() < cloud.count(Kind::Server),
        "the admin project holds every server"
    );
    assert_eq!(exported_ids(&s, "Instance", 1), mine);
}

#[test]
fn catalogs_that_name_cinder_volumev3_or_block_storage_both_work() {
    for types in [vec!["volumev3"], vec!["block-storage"]] {
        let cloud = TestCloud::start(TestCloudConfig {
            size: 60,
            seed: 7,
            cinder_catalog_types: types.clone(),
            ..Default::default()
        })
        .unwrap();
        let s = Scratch::new(&config(&cloud, &COLLECTIONS[13..14], ""));
        let run = s.syncer(&["once"]);
        assert_eq!(run.code(), 0, "{types:?}: {}", run.stdout());
        let expected: BTreeSet<String> = cloud.ids(Kind::Volume).into_iter().collect();
        assert_eq!(exported_ids(&s, "Volume", 1), expected, "{types:?}");
    }
}
