//! `cargo xtask <task>`: the project's tasks, one command each, the same for people
//! and CI.

mod bench;
mod testcloud;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  build               the host and every plugin under plugins/ as a .so, into target/plugins
  test                the whole test suite (Rust workspace and the MongoDB test bridge)
  lint                cargo fmt --check and cargo clippy -D warnings
  ci                  lint, then test: exactly what .ci/run does
  demo                sync the demo cloud with the shipped syncer.toml and show the result
  new-plugin NAME     scaffold plugins/NAME from plugins/template
  bench               syncer against the Python baseline on the benchmark's cloud (target/bench/report.json)
  testcloud [--size N] [--seed S] [--listen ADDR]
                      run the OpenStack test cloud in the foreground (default 127.0.0.1:8780)";

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["build"] => build().map(|_| ()),
        ["test"] => test(),
        ["lint"] => lint(),
        ["ci"] => lint().and_then(|_| test()),
        ["demo"] => demo(),
        ["new-plugin", name] => new_plugin(&root(), name),
        ["testcloud", rest @ ..] => testcloud(rest),
        ["bench"] => bench::bench(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_owned()
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Result {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

/// Package names of the plugin crates under plugins/.
fn plugin_packages() -> Result<Vec<String>> {
    let mut names = Vec::new();
    let dir = root().join("plugins");
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")
                    .and_then(|r| r.strip_suffix('"'))
            })
            .ok_or_else(|| format!("{}: no package name", manifest.display()))?;
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Builds the host and every plugin as a `.so`; returns the plugin folder.
fn build() -> Result<PathBuf> {
    run(cargo().args(["build", "--package", "syncer"]))?;
    let out = root().join("target/plugins");
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for package in plugin_packages()? {
        // `cargo rustc --crate-type cdylib` builds the .so without making every
        // build of the host also link a cdylib per plugin; `dynamic` emits the exports.
        run(cargo().args([
            "rustc",
            "--package",
            &package,
            "--lib",
            "--crate-type",
            "cdylib",
            "--features",
            "dynamic",
        ]))?;
        let file = format!(
            "lib{}.{}",
            package.replace('-', "_"),
            env::consts::DLL_EXTENSION
        );
        let built = root().join("target/debug").join(&file);
        fs::copy(&built, out.join(&file))
            .map_err(|e| format!("copying {}: {e}", built.display()))?;
        eprintln!("xtask: plugin {package} -> target/plugins/{file}");
    }
    Ok(out)
}

fn test() -> Result {
    let plugins = build()?;
    // Not `--all-features`: each plugin's `dynamic` feature emits the same C symbols,
    // so two plugins with it cannot link into one binary.
    run(cargo()
        .args(["test", "--workspace"])
        .env("SYNCER_PLUGIN_DIR", &plugins))?;
    bridge_tests()
}

/// The MongoDB wire bridge's own tests (protocol and the differential test against
/// plain mongomock). Installs its pinned Python packages when they are missing.
fn bridge_tests() -> Result {
    let bridge = root().join("tests/mongo-bridge");
    if !bridge.join("test_bridge.py").exists() {
        return Ok(());
    }
    ensure_bridge_packages()?;
    run(Command::new("python3")
        .args(["-m", "pytest", "-q", "test_bridge.py"])
        .current_dir(&bridge))
}

/// Installs the bridge's pinned Python packages if they are not importable.
pub fn ensure_bridge_packages() -> Result {
    let present = Command::new("python3")
        .args(["-c", "import mockupdb, mongomock, pymongo, pytest"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing the MongoDB test bridge's Python packages");
    run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "pytest", "-r"])
        .arg(root().join("tests/mongo-bridge/requirements.txt")))
}

fn lint() -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

/// Starts the test cloud where the shipped syncer.toml points, syncs every collection
/// into the embedded store, prints what was synced, and stops the test cloud.
fn demo() -> Result {
    run(cargo().args([
        "build",
        "--package",
        "syncer",
        "--package",
        "syncer-testcloud",
    ]))?;
    let bin = root().join("target/debug");
    let cloud = testcloud::Cloud::start(&bin, &["--size", "2000"], TESTCLOUD_LISTEN)?;
    let password = &cloud.password;
    let result = (|| {
        eprintln!(
            "xtask: test cloud up on {TESTCLOUD_LISTEN}; syncing every collection (syncer.toml)"
        );
        let config = root().join("syncer.toml");
        let once = Command::new(bin.join("syncer"))
            .arg("--config")
            .arg(&config)
            .arg("once")
            .env("SYNCER_DEMO_PASSWORD", password)
            .env("SYNCER_LOG", "warn")
            .status()
            .map_err(|e| e.to_string())?;
        let output = Command::new(bin.join("syncer"))
            .arg("--config")
            .arg(&config)
            .args(["export", "--collection", "Instance", "--format", "table"])
            .env("SYNCER_DEMO_PASSWORD", password)
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&output.stdout);
        println!(
            "\nInstance: {} documents, the first of them:",
            text.lines().count().saturating_sub(1)
        );
        for line in text.lines().take(6) {
            println!("{line}");
        }
        if once.success() {
            Ok(())
        } else {
            Err(format!("syncer once failed: {once}"))
        }
    })();
    drop(cloud);
    result
}

/// The address the test cloud listens on unless told otherwise.
const TESTCLOUD_LISTEN: &str = "127.0.0.1:8780";

fn testcloud(args: &[&str]) -> Result {
    let mut command = cargo();
    command
        .args(["run", "--quiet", "--package", "syncer-testcloud", "--"])
        .args(args);
    if !args.contains(&"--listen") {
        command.args(["--listen", TESTCLOUD_LISTEN]);
    }
    run(&mut command)
}

/// Copies `plugins/template` under `root` to `plugins/NAME`, renamed.
fn new_plugin(root: &Path, name: &str) -> Result {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid || name == "template" {
        return Err(format!(
            "plugin name `{name}` must be lowercase letters, digits and `-`, and not `template`"
        ));
    }
    let from = root.join("plugins/template");
    let to = root.join("plugins").join(name);
    if to.exists() {
        return Err(format!("{} already exists", to.display()));
    }
    let camel: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    fs::create_dir_all(to.join("src")).map_err(|e| e.to_string())?;
    for file in ["Cargo.toml", "src/lib.rs"] {
        let text = fs::read_to_string(from.join(file)).map_err(|e| e.to_string())?;
        let text = text
            .replace("syncer-plugin-template", &format!("syncer-plugin-{name}"))
            .replace("TemplatePlugin", &format!("{camel}Plugin"))
            .replace("pub const NAME: &str = \"template\";", &format!("pub const NAME: &str = \"{name}\";"))
            .replace("`template`: the model plugin, and the demo cloud until the OpenStack plugins land.", &format!("`{name}`: a syncer plugin."))
            .replace("The model plugin: a generated in-memory cloud; copy it with `cargo xtask new-plugin NAME`", &format!("The {name} plugin for syncer"));
        fs::write(to.join(file), text).map_err(|e| e.to_string())?;
    }
    println!(
        "created plugins/{name} (package syncer-plugin-{name}, plugin name `{name}`).\n\
         next: replace the generated cloud in plugins/{name}/src/lib.rs with calls to yours, then\n  \
         cargo xtask build        # builds target/plugins/libsyncer_plugin_{}.so\n\
         and load it with `[plugins] paths = [\"target/plugins/libsyncer_plugin_{}.so\"]` in syncer.toml.",
        name.replace('-', "_"),
        name.replace('-', "_")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_plugin_renames_the_template_everywhere() {
        let scratch = env::temp_dir().join(format!("xtask-new-plugin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(scratch.join("plugins/template/src")).unwrap();
        for file in ["Cargo.toml", "src/lib.rs"] {
            fs::copy(
                root().join("plugins/template").join(file),
                scratch.join("plugins/template").join(file),
            )
            .unwrap();
        }
        new_plugin(&scratch, "acme-cloud").unwrap();
        let manifest = fs::read_to_string(scratch.join("plugins/acme-cloud/Cargo.toml")).unwrap();
        let lib = fs::read_to_string(scratch.join("plugins/acme-cloud/src/lib.rs")).unwrap();
        assert!(
            manifest.contains("name = \"syncer-plugin-acme-cloud\""),
            "{manifest}"
        );
        assert!(manifest.contains("dynamic = []"), "{manifest}");
        assert!(lib.contains("pub const NAME: &str = \"acme-cloud\";"));
        assert!(lib.contains("pub struct AcmeCloudPlugin;"));
        assert!(lib.contains("syncer_plugin_sdk::export_plugin!(AcmeCloudPlugin);"));
        assert!(!lib.contains("TemplatePlugin") && !lib.contains("\"template\""));
        assert!(new_plugin(&scratch, "acme-cloud")
            .unwrap_err()
            .contains("already exists"));
        assert!(new_plugin(&scratch, "Bad_Name").is_err());
        fs::remove_dir_all(&scratch).unwrap();
    }
}
