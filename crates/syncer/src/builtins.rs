//! The plugins linked into this binary: the one place they are listed, each behind its
//! cargo feature.

use std::sync::Arc;

use syncer_plugin_sdk::Plugin;

/// Every built-in plugin compiled into this binary.
pub fn all() -> Vec<Arc<dyn Plugin>> {
    vec![
        #[cfg(feature = "plugin-template")]
        Arc::new(syncer_plugin_template::TemplatePlugin),
        #[cfg(feature = "plugin-compute")]
        Arc::new(syncer_plugin_compute::plugin()),
        #[cfg(feature = "plugin-image")]
        Arc::new(syncer_plugin_image::plugin()),
        #[cfg(feature = "plugin-network")]
        Arc::new(syncer_plugin_network::plugin()),
        #[cfg(feature = "plugin-block-storage")]
        Arc::new(syncer_plugin_block_storage::plugin()),
        #[cfg(feature = "plugin-identity")]
        Arc::new(syncer_plugin_identity::plugin()),
        #[cfg(feature = "plugin-heat")]
        Arc::new(syncer_plugin_heat::plugin()),
    ]
}
