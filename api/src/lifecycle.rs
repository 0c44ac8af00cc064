//! The catalog's lifecycle: what a registry tag is made of, what to retire,
//! what to delete from the registry, and what pulling the pins costs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bytes for people, in decimal units as registries and `docker` show
/// them: `512 B`, `14.2 kB`, `3.0 MB`, `14.2 GB` (integer arithmetic only,
/// so the browser build needs no float formatting).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut unit = 0;
    let mut scale = 1000u64;
    while unit + 1 < UNITS.len() && n >= scale * 1000 - scale / 20 {
        scale *= 1000;
        unit += 1;
    }
    // Tenths, rounded half up.
    let tenths = (u128::from(n) * 10 + u128::from(scale) / 2) / u128::from(scale);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes() {
        for (n, s) in [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (14_249, "14.2 kB"),
            (999_949, "999.9 kB"),
            (999_950, "1.0 MB"),
            (14_200_000_000, "14.2 GB"),
        ] {
            assert_eq!(super::human_bytes(n), s, "{n}");
        }
    }
}

/// One blob a manifest references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Blob {
    pub digest: String,
    /// Compressed, as the registry stores and sends it.
    pub size: u64,
}

/// What the registry's manifest of one tag says, for the platform an engine
/// pulls (`linux/amd64`) when the tag names an image index. Cached in the
/// store by `digest`: a manifest never changes under its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ManifestFacts {
    /// The digest the tag names (an index's, for a multi-platform tag).
    pub digest: String,
    /// The platform's manifest, when `digest` is an index.
    pub platform_manifest: Option<String>,
    pub config: Blob,
    /// Bottom first.
    pub layers: Vec<Blob>,
    /// The bytes of the manifest (and index) documents themselves.
    pub manifest_bytes: u64,
    /// The image config's labels.
    pub labels: BTreeMap<String, String>,
    /// The image config's `created` (RFC 3339), when it has one.
    pub created: Option<String>,
}

impl ManifestFacts {
    /// The compressed bytes an engine downloads to pull it from nothing:
    /// its layers and its config.
    pub fn pull_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum::<u64>() + self.config.size
    }
}

/// An image that no pin names and no catalog image builds on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireCandidate {
    pub image: String,
    pub version: Option<String>,
    /// The changelog, relative to the repository.
    pub changelog: String,
    /// The date of the changelog's first entry (`YYYY-MM-DD`), when it parses.
    pub last_changed: Option<String>,
}

/// Why `cleanup` keeps a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    /// The image's current version (first changelog entry).
    Current,
    /// A pin in the pin paths names it.
    Pinned,
    /// Among the `--keep-last N` highest versions of its image.
    Recent,
    /// Younger than `--min-age` days (by the image config's `created`).
    Young,
    /// Its manifest digest is also a kept tag's: deleting it would take that tag.
    SharesDigest,
    /// `latest`, which docker-pkg moves on every publish.
    Latest,
    /// Its manifest could not be read: nothing is deleted blind.
    Unknown,
}

impl KeepReason {
    pub fn as_str(self) -> &'static str {
        match self {
            KeepReason::Current => "current",
            KeepReason::Pinned => "pinned",
            KeepReason::Recent => "recent",
            KeepReason::Young => "young",
            KeepReason::SharesDigest => "shares-digest",
            KeepReason::Latest => "latest",
            KeepReason::Unknown => "unknown",
        }
    }
}

/// A tag `cleanup` would delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupDelete {
    pub image: String,
    pub tag: String,
    pub digest: String,
    pub reason: String,
}

/// A tag `cleanup` keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupKeep {
    pub image: String,
    pub tag: String,
    pub reason: KeepReason,
}

/// The answer to `POST /api/v1/cleanup`: the run that deleted, how it
/// ended, and the plan it carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupDone {
    pub run: crate::RunId,
    pub state: crate::RunState,
    pub plan: CleanupPlan,
}

/// `dockyard cleanup --format json` and `GET /api/v1/cleanup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CleanupPlan {
    pub delete: Vec<CleanupDelete>,
    pub keep: Vec<CleanupKeep>,
    /// Compressed bytes of the blobs that only the deleted manifests
    /// reference (what `registry garbage-collect` frees afterwards).
    pub reclaimable_bytes: u64,
    /// Images no pin names and no image builds on: a note for people.
    pub retire: Vec<RetireCandidate>,
    /// The rules it was made with.
    pub keep_last: usize,
    pub min_age_days: u64,
    /// Repositories or tags that could not be read (nothing of theirs is deleted).
    pub errors: Vec<String>,
}

/// One pinned image's pull cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedSize {
    /// `registry/namespace/name:tag`.
    pub label: String,
    pub image: String,
    pub tag: String,
    pub digest: Option<String>,
    /// Its layers and config, compressed.
    pub compressed_bytes: u64,
    /// The part of it other pinned images also have (shared layers).
    pub shared_bytes: u64,
    pub error: Option<String>,
}

/// A host's share of the pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSize {
    pub host: String,
    /// Bytes of the pinned images' layers it does not have yet (by pinned
    /// image present or not; a missing image counts its unshared layers).
    pub missing_bytes: Option<u64>,
    pub error: Option<String>,
}

/// `dockyard sizes --format json` and `GET /api/v1/sizes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SizeReport {
    pub platform: String,
    pub images: Vec<PinnedSize>,
    /// What a fresh agent downloads to pull every pin: each blob once.
    pub fresh_agent_bytes: u64,
    pub hosts: Vec<HostSize>,
    /// Pins whose manifests could not be read (their bytes are not counted).
    pub errors: Vec<String>,
}
