//! Several Docker engines: `dockyard hosts --format json`, `GET /api/v1/hosts`,
//! and the report of `dockyard pull`.

use serde::{Deserialize, Serialize};

/// Whether a host has a pinned image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// The tag is there with the registry's digest (or the registry's digest is unknown).
    Present,
    Missing,
    /// The tag is there, but the registry's digest for it moved.
    Outdated,
    /// The host could not be asked.
    Unknown,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Present => "present",
            Presence::Missing => "missing",
            Presence::Outdated => "outdated",
            Presence::Unknown => "unknown",
        }
    }
}

/// One configured Docker engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    /// `unix:///…`, `tcp://…` (credentials never shown).
    pub endpoint: String,
    pub reachable: bool,
    /// The engine's version and API version, when reachable.
    pub version: Option<String>,
    pub error: Option<String>,
}

/// The host × pinned-image matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostsReport {
    pub hosts: Vec<HostInfo>,
    /// Pinned `registry/namespace/name:tag` labels, sorted.
    pub images: Vec<String>,
    /// `cells[h][i]`: host `h`, image `i`.
    pub cells: Vec<Vec<Presence>>,
    /// What a fresh agent downloads to pull every pin (each layer once),
    /// when the pins' manifests are known.
    #[serde(default)]
    pub fresh_agent_bytes: Option<u64>,
    /// Per host, the compressed bytes of the pins it still lacks.
    #[serde(default)]
    pub missing_bytes: Vec<Option<u64>>,
}

/// What happened to one image on one host during a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullOutcome {
    Pulled,
    /// Already there, by digest.
    Skipped,
    Failed,
}

impl PullOutcome {
    /// The word people read, in the CLI's lines and the run logs.
    pub fn word(self) -> &'static str {
        match self {
            PullOutcome::Pulled => "pulled",
            PullOutcome::Skipped => "present",
            PullOutcome::Failed => "FAILED",
        }
    }
}

/// One line of a pull report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResult {
    pub host: String,
    pub image: String,
    pub outcome: PullOutcome,
    pub digest: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// `dockyard pull --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullReport {
    pub results: Vec<PullResult>,
    /// The run that recorded this pull in the history (none without a store).
    #[serde(default)]
    pub run: Option<crate::RunId>,
}

impl PullReport {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| r.outcome == PullOutcome::Failed).count()
    }
}
