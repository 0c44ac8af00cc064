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

/// One image to pull.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PullImage {
    pub image: String,
    pub tag: String,
    /// `registry/namespace/image:tag`.
    pub label: String,
    /// From the registry index, when asked for.
    pub digest: Option<String>,
}

impl PullImage {
    /// `label@digest` when the digest is known, else `label`.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}@{d}", self.label),
            None => self.label.clone(),
        }
    }
}

/// A pin that is not pulled, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SkippedPin {
    pub written: String,
    pub status: crate::Status,
    pub file: String,
    pub line: usize,
}

/// The pinned images to pull, once each, and where they were read from:
/// what `pull-script`, `pull` and the dashboard pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPlan {
    pub images: Vec<PullImage>,
    pub skipped: Vec<SkippedPin>,
    /// Labels pulled by tag because the index had no digest for them.
    pub missing_digest: Vec<String>,
    /// The pin paths, the catalog and its config, as shown to users.
    pub pin_paths: Vec<String>,
    pub catalog: String,
    pub config: String,
}

impl PullPlan {
    /// (image, tag) pairs, for asking the index for exactly these digests.
    pub fn pairs(&self) -> std::collections::BTreeSet<(String, String)> {
        self.images.iter().map(|i| (i.image.clone(), i.tag.clone())).collect()
    }
}
