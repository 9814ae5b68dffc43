//! The C ABI between the host and a dynamic plugin.
//!
//! Shape and why:
//! - Two exported symbols. [`ABI_VERSION_SYMBOL`] is a function returning the ABI version
//!   the library was built for; the host calls it first and refuses any other version,
//!   before it touches anything whose layout could have changed.
//!   [`ENTRY_SYMBOL`] receives the host's [`HostApi`] and returns the plugin's
//!   [`PluginVTable`].
//! - Both tables are `#[repr(C)]` and begin with their own size and ABI version, so
//!   fields can be appended later: a reader checks `size` before it reads a field.
//! - Requests and replies cross as JSON bytes. Requests are borrowed ([`StrRef`], valid
//!   for the duration of the call); replies are [`OwnedBuf`]s that the plugin allocated
//!   and that the host hands back to the plugin's `free_buf`: two separately compiled
//!   libraries never free each other's memory.
//! - Every reply is `{"ok": value}` or `{"err": PluginError}`. Exports catch panics, so a
//!   panic becomes an `err` with kind `panic`, never an unwind across the boundary.

use serde::{Deserialize, Serialize};

use crate::PluginError;

/// The ABI version this SDK speaks. Bump it on any incompatible change to the tables
/// below or to the JSON shapes of the contract types.
pub const ABI_VERSION: u32 = 1;

/// `extern "C" fn() -> u32`: the ABI version a library was built against.
pub const ABI_VERSION_SYMBOL: &str = "syncer_plugin_abi_version";

/// `extern "C" fn(*const HostApi) -> *const PluginVTable`: the plugin's entry point.
/// Returns null when the plugin could not be constructed.
pub const ENTRY_SYMBOL: &str = "syncer_plugin_entry";

/// Type of the [`ABI_VERSION_SYMBOL`] export.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;

/// Type of the [`ENTRY_SYMBOL`] export.
pub type EntryFn = unsafe extern "C" fn(host: *const HostApi) -> *const PluginVTable;

/// Host log callback: `level` as in [`level_to_u32`], target and message as UTF-8.
pub type LogFn = extern "C" fn(level: u32, target: StrRef, message: StrRef);

/// What the host gives a plugin at entry.
#[repr(C)]
pub struct HostApi {
    /// `size_of::<HostApi>()` as the host compiled it.
    pub size: usize,
    /// The host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// The most verbose level the host will record (0 = off, 5 = trace); the plugin
    /// drops finer events without formatting them.
    pub max_log_level: u32,
    /// Receives the plugin's log events, forwarded to the host's `tracing` subscriber.
    pub log: LogFn,
}

/// The plugin's function table.
#[repr(C)]
pub struct PluginVTable {
    /// `size_of::<PluginVTable>()` as the plugin compiled it.
    pub size: usize,
    /// The plugin's [`ABI_VERSION`].
    pub abi_version: u32,
    /// Reply: `Manifest`.
    pub manifest: unsafe extern "C" fn() -> OwnedBuf,
    /// Request: `ListRequest`; reply: `Page`.
    pub list: unsafe extern "C" fn(request: StrRef) -> OwnedBuf,
    /// Request: `GetRequest`; reply: `Option<Resource>`.
    pub get: unsafe extern "C" fn(request: StrRef) -> OwnedBuf,
    /// Request: `CloudRef`; reply: `Vec<SettingProblem>`.
    pub check_cloud: unsafe extern "C" fn(request: StrRef) -> OwnedBuf,
    /// Frees a buffer this plugin returned.
    pub free_buf: unsafe extern "C" fn(buf: OwnedBuf),
}

/// Borrowed bytes, valid only for the duration of the call they are passed to.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StrRef {
    /// Start of the bytes (may dangle when `len` is 0).
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl StrRef {
    /// Borrows `bytes` for a call.
    pub fn new(bytes: &[u8]) -> Self {
        StrRef {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` and `len` must describe live, initialised memory for the returned lifetime.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees ptr/len describe live memory.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A buffer allocated by the plugin and freed only by the plugin's `free_buf`.
#[repr(C)]
pub struct OwnedBuf {
    /// Start of the allocation.
    pub ptr: *mut u8,
    /// Bytes in use.
    pub len: usize,
    /// Bytes allocated.
    pub cap: usize,
}

impl OwnedBuf {
    /// Hands a vector's allocation over the boundary.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        OwnedBuf {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// Takes the allocation back.
    ///
    /// # Safety
    /// Must be called by the library that made the buffer, once, on a buffer made by
    /// [`OwnedBuf::from_vec`].
    pub unsafe fn into_vec(self) -> Vec<u8> {
        // SAFETY: the caller guarantees the buffer came from `from_vec` in this library.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }
}

/// The JSON envelope of every reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply<T> {
    /// The call succeeded.
    Ok(T),
    /// The call failed.
    Err(PluginError),
}

impl<T> From<Result<T, PluginError>> for Reply<T> {
    fn from(result: Result<T, PluginError>) -> Self {
        match result {
            Ok(value) => Reply::Ok(value),
            Err(error) => Reply::Err(error),
        }
    }
}

impl<T> From<Reply<T>> for Result<T, PluginError> {
    fn from(reply: Reply<T>) -> Self {
        match reply {
            Reply::Ok(value) => Ok(value),
            Reply::Err(error) => Err(error),
        }
    }
}

/// `tracing` level as the number carried by [`LogFn`] and [`HostApi::max_log_level`].
pub fn level_to_u32(level: tracing::Level) -> u32 {
    match level {
        tracing::Level::ERROR => 1,
        tracing::Level::WARN => 2,
        tracing::Level::INFO => 3,
        tracing::Level::DEBUG => 4,
        tracing::Level::TRACE => 5,
    }
}

/// The inverse of [`level_to_u32`]; `None` for 0 (off) and unknown numbers.
pub fn level_from_u32(level: u32) -> Option<tracing::Level> {
    match level {
        1 => Some(tracing::Level::ERROR),
        2 => Some(tracing::Level::WARN),
        3 => Some(tracing::Level::INFO),
        4 => Some(tracing::Level::DEBUG),
        5 => Some(tracing::Level::TRACE),
        _ => None,
    }
}
