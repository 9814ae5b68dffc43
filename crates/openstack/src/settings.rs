//! The keys of a `[clouds.NAME]` table for OpenStack, read by every OpenStack plugin.
//!
//! Either `cloud = "NAME"` (an entry of clouds.yaml, found where openstacksdk looks:
//! `OS_CLIENT_CONFIG_FILE`, the current directory, `~/.config/openstack/`,
//! `/etc/openstack/`), or `from_env = true` (`OS_CLOUD`, or the `OS_*` variables), or
//! inline credentials: `auth_url` and either
//! `username`/`password` (+ project) or `application_credential_id`/`_secret`.

use std::time::Duration;

use serde::Deserialize;
use syncer_plugin_sdk::{CloudRef, ErrorKind, PluginError, SettingProblem};

/// What an OpenStack cloud's settings say.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A clouds.yaml entry.
    pub cloud: Option<String>,
    /// Read credentials from the `OS_*` environment variables.
    #[serde(default)]
    pub from_env: bool,
    /// Keystone URL, e.g. `https://keystone.example.com:5000/v3`.
    pub auth_url: Option<String>,
    /// User name (password auth).
    pub username: Option<String>,
    /// Password; use `"${OS_PASSWORD}"` in syncer.toml.
    pub password: Option<String>,
    /// The user's domain.
    #[serde(default = "default_domain")]
    pub user_domain_name: String,
    /// Project to scope to, by name.
    pub project_name: Option<String>,
    /// Project to scope to, by id.
    pub project_id: Option<String>,
    /// The project's domain.
    #[serde(default = "default_domain")]
    pub project_domain_name: String,
    /// Application credential id.
    pub application_credential_id: Option<String>,
    /// Application credential secret; use `"${...}"`.
    pub application_credential_secret: Option<String>,
    /// Region of the endpoints to use.
    pub region_name: Option<String>,
    /// `public`, `internal` or `admin`.
    pub interface: Option<String>,
    /// A PEM file of CA certificates to trust.
    pub cacert: Option<String>,
    /// Accept any TLS certificate. Only for tests against self-signed clouds.
    #[serde(default)]
    pub insecure: bool,
    /// List every project's resources where the credentials allow it.
    #[serde(default = "yes")]
    pub all_projects: bool,
    /// Per-request timeout, e.g. `"60s"`.
    pub request_timeout: Option<String>,
    /// How long to keep waiting out 429/503 answers before the listing fails.
    pub throttle_limit: Option<String>,
}

fn default_domain() -> String {
    "Default".into()
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("cloud", &self.cloud)
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("region_name", &self.region_name)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the settings of `cloud`.
    pub fn of(cloud: &CloudRef) -> Result<Settings, PluginError> {
        serde_json::from_value(serde_json::Value::Object(cloud.settings.clone())).map_err(|e| {
            PluginError::new(
                ErrorKind::BadRequest,
                format!("cloud `{}`: {e}", cloud.name),
            )
        })
    }

    /// The per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
            .as_deref()
            .and_then(parse_seconds)
            .unwrap_or(Duration::from_secs(60))
    }

    /// How long 429/503 answers may hold a listing up.
    pub fn throttle_limit(&self) -> Duration {
        self.throttle_limit
            .as_deref()
            .and_then(parse_seconds)
            .unwrap_or(Duration::from_secs(300))
    }
}

/// `"90s"`, `"5m"` (the forms syncer.toml durations take for these keys).
fn parse_seconds(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "ms" => Some(Duration::from_millis(n)),
        _ => None,
    }
}

/// Every problem with an OpenStack cloud's settings.
pub fn check(cloud: &CloudRef) -> Vec<SettingProblem> {
    let problem = |key: &str, message: String| SettingProblem {
        key: key.into(),
        message,
    };
    let settings = match Settings::of(cloud) {
        Ok(s) => s,
        Err(e) => {
            // serde names the key in its message: "unknown field `x`, expected ...".
            let key = e
                .message
                .split_once("unknown field `")
                .and_then(|(_, rest)| rest.split('`').next())
                .unwrap_or("")
                .to_owned();
            return vec![problem(&key, e.message)];
        }
    };
    let mut problems = Vec::new();
    let sources = [
        settings.cloud.is_some(),
        settings.from_env,
        settings.auth_url.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        problems.push(problem(
            "",
            "set exactly one of `cloud` (a clouds.yaml entry), `from_env = true` or `auth_url` with credentials".into(),
        ));
    }
    if settings.auth_url.is_some() {
        let password = settings.username.is_some() || settings.password.is_some();
        let app = settings.application_credential_id.is_some()
            || settings.application_credential_secret.is_some();
        match (password, app) {
            (true, true) => problems.push(problem("", "set either `username`/`password` or `application_credential_id`/`application_credential_secret`, not both".into())),
            (false, false) => problems.push(problem("auth_url", "no credentials: set `username` and `password`, or `application_credential_id` and `application_credential_secret`".into())),
            (true, false) => {
                for (key, value) in [("username", &settings.username), ("password", &settings.password)] {
                    if value.is_none() {
                        problems.push(problem(key, "missing key for password authentication".into()));
                    }
                }
                if settings.project_name.is_none() && settings.project_id.is_none() {
                    problems.push(problem("project_name", "missing key: password authentication needs `project_name` or `project_id`".into()));
                }
            }
            (false, true) => {
                for (key, value) in [
                    ("application_credential_id", &settings.application_credential_id),
                    ("application_credential_secret", &settings.application_credential_secret),
                ] {
                    if value.is_none() {
                        problems.push(problem(key, "missing key for application-credential authentication".into()));
                    }
                }
            }
        }
    }
    if let Some(interface) = &settings.interface {
        if !matches!(interface.as_str(), "public" | "internal" | "admin") {
            problems.push(problem(
                "interface",
                format!("expected \"public\", \"internal\" or \"admin\", found \"{interface}\""),
            ));
        }
    }
    for (key, value) in [
        ("request_timeout", &settings.request_timeout),
        ("throttle_limit", &settings.throttle_limit),
    ] {
        if let Some(text) = value {
            if parse_seconds(text).is_none_or(|d| d.is_zero()) {
                problems.push(problem(
                    key,
                    format!("expected a duration like \"60s\" or \"5m\", found \"{text}\""),
                ));
            }
        }
    }
    problems
}
