//! The host side of plugins: loading dynamic libraries through the C ABI
//! ([`dynamic`]), the registry of every loaded plugin ([`Registry`]), and the checks
//! that tie `syncer.toml` to what is loaded ([`Registry::check_config`]).
//!
//! Whatever its origin, a plugin is used through [`LoadedPlugin`], whose calls never
//! unwind: a panic in a built-in is caught here, one in a dynamic plugin at its exports.

pub mod dynamic;
mod registry;

pub use registry::{LoadError, LoadedPlugin, Origin, Registry};
