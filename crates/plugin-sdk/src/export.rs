//! The plugin side of the C ABI: what [`export_plugin!`](crate::export_plugin) expands to
//! calls into here. Also [`guarded`], the one place a plugin call's panic becomes an error,
//! used by the exports and by the host for built-in plugins alike.

use std::any::Any;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::abi::{
    level_from_u32, level_to_u32, HostApi, LogFn, OwnedBuf, PluginVTable, Reply, StrRef,
    ABI_VERSION,
};
use crate::{ErrorKind, Plugin, PluginError};

/// Turns an implementation of [`Plugin`](crate::Plugin) into a dynamic library.
///
/// ```ignore
/// syncer_plugin_sdk::export_plugin!(MyPlugin::default());
/// ```
///
/// The exports exist only when the invoking crate is built with its `dynamic` feature
/// (`cargo xtask build` does that), so the same crate links into the host as a built-in
/// without clashing symbols.
#[macro_export]
macro_rules! export_plugin {
    ($constructor:expr) => {
        /// ABI version export, read by the host before anything else.
        #[cfg(feature = "dynamic")]
        #[no_mangle]
        pub extern "C" fn syncer_plugin_abi_version() -> u32 {
            $crate::abi::ABI_VERSION
        }

        /// Entry export: constructs the plugin and returns its function table.
        ///
        /// # Safety
        /// `host` must point to a live `HostApi` for the duration of the call.
        #[cfg(feature = "dynamic")]
        #[no_mangle]
        pub unsafe extern "C" fn syncer_plugin_entry(
            host: *const $crate::abi::HostApi,
        ) -> *const $crate::abi::PluginVTable {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::export::entry(host, || ::std::boxed::Box::new($constructor)) }
        }
    };
}

/// Runs one plugin call, turning a panic into a [`PluginError`] of kind `panic`.
pub fn guarded<T>(call: impl FnOnce() -> Result<T, PluginError>) -> Result<T, PluginError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| Err(panic_error(payload)))
}

fn panic_error(payload: Box<dyn Any + Send>) -> PluginError {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    PluginError::new(ErrorKind::Panic, detail)
}

// The plugin instance of this library. A cdylib carries its own copy of this crate, so
// each dynamic plugin has its own; in the host the static is simply never set.
static PLUGIN: OnceLock<Box<dyn Plugin>> = OnceLock::new();

static VTABLE: PluginVTable = PluginVTable {
    size: std::mem::size_of::<PluginVTable>(),
    abi_version: ABI_VERSION,
    manifest: export_manifest,
    list: export_list,
    get: export_get,
    check_cloud: export_check_cloud,
    free_buf: export_free_buf,
};

/// Body of the entry export.
///
/// # Safety
/// `host` must be null or point to a live `HostApi`.
pub unsafe fn entry(
    host: *const HostApi,
    constructor: impl FnOnce() -> Box<dyn Plugin>,
) -> *const PluginVTable {
    // SAFETY: the caller guarantees `host` is null or live.
    let Some(host) = (unsafe { host.as_ref() }) else {
        return std::ptr::null();
    };
    if host.abi_version != ABI_VERSION || host.size < std::mem::size_of::<HostApi>() {
        return std::ptr::null();
    }
    let built = catch_unwind(AssertUnwindSafe(|| {
        install_log_forwarder(host.log, host.max_log_level);
        PLUGIN.get_or_init(constructor);
    }));
    match built {
        Ok(()) => &VTABLE,
        Err(_) => std::ptr::null(),
    }
}

fn plugin() -> Result<&'static dyn Plugin, PluginError> {
    PLUGIN
        .get()
        .map(|p| p.as_ref())
        .ok_or_else(|| PluginError::new(ErrorKind::Internal, "plugin called before entry"))
}

fn decode<T: DeserializeOwned>(request: StrRef) -> Result<T, PluginError> {
    // SAFETY: the host passes a buffer that lives for the duration of the call.
    let bytes = unsafe { request.as_bytes() };
    serde_json::from_slice(bytes).map_err(|e| {
        PluginError::new(
            ErrorKind::BadRequest,
            format!("request is not valid JSON for this ABI: {e}"),
        )
    })
}

fn reply<T: Serialize>(call: impl FnOnce() -> Result<T, PluginError>) -> OwnedBuf {
    let reply = Reply::from(guarded(call));
    let bytes = serde_json::to_vec(&reply).unwrap_or_else(|e| {
        let error = PluginError::new(ErrorKind::Internal, format!("reply not serialisable: {e}"));
        serde_json::to_vec(&Reply::<()>::Err(error)).expect("error replies serialise")
    });
    OwnedBuf::from_vec(bytes)
}

unsafe extern "C" fn export_manifest() -> OwnedBuf {
    reply(|| plugin().map(|p| p.manifest()))
}

unsafe extern "C" fn export_list(request: StrRef) -> OwnedBuf {
    reply(|| plugin()?.list(&decode(request)?))
}

unsafe extern "C" fn export_get(request: StrRef) -> OwnedBuf {
    reply(|| plugin()?.get(&decode(request)?))
}

unsafe extern "C" fn export_check_cloud(request: StrRef) -> OwnedBuf {
    reply(|| Ok(plugin()?.check_cloud(&decode(request)?)))
}

unsafe extern "C" fn export_free_buf(buf: OwnedBuf) {
    // SAFETY: the host returns only buffers that this library's exports made.
    drop(unsafe { buf.into_vec() });
}

/// Forwards this library's `tracing` events to the host. Only a dynamic plugin needs
/// it: a built-in shares the host's `tracing` and its subscriber.
fn install_log_forwarder(log: LogFn, max_level: u32) {
    // Fails only if this library already has a global subscriber: keep that one.
    let _ = tracing::subscriber::set_global_default(LogForwarder {
        log,
        max_level,
        next_span: AtomicU64::new(1),
    });
}

struct LogForwarder {
    log: LogFn,
    max_level: u32,
    next_span: AtomicU64,
}

impl tracing::Subscriber for LogForwarder {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        level_to_u32(*metadata.level()) <= self.max_level
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(match level_from_u32(self.max_level) {
            Some(level) => tracing::level_filters::LevelFilter::from_level(level),
            None => tracing::level_filters::LevelFilter::OFF,
        })
    }

    // Spans stay inside the plugin: the host wraps each call in its own span already.
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = EventText::default();
        event.record(&mut text);
        let metadata = event.metadata();
        (self.log)(
            level_to_u32(*metadata.level()),
            StrRef::new(metadata.target().as_bytes()),
            StrRef::new(text.0.as_bytes()),
        );
    }
}

/// Formats an event as `message key=value ...`.
#[derive(Default)]
struct EventText(String);

impl tracing::field::Visit for EventText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}
