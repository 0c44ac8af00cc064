//! The registry adapter: credentials bound to their host, an OCI
//! distribution client, and the index built from it (kept in the store).
//!
//! Invariant: credentials go only to the configured registry host over the
//! scheme it was configured with, or to a token realm on the same host (or
//! one allowed explicitly with `token_realms`). Nothing here creates a
//! runtime: callers are async.

pub mod auth;
pub mod client;
pub mod index;
pub mod manifests;

pub use client::{ClientOptions, RegistryClient, RegistryError};
pub use index::{IndexOptions, IndexReport, Knowledge};

use crate::store::{Shared, StoreError};
use dockyard_core::catalog::Catalog;
use std::collections::BTreeSet;
use std::time::Duration;

/// How to reach the registry and how fresh its index must be.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Index data younger than this many seconds is not fetched again.
    pub max_age: u64,
    /// Do not contact the registry; use what the store holds.
    pub offline: bool,
    /// Per-request timeout in seconds (0 < timeout ≤ 600).
    pub timeout: f64,
    /// Retries of a request that timed out or got a 5xx (at most 10).
    pub retries: u32,
    pub concurrency: usize,
    /// Plain HTTP to a registry that is not on loopback.
    pub insecure: bool,
    /// HTTPS even for a loopback registry.
    pub tls: bool,
    /// Hosts other than the registry that may serve its tokens.
    pub token_realms: Vec<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            max_age: 300,
            offline: false,
            timeout: 10.0,
            retries: 3,
            concurrency: 16,
            insecure: false,
            tls: false,
            token_realms: Vec::new(),
        }
    }
}

/// Why an index could not be built at all.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// A client for the catalog's registry (credentials resolved and bound to it).
pub fn client_for(catalog: &Catalog, opts: &RegistryOptions) -> Result<RegistryClient, IndexError> {
    let host = catalog.config.registry();
    if host.is_empty() {
        return Err(IndexError::Config(format!("{}: no `registry` is configured", catalog.config.path.display())));
    }
    if !(opts.timeout.is_finite() && opts.timeout > 0.0 && opts.timeout <= 600.0) {
        return Err(IndexError::Config(format!("timeout {} is not between 0 and 600 seconds", opts.timeout)));
    }
    let creds = auth::resolve(&host, &catalog.config).map_err(IndexError::Config)?;
    let ca_bundle = catalog
        .config
        .get("ca_bundle")
        .filter(|v| !v.is_none())
        .map(|v| std::path::PathBuf::from(dockyard_core::pyfmt::py_str(v)));
    let copts = ClientOptions {
        timeout: Duration::from_secs_f64(opts.timeout),
        retries: opts.retries,
        insecure: opts.insecure,
        force_tls: opts.tls,
        ca_bundle,
        token_realms: opts.token_realms.clone(),
        ..ClientOptions::default()
    };
    Ok(RegistryClient::new(&host, creds, copts)?)
}

/// Builds (or, offline, reads from the store) the registry index of `catalog`.
pub async fn run_index(
    catalog: &Catalog,
    opts: &RegistryOptions,
    store: &Shared,
    want: &BTreeSet<(String, String)>,
) -> Result<IndexReport, IndexError> {
    let client = if opts.offline { None } else { Some(client_for(catalog, opts)?) };
    if opts.offline && catalog.config.registry().is_empty() {
        return Err(IndexError::Config(format!("{}: no `registry` is configured", catalog.config.path.display())));
    }
    let iopts = IndexOptions {
        concurrency: opts.concurrency.clamp(1, 256),
        max_age: Duration::from_secs(opts.max_age),
        offline: opts.offline,
    };
    Ok(index::build(catalog, client.as_ref(), store, want, &iopts).await?)
}
