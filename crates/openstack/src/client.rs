//! One authenticated session per cloud, and the one place requests are made.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osauth::common::IdOrName;
use osauth::services::{GenericService, VersionSelector, BLOCK_STORAGE, COMPUTE, IMAGE, NETWORK};
use osauth::{ApiVersion, InterfaceType, Session};
use serde_json::Value;
use syncer_plugin_sdk::{CloudRef, ErrorKind, PluginError};
use syncer_retry::RetryPolicy;

use crate::cloud_error;
use crate::settings::Settings;

/// The services the plugins talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Nova.
    Compute,
    /// Glance.
    Image,
    /// Neutron.
    Network,
    /// Cinder.
    BlockStorage,
    /// Keystone.
    Identity,
    /// Heat.
    Orchestration,
}

/// Heat's catalog URL already carries `/v1/{project_id}`, and its version document
/// would lose that: use the catalog URL as it is.
#[derive(Debug, Clone, Copy)]
struct Orchestration;

impl osauth::services::ServiceType for Orchestration {
    fn catalog_type(&self) -> &'static str {
        "orchestration"
    }

    fn version_discovery_supported(&self) -> bool {
        false
    }
}

const IDENTITY: GenericService = GenericService::new("identity", VersionSelector::Major(3));
/// Catalogs that predate the `block-storage` type name Cinder `volumev3`.
const VOLUME_V3: GenericService = GenericService::new("volumev3", VersionSelector::Major(3));

/// Transient failures (5xx, timeouts, resets) retried per request before giving up.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 4,
    initial_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(8),
};

/// What requests cost, for the run record and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Requests sent.
    pub api_calls: u32,
    /// Of those, resent ones.
    pub retries: u32,
    /// 429/503 answers.
    pub throttled: u32,
}

/// An authenticated client for one cloud.
pub struct Client {
    session: tokio::sync::RwLock<Session>,
    settings: Settings,
    /// Whether Cinder is listed as `volumev3` rather than `block-storage`.
    volume_v3: bool,
    /// Negotiated microversions, by service.
    versions: Mutex<HashMap<Service, Option<ApiVersion>>>,
}

/// One client per cloud name, replaced when the cloud's settings change.
static CLIENTS: Mutex<Vec<(String, Arc<Client>)>> = Mutex::new(Vec::new());

impl Client {
    /// The client of `cloud`, authenticating on first use.
    pub fn for_cloud(cloud: &CloudRef) -> Result<Arc<Client>, PluginError> {
        let settings = Settings::of(cloud)?;
        {
            let clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, client)) = clients
                .iter()
                .find(|(name, c)| *name == cloud.name && c.settings == settings)
            {
                return Ok(client.clone());
            }
        }
        let client =
            Arc::new(syncer_plugin_sdk::runtime::runtime().block_on(Client::connect(settings))?);
        let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        clients.retain(|(name, _)| *name != cloud.name);
        clients.push((cloud.name.clone(), client.clone()));
        Ok(client)
    }

    async fn connect(settings: Settings) -> Result<Client, PluginError> {
        let session = open_session(&settings).await?;
        let volume_v3 = session.get_endpoint(BLOCK_STORAGE, [""; 0]).await.is_err()
            && session.get_endpoint(VOLUME_V3, [""; 0]).await.is_ok();
        Ok(Client {
            session: tokio::sync::RwLock::new(session),
            settings,
            volume_v3,
            versions: Mutex::new(HashMap::new()),
        })
    }

    /// The cloud's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The newest microversion up to `newest` (`"2.100"`) that `service` supports,
    /// negotiated once per client; `None` where the service has no microversions.
    pub async fn microversion(
        &self,
        service: Service,
        newest: &str,
    ) -> Result<Option<ApiVersion>, PluginError> {
        if let Some(known) = self
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&service)
        {
            return Ok(*known);
        }
        let wanted: ApiVersion = newest.parse().map_err(|_| {
            PluginError::new(ErrorKind::Internal, format!("bad microversion {newest}"))
        })?;
        let candidates: Vec<ApiVersion> = (0..=wanted.1)
            .map(|minor| ApiVersion(wanted.0, minor))
            .collect();
        let session = self.session.read().await;
        let picked = match service {
            Service::Compute => session.pick_api_version(COMPUTE, candidates).await,
            Service::BlockStorage if self.volume_v3 => {
                session.pick_api_version(VOLUME_V3, candidates).await
            }
            Service::BlockStorage => session.pick_api_version(BLOCK_STORAGE, candidates).await,
            _ => Ok(None),
        }
        .map_err(|e| cloud_error(format!("cannot negotiate a {service:?} microversion: {e}")))?;
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service, picked);
        Ok(picked)
    }

    /// `GET` a service path. `Ok(None)` for 404. Retries transient failures, waits out
    /// 429/503 (honouring `Retry-After`) up to the cloud's `throttle_limit`, and
    /// re-authenticates once when the token stops being accepted.
    pub async fn get(
        &self,
        service: Service,
        path: &[&str],
        query: &[(String, String)],
        version: Option<(&str, ApiVersion)>,
        cost: &mut Cost,
    ) -> Result<Option<Value>, PluginError> {
        let deadline = Instant::now() + self.settings.throttle_limit();
        let mut failures = 0;
        let mut reauthenticated = false;
        let what = format!("GET {service:?} /{}", path.join("/"));
        loop {
            cost.api_calls += 1;
            let response = self.send(service, path, query, version).await;
            let delay = match response {
                Ok(response) => {
                    match response.status().as_u16() {
                        200..=299 => {
                            let body = response.json::<Value>().await.map_err(|e| {
                                cloud_error(format!("{what}: unreadable body: {e}"))
                            })?;
                            return Ok(Some(body));
                        }
                        404 => return Ok(None),
                        401 if !reauthenticated => {
                            // The token expired or was revoked mid-listing: once, get a new one.
                            reauthenticated = true;
                            // A new session, not `Session::refresh`: osauth renews only a
                            // token past its expiry time, not one the server revoked early.
                            let fresh = open_session(&self.settings).await?;
                            *self.session.write().await = fresh;
                            tracing::info!(request = %what, "token no longer accepted; re-authenticated");
                            cost.retries += 1;
                            continue;
                        }
                        429 | 503 => {
                            cost.throttled += 1;
                            let wait = retry_after(&response)
                                .unwrap_or_else(|| RETRY.delay_after(cost.throttled));
                            if Instant::now() + wait > deadline {
                                return Err(cloud_error(format!(
                                    "{what}: still throttled (HTTP {}) after {}s; giving up",
                                    response.status().as_u16(),
                                    self.settings.throttle_limit().as_secs()
                                )));
                            }
                            tracing::warn!(request = %what, status = response.status().as_u16(), wait_ms = wait.as_millis() as u64, "throttled; waiting");
                            wait
                        }
                        status @ 500..=599 => {
                            failures += 1;
                            if failures >= RETRY.attempts {
                                return Err(cloud_error(format!(
                                    "{what}: HTTP {status} after {failures} attempts"
                                )));
                            }
                            tracing::warn!(request = %what, status, failures, "server error; retrying");
                            RETRY.delay_after(failures)
                        }
                        status => {
                            let body = response.text().await.unwrap_or_default();
                            let body: String = body.chars().take(300).collect();
                            return Err(cloud_error(format!("{what}: HTTP {status}: {body}")));
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures >= RETRY.attempts {
                        return Err(PluginError::new(
                            if e.kind() == osauth::ErrorKind::OperationTimedOut {
                                ErrorKind::Timeout
                            } else {
                                ErrorKind::Cloud
                            },
                            format!("{what}: {e} after {failures} attempts"),
                        ));
                    }
                    tracing::warn!(request = %what, error = %e, failures, "request failed; retrying");
                    RETRY.delay_after(failures)
                }
            };
            cost.retries += 1;
            tokio::time::sleep(delay).await;
        }
    }

    async fn send(
        &self,
        service: Service,
        path: &[&str],
        query: &[(String, String)],
        version: Option<(&str, ApiVersion)>,
    ) -> Result<reqwest::Response, osauth::Error> {
        let session = self.session.read().await;
        let timeout = self.settings.request_timeout();
        macro_rules! send {
            ($service:expr) => {{
                let mut request = session.get($service, path).query(query).timeout(timeout);
                if let Some((name, v)) = version {
                    request = request.header("OpenStack-API-Version", format!("{name} {v}"));
                }
                request.send_unchecked().await
            }};
        }
        match service {
            Service::Compute => send!(COMPUTE),
            Service::Image => send!(IMAGE),
            Service::Network => send!(NETWORK),
            Service::BlockStorage if self.volume_v3 => send!(VOLUME_V3),
            Service::BlockStorage => send!(BLOCK_STORAGE),
            Service::Identity => send!(IDENTITY),
            Service::Orchestration => send!(Orchestration),
        }
    }
}

/// Authenticates as `settings` say and returns a new session.
async fn open_session(settings: &Settings) -> Result<Session, PluginError> {
    let auth_failed = |e: osauth::Error| cloud_error(format!("cannot authenticate: {e}"));
    let resolved;
    let settings = match &settings.cloud {
        Some(name) => {
            resolved = crate::clouds_yaml::resolve(name, settings)?;
            &resolved
        }
        None => settings,
    };
    let mut session = if settings.from_env {
        Session::from_env().await.map_err(auth_failed)?
    } else {
        let auth_url = settings.auth_url.as_deref().unwrap_or_default();
        let http = http_client(settings)?;
        if let Some(id) = &settings.application_credential_id {
            let secret = settings
                .application_credential_secret
                .clone()
                .unwrap_or_default();
            let auth = osauth::identity::ApplicationCredential::new(auth_url, id.clone(), secret)
                .map_err(auth_failed)?;
            Session::new_with_client(http, auth)
                .await
                .map_err(auth_failed)?
        } else {
            let project = match (&settings.project_id, &settings.project_name) {
                (Some(id), _) => IdOrName::Id(id.clone()),
                (None, Some(name)) => IdOrName::Name(name.clone()),
                (None, None) => {
                    return Err(PluginError::new(
                        ErrorKind::BadRequest,
                        "no project to scope to",
                    ))
                }
            };
            let auth = osauth::identity::Password::new(
                auth_url,
                settings.username.clone().unwrap_or_default(),
                settings.password.clone().unwrap_or_default(),
                settings.user_domain_name.clone(),
            )
            .map_err(auth_failed)?
            .with_project_scope(
                project,
                IdOrName::Name(settings.project_domain_name.clone()),
            );
            Session::new_with_client(http, auth)
                .await
                .map_err(auth_failed)?
        }
    };
    if let Some(region) = &settings.region_name {
        session.set_region(region.clone());
    }
    if let Some(interface) = &settings.interface {
        let interface = InterfaceType::from_str(interface)
            .map_err(|e| PluginError::new(ErrorKind::BadRequest, format!("interface: {e}")))?;
        session.set_endpoint_interface(interface);
    }
    Ok(session)
}

/// Seconds of a `Retry-After` header (the HTTP-date form is not used by OpenStack).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(300)))
}

fn http_client(settings: &Settings) -> Result<reqwest::Client, PluginError> {
    let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
    if let Some(path) = &settings.cacert {
        let pem = std::fs::read(path)
            .map_err(|e| PluginError::new(ErrorKind::BadRequest, format!("cacert {path}: {e}")))?;
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| PluginError::new(ErrorKind::BadRequest, format!("cacert {path}: {e}")))?;
        builder = builder.add_root_certificate(certificate);
    }
    if settings.insecure {
        tracing::warn!("TLS certificate verification is off for this cloud (insecure = true)");
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| {
        PluginError::new(
            ErrorKind::Internal,
            format!("cannot build the HTTP client: {e}"),
        )
    })
}
