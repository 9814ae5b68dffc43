//! `syncer-testcloud [--size N | --benchmark] [--seed S] [--projects P] [--latency-ms MS]
//! [--listen 127.0.0.1:PORT]`

use std::time::Instant;

use syncer_testcloud::{Counts, Fault, FaultRule, TestCloud, TestCloudConfig};

fn usage() -> ! {
    eprintln!(
        "usage: syncer-testcloud [--size N | --benchmark] [--seed S] [--projects P] [--latency-ms MS] [--listen 127.0.0.1:PORT]"
    );
    std::process::exit(2)
}

fn main() {
    let mut cfg = TestCloudConfig::default();
    let mut latency_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--size" => cfg.size = val().parse().unwrap_or_else(|_| usage()),
            "--seed" => cfg.seed = val().parse().unwrap_or_else(|_| usage()),
            "--projects" => cfg.projects = val().parse().unwrap_or_else(|_| usage()),
            "--listen" => cfg.listen = Some(val().parse().unwrap_or_else(|_| usage())),
            // The benchmark's cloud: 20,000 servers, 100,000 ports, ... over 200 projects.
            "--benchmark" => cfg.counts = Some(Counts::benchmark()),
            "--latency-ms" => latency_ms = val().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let t = Instant::now();
    let cloud = match TestCloud::start(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("syncer-testcloud: {e}");
            std::process::exit(1);
        }
    };
    if latency_ms > 0 {
        // Every answer waits this long, as a cloud far away would.
        cloud.add_fault(FaultRule::new("/", Fault::Delay { ms: latency_ms }));
    }
    let c = cloud.credentials();
    println!(
        "syncer-testcloud listening on {} (started in {:?})",
        cloud.base_url(),
        t.elapsed()
    );
    println!("auth_url:  {}", c.auth_url);
    println!(
        "username:  {}  password: {}  project: {} ({})",
        c.username, c.password, c.project_name, c.project_id
    );
    println!(
        "application credential: id {}  secret {}",
        c.application_credential_id, c.application_credential_secret
    );
    println!(
        "admin endpoint: {}/_testcloud/{{faults,stats,mutate}}",
        cloud.base_url()
    );
    println!("\n# clouds.yaml\n{}", cloud.clouds_yaml());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    cloud.shutdown();
}
