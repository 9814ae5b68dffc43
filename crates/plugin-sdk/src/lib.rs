//! The plugin contract of syncer.
//!
//! A plugin is one implementation of [`Plugin`]. Linked into the host it is used
//! directly (a *built-in*); compiled as a `cdylib` with [`export_plugin!`] it becomes a
//! dynamic library with a stable C ABI (see [`abi`]) that the host adapts back to the
//! same trait, so nothing after the loader knows the difference.
//!
//! This crate depends on no other syncer crate: third-party plugins build against it alone.

#![warn(missing_docs)]

pub mod abi;
mod contract;
#[doc(hidden)]
pub mod export;
#[cfg(feature = "runtime")]
pub mod runtime;

pub use contract::{
    CloudRef, ErrorKind, FunctionKind, FunctionSpec, GetRequest, ListRequest, Manifest, Page,
    Plugin, PluginError, Resource, SettingProblem,
};

/// Re-exported so that the code [`export_plugin!`] expands to compiles in plugin crates
/// that do not name `serde_json` themselves.
#[doc(hidden)]
pub use serde_json;
