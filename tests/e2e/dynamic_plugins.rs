//! Plugins loaded from `.so` files: the ones `cargo xtask build` made, and broken ones.

use std::sync::Arc;

use syncer_e2e::{c_library, plugin_dir, Scratch};
use syncer_plugin_host::{LoadedPlugin, Origin};
use syncer_plugin_sdk::{CloudRef, GetRequest, ListRequest};

fn template_so() -> std::path::PathBuf {
    plugin_dir().join("libsyncer_plugin_template.so")
}

fn config(plugins: &str) -> String {
    format!(
        r#"
[store.embedded]
path = "inventory.sqlite"

{plugins}

[clouds.demo]
count = 250

[collections.Item]
plugin = "template"
function = "items"
interval = "15m"
page_size = 40
"#
    )
}

#[test]
fn a_built_so_lists_across_pages_through_the_c_abi() {
    let plugin = LoadedPlugin::dynamic(template_so()).unwrap();
    assert_eq!(plugin.origin, Origin::Dynamic(template_so()));
    assert_eq!(plugin.manifest.name, "template");

    let mut settings = serde_json::Map::new();
    settings.insert("count".into(), 95.into());
    let cloud = CloudRef {
        name: "demo".into(),
        settings,
    };
    let mut request = ListRequest {
        function: "items".into(),
        cloud: cloud.clone(),
        cursor: None,
        page_size: 20,
        options: Default::default(),
    };
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = plugin.list(&request).unwrap();
        pages += 1;
        ids.extend(page.items.iter().map(|r| r.reference_id.clone()));
        match page.next {
            Some(next) => request.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(ids.len(), 95);
    assert_eq!(ids.first().unwrap(), "item-000000");
    assert_eq!(ids.last().unwrap(), "item-000094");

    let get = |id: &str| {
        plugin.get(&GetRequest {
            function: "item".into(),
            cloud: cloud.clone(),
            id: id.into(),
        })
    };
    assert_eq!(
        get("item-000042").unwrap().unwrap().project_id.as_deref(),
        Some("project-00")
    );
    assert_eq!(get("item-000095").unwrap(), None);
    let err = plugin
        .list(&ListRequest {
            function: "nope".into(),
            ..request
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown function: plugin `template` has no function `nope`"
    );
}

#[test]
fn plugins_lists_the_so_files_as_dynamic_with_their_paths() {
    let dir = plugin_dir();
    let s = Scratch::new(&config(&format!(
        "[plugins]\nbuiltin = []\ndir = {:?}",
        dir.display().to_string()
    )));
    let run = s.syncer(&["plugins", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let template = run.plugin("template");
    assert_eq!(template["kind"], "dynamic");
    assert_eq!(template["path"], template_so().display().to_string());
    assert_eq!(
        template["functions"][0],
        serde_json::json!({"name": "items", "kind": "list"})
    );

    let once = s.syncer(&["once"]);
    assert_eq!(once.code(), 0, "{}", once.stderr());
    assert_eq!(
        s.syncer(&["export", "--collection", "Item"])
            .json_lines()
            .len(),
        250
    );
}

#[test]
fn a_dynamic_plugin_replaces_a_builtin_only_when_the_config_says_so() {
    let path = template_so().display().to_string();
    let s = Scratch::new(&config(&format!("[plugins]\npaths = [{path:?}]")));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains(&format!(
            "two plugins are named `template`: the built-in and {path}; to use the dynamic one, add its name to `plugins.replace_builtins`"
        )),
        "{}",
        run.stderr()
    );

    let s = Scratch::new(&config(&format!(
        "[plugins]\npaths = [{path:?}]\nreplace_builtins = [\"template\"]"
    )));
    let run = s.syncer(&["plugins", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let template = run.plugin("template");
    assert_eq!(template["kind"], "dynamic");
    assert_eq!(template["path"], path.as_str());
}

#[test]
fn two_dynamic_plugins_with_one_name_are_refused() {
    let s = Scratch::new("");
    let copy = s.path("libsyncer_plugin_template_copy.so");
    std::fs::copy(template_so(), &copy).unwrap();
    let (a, b) = (
        template_so().display().to_string(),
        copy.display().to_string(),
    );
    std::fs::write(
        s.path("syncer.toml"),
        config(&format!("[plugins]\nbuiltin = []\npaths = [{a:?}, {b:?}]")),
    )
    .unwrap();
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains(&format!("two plugins are named `template`: {a} and {b}")),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_file_that_is_not_a_library_is_refused_by_name() {
    let s = Scratch::new("");
    std::fs::write(s.path("libfake.so"), "not an ELF file").unwrap();
    std::fs::write(s.path("syncer.toml"), config("[plugins]\ndir = \".\"")).unwrap();
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    let expected = format!(
        "{}: not a loadable library:",
        s.path("libfake.so").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}

/// Runs `syncer COMMAND` with a config that loads `lib`; expects exit 2 and returns
/// what it printed on stderr.
fn refused(s: &Scratch, lib: &std::path::Path, command: &str) -> String {
    let paths = format!("[plugins]\npaths = [{:?}]", lib.display().to_string());
    std::fs::write(s.path("syncer.toml"), config(&paths)).unwrap();
    let run = s.syncer(&[command]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    run.stderr()
}

#[test]
fn a_library_without_the_abi_symbol_is_refused_by_name() {
    let s = Scratch::new("");
    let lib = c_library(s.dir.path(), "noabi", "int hello(void) { return 1; }\n");
    let stderr = refused(&s, &lib, "check");
    let expected = format!(
        "{}: not a syncer plugin: the library exports no `syncer_plugin_abi_version` symbol",
        lib.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_library_of_another_abi_version_is_refused_with_both_versions() {
    let s = Scratch::new("");
    let lib = c_library(
        s.dir.path(),
        "future",
        "unsigned int syncer_plugin_abi_version(void) { return 999; }\n",
    );
    let stderr = refused(&s, &lib, "plugins");
    let expected = format!(
        "{}: built for plugin ABI version 999, this host speaks version 1; rebuild it against this syncer's plugin SDK",
        lib.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_missing_plugin_directory_is_reported() {
    let s = Scratch::new(&config("[plugins]\ndir = \"no-such-dir\""));
    let run = s.syncer(&["check"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("no-such-dir: cannot read the plugin directory"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_builtin_and_its_so_share_one_implementation() {
    let builtin = LoadedPlugin::builtin(Arc::new(syncer_plugin_template_shim())).unwrap();
    let dynamic = LoadedPlugin::dynamic(template_so()).unwrap();
    assert_eq!(builtin.manifest, dynamic.manifest);
}

/// The template plugin linked in, to compare with its `.so`.
fn syncer_plugin_template_shim() -> impl syncer_plugin_sdk::Plugin {
    syncer_plugin_template::TemplatePlugin
}
