//! The plugin's own async runtime.
//!
//! A dynamic library carries its own copy of tokio, whose runtime cannot be shared with
//! the host's, and the host calls plugin functions from plain worker threads. So a plugin
//! that does async I/O blocks on a runtime of its own, made once on first use.

use std::sync::OnceLock;

/// This plugin's runtime: a small multi-threaded tokio runtime with I/O and timers.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("syncer-plugin-rt")
            .enable_all()
            .build()
            .expect("the plugin runtime starts")
    })
}
