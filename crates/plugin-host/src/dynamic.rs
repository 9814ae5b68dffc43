//! Loading a plugin from a dynamic library and adapting its C ABI back to [`Plugin`].

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use syncer_plugin_sdk::abi::{
    self, level_from_u32, level_to_u32, AbiVersionFn, EntryFn, HostApi, OwnedBuf, PluginVTable,
    Reply, StrRef, ABI_VERSION,
};
use syncer_plugin_sdk::{
    CloudRef, ErrorKind, GetRequest, ListRequest, Manifest, Page, Plugin, PluginError, Resource,
    SettingProblem,
};

use crate::LoadError;

/// A plugin living in a dynamic library. The library is never unloaded: code or data
/// of a plugin (a thread, a runtime) may outlive any call, and unloading it under them
/// would crash the host.
pub(crate) struct DynamicPlugin {
    vtable: &'static PluginVTable,
    manifest: Manifest,
}

/// Loads the plugin in the library at `path`: checks the ABI version first, then calls
/// the entry point and reads the manifest.
pub(crate) fn load(path: &Path) -> Result<DynamicPlugin, LoadError> {
    let fail = |reason: String| LoadError::Library {
        path: path.to_owned(),
        reason,
    };
    // SAFETY: loading a library runs its initialisers. Plugin libraries are operator-
    // configured code, trusted like the host binary itself.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
        fail(format!(
            "not a loadable library: {}",
            dl_reason(path, &e.to_string())
        ))
    })?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));

    // SAFETY: the symbol's type is fixed by the ABI; only its presence is unknown.
    let version: libloading::Symbol<'_, AbiVersionFn> =
        unsafe { library.get(abi::ABI_VERSION_SYMBOL.as_bytes()) }.map_err(|_| {
            fail(format!(
                "not a syncer plugin: the library exports no `{}` symbol (was it built with the `dynamic` feature?)",
                abi::ABI_VERSION_SYMBOL
            ))
        })?;
    // SAFETY: an ABI-version export takes no arguments and only returns a number.
    let found = unsafe { version() };
    if found != ABI_VERSION {
        return Err(LoadError::AbiMismatch {
            path: path.to_owned(),
            found,
            expected: ABI_VERSION,
        });
    }

    // SAFETY: same ABI version, so the entry symbol has the type the ABI gives it.
    let entry: libloading::Symbol<'_, EntryFn> =
        unsafe { library.get(abi::ENTRY_SYMBOL.as_bytes()) }.map_err(|_| {
            fail(format!(
                "the library exports no `{}` symbol",
                abi::ENTRY_SYMBOL
            ))
        })?;
    let host = HostApi {
        size: std::mem::size_of::<HostApi>(),
        abi_version: ABI_VERSION,
        max_log_level: tracing::level_filters::LevelFilter::current()
            .into_level()
            .map(level_to_u32)
            .unwrap_or(0),
        log: host_log,
    };
    // SAFETY: `host` lives across the call; the entry export copies what it keeps.
    let vtable = unsafe { entry(&host) };
    // SAFETY: a non-null pointer from the entry export points to the plugin's static table.
    let Some(vtable) = (unsafe { vtable.as_ref() }) else {
        return Err(fail(
            "the plugin's entry function failed (it returned no function table)".into(),
        ));
    };
    if vtable.abi_version != ABI_VERSION || vtable.size < std::mem::size_of::<PluginVTable>() {
        return Err(fail(format!(
            "malformed function table (ABI version {}, {} bytes; expected version {ABI_VERSION}, at least {} bytes)",
            vtable.abi_version,
            vtable.size,
            std::mem::size_of::<PluginVTable>()
        )));
    }

    let mut plugin = DynamicPlugin {
        vtable,
        manifest: Manifest::new("", ""),
    };
    plugin.manifest = plugin
        // SAFETY: the manifest export takes nothing and returns a buffer it owns.
        .call_raw(|| unsafe { (vtable.manifest)() })
        .map_err(|e| fail(format!("cannot read its manifest: {e}")))?;
    Ok(plugin)
}

impl DynamicPlugin {
    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        function: unsafe extern "C" fn(StrRef) -> OwnedBuf,
        request: &Req,
    ) -> Result<Resp, PluginError> {
        let bytes = serde_json::to_vec(request).map_err(|e| {
            PluginError::new(
                ErrorKind::Internal,
                format!("request not serialisable: {e}"),
            )
        })?;
        self.call_raw(|| {
            // SAFETY: `bytes` lives across the call; the export only borrows it.
            unsafe { function(StrRef::new(&bytes)) }
        })
    }

    /// Makes one call and decodes its reply; the reply buffer goes back to the plugin.
    fn call_raw<Resp: DeserializeOwned>(
        &self,
        call: impl FnOnce() -> OwnedBuf,
    ) -> Result<Resp, PluginError> {
        let buf = call();
        let reply = {
            // SAFETY: the plugin returned a live buffer of `len` initialised bytes.
            let bytes = unsafe {
                StrRef {
                    ptr: buf.ptr,
                    len: buf.len,
                }
                .as_bytes()
            };
            serde_json::from_slice::<Reply<Resp>>(bytes)
        };
        // SAFETY: the buffer came from this plugin and is returned exactly once.
        unsafe { (self.vtable.free_buf)(buf) };
        reply
            .map_err(|e| {
                PluginError::new(
                    ErrorKind::Internal,
                    format!("malformed reply from the plugin: {e}"),
                )
            })?
            .into()
    }
}

impl Plugin for DynamicPlugin {
    fn manifest(&self) -> Manifest {
        self.manifest.clone()
    }

    fn list(&self, request: &ListRequest) -> Result<Page, PluginError> {
        self.call(self.vtable.list, request)
    }

    fn get(&self, request: &GetRequest) -> Result<Option<Resource>, PluginError> {
        self.call(self.vtable.get, request)
    }

    fn check_cloud(&self, cloud: &CloudRef) -> Vec<SettingProblem> {
        self.call(self.vtable.check_cloud, cloud)
            .unwrap_or_else(|e| {
                vec![SettingProblem {
                    key: String::new(),
                    message: format!("the plugin could not check these settings: {e}"),
                }]
            })
    }
}

/// Receives a dynamic plugin's log events and re-emits them into the host's `tracing`.
extern "C" fn host_log(level: u32, target: StrRef, message: StrRef) {
    // A panic must not unwind into the plugin's frames.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: the plugin passes buffers that live for the duration of the call.
        let (target, message) = unsafe { (target.as_bytes(), message.as_bytes()) };
        let target = String::from_utf8_lossy(target);
        let message = String::from_utf8_lossy(message);
        match level_from_u32(level) {
            Some(tracing::Level::ERROR) => {
                tracing::error!(target: "syncer::plugin", plugin_target = %target, "{message}")
            }
            Some(tracing::Level::WARN) => {
                tracing::warn!(target: "syncer::plugin", plugin_target = %target, "{message}")
            }
            Some(tracing::Level::INFO) => {
                tracing::info!(target: "syncer::plugin", plugin_target = %target, "{message}")
            }
            Some(tracing::Level::DEBUG) => {
                tracing::debug!(target: "syncer::plugin", plugin_target = %target, "{message}")
            }
            _ => tracing::trace!(target: "syncer::plugin", plugin_target = %target, "{message}"),
        }
    });
}

/// The library files in `dir`, sorted by name: `*.so` (and `*.dylib` on macOS).
pub fn libraries_in(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Library {
        path: dir.to_owned(),
        reason: format!("cannot read the plugin directory: {e}"),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some(std::env::consts::DLL_EXTENSION)
                )
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// The loader's reason without the path it repeats: `"/x.so: file too short"` ->
/// `"file too short"`.
fn dl_reason<'a>(path: &Path, message: &'a str) -> &'a str {
    let line = message.lines().next().unwrap_or(message);
    line.split_once(&format!("{}: ", path.display()))
        .map(|(_, reason)| reason)
        .unwrap_or(line)
}
