//! What the dashboard asks of the service beyond the CLI's JSON: an image's
//! whole story, the graph laid out with statuses, the patch of every stale
//! pin, a repository file for a pin's context, the engines' health, and
//! build-and-pull.

use super::Service;
use super::build::BuildSpec;
use super::error::Error;
use crate::engine::Engine;
use crate::engine::docker::DockerEngine;
use dockyard_api::{ChangelogEntry, GraphView, HostInfo, ImageDetail, NodeStatus, Plan, RunId, Selection, Status};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How many recent runs the graph reads for each image's newest build.
const RECENT_RUNS: usize = 20;

/// How long `/metrics` keeps what the engines said.
pub const METRICS_ENGINES_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The engines at one moment: their health, and which pinned images each
/// holds (`None` when that could not be read).
pub struct EnginesSeen {
    pub health: Vec<HostInfo>,
    pub hosts: Option<dockyard_api::HostsReport>,
}

impl Service {
    /// The engines builds and pulls go to: `[[hosts]]` of the operator file,
    /// else `$DOCKER_HOST` or the local socket when there is one.
    pub fn engines(&self) -> Vec<Arc<dyn Engine>> {
        if !self.repo.hosts.is_empty() {
            return self
                .repo
                .hosts
                .iter()
                .map(|h| Arc::new(DockerEngine::new(&h.name, &h.url, h.tls.clone())) as Arc<dyn Engine>)
                .collect();
        }
        let local = DockerEngine::from_env();
        let socket = local.endpoint().strip_prefix("unix://").map(std::path::Path::new);
        if std::env::var_os("DOCKER_HOST").is_some() || socket.is_some_and(|s| s.exists()) {
            vec![Arc::new(local)]
        } else {
            Vec::new()
        }
    }

    /// The engines as `/metrics` reports them, asked at most once per
    /// [`METRICS_ENGINES_TTL`]: scrapes in that time (and scrapes at the same
    /// moment, which wait for one asking) share the answer, so a scraper
    /// cannot make the engines do N×M image inspections per scrape.
    pub async fn engines_for_metrics(&self) -> Arc<EnginesSeen> {
        let mut kept = self.metrics_engines.lock().await;
        if let Some((at, seen)) = kept.as_ref()
            && at.elapsed() < METRICS_ENGINES_TTL
        {
            return seen.clone();
        }
        let health = self.engine_health().await;
        let hosts = if health.is_empty() { None } else { self.hosts_report_with(health.clone()).await.ok() };
        let seen = Arc::new(EnginesSeen { health, hosts });
        *kept = Some((std::time::Instant::now(), seen.clone()));
        seen
    }

    /// The engine a command names: `--host NAME` (a host of the operator
    /// file) or `--host URL`; without one, `$DOCKER_HOST` or the local socket.
    pub fn engine_named(&self, host: Option<&str>) -> Result<Arc<dyn Engine>, Error> {
        let Some(h) = host else { return Ok(Arc::new(DockerEngine::from_env())) };
        if let Some(spec) = self.repo.hosts.iter().find(|s| s.name == h) {
            return Ok(Arc::new(DockerEngine::new(&spec.name, &spec.url, spec.tls.clone())));
        }
        if h.contains("://") {
            return Ok(Arc::new(DockerEngine::new(h, h, None)));
        }
        Err(Error::invalid(format!(
            "no host `{h}` in the operator file, and it is not an engine URL (unix:///…, tcp://…)"
        )))
    }

    /// The engines a command names: `--hosts all` (every host of the
    /// operator file), `--hosts a,b`, or the one engine of `--host`.
    pub fn select_engines(&self, hosts: Option<&str>, host: Option<&str>) -> Result<Vec<Arc<dyn Engine>>, Error> {
        let Some(list) = hosts else { return Ok(vec![self.engine_named(host)?]) };
        if list == "all" {
            if self.repo.hosts.is_empty() {
                return Err(Error::invalid(
                    "--hosts all: no [[hosts]] in the operator file (--operator FILE or $DOCKYARD_OPERATOR)",
                ));
            }
            return Ok(self.engines());
        }
        let engines: Vec<_> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| self.engine_named(Some(n)))
            .collect::<Result<_, _>>()?;
        if engines.is_empty() {
            return Err(Error::invalid("--hosts: no host named"));
        }
        Ok(engines)
    }

    /// How many engines answered when last asked, without waiting for them:
    /// an answer older than [`METRICS_ENGINES_TTL`] is asked again in the
    /// background (one asking at a time) and the last one is returned
    /// meanwhile (`None` before the first). Pages use it to say "no engine
    /// answers" before anyone clicks Start, and never wait on a frozen engine.
    pub fn engines_up(self: &Arc<Self>) -> Option<usize> {
        let mut seen = self.health_seen.lock().unwrap_or_else(|p| p.into_inner());
        let (last, asking) = &mut *seen;
        let fresh = last.is_some_and(|(at, _)| at.elapsed() < METRICS_ENGINES_TTL);
        if !fresh
            && !*asking
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            *asking = true;
            let service = self.clone();
            runtime.spawn(async move {
                let up = service.engine_health().await.iter().filter(|h| h.reachable).count();
                *service.health_seen.lock().unwrap_or_else(|p| p.into_inner()) =
                    (Some((std::time::Instant::now(), up)), false);
            });
        }
        last.map(|(_, up)| up)
    }

    /// Each engine's reachability and version (asked now, briefly).
    pub async fn engine_health(&self) -> Vec<HostInfo> {
        // Every engine at once, each within one deadline.
        let probes = self.engines().into_iter().map(|e| async move {
            let v = tokio::time::timeout(std::time::Duration::from_secs(2), e.version()).await;
            let (reachable, version, error) = match v {
                Ok(Ok(v)) => (true, Some(v), None),
                Ok(Err(err)) => (false, None, Some(err.to_string())),
                Err(_) => (false, None, Some("no answer within 2 s".into())),
            };
            HostInfo { name: e.name().to_owned(), endpoint: e.endpoint().to_owned(), reachable, version, error }
        });
        futures::future::join_all(probes).await
    }

    /// An image's page.
    pub async fn image_detail(self: &Arc<Self>, name: &str) -> Result<ImageDetail, Error> {
        let snapshot = self.snapshot()?;
        let catalog = snapshot.catalog_report();
        let image = catalog
            .images
            .iter()
            .find(|i| i.name == name)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("no image named `{}`", dockyard_core::limits::quote(name))))?;
        let rendered = snapshot.rendered();
        let dockerfile = rendered.report.images.get(name).and_then(|i| i.dockerfile.clone());
        let history = snapshot
            .catalogs
            .iter()
            .find_map(|c| c.images.iter().find(|i| i.name == name).map(|i| i.history(&c.files)));
        let (changelog, changelog_error): (Vec<ChangelogEntry>, _) = match history {
            Some(Ok(entries)) => (
                entries
                    .into_iter()
                    .map(|e| ChangelogEntry {
                        version: e.version,
                        author: e.author,
                        date: e.date,
                        changes: e.changes.join("\n").trim().to_owned(),
                    })
                    .collect(),
                None,
            ),
            Some(Err(e)) => (Vec::new(), Some(e.to_string())),
            None => (Vec::new(), None),
        };
        let pins = snapshot
            .pins_report()
            .map(|p| p.pins.into_iter().filter(|x| x.image == name).collect())
            .unwrap_or_default();
        let registry = self.registry_knowledge().iter().find_map(|i| i.get(name).cloned());
        // A store that cannot be read is said, never shown as "no builds".
        let (builds, builds_error) = match self.store() {
            Ok(store) => {
                let n = name.to_owned();
                match store.call(move |s| s.image_builds(&n, 20)).await {
                    Ok(b) => (b, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                }
            }
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        // Impact (git and a render of HEAD) on the blocking pool, through
        // the same slots as `/api/v1/impact`.
        let unbumped = {
            let _slot = super::impact::IMPACT_SLOTS.acquire().await.ok();
            let s = self.clone();
            tokio::task::spawn_blocking(move || s.unbumped_in_work_tree()).await.ok().flatten()
        }
        .map(|set| set.contains(name));
        // Sizes of the versions whose manifests the store knows (no request).
        let sizes = match (self.store().ok().filter(|_| builds_error.is_none()), &registry) {
            (Some(store), Some(entry)) => {
                let host = self
                    .registry_knowledge()
                    .iter()
                    .find(|i| i.get(name).is_some())
                    .map(|i| i.registry.clone())
                    .unwrap_or_default();
                let (repo, versions): (String, Vec<String>) =
                    (entry.repo.clone(), changelog.iter().map(|e| e.version.clone()).collect());
                store
                    .call(move |s| {
                        let mut out = std::collections::BTreeMap::new();
                        for v in versions {
                            if let Some((digest, _)) = s.load_digest(&host, &repo, &v)?
                                && let Some(facts) = s.load_manifest(&digest)?
                            {
                                out.insert(v, facts.pull_bytes());
                            }
                        }
                        Ok(out)
                    })
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?
            }
            _ => Default::default(),
        };
        Ok(ImageDetail {
            ancestors: rendered.graph.ancestors(name).into_iter().collect(),
            descendants: rendered.graph.descendants(name).into_iter().collect(),
            image,
            dockerfile,
            changelog,
            pins,
            registry,
            builds,
            unbumped,
            sizes,
            builds_error,
            changelog_error,
        })
    }

    /// Images with unbumped changes in the work tree (impact against HEAD),
    /// when the repository is a git checkout; cached per snapshot.
    pub fn unbumped_in_work_tree(&self) -> Option<std::collections::BTreeSet<String>> {
        let snapshot = self.snapshot().ok()?;
        let generation = snapshot.generation;
        {
            let cache = self.unbumped.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((g, set)) = &*cache
                && *g == generation
            {
                return set.clone();
            }
        }
        let set = if self.repo.root.join(".git").exists() {
            self.impact("HEAD", None).ok().map(|r| {
                r.images.into_iter().filter(|i| i.change == dockyard_api::Change::Unbumped).map(|i| i.name).collect()
            })
        } else {
            None
        };
        *self.unbumped.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, set.clone()));
        set
    }

    /// The graph laid out, each image coloured by the worst thing known.
    pub async fn graph_view(&self) -> Result<GraphView, Error> {
        let snapshot = self.snapshot()?;
        let layout = snapshot.layout().clone();
        let mut status: BTreeMap<String, NodeStatus> = BTreeMap::new();
        let report = &snapshot.rendered().report;
        for (name, img) in &report.images {
            status.insert(name.clone(), if img.error.is_some() { NodeStatus::Broken } else { NodeStatus::Ok });
        }
        let mut worse = |name: &str, s: NodeStatus| {
            if let Some(cur) = status.get_mut(name)
                && s > *cur
            {
                *cur = s;
            }
        };
        if let Ok(p) = snapshot.pins_report() {
            for pin in p.pins.iter().filter(|p| p.status == Status::Stale) {
                worse(&pin.image, NodeStatus::StalePins);
            }
        }
        for index in self.registry_knowledge().iter() {
            for e in index.entries.iter().filter(|e| e.published == Some(false) && !e.base) {
                worse(&e.image, NodeStatus::Unpublished);
            }
        }
        // Failed: the newest build of the image (in the last runs) failed.
        // The recent runs, read in one trip to the store.
        let recent = match self.store() {
            Ok(store) => store
                .call(|s| {
                    let runs = s.list_runs(None, RECENT_RUNS)?;
                    runs.iter().map(|r| s.get_run(r.id)).collect::<Result<Vec<_>, _>>()
                })
                .await
                .ok(),
            Err(_) => None,
        };
        if let Some(details) = recent {
            let mut seen = std::collections::BTreeSet::new();
            for detail in details.into_iter().flatten() {
                for i in
                    detail.images.iter().filter(|i| i.state.is_final() && i.state != dockyard_api::ImageState::Present)
                {
                    if seen.insert(i.name.clone()) && i.state == dockyard_api::ImageState::Failed {
                        worse(&i.name, NodeStatus::Failed);
                    }
                }
            }
        }
        Ok(GraphView {
            layout,
            status,
            problems: snapshot.rendered().graph.problems.iter().map(ToString::to_string).collect(),
        })
    }

    /// The patch of every stale pin, as `lint --fix` would write it (only to
    /// versions the registry holds, when it is known).
    ///
    /// Only the stale pins of `image` (and `version`) and of `file`, when
    /// given: a group's or a file's own patch.
    pub fn pins_patch(&self, image: Option<&str>, version: Option<&str>, file: Option<&str>) -> Result<String, Error> {
        let snapshot = self.snapshot()?;
        let lint = snapshot.lint().map_err(|d| Error::invalid(d.to_string()))?;
        let knowledge = crate::registry::Knowledge(&snapshot.registry);
        let registry = (!snapshot.registry.is_empty()).then_some(&knowledge as &dyn dockyard_core::lint::Published);
        let only = |p: &dockyard_api::Pin| {
            image.is_none_or(|i| p.image == i)
                && version.is_none_or(|v| p.version.as_deref() == Some(v))
                && file.is_none_or(|f| p.file == f)
        };
        let (fixes, _) = dockyard_core::lint::plan_fixes_of(&lint.report, &lint.sources, registry, &only);
        Ok(dockyard_core::patch::patch(&fixes))
    }

    /// A text file of the repository, for showing a pin in its context:
    /// only files under the pin paths or catalog roots, never through a
    /// symlink out of the repository, never a path with `..`.
    pub fn repository_file(&self, rel: &str) -> Result<String, Error> {
        let refused =
            || Error::not_found(format!("`{}` is not a file this dashboard shows", dockyard_core::limits::quote(rel)));
        let path = std::path::Path::new(rel);
        if rel.is_empty()
            || path.is_absolute()
            || path.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(refused());
        }
        let full = self.repo.root.join(path);
        let allowed =
            self.repo.pin_paths.iter().chain(self.repo.roots.iter().map(|r| &r.dir)).any(|p| full.starts_with(p));
        if !allowed {
            return Err(refused());
        }
        self.repo.files.read_text(&full, dockyard_core::limits::MAX_PIN_FILE_BYTES).map_err(|_| refused())
    }

    /// [`Service::repository_file`] for the file viewer: lines as HTML,
    /// YAML highlighted, and the JJB items around them.
    pub fn file_view(&self, rel: &str) -> Result<dockyard_api::FileView, Error> {
        use dockyard_core::highlight;
        let text = self.repository_file(rel)?;
        let yaml = rel.ends_with(".yaml") || rel.ends_with(".yml");
        let lines = text.lines().map(|l| if yaml { highlight::yaml_line(l) } else { highlight::escape(l) }).collect();
        let items = if yaml { dockyard_core::jobs::items(&text) } else { Vec::new() };
        let projects = dockyard_core::jobs::Projects::of([&items[..]]);
        let items = items
            .iter()
            .filter_map(|i| {
                let job = projects.job_at(&items, i.first_line)?;
                Some(dockyard_api::FileItem { first: i.first_line, last: i.last_line, job, entries: i.jobs.clone() })
            })
            .collect();
        Ok(dockyard_api::FileView { path: rel.to_owned(), lines, items })
    }

    /// The labels a dashboard selection builds.
    pub fn selection_globs(&self, selection: &Selection) -> Result<Vec<String>, Error> {
        let snapshot = self.snapshot()?;
        let catalog = snapshot.catalog_report();
        let label_of = |n: &str| -> Result<String, Error> {
            catalog
                .images
                .iter()
                .find(|i| i.name == n)
                .and_then(|i| i.label.clone())
                .ok_or_else(|| Error::invalid(format!("no image named `{}`", dockyard_core::limits::quote(n))))
        };
        match selection {
            Selection::Image { name } => Ok(vec![label_of(name)?]),
            Selection::Subtree { name } => {
                let mut out = vec![label_of(name)?];
                for d in snapshot.rendered().graph.descendants(name) {
                    out.push(label_of(&d)?);
                }
                Ok(out)
            }
            Selection::PinProblems => {
                let pins = snapshot.pins_report().map_err(|p| Error::invalid(p.to_string()))?;
                let mut names: Vec<&str> = pins
                    .pins
                    .iter()
                    .filter(|p| matches!(p.status, Status::Stale | Status::Unpublished))
                    .map(|p| p.image.as_str())
                    .collect();
                names.sort();
                names.dedup();
                if names.is_empty() {
                    return Err(Error::invalid("no pin is stale or unpublished: nothing to build"));
                }
                names.into_iter().map(label_of).collect()
            }
            Selection::Globs { globs } => Ok(globs.clone()),
        }
    }

    /// The plan of a dashboard selection (what `build --dry-run` prints).
    /// Without an engine that answers it is planned from the registry's
    /// knowledge alone, and its first note says so.
    pub async fn plan_selection(&self, request: &dockyard_api::BuildRequest) -> Result<Plan, Error> {
        let (engine, absent) = match super::build::answering(self.engines(), std::time::Duration::from_secs(2)).await {
            Ok((up, _)) => (up.into_iter().next(), None),
            Err(e) => (None, Some(e.message)),
        };
        let (_, prepared) = self.prepare_selection(request, engine.as_deref()).await?;
        let mut plan = prepared.plan;
        if let Some(why) = absent {
            plan.notes.insert(
                0,
                format!(
                    "{why}: this plan is from the registry's knowledge alone; what an engine already holds is \
                     unknown, and starting it needs an engine"
                ),
            );
        }
        Ok(plan)
    }

    /// The spec and the prepared plan of a dashboard selection, against
    /// `engine` (`None`: planned from the registry alone).
    async fn prepare_selection(
        &self,
        request: &dockyard_api::BuildRequest,
        engine: Option<&dyn Engine>,
    ) -> Result<(BuildSpec, super::build::Prepared), Error> {
        let spec = BuildSpec {
            globs: self.selection_globs(&request.selection)?,
            pull: true,
            push: request.push,
            // `build`'s defaults, so that the dashboard's plan is the CLI's
            // dry run, byte for byte.
            use_cache: false,
            jobs: super::build::default_jobs(),
            suffix: None,
            trigger: dockyard_api::Trigger::web(dockyard_api::Operation::Build, ""),
            command: {
                let mut c = vec!["dashboard".to_owned(), "build".to_owned()];
                c.push(match &request.selection {
                    dockyard_api::Selection::Image { name } => format!("--image={name}"),
                    dockyard_api::Selection::Subtree { name } => format!("--subtree={name}"),
                    dockyard_api::Selection::PinProblems => "--pin-problems".into(),
                    dockyard_api::Selection::Globs { globs } => format!("--select={}", globs.join(",")),
                });
                if request.push {
                    c.push("--push".into());
                }
                if request.pull_pins {
                    c.push("--pull-pins".into());
                }
                c
            },
        };
        let prepared = self.plan_build(&spec, engine, &self.repo.registry).await?;
        Ok((spec, prepared))
    }

    /// Starts build-and-pull: the run is recorded now and goes on in the
    /// background (then the pinned images are pulled onto every engine).
    pub async fn start_build_and_pull(
        self: &Arc<Self>,
        request: dockyard_api::BuildRequest,
        who: &str,
    ) -> Result<(RunId, Plan), Error> {
        let engine = self.engines().into_iter().next().ok_or_else(super::build::no_engine)?;
        let (mut spec, prepared) = self.prepare_selection(&request, Some(engine.as_ref())).await?;
        let plan = prepared.plan.clone();
        spec.trigger = dockyard_api::Trigger::web(dockyard_api::Operation::Build, who);
        // The run records the engine it runs on (it recorded every engine).
        let hosts = vec![engine.name().to_owned()];
        let run = self.begin_run(&prepared, &spec, &hosts).await?;
        let service = self.clone();
        tokio::spawn(async move {
            let mut state = service.execute_run(run, prepared, &spec, vec![engine]).await;
            // The pull is part of the run: the run ends, and says how, after it.
            if request.pull_pins && state == dockyard_api::RunState::Succeeded && !service.pull_pins_into_run(run).await
            {
                state = dockyard_api::RunState::Failed;
            }
            if let Err(e) = service.finish_run(run, state).await {
                tracing::warn!("build history: run {run}: {e}");
            }
            // The dashboard shows the new state of everything.
            super::reload_now(&service).await;
        });
        Ok((run, plan))
    }

    /// Pulls the pinned images onto every engine, logging into `run`:
    /// whether every pull succeeded (or had nothing to do).
    async fn pull_pins_into_run(&self, run: RunId) -> bool {
        let planned = self.snapshot().and_then(|snapshot| {
            let plan = super::pull::plan(&snapshot, Some(&self.registry_knowledge()))?;
            Ok((plan, snapshot))
        });
        let (plan, snapshot) = match planned {
            Ok(p) => p,
            Err(e) => {
                self.log_to_run(run, "(pull)", vec![format!("error: no pull plan: {e}")]).await;
                return false;
            }
        };
        let auth = super::build::engine_auth(&snapshot);
        let mut all_good = true;
        for engine in self.engines() {
            let name = engine.name().to_owned();
            let report = super::pull::pull_onto(engine, &plan, auth.clone(), 4, |_| {}).await;
            let lines = report
                .results
                .iter()
                .map(|r| format!("{} {} {}", r.outcome.word(), r.image, r.error.clone().unwrap_or_default()))
                .collect();
            all_good &= report.failed() == 0;
            self.log_to_run(run, &format!("pull onto {name}"), lines).await;
        }
        all_good
    }
}

impl Service {
    /// The overview with every source: the snapshot's (catalog, pins,
    /// registry), the engines (asked now, briefly) and the store, with the
    /// last builds. `GET /api/v1/overview` and `/metrics` read this.
    pub async fn overview_full(self: &Arc<Self>, can_write: bool) -> dockyard_api::Overview {
        let health = self.engine_health().await;
        self.overview_with(can_write, &health).await
    }

    /// The overview, with the engines' health already asked (`/metrics`
    /// asks once for the overview and the hosts matrix).
    pub async fn overview_with(self: &Arc<Self>, can_write: bool, health: &[HostInfo]) -> dockyard_api::Overview {
        let s = self.clone();
        let mut o = match tokio::task::spawn_blocking(move || s.overview(can_write)).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("overview: {e}");
                dockyard_api::Overview::default()
            }
        };
        o.sources.push(engine_source(health));
        let figures = self.lifecycle_figures();
        o.fresh_agent_bytes = figures.fresh_agent_bytes;
        o.reclaimable_bytes = figures.reclaimable_bytes;
        o.retire_candidates = self.retire_candidates().ok().map(|r| r.len());
        match self.store() {
            Ok(st) => match st.call(|s| s.list_runs(None, 5)).await {
                Ok(runs) => {
                    *self.store_down_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    o.last_builds = runs;
                    o.sources.push(dockyard_api::SourceHealth {
                        name: dockyard_api::SourceKind::Store,
                        health: dockyard_api::Health::Ok,
                        updated_at: None,
                        detail: st.0.describe(),
                        hint: None,
                    });
                }
                // An outage is an error with its start, never "no builds yet".
                Err(e) => {
                    let now = crate::store::now();
                    let since = *self.store_down_since.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(now);
                    let message = format!("{}: unreachable for {} s: {e}", st.0.describe(), (now - since).max(0));
                    o.last_builds_error = Some(message.clone());
                    o.sources.push(dockyard_api::SourceHealth {
                        name: dockyard_api::SourceKind::Store,
                        health: dockyard_api::Health::Error,
                        updated_at: Some(since),
                        detail: message,
                        hint: None,
                    });
                }
            },
            Err(e) => {
                o.last_builds_error = Some(e.to_string());
                o.sources.push(dockyard_api::SourceHealth {
                    name: dockyard_api::SourceKind::Store,
                    health: dockyard_api::Health::Error,
                    updated_at: None,
                    detail: e.to_string(),
                    hint: Some("set [store] in the operator file, or --store".into()),
                })
            }
        }
        o
    }
}

fn engine_source(hosts: &[dockyard_api::HostInfo]) -> dockyard_api::SourceHealth {
    use dockyard_api::{Health, SourceHealth};
    if hosts.is_empty() {
        return SourceHealth {
            name: dockyard_api::SourceKind::Engine,
            health: Health::NotConnected,
            updated_at: None,
            detail: "no Docker engine".into(),
            hint: Some("set DOCKER_HOST, or list engines as [[hosts]] in the operator file".into()),
        };
    }
    let down: Vec<&str> = hosts.iter().filter(|h| !h.reachable).map(|h| h.name.as_str()).collect();
    SourceHealth {
        name: dockyard_api::SourceKind::Engine,
        health: if down.is_empty() {
            Health::Ok
        } else if down.len() == hosts.len() {
            Health::Error
        } else {
            Health::Degraded
        },
        updated_at: Some(crate::store::now()),
        detail: hosts
            .iter()
            .map(|h| format!("{}: {}", h.name, h.version.clone().or(h.error.clone()).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; "),
        hint: None,
    }
}
