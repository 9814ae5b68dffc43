//! End-to-end tests of the `syncer` binary. Run them with `cargo xtask test`, which
//! builds the binary and the plugin libraries first.

mod cli;
mod daemon;
mod dynamic_plugins;
mod heat;
mod mongodb;
mod openstack;
mod outside_plugin;
mod replicas;
