//! Which pinned images to pull: one entry per distinct image and tag, the
//! same list for `pull-script`, `pull` and the dashboard.

use super::Snapshot;
use dockyard_api::{RegistryIndex, Status};
use dockyard_core::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};

pub use dockyard_api::{PullImage, PullPlan, SkippedPin};

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
    let repo = &snapshot.repo;
    let mut out = PullPlan {
        skipped: skipped.into_iter().collect(),
        pin_paths: repo.pin_paths.iter().map(|p| repo.shown(p)).collect(),
        catalog: repo.roots.first().map(|r| r.display_dir().display().to_string()).unwrap_or_default(),
        config: repo.roots.first().map(|r| repo.shown(&r.config)).unwrap_or_default(),
        ..PullPlan::default()
    };
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

/// Pulls every image of `plan` onto `engine`, `jobs` at once; an image the
/// engine has (by digest when the plan knows it, else by tag) is skipped,
/// and a failure of one does not stop the others. `each` sees every result
/// as it comes.
pub async fn pull_onto(
    engine: std::sync::Arc<dyn crate::engine::Engine>,
    plan: &PullPlan,
    auth: Option<crate::engine::RegistryAuth>,
    jobs: usize,
    mut each: impl FnMut(&dockyard_api::PullResult),
) -> dockyard_api::PullReport {
    use dockyard_api::{PullOutcome, PullResult};
    use futures::StreamExt;
    let results: Vec<PullResult> = futures::stream::iter(plan.images.clone())
        .map(|img: PullImage| {
            let (engine, auth) = (engine.clone(), auth.clone());
            async move {
                let auth = auth.as_ref();
                let started = std::time::Instant::now();
                let repo = dockyard_core::label::split_tag(&img.label).0;
                let have = engine.inspect(&img.label).await;
                let present = match (&have, &img.digest) {
                    (Ok(Some(info)), Some(d)) => info.has_digest(repo, d),
                    (Ok(Some(_)), None) => true,
                    _ => false,
                };
                let (outcome, error) = if present {
                    (PullOutcome::Skipped, None)
                } else if let Err(e @ crate::engine::EngineError::Unreachable(..)) = &have {
                    (PullOutcome::Failed, Some(e.to_string()))
                } else {
                    match engine.pull(&img.reference(), auth, crate::engine::discard()).await {
                        // A pull by digest leaves the image untagged: tag it.
                        Ok(()) if img.digest.is_some() => match engine.tag(&img.reference(), repo, &img.tag).await {
                            Ok(()) => (PullOutcome::Pulled, None),
                            Err(e) => (PullOutcome::Failed, Some(e.to_string())),
                        },
                        Ok(()) => (PullOutcome::Pulled, None),
                        Err(e) => (PullOutcome::Failed, Some(e.to_string())),
                    }
                };
                PullResult {
                    host: engine.name().to_owned(),
                    image: img.label.clone(),
                    outcome,
                    digest: img.digest.clone(),
                    error,
                    duration_ms: started.elapsed().as_millis() as i64,
                }
            }
        })
        .buffer_unordered(jobs.max(1))
        .inspect(|r| each(r))
        .collect()
        .await;
    let mut results = results;
    results.sort_by(|a, b| a.image.cmp(&b.image));
    dockyard_api::PullReport { results, run: None }
}

impl super::Service {
    /// The pinned images to pull, with their digests from the registry
    /// index when `digests` (`pull-script --digest` and
    /// `GET /api/v1/pull-script?digest=1`).
    pub fn pull_plan(&self, digests: bool) -> Result<PullPlan, super::Error> {
        let snapshot = self.snapshot()?;
        let knowledge = self.registry_knowledge();
        Ok(plan(&snapshot, digests.then_some(&knowledge[..]))?)
    }

    /// The pinned images to pull with their digests, the registry index
    /// read first for exactly those pins (`pull --digest`, `hosts
    /// --digest`). A registry that cannot be read leaves what the index
    /// knew (by tag where it knew nothing); its error comes beside the plan.
    pub async fn pull_plan_refreshed(
        &self,
        registry: &crate::registry::RegistryOptions,
    ) -> Result<(PullPlan, Option<super::Error>), super::Error> {
        let pins = self.pull_plan(false)?;
        let failed = self.refresh_registry(registry, &pins.pairs()).await.err().map(super::Error::from);
        Ok((self.pull_plan(true)?, failed))
    }
}
