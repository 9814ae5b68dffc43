//! `syncer-testcloud`: a fast, deterministic OpenStack API test cloud on loopback.
//!
//! One port serves keystone (`/identity/v3`), nova (`/compute/v2.1`), glance (`/image`),
//! neutron (`/network/v2.0`), cinder (`/volume/v3/{project_id}`) and heat
//! (`/heat/v1/{project_id}`) over a generated inventory whose ids cross-reference
//! between services. Response bodies follow the upstream API samples in `samples/`.
//!
//! ```no_run
//! use syncer_testcloud::{TestCloud, TestCloudConfig};
//! let cloud = TestCloud::start(TestCloudConfig { size: 100, ..Default::default() }).unwrap();
//! println!("{}", cloud.auth_url());
//! ```

mod admin;
pub mod faults;
mod keystone;
pub mod model;
pub mod render;
mod server;
pub mod tpl;
pub mod util;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use faults::{Fault, FaultRule};
pub use model::{heat_type_kind, Counts, Kind};
pub use server::{RequestRecord, Stats, CINDER_MAX, CINDER_MIN, NOVA_MAX, NOVA_MIN};

use server::Shared;

/// Errors of the test cloud API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{kind:?} {id} not found")]
    NotFound { kind: Kind, id: String },
    #[error("invalid: {0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to build and serve the cloud.
#[derive(Clone, Debug)]
pub struct TestCloudConfig {
    /// Scale knob: number of servers; other counts follow `Counts::for_size`.
    pub size: usize,
    pub seed: u64,
    /// Projects including the admin project (0: derived from `size`). Ignored when `counts` is set.
    pub projects: usize,
    /// Explicit counts (override `size` and `projects`).
    pub counts: Option<Counts>,
    /// Listen address (default `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    pub admin_user: String,
    pub admin_password: String,
    /// Name of the admin project.
    pub admin_project: String,
    pub app_cred_id: String,
    pub app_cred_name: String,
    pub app_cred_secret: String,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Server-side page size cap (nova `max_limit`, cinder `osapi_max_limit`): 1000 like upstream.
    pub max_limit: usize,
    /// Catalog types under which Cinder is listed: both by default, as many clouds do;
    /// older clouds list only `volumev3`, newer ones only `block-storage`.
    pub cinder_catalog_types: Vec<&'static str>,
}

impl Default for TestCloudConfig {
    fn default() -> Self {
        TestCloudConfig {
            size: 100,
            seed: 1,
            projects: 0,
            counts: None,
            listen: None,
            admin_user: "admin".into(),
            admin_password: "testcloud-admin-password".into(),
            admin_project: "admin".into(),
            app_cred_id: "0123456789abcdef0123456789abcdef".into(),
            app_cred_name: "syncer".into(),
            app_cred_secret: "testcloud-app-cred-secret".into(),
            token_ttl: Duration::from_secs(3600),
            max_limit: 1000,
            cinder_catalog_types: vec!["volumev3", "block-storage"],
        }
    }
}

impl TestCloudConfig {
    /// The counts this config generates.
    pub fn effective_counts(&self) -> Counts {
        match &self.counts {
            Some(c) => c.clone(),
            None => {
                let mut c = Counts::for_size(self.size);
                if self.projects > 0 {
                    c.projects = self.projects;
                    c.security_groups = c.security_groups.max(self.projects);
                }
                c
            }
        }
    }
}

/// Credentials of the cloud (fake; printing them is fine).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub user_domain_name: String,
    pub project_name: String,
    pub project_domain_name: String,
    pub project_id: String,
    pub application_credential_id: String,
    pub application_credential_name: String,
    pub application_credential_secret: String,
    pub region_name: String,
}

/// A change to the inventory (also accepted as JSON by `POST /_testcloud/mutate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Add a generated item (in `project_id`, or a round-robin project). Returns its id.
    Add {
        kind: Kind,
        #[serde(default)]
        project_id: Option<String>,
    },
    Rename {
        kind: Kind,
        id: String,
        name: String,
    },
    SetStatus {
        kind: Kind,
        id: String,
        status: String,
    },
    /// Delete; a stack takes its nested stacks and the resources it created with it.
    Delete { kind: Kind, id: String },
}

impl Shared {
    pub(crate) fn mutate(&self, m: Mutation) -> Result<String> {
        let mut st = self.store.write().unwrap();
        let nf = |kind: Kind, id: &str| Error::NotFound {
            kind,
            id: id.to_string(),
        };
        match m {
            Mutation::Add { kind, project_id } => {
                let p = match project_id {
                    Some(p) => Some(
                        st.table(Kind::Project)
                            .get(&p)
                            .ok_or_else(|| nf(Kind::Project, &p))?
                            .0,
                    ),
                    None => None,
                };
                Ok(st.add(kind, p))
            }
            Mutation::Rename { kind, id, name } => st
                .rename(kind, &id, &name)
                .then_some(id.clone())
                .ok_or_else(|| nf(kind, &id)),
            Mutation::SetStatus { kind, id, status } => st
                .set_status(kind, &id, &status)
                .then_some(id.clone())
                .ok_or_else(|| nf(kind, &id)),
            Mutation::Delete { kind, id } => st
                .delete(kind, &id)
                .then_some(id.clone())
                .ok_or_else(|| nf(kind, &id)),
        }
    }

    pub(crate) fn expire_all_tokens(&self) {
        for t in self.tokens.lock().unwrap().values_mut() {
            t.expired = true;
        }
    }
}

/// Entry point.
pub struct TestCloud;

impl TestCloud {
    /// Generate the inventory, bind, and serve on a background thread. Callable from
    /// sync code or from inside a tokio runtime (the server runs its own runtime).
    pub fn start(cfg: TestCloudConfig) -> Result<TestCloudHandle> {
        let counts = cfg.effective_counts();
        let listen = cfg
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let mut store = model::Store::generate(cfg.seed, &counts);
        // The admin project takes its configured name.
        if let Some(p) = store.tables[Kind::Project.idx()].items.first_mut() {
            p.name = cfg.admin_project.clone();
        }
        let _ = render::tpls();
        let shared = Arc::new(Shared {
            cfg,
            base,
            store: RwLock::new(store),
            tokens: Mutex::new(HashMap::new()),
            token_seq: AtomicU64::new(0),
            faults: Mutex::new(Vec::new()),
            page_faults: AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("testcloud")
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("testcloud-main".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("testcloud listener: {e}");
                            return;
                        }
                    };
                    serve(listener, sh, rx).await;
                });
                rt.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(TestCloudHandle {
            shared,
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    sh: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let _ = stream.set_nodelay(true);
                let sh = sh.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| server::handle(sh.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, svc).await;
                });
            }
        }
    }
}

/// A running test cloud. Dropping it stops the server.
pub struct TestCloudHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestCloudHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }
    /// `http://127.0.0.1:PORT/identity/v3`
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.shared.base)
    }
    pub fn config(&self) -> &TestCloudConfig {
        &self.shared.cfg
    }
    pub fn credentials(&self) -> Credentials {
        let c = &self.shared.cfg;
        Credentials {
            auth_url: self.auth_url(),
            username: c.admin_user.clone(),
            password: c.admin_password.clone(),
            user_domain_name: "Default".into(),
            project_name: c.admin_project.clone(),
            project_domain_name: "Default".into(),
            project_id: self.admin_project_id(),
            application_credential_id: c.app_cred_id.clone(),
            application_credential_name: c.app_cred_name.clone(),
            application_credential_secret: c.app_cred_secret.clone(),
            region_name: "RegionOne".into(),
        }
    }
    pub fn admin_project_id(&self) -> String {
        self.shared.store.read().unwrap().project_id(0).to_string()
    }
    /// Ids of the live items of `kind`, in listing order (keypairs: names).
    pub fn ids(&self, kind: Kind) -> Vec<String> {
        let st = self.shared.store.read().unwrap();
        let t = st.table(kind);
        t.live()
            .filter(|(_, it)| {
                kind != Kind::Stack || matches!(it.d, model::Data::Stack { parent: None, .. })
            })
            .map(|(_, it)| it.id.clone())
            .collect()
    }
    /// Ids of the live items of `kind` owned by `project_id`.
    pub fn ids_in_project(&self, kind: Kind, project_id: &str) -> Vec<String> {
        let st = self.shared.store.read().unwrap();
        let Some((p, _)) = st.table(Kind::Project).get(project_id) else {
            return vec![];
        };
        st.table(kind)
            .live()
            .filter(|(_, it)| it.project == p)
            .map(|(_, it)| it.id.clone())
            .collect()
    }
    /// Number of live items (top-level stacks only for `Kind::Stack`).
    pub fn count(&self, kind: Kind) -> usize {
        self.ids(kind).len()
    }
    /// Name of the item (keypairs are addressed by name).
    pub fn name_of(&self, kind: Kind, id: &str) -> Option<String> {
        self.shared
            .store
            .read()
            .unwrap()
            .table(kind)
            .get(id)
            .map(|(_, it)| it.name.clone())
    }
    /// The project id owning an item.
    pub fn project_of(&self, kind: Kind, id: &str) -> Option<String> {
        let st = self.shared.store.read().unwrap();
        st.table(kind)
            .get(id)
            .map(|(_, it)| st.project_id(it.project).to_string())
    }

    // ---- faults ----
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.add_fault(rule)
    }
    pub fn clear_faults(&self) {
        self.shared.clear_faults()
    }
    /// Expire every token issued so far (requests with them get 401 until re-auth).
    pub fn expire_all_tokens(&self) {
        self.shared.expire_all_tokens()
    }

    // ---- mutation ----
    pub fn mutate(&self, m: Mutation) -> Result<String> {
        self.shared.mutate(m)
    }
    pub fn add(&self, kind: Kind, project_id: Option<&str>) -> Result<String> {
        self.mutate(Mutation::Add {
            kind,
            project_id: project_id.map(str::to_string),
        })
    }
    pub fn rename(&self, kind: Kind, id: &str, name: &str) -> Result<()> {
        self.mutate(Mutation::Rename {
            kind,
            id: id.into(),
            name: name.into(),
        })
        .map(|_| ())
    }
    pub fn set_status(&self, kind: Kind, id: &str, status: &str) -> Result<()> {
        self.mutate(Mutation::SetStatus {
            kind,
            id: id.into(),
            status: status.into(),
        })
        .map(|_| ())
    }
    pub fn delete(&self, kind: Kind, id: &str) -> Result<()> {
        self.mutate(Mutation::Delete {
            kind,
            id: id.into(),
        })
        .map(|_| ())
    }

    // ---- observability ----
    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }
    pub fn reset_stats(&self) {
        *self.shared.stats.lock().unwrap() = Stats::default();
    }

    /// A `clouds.yaml` snippet for this cloud (password and application-credential variants).
    pub fn clouds_yaml(&self) -> String {
        let c = self.credentials();
        format!(
            "clouds:\n  testcloud:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      user_domain_name: Default\n      project_name: {}\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n  testcloud-appcred:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {}\n      application_credential_id: {}\n      application_credential_secret: {}\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n",
            c.auth_url, c.username, c.password, c.project_name, c.auth_url, c.application_credential_id, c.application_credential_secret
        )
    }

    /// Stop the server and wait for it.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestCloudHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}
