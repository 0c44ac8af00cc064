//! dockyard's server side: one service under the command line and the
//! dashboard. See ARCHITECTURE.md for the map.
//!
//! - `service`: the repository, its snapshots, and the operations on them;
//! - `registry`, `store`: adapters (the OCI registry, SQLite/PostgreSQL);
//! - `cli`, `web`: thin shells (clap, axum) over the service;
//! - `print`: every output format, shared by both shells;
//! - `fsio`: atomic writes.

pub mod cli;
pub mod engine;
pub mod fsio;
pub mod git;
pub mod print;
pub mod registry;
pub mod service;
pub mod sha;
pub mod store;
pub mod term;
pub mod web;

/// Installs the process-wide TLS crypto provider (ring: one crypto stack
/// for the whole tree). Call once at start; later calls do nothing.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
