//! Several Docker engines: which has which pinned image (by digest), and
//! pulling the pins onto every engine at once, a failing engine not
//! stopping the others.

use super::Service;
use super::error::Error;
use super::pull::PullPlan;
use crate::engine::Engine;
use crate::store::{NewRun, now, now_ms};
use dockyard_api::{
    Action, BuildEvent, HostsReport, ImageState, LogLine, Plan, PlanItem, Presence, PullOutcome, PullReport,
    PullResult, RunState,
};
use std::sync::Arc;

impl Service {
    /// The pinned images with the registry's digests, when the index has them.
    fn pins_to_pull(&self) -> Result<super::pull::PullPlan, Error> {
        let snapshot = self.snapshot()?;
        let knowledge = self.registry_knowledge();
        Ok(super::pull::plan(&snapshot, (!knowledge.is_empty()).then_some(&knowledge[..]))?)
    }

    /// The host × pinned-image matrix.
    pub async fn hosts_report(&self) -> Result<HostsReport, Error> {
        let health = self.engine_health().await;
        self.hosts_report_with(health).await
    }

    /// The matrix, with the engines' health already asked.
    pub async fn hosts_report_with(&self, hosts: Vec<dockyard_api::HostInfo>) -> Result<HostsReport, Error> {
        let plan = self.pins_to_pull()?;
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
        let mut report = HostsReport {
            hosts,
            images: plan.images.iter().map(|i| i.label.clone()).collect(),
            cells,
            fresh_agent_bytes: None,
            missing_bytes: Vec::new(),
        };
        if let Some((fresh, missing)) = self.missing_bytes(&report) {
            report.fresh_agent_bytes = Some(fresh);
            report.missing_bytes = missing;
        }
        Ok(report)
    }

    /// Pulls `plan` onto `engines` (see [`pull_onto_hosts`]) and records
    /// it in the history as one run: an item `image:tag@host` per host and
    /// image, each `pulled`, `present` or `failed` with its reason, and a
    /// log line per result. The run fails when any pull failed. Without a
    /// store the pull goes on unrecorded, with a warning.
    pub async fn pull_recorded(
        &self,
        engines: Vec<Arc<dyn Engine>>,
        plan: &PullPlan,
        jobs: usize,
        trigger: dockyard_api::Trigger,
        each: impl Fn(&PullResult) + Clone,
    ) -> Result<PullReport, Error> {
        let snapshot = self.snapshot()?;
        let auth = super::build::engine_auth(&snapshot);
        let hosts: Vec<String> = engines.iter().map(|e| e.name().to_owned()).collect();
        // Results name the label: the item is `image:tag@host`.
        let short: std::collections::HashMap<&str, String> =
            plan.images.iter().map(|i| (i.label.as_str(), format!("{}:{}", i.image, i.tag))).collect();
        let item_name = |label: &str, host: &str| format!("{}@{host}", short.get(label).map_or(label, String::as_str));
        let items = hosts
            .iter()
            .flat_map(|h| {
                let item_name = &item_name;
                plan.images.iter().map(move |i| PlanItem {
                    name: item_name(&i.label, h),
                    label: i.reference(),
                    action: Action::Pull,
                    in_registry: i.digest.as_ref().map(|_| true),
                    in_engine: None,
                    selected: true,
                    reason: format!("pinned; pulled onto {h}"),
                    parents: Vec::new(),
                    pull: Some(dockyard_api::PullItem { image: i.image.clone(), tag: i.tag.clone(), host: h.clone() }),
                })
            })
            .collect();
        let trigger_is_cli = trigger.way == dockyard_api::Way::Cli;
        let new = NewRun {
            trigger,
            selection: vec!["pins".into()],
            hosts,
            plan: Plan { items, pull: true, jobs, ..Plan::default() },
            started_at: now(),
            owner: crate::store::owner(),
            source: Some(
                self.run_source(if trigger_is_cli {
                    std::env::args().collect()
                } else {
                    vec!["dashboard".into(), "pull".into()]
                })
                .await,
            ),
        };
        let store = self.store().ok();
        let run = match &store {
            Some(st) => match st.call(move |s| s.create_run(&new)).await {
                Ok(run) => Some(run),
                Err(e) => {
                    tracing::warn!("pull not recorded: {e}");
                    None
                }
            },
            None => None,
        };
        if let (Some(run), Some(st)) = (run, &store)
            && let Ok(Some(detail)) = st.call(move |s| s.get_run(run)).await
        {
            let _ = self.events.send(BuildEvent::RunStarted { run: detail.run });
        }
        // Results reach the history in order, from one task, as they come.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PullResult>();
        let recorder = async {
            while let Some(r) = rx.recv().await {
                let Some(run) = run else { continue };
                let name = item_name(&r.image, &r.host);
                // A pull is reported when it ends: its start is its end less
                // its duration, so the history says how long it took.
                self.set_state_with(
                    run,
                    &name,
                    ImageState::Pulling,
                    Some(&r.host),
                    None,
                    now_ms() - r.duration_ms,
                    None,
                    None,
                )
                .await;
                let state = match r.outcome {
                    PullOutcome::Pulled => ImageState::Pulled,
                    PullOutcome::Skipped => ImageState::Present,
                    PullOutcome::Failed => ImageState::Failed,
                };
                self.set_state(run, &name, state, Some(&r.host), r.error.clone()).await;
                let err = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                let line = LogLine {
                    image: name,
                    seq: self.take_seqs(run, 1),
                    at_ms: now_ms(),
                    line: format!("{} {} in {} ms{err}", r.outcome.word(), r.image, r.duration_ms),
                };
                let _ = self.events.send(BuildEvent::Log { run, line: line.clone() });
                if let Some(st) = &store
                    && let Err(e) = st.call(move |s| s.append_logs(run, &[line])).await
                {
                    tracing::warn!("pull history: {e}");
                }
            }
        };
        let pulling = async move {
            pull_onto_hosts(engines, plan, auth, jobs, move |r| {
                each(r);
                let _ = tx.send(r.clone());
            })
            .await
        };
        let (mut report, ()) = tokio::join!(pulling, recorder);
        if let (Some(run), Some(st)) = (run, &store) {
            let (state, at) = (if report.failed() > 0 { RunState::Failed } else { RunState::Succeeded }, now());
            if let Err(e) = st.call(move |s| s.finish_run(run, state, at)).await {
                tracing::warn!("pull history: {e}");
            }
            self.release_seqs(run);
            let _ = self.events.send(BuildEvent::RunFinished { run, state, at });
        }
        report.run = run;
        Ok(report)
    }

    /// Pulls every pinned image onto every engine (or the ones named),
    /// concurrently; each engine's failures stay its own. Recorded.
    pub async fn pull_everywhere(&self, only: Option<&[String]>, who: &str) -> Result<PullReport, Error> {
        let plan = self.pins_to_pull()?;
        let engines: Vec<Arc<dyn Engine>> =
            self.engines().into_iter().filter(|e| only.is_none_or(|o| o.iter().any(|n| n == e.name()))).collect();
        if engines.is_empty() {
            return Err(Error::unavailable(
                "no engine is configured: set DOCKER_HOST, or [[hosts]] in the operator file",
            ));
        }
        self.pull_recorded(engines, &plan, 4, dockyard_api::Trigger::web(dockyard_api::Operation::Pull, who), |_| {})
            .await
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
                return PullReport { results, run: None };
            }
            super::pull::pull_onto(e, plan, auth, jobs, |r| each(r)).await
        }
    });
    let reports = futures::future::join_all(pulls).await;
    let mut results: Vec<_> = reports.into_iter().flat_map(|r| r.results).collect();
    results.sort_by(|a, b| a.host.cmp(&b.host).then(a.image.cmp(&b.image)));
    PullReport { results, run: None }
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
