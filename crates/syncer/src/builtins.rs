//! The plugins linked into this binary: the one place they are listed, each behind its
//! cargo feature.

use std::sync::Arc;

use syncer_plugin_sdk::Plugin;

/// Every built-in plugin compiled into this binary.
pub fn all() -> Vec<Arc<dyn Plugin>> {
    vec![
        #[cfg(feature = "plugin-template")]
        Arc::new(syncer_plugin_template::TemplatePlugin),
    ]
}
