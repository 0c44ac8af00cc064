//! The dashboard's overview: `GET /api/v1/overview`.

use crate::{RunSummary, Timestamp};
use serde::{Deserialize, Serialize};

/// The health of one source of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Ok,
    /// Working, with problems (findings, stale data).
    Degraded,
    Error,
    /// Not configured: `hint` says how to connect one.
    NotConnected,
}

/// The sources of the dashboard's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Catalog,
    Pins,
    Registry,
    Engine,
    Store,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Catalog => "catalog",
            SourceKind::Pins => "pins",
            SourceKind::Registry => "registry",
            SourceKind::Engine => "engine",
            SourceKind::Store => "store",
        }
    }
}

/// One source: catalog, pins, registry, engine, store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub name: SourceKind,
    pub health: Health,
    /// When its data was last read.
    pub updated_at: Option<Timestamp>,
    pub detail: String,
    /// How to connect it, when not connected.
    pub hint: Option<String>,
}

/// `GET /api/v1/overview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Overview {
    pub images: usize,
    pub pins: usize,
    pub stale: usize,
    /// Pins to nothing that exists: not in the catalog, or an unknown version.
    pub dangling: usize,
    pub unpublished: usize,
    /// Pins with any finding.
    pub findings: usize,
    pub sources: Vec<SourceHealth>,
    pub last_builds: Vec<RunSummary>,
    /// Why the build history cannot be read now (the store is away): the
    /// page shows it instead of "no builds yet".
    #[serde(default)]
    pub last_builds_error: Option<String>,
    /// The snapshot the numbers come from.
    pub generation: u64,
    pub loaded_at: Timestamp,
    /// A newer state of the files that could not be loaded (the last good
    /// snapshot is shown meanwhile).
    pub pending_error: Option<crate::Problem>,
    /// Whether the server accepts logins (an access token is configured).
    pub can_write: bool,
    /// The server's clock when it answered (ages are relative to it).
    pub server_time: Timestamp,
    /// What a fresh agent downloads to pull every pin (unknown until the
    /// pins' manifests were read: `serve --registry`).
    #[serde(default)]
    pub fresh_agent_bytes: Option<u64>,
    /// What `cleanup` would free in the registry (unknown likewise).
    #[serde(default)]
    pub reclaimable_bytes: Option<u64>,
    /// Images no pin names and no image builds on.
    #[serde(default)]
    pub retire_candidates: Option<usize>,
}
