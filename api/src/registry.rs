//! The registry index: `dockyard registry --format json` and `GET /api/v1/registry`.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an entry's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndexState {
    /// Fetched by this run.
    Fresh,
    /// From the store, younger than `max_age`: not asked again.
    Cached,
    /// From the store because the registry failed (see `error`), or because
    /// it was not asked (offline, or served by the dashboard).
    Stale,
    /// The registry has no such repository.
    Missing,
    /// Failed, and nothing is stored.
    Error,
}

impl IndexState {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexState::Fresh => "fresh",
            IndexState::Cached => "cached",
            IndexState::Stale => "stale",
            IndexState::Missing => "missing",
            IndexState::Error => "error",
        }
    }
}

/// One repository of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub image: String,
    /// The repository path (`namespace/name`).
    pub repo: String,
    /// A base image from the config rather than a catalog image.
    pub base: bool,
    /// The catalog's current version (first changelog entry).
    pub latest: Option<String>,
    /// Whether `latest` is among the tags (`None` when unknown).
    pub published: Option<bool>,
    /// Sorted in Debian version order.
    pub tags: Vec<String>,
    pub state: IndexState,
    /// When the tags were last read from the registry.
    pub fetched_at: Option<Timestamp>,
    pub error: Option<String>,
    /// tag → digest, for the tags whose digests were asked for.
    pub digests: BTreeMap<String, String>,
}

/// The index of one registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryIndex {
    pub registry: String,
    pub entries: Vec<RegistryEntry>,
}

impl RegistryIndex {
    pub fn get(&self, image: &str) -> Option<&RegistryEntry> {
        self.entries.iter().find(|e| e.image == image && !e.base)
    }
}

/// Every configured registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegistryReport {
    pub registries: Vec<RegistryIndex>,
}
