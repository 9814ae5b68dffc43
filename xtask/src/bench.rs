//! `cargo xtask bench`: syncer against the Python way (openstacksdk + pymongo) on the
//! benchmark's cloud, every scenario measured as wall time, CPU time and peak RSS of the
//! process under test, with documents written, API requests and bytes served.
//!
//! Scenarios: (a) first full sync into an empty store, (b) the same again (zero writes),
//! (c) after 1% of resources changed, 1% added and 1% deleted, (d) the Heat job alone,
//! (e) (a) with 20 ms added to every answer. Stores: embedded, MongoDB (the wire bridge)
//! and none (listing only). Plus the floor: a plain HTTP client fetching the same pages.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::testcloud::Cloud;
use crate::{run, Result};

const LISTEN: &str = "127.0.0.1:8790";
const COLLECTIONS: [(&str, &str, &str); 16] = [
    ("Instance", "compute", "servers"),
    ("Flavor", "compute", "flavors"),
    ("KeyPair", "compute", "keypairs"),
    ("ServerGroup", "compute", "server_groups"),
    ("Hypervisor", "compute", "hypervisors"),
    ("Image", "image", "images"),
    ("Network", "network", "networks"),
    ("Subnet", "network", "subnets"),
    ("Port", "network", "ports"),
    ("Router", "network", "routers"),
    ("FloatingIP", "network", "floating_ips"),
    ("SecurityGroup", "network", "security_groups"),
    ("SecurityGroupRule", "network", "security_group_rules"),
    ("Volume", "block-storage", "volumes"),
    ("VolumeSnapshot", "block-storage", "snapshots"),
    ("Project", "identity", "projects"),
];
/// Kinds churned in scenario (c), as the test cloud names them.
const CHURN: [&str; 6] = ["server", "port", "network", "subnet", "volume", "image"];

/// One measured run.
struct Row {
    tool: &'static str,
    store: &'static str,
    scenario: &'static str,
    wall_s: f64,
    cpu_s: f64,
    rss_mb: f64,
    writes: u64,
    requests: u64,
    bytes: u64,
    /// CPU seconds the test cloud spent serving the run.
    cloud_cpu_s: f64,
    /// CPU seconds the MongoDB bridge spent on the run (mongodb rows only).
    bridge_cpu_s: Option<f64>,
}

/// User + system CPU seconds a process has used so far, from /proc.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the parenthesised command name; utime and stime are the 14th and
    // 15th of the whole line, in clock ticks.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((ticks(11) + ticks(12)) / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A plain HTTP/1.1 request to the test cloud's admin endpoint.
fn admin(method: &str, path: &str, body: &str) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(LISTEN).map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {LISTEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}

/// (requests, bytes) served since the last reset, and resets them.
fn served() -> Result<(u64, u64)> {
    let stats = admin("GET", "/_testcloud/stats", "")?;
    let number = |key: &str| -> u64 {
        stats
            .split_once(&format!("\"{key}\":"))
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let requests = stats.matches("\"method\":").count() as u64;
    let bytes = number("bytes_served");
    admin("DELETE", "/_testcloud/stats", "")?;
    Ok((requests, bytes))
}

/// 1% of each churned kind renamed, 1% deleted, 1% added.
fn churn() -> Result {
    for kind in CHURN {
        let ids = admin("GET", &format!("/_testcloud/ids/{kind}"), "")?;
        let ids: Vec<&str> = ids.split('"').skip(1).step_by(2).collect();
        let n = (ids.len() / 100).max(1);
        for id in &ids[..n] {
            admin("POST", "/_testcloud/mutate", &format!("{{\"op\":\"rename\",\"kind\":\"{kind}\",\"id\":\"{id}\",\"name\":\"churned\"}}"))?;
        }
        for id in &ids[n..2 * n] {
            admin(
                "POST",
                "/_testcloud/mutate",
                &format!("{{\"op\":\"delete\",\"kind\":\"{kind}\",\"id\":\"{id}\"}}"),
            )?;
        }
        for _ in 0..n {
            admin(
                "POST",
                "/_testcloud/mutate",
                &format!("{{\"op\":\"add\",\"kind\":\"{kind}\"}}"),
            )?;
        }
    }
    Ok(())
}

/// Runs `command` under `/usr/bin/time`: (wall s, user+sys s, max RSS MB, stdout).
fn measure(command: Command, scratch: &Path) -> Result<(f64, f64, f64, String)> {
    let times = scratch.join("time.txt");
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = command
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%U %S %M", "-o"])
        .arg(&times)
        .arg(program)
        .args(args);
    for (k, v) in envs {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        timed.current_dir(dir);
    }
    let started = Instant::now();
    let output = timed
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time (apt-get install time): {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&times).map_err(|e| e.to_string())?;
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [user, sys, rss_kb] = fields[..] else {
        return Err(format!("unreadable /usr/bin/time output: {text}"));
    };
    Ok((
        wall,
        user + sys,
        rss_kb / 1024.0,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// Documents written, from `syncer once`'s table (INSERTED + UPDATED + RETIRED).
fn syncer_writes(table: &str) -> u64 {
    table
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            cells
                .get(3..6)
                .map(|c| c.iter().filter_map(|n| n.parse::<u64>().ok()).sum())
                .unwrap_or(0)
        })
        .sum()
}

/// Documents written, from the baseline's JSON line.
fn baseline_writes(json: &str) -> u64 {
    ["inserted", "updated", "retired"]
        .iter()
        .filter_map(|key| {
            json.split_once(&format!("\"{key}\": "))
                .and_then(|(_, rest)| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_digit())
                        .collect::<String>()
                        .parse::<u64>()
                        .ok()
                })
        })
        .sum()
}

/// The database of a run: one per tool and cloud, so (e) starts from an empty store.
fn database(tool: &str, scenario: &str) -> String {
    let cloud = if scenario.starts_with("e-") {
        "latency"
    } else {
        "plain"
    };
    format!("{tool}_{cloud}_{}", std::process::id())
}

fn syncer_config(
    cloud: &Cloud,
    store: &str,
    scratch: &Path,
    bridge: &str,
    scenario: &str,
) -> String {
    let store = match store {
        "embedded" => format!(
            "[store.embedded]\npath = \"{}\"\n",
            scratch.join("inventory.sqlite").display()
        ),
        _ => format!(
            "[store.mongodb]\nuri = \"{bridge}\"\ndatabase = \"{}\"\n",
            database("syncer", scenario)
        ),
    };
    let mut text = format!(
        "{store}\n[clouds.bench]\nauth_url = \"{}\"\nusername = \"admin\"\npassword = \"{}\"\nproject_name = \"admin\"\n\n[heat]\ninterval = \"1h\"\n",
        cloud.auth_url(),
        cloud.password
    );
    for (collection, plugin, function) in COLLECTIONS {
        let _ = write!(text, "\n[collections.{collection}]\nplugin = \"{plugin}\"\nfunction = \"{function}\"\ninterval = \"1h\"\n");
    }
    text
}

struct Bench {
    bin: PathBuf,
    out: PathBuf,
    bridge: String,
    bridge_pid: u32,
    rows: Vec<Row>,
}

/// Who runs, how its output counts writes.
#[derive(Clone, Copy)]
enum Tool {
    Syncer,
    Baseline,
    /// The baseline script's plain-HTTP mode.
    PlainHttp,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Syncer => "syncer",
            Tool::Baseline => "baseline",
            Tool::PlainHttp => "plain-http",
        }
    }
}

impl Bench {
    /// The command that runs `tool` for one scenario, in its scratch directory.
    fn command(
        &self,
        tool: Tool,
        cloud: &Cloud,
        store: &'static str,
        scenario: &'static str,
    ) -> Result<(Command, PathBuf)> {
        let prefix = if matches!(tool, Tool::Syncer) {
            "syncer"
        } else {
            "baseline"
        };
        let scratch = self.out.join(format!("{prefix}-{store}"));
        std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        let heat = scenario == "d-heat";
        let command = match tool {
            Tool::Syncer => {
                std::fs::write(
                    scratch.join("syncer.toml"),
                    syncer_config(cloud, store, &scratch, &self.bridge, scenario),
                )
                .map_err(|e| e.to_string())?;
                let mut command = Command::new(self.bin.join("syncer"));
                command
                    .current_dir(&scratch)
                    .env("SYNCER_LOG", "error")
                    .arg("once");
                if store == "none" {
                    command.arg("--list-only");
                }
                if heat {
                    command.args(["--job", "heat"]);
                } else {
                    for (collection, ..) in COLLECTIONS {
                        command.args(["--job", collection]);
                    }
                }
                command
            }
            Tool::Baseline | Tool::PlainHttp => {
                let mut command = Command::new("python3");
                command
                    .arg(crate::root().join("xtask/bench/baseline.py"))
                    .args(["--auth-url", &cloud.auth_url()])
                    .args(["--password", &cloud.password]);
                if store == "mongodb" {
                    command
                        .args(["--mongo-uri", &self.bridge])
                        .args(["--database", &database("baseline", scenario)]);
                }
                if heat {
                    command.arg("--heat");
                }
                if matches!(tool, Tool::PlainHttp) {
                    command.arg("--floor");
                }
                command
            }
        };
        Ok((command, scratch))
    }

    /// Runs and measures one scenario of `tool` and adds its row.
    fn run(
        &mut self,
        tool: Tool,
        cloud: &Cloud,
        store: &'static str,
        scenario: &'static str,
    ) -> Result {
        let (command, scratch) = self.command(tool, cloud, store, scenario)?;
        served()?;
        let cloud_before = cpu_seconds(cloud.pid())?;
        let bridge_before = cpu_seconds(self.bridge_pid)?;
        let (wall_s, cpu_s, rss_mb, stdout) = measure(command, &scratch)?;
        let cloud_cpu_s = cpu_seconds(cloud.pid())? - cloud_before;
        let bridge_cpu_s = (store == "mongodb")
            .then(|| cpu_seconds(self.bridge_pid).map(|after| after - bridge_before))
            .transpose()?;
        let (requests, bytes) = served()?;
        let writes = match (tool, store) {
            (_, "none") => 0,
            (Tool::Syncer, _) => syncer_writes(&stdout),
            _ => baseline_writes(&stdout),
        };
        eprintln!(
            "bench: {} {store} {scenario}: {wall_s:.1}s wall, {cpu_s:.1}s cpu, {rss_mb:.0} MB, {writes} writes, {requests} requests, cloud {cloud_cpu_s:.1}s cpu{}",
            tool.name(),
            bridge_cpu_s.map(|s| format!(", bridge {s:.1}s cpu")).unwrap_or_default()
        );
        self.rows.push(Row {
            tool: tool.name(),
            store,
            scenario,
            wall_s,
            cpu_s,
            rss_mb,
            writes,
            requests,
            bytes,
            cloud_cpu_s,
            bridge_cpu_s,
        });
        Ok(())
    }
}

pub fn bench() -> Result {
    let root = crate::root();
    run(crate::cargo().args([
        "build",
        "--release",
        "--package",
        "syncer",
        "--package",
        "syncer-testcloud",
    ]))?;
    crate::ensure_bridge_packages()?;
    let present = Command::new("python3")
        .args(["-c", "import openstack, requests"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !present {
        run(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "openstacksdk",
            "requests",
        ]))?;
    }
    let out = root.join("target/bench");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;

    let mut bridge_child = Command::new("python3")
        .arg(root.join("tests/mongo-bridge/bridge.py"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(bridge_child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let bridge = format!(
        "mongodb://{}",
        line.trim()
            .strip_prefix("listening ")
            .ok_or("the bridge did not start")?
    );
    let mut bench = Bench {
        bin: root.join("target/release"),
        out: out.clone(),
        bridge,
        bridge_pid: bridge_child.id(),
        rows: Vec::new(),
    };

    let result = (|| -> Result {
        let stores = |tool: Tool| -> &'static [&'static str] {
            match tool {
                Tool::Syncer => &["embedded", "mongodb", "none"],
                _ => &["mongodb", "none"],
            }
        };
        // Each tool and store gets a freshly generated cloud: (c) changes it.
        for tool in [Tool::Syncer, Tool::Baseline] {
            for &store in stores(tool) {
                let cloud =
                    Cloud::start(&bench.bin, &["--benchmark", "--latency-ms", "0"], LISTEN)?;
                bench.run(tool, &cloud, store, "a-full")?;
                if store != "none" {
                    bench.run(tool, &cloud, store, "b-unchanged")?;
                }
                bench.run(tool, &cloud, store, "d-heat")?;
                churn()?;
                if store != "none" {
                    bench.run(tool, &cloud, store, "c-churn")?;
                }
            }
        }
        let cloud = Cloud::start(&bench.bin, &["--benchmark", "--latency-ms", "0"], LISTEN)?;
        bench.run(Tool::PlainHttp, &cloud, "none", "floor")?;
        drop(cloud);
        // (e) starts from empty stores: a new database per tool, a new embedded file.
        let cloud = Cloud::start(&bench.bin, &["--benchmark", "--latency-ms", "20"], LISTEN)?;
        for suffix in ["", "-wal", "-shm"] {
            let _ =
                std::fs::remove_file(out.join(format!("syncer-embedded/inventory.sqlite{suffix}")));
        }
        for tool in [Tool::Syncer, Tool::Baseline] {
            for &store in stores(tool) {
                bench.run(tool, &cloud, store, "e-latency")?;
            }
        }
        bench.run(Tool::PlainHttp, &cloud, "none", "floor-latency")?;
        Ok(())
    })();
    let _ = bridge_child.kill();
    let _ = bridge_child.wait();
    result?;
    report(&bench.rows, &out)
}

fn report(rows: &[Row], out: &Path) -> Result {
    let mut table = String::from("| tool | store | scenario | wall s | cpu s | peak RSS MB | docs written | API requests | MB served | cloud cpu s | bridge cpu s | wall ratio (baseline/syncer) | RSS ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut json = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let baseline = rows
            .iter()
            .find(|b| b.tool == "baseline" && b.store == r.store && b.scenario == r.scenario);
        let (wall_ratio, rss_ratio) = match (r.tool, baseline) {
            ("syncer", Some(b)) => (
                format!("{:.1}x", b.wall_s / r.wall_s.max(1e-3)),
                format!("{:.1}x", b.rss_mb / r.rss_mb.max(1e-3)),
            ),
            _ => (String::new(), String::new()),
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.2} | {:.2} | {:.0} | {} | {} | {:.1} | {:.1} | {} | {} | {} |",
            r.tool,
            r.store,
            r.scenario,
            r.wall_s,
            r.cpu_s,
            r.rss_mb,
            r.writes,
            r.requests,
            r.bytes as f64 / 1e6,
            r.cloud_cpu_s,
            r.bridge_cpu_s
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            wall_ratio,
            rss_ratio
        );
        let _ = writeln!(
            json,
            "  {{\"tool\": \"{}\", \"store\": \"{}\", \"scenario\": \"{}\", \"wall_s\": {:.3}, \"cpu_s\": {:.3}, \"peak_rss_mb\": {:.1}, \"docs_written\": {}, \"api_requests\": {}, \"bytes_served\": {}, \"cloud_cpu_s\": {:.2}, \"bridge_cpu_s\": {}}}{}",
            r.tool, r.store, r.scenario, r.wall_s, r.cpu_s, r.rss_mb, r.writes, r.requests, r.bytes, r.cloud_cpu_s,
            r.bridge_cpu_s.map(|s| format!("{s:.2}")).unwrap_or_else(|| "null".into()), if i + 1 < rows.len() { "," } else { "" }
        );
    }
    json.push_str("]\n");
    std::fs::write(out.join("report.json"), json).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.md"), &table).map_err(|e| e.to_string())?;
    println!("{table}");
    println!("written: target/bench/report.json, target/bench/report.md");
    Ok(())
}
