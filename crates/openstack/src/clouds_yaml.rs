//! Reading a cloud from `clouds.yaml`, as openstacksdk finds it: the file named by
//! `OS_CLIENT_CONFIG_FILE`, else `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
//! `/etc/openstack/clouds.yaml`.

use std::path::PathBuf;

use serde::Deserialize;
use syncer_plugin_sdk::{ErrorKind, PluginError};

use crate::settings::Settings;

#[derive(Deserialize)]
struct File {
    clouds: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Auth,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<String>,
    verify: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Auth {
    auth_url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    user_domain_name: Option<String>,
    project_domain_name: Option<String>,
    application_credential_id: Option<String>,
    application_credential_secret: Option<String>,
}

fn candidates() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("OS_CLIENT_CONFIG_FILE") {
        return vec![PathBuf::from(path)];
    }
    let mut paths = vec![PathBuf::from("clouds.yaml")];
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

fn bad(message: String) -> PluginError {
    PluginError::new(ErrorKind::BadRequest, message)
}

/// `settings` with the credentials of clouds.yaml entry `name` filled in; keys set in
/// syncer.toml win over the file.
pub fn resolve(name: &str, settings: &Settings) -> Result<Settings, PluginError> {
    let paths = candidates();
    let path = paths.iter().find(|p| p.is_file()).ok_or_else(|| {
        let tried: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bad(format!(
            "no clouds.yaml for cloud `{name}` (looked at {})",
            tried.join(", ")
        ))
    })?;
    let text =
        std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let file: File =
        serde_yaml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let entry = file
        .clouds
        .get(name)
        .ok_or_else(|| bad(format!("{}: no cloud named `{name}`", path.display())))?;
    let mut out = settings.clone();
    out.cloud = None;
    let auth = &entry.auth;
    out.auth_url = auth.auth_url.clone();
    out.username = auth.username.clone();
    out.password = auth.password.clone();
    out.project_name = auth.project_name.clone();
    out.project_id = auth.project_id.clone();
    if let Some(domain) = &auth.user_domain_name {
        out.user_domain_name = domain.clone();
    }
    if let Some(domain) = &auth.project_domain_name {
        out.project_domain_name = domain.clone();
    }
    out.application_credential_id = auth.application_credential_id.clone();
    out.application_credential_secret = auth.application_credential_secret.clone();
    out.region_name = settings
        .region_name
        .clone()
        .or_else(|| entry.region_name.clone());
    out.interface = settings
        .interface
        .clone()
        .or_else(|| entry.interface.clone());
    out.cacert = settings.cacert.clone().or_else(|| entry.cacert.clone());
    out.insecure = settings.insecure || entry.verify == Some(false);
    if out.auth_url.is_none() {
        return Err(bad(format!(
            "{}: cloud `{name}` has no auth.auth_url",
            path.display()
        )));
    }
    Ok(out)
}
