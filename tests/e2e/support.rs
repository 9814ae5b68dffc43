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
        self.syncer_with_env(args, &[])
    }

    /// Runs `syncer ARGS` with only `env` (and `PATH`) in its environment.
    pub fn syncer_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(syncer_bin())
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SYNCER_LOG", "warn")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Run(output)
    }

    /// After two runs of one job: asserts that the first inserted `inserted` documents
    /// in `pages` pages and the second wrote nothing; returns the two run records.
    pub fn assert_second_run_wrote_nothing(
        &self,
        inserted: u64,
        pages: u64,
    ) -> Vec<serde_json::Value> {
        let runs = self
            .syncer(&["export", "--collection", "sync_runs"])
            .json_lines();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0]["inserted"].as_u64(), runs[0]["pages"].as_u64()),
            (Some(inserted), Some(pages))
        );
        for key in ["inserted", "updated", "retired"] {
            assert_eq!(runs[1][key], 0, "second run wrote: {}", runs[1]);
        }
        runs
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
    /// The entry named `name` in the output of `syncer plugins --format json`.
    pub fn plugin(&self, name: &str) -> serde_json::Value {
        self.json()
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no plugin `{name}` listed: {}", self.stdout()))
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

/// One or more `syncer run` processes (replicas) whose JSON log lines the test reads
/// as they come: the test waits on what the daemons say, not on the clock.
pub struct Daemon {
    children: Vec<std::process::Child>,
    sender: std::sync::mpsc::Sender<(usize, serde_json::Value)>,
    lines: std::sync::mpsc::Receiver<(usize, serde_json::Value)>,
    /// Every line read so far, with the index of the process that wrote it.
    pub seen: Vec<(usize, serde_json::Value)>,
}

/// How long a test waits for a log line before it fails (a bound, not a sleep).
pub const DAEMON_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Daemon {
    /// Starts `syncer --log-format json run` in `scratch` (process 0).
    pub fn start(scratch: &Scratch) -> Self {
        let mut daemon = Self::empty();
        daemon.add(scratch, "info");
        daemon
    }

    /// No process yet.
    pub fn empty() -> Self {
        let (sender, lines) = std::sync::mpsc::channel();
        Daemon {
            children: Vec::new(),
            sender,
            lines,
            seen: Vec::new(),
        }
    }

    /// Starts one more `syncer run` with log filter `filter`; returns its index.
    pub fn add(&mut self, scratch: &Scratch, filter: &str) -> usize {
        self.add_command(scratch, filter, &["run"])
    }

    /// Starts `syncer --log-format json ARGS` as one more process; returns its index.
    pub fn add_command(&mut self, scratch: &Scratch, filter: &str, args: &[&str]) -> usize {
        let index = self.children.len();
        let mut child = Command::new(syncer_bin())
            .args(["--log-format", "json"])
            .args(args)
            .current_dir(scratch.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SYNCER_LOG", filter)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx = self.sender.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let value =
                    serde_json::from_str(&line).unwrap_or(serde_json::json!({ "raw": line }));
                if tx.send((index, value)).is_err() {
                    break;
                }
            }
        });
        self.children.push(child);
        index
    }

    /// Reads log lines until one satisfies `wanted`; returns the writer and the line.
    pub fn wait_for(
        &mut self,
        what: &str,
        wanted: impl Fn(usize, &serde_json::Value) -> bool,
    ) -> (usize, serde_json::Value) {
        loop {
            match self.lines.recv_timeout(DAEMON_WAIT) {
                Ok((index, line)) => {
                    self.seen.push((index, line.clone()));
                    if wanted(index, &line) {
                        return (index, line);
                    }
                }
                Err(_) => panic!(
                    "syncer run never logged {what}; it logged:\n{:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Waits for a log message of process `from` (any when `None`), optionally of one job.
    pub fn wait_message_from(
        &mut self,
        from: Option<usize>,
        message: &str,
        job: Option<&str>,
    ) -> (usize, serde_json::Value) {
        let what = format!("{message:?} for {job:?} from {from:?}");
        self.wait_for(&what, |index, l| {
            from.is_none_or(|f| f == index)
                && l["fields"]["message"] == message
                && job.is_none_or(|j| l["span"]["job"] == j || l["fields"]["job"] == j)
        })
    }

    /// Waits for a log message of any process, optionally of one job.
    pub fn wait_message(&mut self, message: &str, job: Option<&str>) -> serde_json::Value {
        self.wait_message_from(None, message, job).1
    }

    /// Sends a signal (`"TERM"`, `"HUP"`, `"KILL"`, ...) to process 0.
    pub fn signal(&self, name: &str) {
        self.signal_to(0, name);
    }

    /// Sends a signal to process `index`.
    pub fn signal_to(&self, index: usize, name: &str) {
        let pid = self.children[index].id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for process 0 to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.wait_exit_of(0)
    }

    /// Waits for process `index` to exit and returns its exit code; keeps its log lines.
    pub fn wait_exit_of(&mut self, index: usize) -> Option<i32> {
        let code = self.children[index].wait().unwrap().code();
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        code
    }

    /// Log lines of process `index` seen so far.
    pub fn seen_from(&self, index: usize) -> impl Iterator<Item = &serde_json::Value> {
        self.seen
            .iter()
            .filter(move |(i, _)| *i == index)
            .map(|(_, l)| l)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` on a loopback HTTP server: (status code, body).
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
