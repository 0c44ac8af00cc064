//! Several Docker engines: which has which pinned image (by digest), and
//! pulling the pins onto every engine at once, a failing engine not
//! stopping the others.

use super::Service;
use crate::engine::Engine;
use dockyard_api::{HostsReport, Presence, PullReport};
use std::sync::Arc;

impl Service {
    /// The pinned images with the registry's digests, when the index has them.
    fn pins_to_pull(&self) -> Result<super::pull::PullPlan, String> {
        let snapshot = self.snapshot().map_err(|d| d.to_string())?;
        let knowledge = self.registry_knowledge();
        super::pull::plan(&snapshot, (!knowledge.is_empty()).then_some(&knowledge[..])).map_err(|d| d.to_string())
    }

    /// The host × pinned-image matrix.
    pub async fn hosts_report(&self) -> Result<HostsReport, String> {
        let plan = self.pins_to_pull()?;
        let hosts = self.engine_health().await;
        let engines = self.engines();
        let mut cells = Vec::new();
        for (engine, info) in engines.iter().zip(&hosts) {
            let mut row = Vec::new();
            for img in &plan.images {
                row.push(if !info.reachable {
                    Presence::Unknown
                } else {
                    presence(engine.as_ref(), &img.label, img.digest.as_deref()).await
                });
            }
            cells.push(row);
        }
        Ok(HostsReport { hosts, images: plan.images.iter().map(|i| i.label.clone()).collect(), cells })
    }

    /// Pulls every pinned image onto every engine (or the ones named),
    /// concurrently; each engine's failures stay its own.
    pub async fn pull_everywhere(&self, only: Option<&[String]>) -> Result<PullReport, String> {
        let plan = self.pins_to_pull()?;
        let snapshot = self.snapshot().map_err(|d| d.to_string())?;
        let auth = crate::cli::engine_auth(&snapshot);
        let engines: Vec<Arc<dyn Engine>> =
            self.engines().into_iter().filter(|e| only.is_none_or(|o| o.iter().any(|n| n == e.name()))).collect();
        if engines.is_empty() {
            return Err("no engine is configured: set DOCKER_HOST, or [[hosts]] in dockyard.toml".into());
        }
        Ok(pull_onto_hosts(engines, &plan, auth, 4, |_| {}).await)
    }
}

/// Pulls `plan` onto every engine at once, `jobs` images at a time on each.
/// An engine that does not answer within a few seconds is not tried: each
/// of its images fails with the reason, and the others go on.
pub async fn pull_onto_hosts(
    engines: Vec<Arc<dyn Engine>>,
    plan: &super::pull::PullPlan,
    auth: Option<crate::engine::RegistryAuth>,
    jobs: usize,
    each: impl Fn(&dockyard_api::PullResult) + Clone,
) -> PullReport {
    let pulls = engines.into_iter().map(|e| {
        let (auth, each) = (auth.clone(), each.clone());
        async move {
            let asked = tokio::time::timeout(std::time::Duration::from_secs(5), e.version()).await;
            let down = match asked {
                Ok(Ok(_)) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some("no answer within 5 s".to_owned()),
            };
            if let Some(why) = down {
                let results: Vec<_> = plan
                    .images
                    .iter()
                    .map(|img| dockyard_api::PullResult {
                        host: e.name().to_owned(),
                        image: img.label.clone(),
                        outcome: dockyard_api::PullOutcome::Failed,
                        digest: img.digest.clone(),
                        error: Some(format!("host unreachable: {why}")),
                        duration_ms: 0,
                    })
                    .collect();
                results.iter().for_each(&each);
                return PullReport { results };
            }
            super::pull::pull_onto(e, plan, auth, jobs, |r| each(r)).await
        }
    });
    let reports = futures::future::join_all(pulls).await;
    let mut results: Vec<_> = reports.into_iter().flat_map(|r| r.results).collect();
    results.sort_by(|a, b| a.host.cmp(&b.host).then(a.image.cmp(&b.image)));
    PullReport { results }
}

/// Whether `engine` has `label`, and with the registry's digest.
pub async fn presence(engine: &dyn Engine, label: &str, digest: Option<&str>) -> Presence {
    match engine.inspect(label).await {
        Ok(None) => Presence::Missing,
        Ok(Some(info)) => {
            let repo = dockyard_core::label::split_tag(label).0;
            match digest {
                Some(d) if !info.digests.is_empty() && !info.has_digest(repo, d) => Presence::Outdated,
                _ => Presence::Present,
            }
        }
        Err(_) => Presence::Unknown,
    }
}
