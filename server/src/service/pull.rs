//! Which pinned images to pull: one entry per distinct image and tag, the
//! same list for `pull-script`, `pull` and the dashboard.

use super::Snapshot;
use dockyard_api::{RegistryIndex, Status};
use dockyard_core::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};

/// One image to pull.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedPin {
    pub written: String,
    pub status: Status,
    pub file: String,
    pub line: usize,
}

/// The images to pull.
#[derive(Debug, Clone, Default)]
pub struct PullPlan {
    pub images: Vec<PullImage>,
    pub skipped: Vec<SkippedPin>,
    /// Labels pulled by tag because the index had no digest for them.
    pub missing_digest: Vec<String>,
}

impl PullPlan {
    /// (image, tag) pairs, for asking the index for exactly these digests.
    pub fn pairs(&self) -> BTreeSet<(String, String)> {
        self.images.iter().map(|i| (i.image.clone(), i.tag.clone())).collect()
    }
}

/// Every pin that names a real version (ok, stale, unpublished) once;
/// `digests` adds the registry's digest of each.
pub fn plan(snapshot: &Snapshot, digests: Option<&[RegistryIndex]>) -> Result<PullPlan, Diagnostic> {
    let lint = snapshot.lint().map_err(Clone::clone)?;
    let mut pairs: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut skipped = BTreeSet::new();
    for f in &lint.report.findings {
        let p = &f.pin;
        match (p.status, &p.version) {
            (Status::Ok | Status::Stale | Status::Unpublished, Some(tag)) => {
                pairs.insert((p.image.clone(), tag.clone()), ());
            }
            _ => {
                skipped.insert(SkippedPin {
                    written: p.written.clone(),
                    status: p.status,
                    file: p.file.clone(),
                    line: p.line,
                });
            }
        }
    }
    let mut out = PullPlan { skipped: skipped.into_iter().collect(), ..PullPlan::default() };
    for (image, tag) in pairs.into_keys() {
        let label = format!("{}{image}:{tag}", lint.prefix);
        let digest = digests.and_then(|idx| idx.iter().find_map(|i| i.get(&image)?.digests.get(&tag).cloned()));
        if digests.is_some() && digest.is_none() {
            out.missing_digest.push(label.clone());
        }
        out.images.push(PullImage { image, tag, label, digest });
    }
    Ok(out)
}
