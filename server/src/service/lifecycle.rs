//! The catalog's lifecycle: what to retire, what to delete from the
//! registry safely (`cleanup`), and what pulling the pins costs (`sizes`).
//! The decisions are `core::lifecycle`'s; this gathers the facts: the
//! snapshot's pins and graph, the registry's tags, digests and manifests
//! (cached by digest in the store), and the engines' images.

use super::Service;
use super::error::Error;
use crate::engine::Engine;
use crate::registry::{RegistryOptions, manifests};
use crate::store::{ImageUpdate, NewRun, now, now_ms};
use dockyard_api::{
    Action, BuildEvent, CleanupDone, CleanupPlan, ImageState, LogLine, Plan, PlanItem, RetireCandidate, RunId,
    RunState, SizeReport,
};
use dockyard_core::lifecycle::{self, CatalogImage, KeepRules, PinnedTag, RepoTags};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Manifests asked for at once.
const CONCURRENCY: usize = 8;

/// The dashboard's cleanup and sizes read many manifests: one at a time.
static LIFECYCLE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `cleanup`'s rules.
#[derive(Debug, Clone, Copy)]
pub struct CleanupOptions {
    pub keep_last: usize,
    pub min_age_days: u64,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        CleanupOptions { keep_last: 3, min_age_days: 30 }
    }
}

/// The last lifecycle figures computed (for `/metrics` and the overview).
#[derive(Debug, Clone, Copy, Default)]
pub struct LifecycleFigures {
    pub reclaimable_bytes: Option<u64>,
    pub fresh_agent_bytes: Option<u64>,
}

/// The last cleanup plan and sizes computed, with when (the server answers
/// from them while they are younger than the registry's max-age).
#[derive(Default)]
pub struct LifecycleCache {
    pub cleanup: Option<(i64, (usize, u64), CleanupPlan)>,
    pub sizes: Option<(i64, SizeReport, Vec<PinnedTag>)>,
}

impl Service {
    /// Pinned versions by image, from every pin of the pin paths that names
    /// a version (whatever its status: a pin to an unknown version still
    /// pulls that tag).
    fn pinned_versions(&self) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
        let snapshot = self.snapshot()?;
        let lint = snapshot.lint().map_err(|d| Error::from(d.clone()))?;
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &lint.report.findings {
            if let Some(v) = &f.pin.version {
                out.entry(f.pin.image.clone()).or_default().insert(v.clone());
            }
        }
        Ok(out)
    }

    /// Images that no pin names and no catalog image builds on, with the
    /// date of their changelog's first entry.
    pub fn retire_candidates(&self) -> Result<Vec<RetireCandidate>, Error> {
        let snapshot = self.snapshot()?;
        let pinned = self.pinned_versions()?;
        let usable = || {
            snapshot.catalogs.iter().flat_map(|c| c.images.iter().filter(|i| i.error.is_none()).map(move |i| (c, i)))
        };
        let images: Vec<CatalogImage> = usable()
            .map(|(catalog, image)| CatalogImage {
                name: image.name.clone(),
                version: image.version.clone(),
                changelog: image.display_file(&catalog.display_root, "changelog").display().to_string(),
            })
            .collect();
        let mut candidates = lifecycle::retire_candidates(&images, &snapshot.rendered().graph.parents, &pinned);
        // Only the candidates' changelogs are read, for their dates (the
        // overview and each `/metrics` scrape ask for the count).
        for c in &mut candidates {
            let Some((catalog, image)) = usable().find(|(_, i)| i.name == c.image) else { continue };
            c.last_changed = catalog
                .files
                .read_text(&image.dir.join("changelog"), dockyard_core::limits::MAX_CHANGELOG_BYTES)
                .ok()
                .and_then(|t| dockyard_core::changelog::timeline(&t).first().and_then(|(_, at)| *at))
                .map(dockyard_core::changelog::ymd);
        }
        Ok(candidates)
    }

    /// What `cleanup` would delete from the first catalog's registry, and
    /// what it keeps and why. Tags and digests are read fresh within
    /// `registry.max_age`; a repository that cannot be read is named in
    /// `errors` and nothing of it is deleted.
    pub async fn cleanup_plan(&self, opts: CleanupOptions, registry: &RegistryOptions) -> Result<CleanupPlan, Error> {
        let snapshot = self.snapshot()?;
        let catalog = snapshot.catalogs.first().ok_or_else(|| Error::invalid("no catalog root"))?;
        let host = catalog.config.registry();
        let namespace = catalog.config.namespace();
        let client = crate::registry::client_for(catalog, registry)?;
        let store = self.store().ok();
        let pinned = self.pinned_versions()?;
        let mut errors = Vec::new();
        // Tags of every catalog image, fresh within --max-age.
        let reports = self.refresh_registry(registry, &Default::default()).await?;
        let mut repos: Vec<(String, String, Option<String>, Vec<String>)> = Vec::new();
        let prefix = if namespace.is_empty() { String::new() } else { format!("{namespace}/") };
        for entry in reports.iter().filter(|r| r.index.registry == host).flat_map(|r| r.index.entries.iter()) {
            if entry.base {
                continue;
            }
            match (&entry.error, entry.state) {
                (Some(e), s) if s != dockyard_api::IndexState::Fresh => {
                    errors.push(format!("{}: its tags could not be read ({e}): nothing of it is deleted", entry.repo));
                }
                _ => repos.push((entry.image.clone(), entry.repo.clone(), entry.latest.clone(), entry.tags.clone())),
            }
        }
        // Repositories of the namespace that the catalog no longer has.
        let known: BTreeSet<String> = repos.iter().map(|r| r.1.clone()).collect();
        let catalog_names: BTreeSet<&str> = catalog.images.iter().map(|i| i.name.as_str()).collect();
        let listed = if registry.offline { Ok(Vec::new()) } else { client.repositories().await };
        match listed {
            Ok(all) => {
                for repo in all.into_iter().filter(|r| r.starts_with(&prefix) && !known.contains(r)) {
                    let image = repo[prefix.len()..].to_owned();
                    if catalog_names.contains(image.as_str()) {
                        continue;
                    }
                    match client.list_tags(&repo).await {
                        Ok(Some(tags)) => repos.push((image, repo, None, tags)),
                        Ok(None) => {}
                        Err(e) => errors.push(format!("{repo}: its tags could not be read ({e})")),
                    }
                }
            }
            Err(e) => errors.push(format!(
                "the registry's repositories could not be listed ({e}): images no longer in the catalog were not looked at"
            )),
        }
        // Each tag's manifest (cached by digest).
        // Offline, nothing is asked: every tag's manifest is unknown, so kept.
        let wanted: Vec<(usize, String)> = if registry.offline {
            Vec::new()
        } else {
            repos.iter().enumerate().flat_map(|(i, r)| r.3.iter().map(move |t| (i, t.clone()))).collect()
        };
        let max_age = registry.max_age as i64;
        let found: Vec<(usize, String, Result<Option<dockyard_api::ManifestFacts>, String>)> =
            futures::stream::iter(wanted)
                .map(|(i, tag)| {
                    let (client, store, host, path) = (&client, store.as_ref(), host.as_str(), repos[i].1.clone());
                    async move {
                        let f = manifests::tag_facts(client, store, host, &path, &tag, max_age)
                            .await
                            .map_err(|e| e.to_string());
                        (i, tag, f)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut tags: Vec<RepoTags> = repos
            .iter()
            .map(|(image, _, latest, _)| RepoTags {
                image: image.clone(),
                current: latest.clone(),
                tags: BTreeMap::new(),
            })
            .collect();
        if registry.offline {
            for (t, r) in tags.iter_mut().zip(&repos) {
                t.tags.extend(r.3.iter().map(|tag| (tag.clone(), None)));
            }
        }
        for (i, tag, f) in found {
            match f {
                Ok(Some(f)) => {
                    tags[i].tags.insert(tag, Some(f));
                }
                Ok(None) => {}
                Err(e) => {
                    errors.push(format!("{}:{tag}: its manifest could not be read ({e}): kept", repos[i].1));
                    tags[i].tags.insert(tag, None);
                }
            }
        }
        // An image in the catalog keeps its current version even when the
        // index has no `latest` for it.
        for t in &mut tags {
            if t.current.is_none()
                && let Some(image) = catalog.images.iter().find(|i| i.name == t.image)
            {
                t.current.clone_from(&image.version);
            }
        }
        let rules = KeepRules { keep_last: opts.keep_last, min_age_days: opts.min_age_days, now: now() };
        let mut plan = lifecycle::cleanup(&tags, &pinned, rules, &BTreeSet::new());
        plan.retire = self.retire_candidates()?;
        errors.sort();
        plan.errors = errors;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).cleanup =
            Some((now(), (opts.keep_last, opts.min_age_days), plan.clone()));
        Ok(plan)
    }

    /// Deletes `plan`'s tags from the registry, each as an item of one run
    /// (action `delete`). A digest two deleted tags share is deleted once.
    /// When the registry refuses deletion, that item fails with its reason
    /// and nothing further is attempted. Deleted tags leave the stored
    /// registry index at once.
    pub async fn cleanup_delete(
        self: &Arc<Self>,
        plan: &CleanupPlan,
        registry: &RegistryOptions,
        trigger: dockyard_api::Trigger,
        command: Vec<String>,
    ) -> Result<(RunId, RunState), Error> {
        let snapshot = self.snapshot()?;
        let catalog = snapshot.catalogs.first().ok_or_else(|| Error::invalid("no catalog root"))?;
        let host = catalog.config.registry();
        let namespace = catalog.config.namespace();
        let client = crate::registry::client_for(catalog, registry)?;
        let store = self.store()?;
        let path_of =
            |image: &str| if namespace.is_empty() { image.to_owned() } else { format!("{namespace}/{image}") };
        let items: Vec<PlanItem> = plan
            .delete
            .iter()
            .map(|d| PlanItem {
                name: format!("{}:{}", d.image, d.tag),
                label: format!("{host}/{}:{}@{}", path_of(&d.image), d.tag, d.digest),
                action: Action::Delete,
                in_registry: Some(true),
                in_engine: None,
                selected: true,
                reason: d.reason.clone(),
                parents: Vec::new(),
                pull: None,
            })
            .collect();
        let new = NewRun {
            trigger,
            selection: vec!["cleanup".into()],
            hosts: vec![host.clone()],
            plan: Plan { items, jobs: 1, ..Plan::default() },
            started_at: now(),
            owner: crate::store::owner(),
            source: Some(self.run_source(command).await),
        };
        let run = store.call(move |s| s.create_run(&new)).await?;
        if let Ok(Some(d)) = store.call(move |s| s.get_run(run)).await {
            let _ = self.events.send(BuildEvent::RunStarted { run: d.run });
        }
        let mut deleted: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut refused: Option<String> = None;
        let mut failed = false;
        for d in &plan.delete {
            let name = format!("{}:{}", d.image, d.tag);
            let path = path_of(&d.image);
            let (state, message) = if let Some(why) = &refused {
                (ImageState::Skipped, format!("not attempted: {why}"))
            } else if let Some(first) = deleted.get(&(path.clone(), d.digest.clone())) {
                (ImageState::Deleted, format!("deleted with {first} (the same manifest {})", d.digest))
            } else {
                match client.delete_manifest(&path, &d.digest).await {
                    Ok(()) => {
                        deleted.insert((path.clone(), d.digest.clone()), name.clone());
                        (ImageState::Deleted, format!("deleted {host}/{path}@{}", d.digest))
                    }
                    Err(e) => {
                        if matches!(e, crate::registry::RegistryError::Refused(_)) {
                            refused = Some(e.to_string());
                        }
                        (ImageState::Failed, format!("error: {e}"))
                    }
                }
            };
            failed |= state != ImageState::Deleted;
            let line =
                LogLine { image: name.clone(), seq: self.take_seqs(run, 1), at_ms: now_ms(), line: message.clone() };
            let _ = self.events.send(BuildEvent::Log { run, line: line.clone() });
            let _ = store.write_retrying("a log line", move |s| s.append_logs(run, std::slice::from_ref(&line))).await;
            let error = (state != ImageState::Deleted).then_some(message);
            let update = ImageUpdate { run, image: name.clone(), state, at_ms: now_ms(), error, ..Default::default() };
            let _ = store.write_retrying("an image state", move |s| s.update_image(&update)).await;
            if state == ImageState::Deleted {
                self.forget_tag(&host, &path, &d.tag).await;
            }
        }
        let state = if failed { RunState::Failed } else { RunState::Succeeded };
        let at = now();
        store.write_retrying("the run's end", move |s| s.finish_run(run, state, at)).await?;
        self.release_seqs(run);
        let _ = self.events.send(BuildEvent::RunFinished { run, state, at });
        Ok((run, state))
    }

    /// A deleted tag leaves the stored index (the listing's time is kept).
    async fn forget_tag(&self, registry: &str, repo: &str, tag: &str) {
        let Ok(store) = self.store() else { return };
        let (registry, repo, tag) = (registry.to_owned(), repo.to_owned(), tag.to_owned());
        let shown = format!("{registry}/{repo}:{tag}");
        let forgotten = store
            .call(move |s| {
                if let Some(cached) = s.load_tags(&registry, &repo)?
                    && let Some(mut tags) = cached.tags
                {
                    tags.retain(|t| *t != tag);
                    s.save_tags(&registry, &repo, Some(&tags), cached.fetched_at)?;
                }
                Ok(())
            })
            .await;
        // As for a push: said, not swallowed (the next refresh mends it).
        if let Err(e) = forgotten {
            tracing::warn!("the registry index could not forget the deleted {shown}: {e}");
        }
    }

    /// What pulling every pin costs, from the pinned tags' manifests (for
    /// `linux/amd64`; cached by digest), and what each of `engines` lacks.
    pub async fn sizes(&self, engines: &[Arc<dyn Engine>], registry: &RegistryOptions) -> Result<SizeReport, Error> {
        let snapshot = self.snapshot()?;
        let catalog = snapshot.catalogs.first().ok_or_else(|| Error::invalid("no catalog root"))?;
        let host = catalog.config.registry();
        let plan = super::pull::plan(&snapshot, None)?;
        let client = crate::registry::client_for(catalog, registry)?;
        let store = self.store().ok();
        let max_age = registry.max_age as i64;
        let pinned: Vec<PinnedTag> = futures::stream::iter(plan.images.clone())
            .map(|p| {
                let (client, store, host) = (&client, store.as_ref(), host.as_str());
                async move {
                    let repo = dockyard_core::label::split_tag(&p.label).0;
                    let facts = match repo.strip_prefix(&format!("{host}/")) {
                        None => Err(format!("not on the catalog's registry {host}")),
                        Some(path) => match manifests::tag_facts(client, store, host, path, &p.tag, max_age).await {
                            Ok(Some(f)) => Ok(f),
                            Ok(None) => Err("not in the registry".to_owned()),
                            Err(e) => Err(e.to_string()),
                        },
                    };
                    PinnedTag { label: p.label, image: p.image, tag: p.tag, facts }
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut hosts = Vec::new();
        for engine in engines {
            let mut has = BTreeSet::new();
            let mut error = None;
            for p in &plan.images {
                match engine.inspect(&p.label).await {
                    Ok(Some(_)) => {
                        has.insert(p.label.clone());
                    }
                    Ok(None) => {}
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            hosts.push((engine.name().to_owned(), error.map_or(Ok(has), Err)));
        }
        let report = lifecycle::sizes(&pinned, &hosts, manifests::PLATFORM);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).sizes = Some((now(), report.clone(), pinned));
        Ok(report)
    }

    /// The cleanup plan for `opts`: the last one computed when it is
    /// younger than `registry.max_age`, else a new one.
    pub async fn cleanup_cached(&self, opts: CleanupOptions, registry: &RegistryOptions) -> Result<CleanupPlan, Error> {
        let fresh = self.cache.lock().unwrap_or_else(|p| p.into_inner()).cleanup.clone().filter(|(at, key, _)| {
            *key == (opts.keep_last, opts.min_age_days) && now() - at <= registry.max_age as i64
        });
        match fresh {
            Some((_, _, plan)) => Ok(plan),
            None => self.cleanup_plan(opts, registry).await,
        }
    }

    /// The sizes of the pins (without hosts): the last computed when it is
    /// younger than `registry.max_age`, else new.
    pub async fn sizes_cached(&self, registry: &RegistryOptions) -> Result<SizeReport, Error> {
        let fresh = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sizes
            .as_ref()
            .filter(|(at, ..)| now() - at <= registry.max_age as i64)
            .map(|(_, r, _)| r.clone());
        match fresh {
            Some(r) => Ok(r),
            None => self.sizes(&[], registry).await,
        }
    }

    /// What each host still lacks, from its row of the hosts matrix and the
    /// last sizes computed (`None` when no sizes are known yet).
    pub fn missing_bytes(&self, report: &dockyard_api::HostsReport) -> Option<(u64, Vec<Option<u64>>)> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (_, sizes, pinned) = cache.sizes.as_ref()?;
        let hosts: Vec<(String, Result<BTreeSet<String>, String>)> = report
            .hosts
            .iter()
            .zip(&report.cells)
            .map(|(h, row)| {
                let has = if h.reachable {
                    Ok(report
                        .images
                        .iter()
                        .zip(row)
                        .filter(|(_, p)| **p == dockyard_api::Presence::Present)
                        .map(|(l, _)| l.clone())
                        .collect())
                } else {
                    Err("unreachable".to_owned())
                };
                (h.name.clone(), has)
            })
            .collect();
        let r = lifecycle::sizes(pinned, &hosts, manifests::PLATFORM);
        Some((sizes.fresh_agent_bytes, r.hosts.iter().map(|h| h.missing_bytes).collect()))
    }

    /// After a registry refresh (`serve --registry`): the sizes each time
    /// (manifests are cached, so this asks only for new digests) and the
    /// cleanup plan at most once an hour, for the dashboard and `/metrics`.
    pub async fn lifecycle_refresh(&self, registry: &RegistryOptions) {
        if let Err(e) = self.sizes(&[], registry).await {
            tracing::warn!("sizes: {e}");
        }
        let due = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cleanup
            .as_ref()
            .is_none_or(|(at, ..)| now() - at >= 3600);
        if due && let Err(e) = self.cleanup_plan(CleanupOptions::default(), registry).await {
            tracing::warn!("cleanup plan: {e}");
        }
    }

    /// The last figures computed: read from the last plan and sizes kept.
    pub fn lifecycle_figures(&self) -> LifecycleFigures {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        LifecycleFigures {
            reclaimable_bytes: cache.cleanup.as_ref().map(|(_, _, plan)| plan.reclaimable_bytes),
            fresh_agent_bytes: cache.sizes.as_ref().map(|(_, sizes, _)| sizes.fresh_agent_bytes),
        }
    }
}

impl Service {
    /// How `serve --registry` reads the registry, or why it does not.
    pub fn live_registry_options(&self) -> Result<RegistryOptions, Error> {
        self.live_registry
            .get()
            .cloned()
            .ok_or_else(|| Error::unavailable("no registry is connected: start the server with --registry to read it"))
    }

    /// The dashboard's cleanup plan (`GET /api/v1/cleanup`), kept between
    /// registry refreshes; one lifecycle read at a time.
    pub async fn cleanup_for_dashboard(&self, opts: CleanupOptions) -> Result<CleanupPlan, Error> {
        let registry = self.live_registry_options()?;
        let _slot = LIFECYCLE_SLOTS.acquire().await.map_err(|_| Error::unavailable("shutting down"))?;
        self.cleanup_cached(opts, &registry).await
    }

    /// The dashboard's sizes (`GET /api/v1/sizes`); one lifecycle read at a time.
    pub async fn sizes_for_dashboard(&self) -> Result<SizeReport, Error> {
        let registry = self.live_registry_options()?;
        let _slot = LIFECYCLE_SLOTS.acquire().await.map_err(|_| Error::unavailable("shutting down"))?;
        self.sizes_cached(&registry).await
    }

    /// `POST /api/v1/cleanup`: deletes the plan made now from fresh tags and
    /// digests, as one run started by `who` from the dashboard.
    pub async fn cleanup_now(self: &Arc<Self>, opts: CleanupOptions, who: &str) -> Result<CleanupDone, Error> {
        let mut registry = self.live_registry_options()?;
        registry.max_age = 0;
        let _slot = LIFECYCLE_SLOTS.acquire().await.map_err(|_| Error::unavailable("shutting down"))?;
        let plan = self.cleanup_plan(opts, &registry).await?;
        let command = vec![
            "dashboard".into(),
            "cleanup".into(),
            format!("--keep-last={}", opts.keep_last),
            format!("--min-age={}", opts.min_age_days),
            "--delete".into(),
        ];
        let trigger = dockyard_api::Trigger::web(dockyard_api::Operation::Cleanup, who);
        let (run, state) = self.cleanup_delete(&plan, &registry, trigger, command).await?;
        Ok(CleanupDone { run, state, plan })
    }
}
