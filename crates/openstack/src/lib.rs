//! What every OpenStack plugin shares, so none of them repeats it:
//!
//! - [`settings`]: the `[clouds.NAME]` keys an OpenStack cloud takes, and their check;
//!   `clouds_yaml` reads a named cloud from clouds.yaml (honouring `OS_CLIENT_CONFIG_FILE`);
//! - [`client`]: one authenticated osauth session per cloud (token and endpoint cache),
//!   the one place requests are made: retries under the one retry policy, `Retry-After`
//!   on 429/503, one re-authentication when a token expires mid-listing, per-request
//!   timeouts, microversion negotiation;
//! - [`listing`]: the one pagination helper, which knows how each service pages;
//! - [`OpenStackPlugin`]: a plugin made of a table of list and get functions.
//!
//! Why osauth and not the `openstack` crate's typed resources: the inventory keeps the
//! raw API object (`cloud_meta`), and typed models drop the fields they do not know.

pub mod client;
mod clouds_yaml;
pub mod listing;
pub mod settings;

use syncer_plugin_sdk::{
    CloudRef, ErrorKind, GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource,
    SettingProblem,
};

pub use client::{Client, Service};
pub use listing::{GetSpec, ListSpec, Paging};

/// A plugin served by a table of list and get functions.
pub struct OpenStackPlugin {
    /// Plugin name.
    pub name: &'static str,
    /// Plugin version.
    pub version: &'static str,
    /// Its list functions.
    pub lists: &'static [ListSpec],
    /// Its get functions.
    pub gets: &'static [GetSpec],
}

impl OpenStackPlugin {
    fn unknown(&self, function: &str) -> PluginError {
        PluginError::unknown_function(self.name, function)
    }
}

impl Plugin for OpenStackPlugin {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new(self.name, self.version);
        for list in self.lists {
            manifest = manifest.list(list.function);
        }
        for get in self.gets {
            manifest = manifest.get(get.function);
        }
        manifest
    }

    fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        let spec = self
            .lists
            .iter()
            .find(|s| s.function == request.function)
            .ok_or_else(|| self.unknown(&request.function))?;
        let client = Client::for_cloud(&request.cloud)?;
        syncer_plugin_sdk::runtime::runtime().block_on(listing::list_page(&client, spec, request))
    }

    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        let spec = self
            .gets
            .iter()
            .find(|s| s.function == request.function)
            .ok_or_else(|| self.unknown(&request.function))?;
        let client = Client::for_cloud(&request.cloud)?;
        syncer_plugin_sdk::runtime::runtime().block_on(listing::get_one(&client, spec, &request.id))
    }

    fn check_cloud(&self, cloud: &CloudRef) -> Vec<SettingProblem> {
        settings::check(cloud)
    }
}

/// A cloud-side failure as a plugin error (never with a secret in it).
pub(crate) fn cloud_error(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::Cloud, message)
}
