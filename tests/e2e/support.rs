//! Helpers for the end-to-end tests: the built binary and plugins, a scratch directory
//! with a config, and running `syncer` in it with a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `target/debug` (or wherever this test binary was built).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

/// The `syncer` binary; `cargo xtask test` builds it first.
pub fn syncer_bin() -> PathBuf {
    let path = target_dir().join("syncer");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo xtask test`",
        path.display()
    );
    path
}

/// The folder of plugin `.so` files that `cargo xtask build` made.
pub fn plugin_dir() -> PathBuf {
    let dir = std::env::var_os("SYNCER_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/plugins"));
    assert!(
        dir.join("libsyncer_plugin_template.so").exists(),
        "{} has no plugin libraries: run the tests with `cargo xtask test`",
        dir.display()
    );
    dir
}

/// A scratch directory holding a `syncer.toml`.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A scratch directory whose `syncer.toml` is `config`.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("syncer.toml"), config).unwrap();
        Scratch { dir }
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `syncer ARGS` in the scratch directory with only the environment a test
    /// gives it.
    pub fn syncer(&self, args: &[&str]) -> Run {
        let output = Command::new(syncer_bin())
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SYNCER_LOG", "warn")
            .output()
            .unwrap();
        Run(output)
    }
}

/// A finished `syncer` process.
pub struct Run(pub Output);

impl Run {
    /// Exit code.
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("syncer was killed by a signal")
    }
    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout()))
    }
    /// Standard output parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Builds a shared library from C source with the system C compiler: how the tests
/// make libraries that are not syncer plugins, or that lie about their ABI.
pub fn c_library(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let lib = dir.join(format!("lib{name}.so"));
    std::fs::write(&src, source).unwrap();
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed for these tests");
    assert!(status.success());
    lib
}

/// The MongoDB wire-protocol test bridge (`tests/mongo-bridge/bridge.py`: mockupdb +
/// mongomock) running as a child process on a loopback port the OS picked. Stopped on
/// drop. The product talks to it through the real driver, as to any MongoDB.
pub struct MongoBridge {
    child: std::process::Child,
    /// `mongodb://127.0.0.1:PORT`.
    pub uri: String,
}

impl MongoBridge {
    /// Starts a bridge and waits for its `listening HOST:PORT` line.
    pub fn start() -> Self {
        use std::io::BufRead;
        let script = root().join("tests/mongo-bridge/bridge.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("python3 runs the MongoDB test bridge");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        let Some(address) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            panic!(
                "the MongoDB test bridge did not start (got {line:?}); install its packages with \
                 `pip install -r tests/mongo-bridge/requirements.txt` or run `cargo xtask test`"
            );
        };
        MongoBridge {
            uri: format!("mongodb://{address}"),
            child,
        }
    }
}

impl Drop for MongoBridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
