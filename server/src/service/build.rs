//! Builds: plan (with the facts of the registry and the engine), then run
//! the plan along the dependency graph, up to `jobs` images at once, like
//! cargo's job queue: an image starts when its parents are done, a failure
//! skips everything below it while the rest goes on, and one place (the run
//! loop) owns the state. Every state change and log line goes to the store
//! and out on the service's event channel.

use super::Service;
use crate::engine::{BuildOptions, Engine, EngineError, LogSink, RegistryAuth};
use crate::store::{ImageUpdate, NewRun, now, now_ms};
use dockyard_api::{Action, BuildEvent, ImageState, LogLine, Plan, RunId, RunState, RunSummary};
use dockyard_core::Diagnostic;
use dockyard_core::files::SharedFiles;
use dockyard_core::plan::{PlanImage, PlanOptions};
use dockyard_core::schedule::Step;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// What to build, as the command line or the dashboard asks.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub globs: Vec<String>,
    /// docker-pkg's default; `--no-pull` turns it off.
    pub pull: bool,
    pub push: bool,
    pub use_cache: bool,
    pub jobs: usize,
    /// `-YYYYMMDD` (`--nightly`) or `-YYYYMMDD-HHMMSS` (`--snapshot`).
    pub suffix: Option<String>,
    /// Who or what starts it: `cli:USER`, `web:USER`.
    pub trigger: dockyard_api::Trigger,
    /// The command line (or the dashboard form) it came from, for the history.
    pub command: Vec<String>,
}

/// Why a build could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Load(Diagnostic),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Other(String),
}

/// Everything a run needs for one image of the plan.
#[derive(Clone)]
struct Job {
    name: String,
    label: String,
    action: Action,
    /// `registry/namespace/name` and the tag.
    repo: String,
    tag: String,
    dir: PathBuf,
    display: PathBuf,
    files: SharedFiles,
    dockerfile: Result<String, String>,
    /// Catalog parents that are in the registry but not in the engine: pulled first.
    pull_first: Vec<String>,
    verify: Option<(String, Vec<String>)>,
    auth: Option<RegistryAuth>,
    buildargs: HashMap<String, String>,
    /// The labels of its catalog parents (what its `FROM`s name).
    parent_labels: Vec<String>,
    /// The digest of its build context, made once per plan (the engine's
    /// copy and the registry's are both judged against it).
    context: Arc<tokio::sync::OnceCell<Option<String>>>,
}

impl Job {
    /// The digest of its build context now (`None` when it cannot be made).
    async fn context_digest(&self) -> Option<String> {
        self.context
            .get_or_init(|| async {
                let Ok(dockerfile) = self.dockerfile.clone() else { return None };
                let (files, dir, display) = (self.files.clone(), self.dir.clone(), self.display.clone());
                tokio::task::spawn_blocking(move || {
                    crate::engine::context::tar(files.as_ref(), &dir, &display, &dockerfile)
                        .ok()
                        .map(|t| crate::sha::digest(&t))
                })
                .await
                .ok()
                .flatten()
            })
            .await
            .clone()
    }
}

/// A plan with what running it needs.
pub struct Prepared {
    pub plan: Plan,
    jobs: BTreeMap<String, Job>,
    /// Where the files came from (the repository, its commit, dirty or not).
    pub source: dockyard_api::RunSource,
}

/// Registry credentials for the first catalog's registry, for the engine.
pub fn engine_auth(snapshot: &super::Snapshot) -> Option<RegistryAuth> {
    let catalog = snapshot.catalogs.first()?;
    let host = catalog.config.registry();
    let c = crate::registry::auth::resolve(&host, &catalog.config).ok()??;
    Some(RegistryAuth { username: c.username, password: c.password, server: host })
}

/// Builds at once when nothing says: one per core (the CLI's `--jobs`
/// default and the dashboard's).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `-YYYYMMDD` or `-YYYYMMDD-HHMMSS` for now (UTC).
pub fn nightly_suffix(with_time: bool) -> String {
    let d = dockyard_core::changelog::format_date(now());
    // "Sat, 28 Nov 2026 01:02:03 +0000"
    let parts: Vec<&str> = d.split_whitespace().collect();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == parts[2])
        .unwrap_or(0)
        + 1;
    let day: u32 = parts[1].parse().unwrap_or(1);
    let date = format!("-{}{month:02}{day:02}", parts[3]);
    if with_time { format!("{date}-{}", parts[4].replace(':', "")) } else { date }
}

/// docker-pkg's `verify`: a `{path}` argument that names a missing file
/// means the image has no test, and verification passes.
fn verify_invocation(config: &dockyard_core::config::Config, dir: &str, label: &str) -> Option<(String, Vec<String>)> {
    let raw: Vec<String> = config
        .get("verify_args")
        .and_then(|v| v.try_iter().ok())
        .map(|it| it.map(|v| dockyard_core::pyfmt::py_str(&v)).collect())
        .unwrap_or_default();
    for arg in &raw {
        for part in arg.split_whitespace().filter(|p| p.contains("{path}")) {
            if !std::path::Path::new(&part.replace("{path}", dir)).exists() {
                return None;
            }
        }
    }
    Some(config.verify_invocation(dir, label))
}

/// No engine is configured at all.
pub fn no_engine() -> super::Error {
    super::Error::unavailable("no engine is connected: set DOCKER_HOST, or [[hosts]] in the operator file")
}

/// Every engine asked at once, each within `deadline`: those that answer,
/// and what each of the others said. None answering is unavailable.
pub async fn answering(
    engines: Vec<Arc<dyn Engine>>,
    deadline: std::time::Duration,
) -> Result<(Vec<Arc<dyn Engine>>, Vec<String>), super::Error> {
    if engines.is_empty() {
        return Err(no_engine());
    }
    let probes = futures::future::join_all(engines.iter().map(|e| async move {
        match tokio::time::timeout(deadline, e.version()).await {
            Ok(Ok(_)) => Ok(e.clone()),
            Ok(Err(crate::engine::EngineError::Unreachable(_, why))) => {
                Err(format!("{}: unreachable: {why}", e.name()))
            }
            Ok(Err(err)) => Err(format!("{}: {err}", e.name())),
            Err(_) => Err(format!("{}: no answer in {} s: the engine stopped answering", e.name(), deadline.as_secs())),
        }
    }))
    .await;
    let (up, down): (Vec<_>, Vec<_>) = probes.into_iter().partition(Result::is_ok);
    let up: Vec<Arc<dyn Engine>> = up.into_iter().filter_map(Result::ok).collect();
    let down: Vec<String> = down.into_iter().filter_map(Result::err).collect();
    if up.is_empty() {
        return Err(super::Error::unavailable(down.join("\n")));
    }
    Ok((up, down))
}

impl Service {
    /// Plans a build against `engine` and the registry (asked now, unless
    /// `offline`), as `build --dry-run` prints it. Without an engine what
    /// an engine holds is unknown (a preview from the registry alone).
    pub async fn plan_build(
        &self,
        spec: &BuildSpec,
        engine: Option<&dyn Engine>,
        registry: &crate::registry::RegistryOptions,
    ) -> Result<Prepared, BuildError> {
        let snapshot = self.snapshot().map_err(BuildError::Load)?;
        let source = self.run_source(spec.command.clone()).await;
        // What the registry holds (a failing registry leaves it unknown, and says so).
        let (knowledge, registry_problems) =
            if spec.pull || spec.push { self.registry_for_plan(registry).await } else { (Vec::new(), Vec::new()) };
        let rendered = snapshot.rendered();
        let graph = &rendered.graph;
        let mut images = Vec::new();
        let mut jobs = BTreeMap::new();
        let mut base_images = BTreeSet::new();
        let mut engine_labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let mut registry_tags: Vec<(String, usize, String)> = Vec::new();
        let mut registry_notes: Vec<String> = Vec::new();
        for (catalog_index, catalog) in snapshot.catalogs.iter().enumerate() {
            let suffix = spec.suffix.clone().unwrap_or_default();
            let renderer = spec.suffix.as_ref().map(|s| catalog.renderer_with_suffix(s));
            base_images.extend(catalog.config.base_images());
            let host = catalog.config.registry();
            let auth = crate::registry::auth::resolve(&host, &catalog.config).ok().flatten().map(|c| RegistryAuth {
                username: c.username,
                password: c.password,
                server: host.clone(),
            });
            let proxy = catalog.config.get("http_proxy").filter(|v| !v.is_none()).map(dockyard_core::pyfmt::py_str);
            let buildargs: HashMap<String, String> = proxy
                .map(|p| {
                    ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"]
                        .iter()
                        .map(|k| ((*k).to_owned(), p.clone()))
                        .collect()
                })
                .unwrap_or_default();
            // An image whose files do not load stays in the plan as broken,
            // with the error that names its file and line.
            for image in catalog.images.iter().filter(|i| i.error.is_some()) {
                let parents: Vec<String> =
                    graph.parents.get(&image.name).map(|p| p.keys().cloned().collect()).unwrap_or_default();
                images.push(PlanImage {
                    name: image.name.clone(),
                    label: image
                        .label(&catalog.config)
                        .unwrap_or_else(|| format!("{}/{}", catalog.display_root.display(), image.rel_dir)),
                    parents,
                    in_registry: None,
                    in_engine: None,
                    broken: image.error.as_ref().map(|e| e.to_string()),
                    stale: None,
                    registry_stale: None,
                });
            }
            for image in catalog.images.iter().filter(|i| i.error.is_none()) {
                let Some(plain) = image.label(&catalog.config) else { continue };
                let label = format!("{plain}{suffix}");
                let (repo, tag) = match dockyard_core::label::split_tag(&label) {
                    (r, Some(t)) => (r.to_owned(), t.to_owned()),
                    (r, None) => (r.to_owned(), "latest".to_owned()),
                };
                let info = match engine {
                    Some(engine) => Some(engine.inspect(&label).await?),
                    None => None,
                };
                let in_engine = info.as_ref().map(Option::is_some);
                let info = info.flatten();
                if let Some(info) = info.filter(|i| i.labels.contains_key(dockyard_core::provenance::CONTEXT)) {
                    engine_labels.insert(image.name.clone(), info.labels);
                }
                let in_registry = knowledge.iter().find_map(|k| {
                    let e = k.get(&image.name)?;
                    match e.state {
                        dockyard_api::IndexState::Error => None,
                        dockyard_api::IndexState::Missing => Some(false),
                        _ => Some(e.tags.contains(&tag)),
                    }
                });
                let parents: Vec<String> =
                    graph.parents.get(&image.name).map(|p| p.keys().cloned().collect()).unwrap_or_default();
                let dockerfile = match &renderer {
                    Some(r) => catalog.render(r, image, &catalog.display_root).dockerfile.map_err(|d| d.to_string()),
                    None => {
                        rendered.report.images.get(&image.name).and_then(|r| r.dockerfile.clone()).ok_or_else(|| {
                            rendered
                                .report
                                .images
                                .get(&image.name)
                                .and_then(|r| r.error.clone())
                                .unwrap_or_else(|| "does not render".into())
                        })
                    }
                };
                let dir_text = image.dir.display().to_string();
                jobs.insert(
                    image.name.clone(),
                    Job {
                        name: image.name.clone(),
                        label: label.clone(),
                        action: Action::Present,
                        repo,
                        tag,
                        dir: image.dir.clone(),
                        display: catalog.display_root.join(&image.rel_dir),
                        files: catalog.files.clone(),
                        dockerfile,
                        pull_first: Vec::new(),
                        verify: verify_invocation(&catalog.config, &dir_text, &label),
                        auth: auth.clone(),
                        buildargs: buildargs.clone(),
                        parent_labels: Vec::new(),
                        context: Default::default(),
                    },
                );
                if in_registry == Some(true) {
                    registry_tags.push((image.name.clone(), catalog_index, host.clone()));
                }
                images.push(PlanImage {
                    name: image.name.clone(),
                    label,
                    parents,
                    in_registry,
                    in_engine,
                    broken: None,
                    stale: None,
                    registry_stale: None,
                });
            }
        }
        let labels: HashMap<String, String> = images.iter().map(|i| (i.name.clone(), i.label.clone())).collect();
        for image in &mut images {
            if let Some(job) = jobs.get_mut(&image.name) {
                job.parent_labels = image.parents.iter().filter_map(|p| labels.get(p).cloned()).collect();
            }
        }
        // What the existing tags were built from, against what the files give now.
        if let Some(engine) = engine {
            judge_engine_copies(&mut images, &jobs, &engine_labels, engine).await?;
        }
        if spec.pull || spec.push {
            let registry_tags = RegistryTags { tags: &registry_tags, catalogs: &snapshot.catalogs, options: registry };
            registry_notes.extend(self.judge_registry_copies(&mut images, &jobs, spec, registry_tags).await);
        }
        let mut plan = dockyard_core::plan::plan(
            &images,
            &PlanOptions {
                globs: spec.globs.clone(),
                pull: spec.pull,
                push: spec.push,
                use_cache: spec.use_cache,
                jobs: spec.jobs,
                base_images: base_images.iter().cloned().collect(),
            },
        );
        plan.problems.extend(registry_problems);
        plan.notes.extend(registry_notes);
        let facts: HashMap<&str, &PlanImage> = images.iter().map(|i| (i.name.as_str(), i)).collect();
        for item in &plan.items {
            if let Some(job) = jobs.get_mut(&item.name) {
                job.action = item.action;
                if spec.pull {
                    job.pull_first = item
                        .parents
                        .iter()
                        .filter_map(|p| facts.get(p.as_str()))
                        .filter(|p| p.in_registry == Some(true) && p.in_engine != Some(true))
                        .map(|p| p.label.clone())
                        .collect();
                }
            }
        }
        // A FROM that is neither a catalog image nor in base_images is never
        // pulled fresh: an old copy in the engine is built on for good.
        let catalog_labels: BTreeSet<&str> = images.iter().map(|i| i.label.as_str()).collect();
        let mut said = BTreeSet::new();
        for job in jobs.values() {
            let Ok(df) = &job.dockerfile else { continue };
            for from in dockyard_core::plan::from_images(df) {
                if !catalog_labels.contains(from.as_str()) && !base_images.contains(&from) && said.insert(from.clone())
                {
                    plan.notes.push(format!(
                        "{}: FROM {from} is neither a catalog image nor in base_images, so it is never pulled fresh \
                         (add it to base_images in config.yaml)",
                        job.name
                    ));
                }
            }
        }
        Ok(Prepared { plan, jobs, source })
    }

    /// The registry's index, refreshed now (a plan decides from fresh
    /// knowledge), and the problems of a registry that failed the refresh:
    /// said once, with the age of the knowledge a plan would otherwise use.
    async fn registry_for_plan(
        &self,
        registry: &crate::registry::RegistryOptions,
    ) -> (Vec<dockyard_api::RegistryIndex>, Vec<String>) {
        let mut knowledge: Vec<dockyard_api::RegistryIndex> = Vec::new();
        let mut registry_problems: Vec<String> = Vec::new();
        let opts = crate::registry::RegistryOptions { max_age: 0, ..registry.clone() };
        match self.refresh_registry(&opts, &Default::default()).await {
            Ok(r) => knowledge = r.into_iter().map(|r| r.index).collect(),
            Err(e) => registry_problems.push(format!("the registry index could not be read: {e}")),
        }
        // A registry that failed now is said once, with the age of the
        // knowledge the plan would otherwise use silently.
        if !registry.offline {
            for index in &knowledge {
                let failed: Vec<&dockyard_api::RegistryEntry> = index
                    .entries
                    .iter()
                    .filter(|e| e.error.is_some() && e.state != dockyard_api::IndexState::Fresh)
                    .collect();
                if let Some(first) = failed.first() {
                    let now = crate::store::now();
                    let age = match failed.iter().filter_map(|e| e.fetched_at).min() {
                        Some(at) => format!("planning from its index of {} s ago", (now - at).max(0)),
                        None => "nothing is known of it".to_owned(),
                    };
                    registry_problems.push(format!(
                        "registry {} unreachable ({}): {age}; run with --offline to plan from the stored index on purpose",
                        index.registry,
                        first.error.as_deref().map_or("no answer", |e| e.trim_start_matches("unreachable: "))
                    ));
                }
            }
        }
        (knowledge, registry_problems)
    }

    /// Where a run of `command` comes from: the repository, its commit and
    /// whether the work tree differs from it.
    pub async fn run_source(&self, command: Vec<String>) -> dockyard_api::RunSource {
        let root = self.repo.root.clone();
        let head = tokio::task::spawn_blocking(move || crate::git::head_state(&root)).await.ok().flatten();
        dockyard_api::RunSource {
            repo: self.repo.root.display().to_string(),
            commit: head.as_ref().map(|h| h.0.clone()),
            dirty: head.as_ref().map(|h| h.1),
            command,
            dockyard: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Runs a prepared plan on `engines` (the first is the one the plan was
    /// made against): records the run, executes it, and returns its id and
    /// final state.
    pub async fn run_build(
        self: &Arc<Self>,
        prepared: Prepared,
        spec: &BuildSpec,
        engines: Vec<Arc<dyn Engine>>,
    ) -> Result<(RunId, RunState), BuildError> {
        can_run_on(&prepared, spec, &engines)?;
        let hosts: Vec<String> = engines.iter().map(|e| e.name().to_owned()).collect();
        let run = self.begin_run(&prepared, spec, &hosts).await?;
        let state = self.complete_run(run, prepared, spec, engines).await?;
        Ok((run, state))
    }

    /// Records a new run of `prepared` (every image waiting) and announces it.
    pub async fn begin_run(
        &self,
        prepared: &Prepared,
        spec: &BuildSpec,
        hosts: &[String],
    ) -> Result<RunId, BuildError> {
        let store = self.store()?;
        let new = NewRun {
            trigger: spec.trigger.clone(),
            selection: spec.globs.clone(),
            hosts: hosts.to_vec(),
            plan: prepared.plan.clone(),
            started_at: now(),
            owner: crate::store::owner(),
            source: Some(prepared.source.clone()),
        };
        let run = store.call(move |s| s.create_run(&new)).await?;
        let summary = store.call(move |s| s.get_run(run)).await?.map(|d| d.run);
        if let Some(run) = summary {
            let _ = self.events.send(BuildEvent::RunStarted { run });
        }
        Ok(run)
    }

    /// Executes a begun run to its end, and records the end.
    pub async fn complete_run(
        self: &Arc<Self>,
        run: RunId,
        prepared: Prepared,
        spec: &BuildSpec,
        engines: Vec<Arc<dyn Engine>>,
    ) -> Result<RunState, BuildError> {
        // Without a store nothing runs: its end could not be recorded.
        self.store()?;
        let state = self.execute_run(run, prepared, spec, engines).await;
        self.finish_run(run, state).await?;
        Ok(state)
    }

    /// Executes a begun run and says how it went, without recording its
    /// end: the caller may add to the run first (build-and-pull's pull),
    /// then calls [`Service::finish_run`].
    pub async fn execute_run(
        self: &Arc<Self>,
        run: RunId,
        prepared: Prepared,
        spec: &BuildSpec,
        engines: Vec<Arc<dyn Engine>>,
    ) -> RunState {
        match can_run_on(&prepared, spec, &engines) {
            Ok(()) => self.execute(run, prepared, spec, engines).await,
            Err(e) => {
                self.log_to_run(run, "(run)", vec![format!("error: {e}")]).await;
                RunState::Failed
            }
        }
    }

    /// Records a run's end, and tells the live views.
    pub async fn finish_run(&self, run: RunId, state: RunState) -> Result<(), BuildError> {
        let store = self.store()?;
        let at = now();
        // The end as it really was, once the store answers again.
        store.write_retrying("the run's end", move |s| s.finish_run(run, state, at)).await?;
        self.release_seqs(run);
        if self.history_lost.lock().unwrap_or_else(|p| p.into_inner()).remove(&run) {
            return Err(BuildError::Other(format!(
                "run {run} ended {}, but some of its history could not be written (the store was unreachable)",
                state.as_str()
            )));
        }
        let _ = self.events.send(BuildEvent::RunFinished { run, state, at });
        Ok(())
    }

    /// Appends lines to a run's log under `image`, numbered by the run's
    /// one sequence owner ([`Service::take_seqs`]), through an outage.
    pub async fn log_to_run(&self, run: RunId, image: &str, lines: Vec<String>) {
        let Ok(store) = self.store() else { return };
        let first = self.take_seqs(run, lines.len());
        let lines: Vec<LogLine> = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| LogLine { image: image.to_owned(), seq: first + i as i64, at_ms: now_ms(), line })
            .collect();
        for l in &lines {
            let _ = self.events.send(BuildEvent::Log { run, line: l.clone() });
        }
        if let Err(e) = store.write_retrying("log lines", move |s| s.append_logs(run, &lines)).await {
            tracing::error!("build history: log lines of run {run} could not be written: {e}");
            self.history_lost.lock().unwrap_or_else(|p| p.into_inner()).insert(run);
        }
    }

    /// Records and announces an image's state, now.
    pub(super) async fn set_state(
        &self,
        run: RunId,
        image: &str,
        state: ImageState,
        host: Option<&str>,
        error: Option<String>,
    ) {
        self.set_state_with(run, image, state, host, error, now_ms(), None, None).await;
    }

    /// Records and announces an image's state, with the image id it built
    /// and the digest its push gave.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn set_state_with(
        &self,
        run: RunId,
        image: &str,
        state: ImageState,
        host: Option<&str>,
        error: Option<String>,
        at_ms: i64,
        built: Option<String>,
        pushed: Option<String>,
    ) {
        let update = ImageUpdate {
            run,
            image: image.to_owned(),
            state,
            host: host.map(str::to_owned),
            at_ms,
            error: error.clone(),
            built,
            pushed,
        };
        // Retried through an outage: a state is never lost to a failed write
        // (a lost "published" became "skipped" when the run ended).
        if let Ok(store) = self.store()
            && let Err(e) = store.write_retrying("an image state", move |s| s.update_image(&update)).await
        {
            tracing::error!("build history: an image state could not be written: {e}");
            self.history_lost.lock().unwrap_or_else(|p| p.into_inner()).insert(run);
        }
        let _ = self.events.send(BuildEvent::Image {
            run,
            image: image.to_owned(),
            state,
            host: host.map(str::to_owned),
            error,
            at_ms,
        });
    }

    /// The run loop.
    /// Runs the plan along the graph on every engine at once, `spec.jobs`
    /// builds per engine. An image goes to the engine that built most of
    /// its parents (then the least busy one); on another engine it pulls
    /// its parents from the registry first. An engine that stops answering
    /// is dropped and its images are queued again on the others.
    async fn execute(
        self: &Arc<Self>,
        run: RunId,
        prepared: Prepared,
        spec: &BuildSpec,
        engines: Vec<Arc<dyn Engine>>,
    ) -> RunState {
        let (log_tx, log_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let writer = tokio::spawn(write_logs(self.clone(), run, log_rx));
        let plan = &prepared.plan;
        let position: HashMap<&str, usize> =
            plan.items.iter().enumerate().map(|(i, it)| (it.name.as_str(), i)).collect();
        let parents_of = |i: usize| -> Vec<usize> {
            plan.items[i].parents.iter().filter_map(|p| position.get(p.as_str()).copied()).collect()
        };
        let is_work = |a: Action| !matches!(a, Action::Present | Action::Broken);
        // The decisions are the pure queue's (`core::schedule`); this loop
        // runs them, and reports back.
        let items: Vec<dockyard_core::schedule::Item> = (0..plan.items.len())
            .map(|i| {
                let parents = parents_of(i);
                // Where it may run: the first engine (where the plan found
                // it) for a publish or a parent only that engine has.
                let anywhere = matches!(plan.items[i].action, Action::Build | Action::StaleBuild)
                    && parents
                        .iter()
                        .all(|p| is_work(plan.items[*p].action) || plan.items[*p].in_registry == Some(true));
                dockyard_core::schedule::Item { parents, work: is_work(plan.items[i].action), anywhere }
            })
            .collect();
        let any_work = items.iter().any(|i| i.work);
        let mut queue = dockyard_core::schedule::Queue::new(items, engines.len(), spec.jobs.max(1));
        // Base images first (docker-pkg refreshes them before building), on every engine.
        if spec.pull && any_work {
            for engine in &engines {
                for base in &plan.base_images {
                    let sink = image_sink(&log_tx, "(base images)");
                    let on = if engines.len() > 1 { format!(" on {}", engine.name()) } else { String::new() };
                    let _ = sink.send(format!("pulling {base}{on}"));
                    if let Err(e) = engine.pull(base, None, sink.clone()).await {
                        let _ = sink.send(format!("warning: {e}"));
                    }
                }
            }
        }
        let mut built_on: HashMap<usize, usize> = HashMap::new();
        let mut running = tokio::task::JoinSet::new();
        let mut failed = false;
        loop {
            for step in queue.start_what_can() {
                match step {
                    Step::Start { item: i, host: h } => {
                        let name = plan.items[i].name.clone();
                        let Some(mut job) = prepared.jobs.get(&name).cloned() else {
                            queue.succeeded(i, h);
                            continue;
                        };
                        if h != 0 {
                            // Parents come through the registry on another engine.
                            job.pull_first = parents_of(i)
                                .into_iter()
                                .filter(|p| built_on.get(p) != Some(&h))
                                .map(|p| plan.items[p].label.clone())
                                .collect();
                        }
                        let (service, engine, log) = (self.clone(), engines[h].clone(), image_sink(&log_tx, &name));
                        let (push, use_cache) = (spec.push, spec.use_cache);
                        let source = prepared.source.clone();
                        running.spawn(async move {
                            let r = run_job(&service, run, &job, &source, engine.as_ref(), push, use_cache, log).await;
                            (i, h, r)
                        });
                    }
                    Step::Fail { item, why } => {
                        failed = true;
                        self.set_state(run, &plan.items[item].name, ImageState::Failed, None, Some(why)).await;
                    }
                    Step::Skip { item, parent } => {
                        let why = format!("parent {} failed", plan.items[parent].name);
                        self.set_state(run, &plan.items[item].name, ImageState::Skipped, None, Some(why)).await;
                    }
                }
            }
            let Some(joined) = running.join_next().await else { break };
            let (i, h, result) = match joined {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!("a build task failed: {e}");
                    failed = true;
                    continue;
                }
            };
            if result.is_err() && engines.len() > 1 && !queue.is_lost(h) && !answers(engines[h].as_ref()).await {
                queue.lose_host(h);
            }
            if result.is_err() && queue.is_lost(h) && queue.any_host_left() {
                // Lost with its engine: queued again on another one.
                let name = &plan.items[i].name;
                let note =
                    format!("{} stopped answering during this image: queued again on another host", engines[h].name());
                let _ = image_sink(&log_tx, name).send(note);
                self.set_state(run, name, ImageState::Waiting, None, None).await;
                queue.requeue(i, h);
                continue;
            }
            match result {
                Ok(()) => {
                    built_on.insert(i, h);
                    queue.succeeded(i, h);
                }
                Err(JobFailed { why }) => {
                    tracing::debug!("run {run}: {} failed: {why}", plan.items[i].name);
                    failed = true;
                    for step in queue.failed(i, h) {
                        if let Step::Skip { item, parent } = step {
                            let why = format!("parent {} failed", plan.items[parent].name);
                            self.set_state(run, &plan.items[item].name, ImageState::Skipped, None, Some(why)).await;
                        }
                    }
                }
            }
        }
        drop(log_tx);
        let _ = writer.await;
        if failed { RunState::Failed } else { RunState::Succeeded }
    }
}

/// The registry's tags a plan judges: (image, catalog index, registry host).
struct RegistryTags<'a> {
    tags: &'a [(String, usize, String)],
    catalogs: &'a [dockyard_core::catalog::Catalog],
    options: &'a crate::registry::RegistryOptions,
}

/// Marks the images whose engine copy (its labels) was built from other
/// inputs than the files give now: `stale`.
async fn judge_engine_copies(
    images: &mut [PlanImage],
    jobs: &BTreeMap<String, Job>,
    labels: &HashMap<String, BTreeMap<String, String>>,
    engine: &dyn Engine,
) -> Result<(), BuildError> {
    for image in images.iter_mut() {
        let (Some(job), Some(built)) = (jobs.get(&image.name), labels.get(&image.name)) else { continue };
        let Ok(dockerfile) = &job.dockerfile else { continue };
        let mut parents = BTreeMap::new();
        for p in &job.parent_labels {
            parents.insert(p.clone(), engine.inspect(p).await?.map(|i| i.id));
        }
        let context = job.context_digest().await;
        image.stale = dockyard_core::provenance::differs(
            built,
            &crate::sha::digest(dockerfile.as_bytes()),
            context.as_deref(),
            &parents,
        );
    }
    Ok(())
}

impl Service {
    /// Marks the selected images whose registry tag (its labels, from its
    /// manifest, cached by digest: a second plan asks nothing again) was
    /// built from other inputs: `registry_stale`. Returns what could not be
    /// asked.
    async fn judge_registry_copies(
        &self,
        images: &mut [PlanImage],
        jobs: &BTreeMap<String, Job>,
        spec: &BuildSpec,
        registry: RegistryTags<'_>,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        let store = self.store().ok();
        let mut clients: HashMap<usize, Option<crate::registry::RegistryClient>> = HashMap::new();
        for (name, ci, host) in registry.tags {
            let Some(image) = images.iter_mut().find(|i| &i.name == name) else { continue };
            if !(spec.globs.is_empty() || spec.globs.iter().any(|g| dockyard_core::plan::fnmatch(g, &image.label))) {
                continue;
            }
            let Some(job) = jobs.get(name) else { continue };
            let Ok(dockerfile) = &job.dockerfile else { continue };
            let client = clients
                .entry(*ci)
                .or_insert_with(|| crate::registry::client_for(&registry.catalogs[*ci], registry.options).ok());
            let Some(client) = client.as_ref() else { continue };
            let path = job.repo.strip_prefix(&format!("{host}/")).unwrap_or(&job.repo);
            let max_age = registry.options.max_age as i64;
            match crate::registry::manifests::tag_facts(client, store.as_ref(), host, path, &job.tag, max_age).await {
                Ok(Some(f)) if f.labels.contains_key(dockyard_core::provenance::CONTEXT) => {
                    let context = job.context_digest().await;
                    image.registry_stale = dockyard_core::provenance::differs(
                        &f.labels,
                        &crate::sha::digest(dockerfile.as_bytes()),
                        context.as_deref(),
                        &BTreeMap::new(),
                    );
                }
                Ok(_) => {}
                Err(e) => notes.push(format!("{name}: what the registry's {} was built from is unknown: {e}", job.tag)),
            }
        }
        notes
    }
}

/// Whether `prepared` can run on `engines` (checked before a run is recorded).
fn can_run_on(prepared: &Prepared, spec: &BuildSpec, engines: &[Arc<dyn Engine>]) -> Result<(), BuildError> {
    if engines.is_empty() {
        return Err(BuildError::Other("no engine to build on".into()));
    }
    if engines.len() > 1 && !spec.push && prepared.plan.work().next().is_some() {
        return Err(BuildError::Other(
            "building on several hosts needs --push: a child built on another host than its parent gets the parent through the registry".into(),
        ));
    }
    Ok(())
}

/// Whether an engine answers within a few seconds.
async fn answers(engine: &dyn Engine) -> bool {
    matches!(tokio::time::timeout(std::time::Duration::from_secs(3), engine.version()).await, Ok(Ok(_)))
}

/// A log sink for one image that tags its lines.
fn image_sink(tx: &tokio::sync::mpsc::UnboundedSender<(String, String)>, image: &str) -> LogSink {
    let (sink, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (tx, image) = (tx.clone(), image.to_owned());
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if tx.send((image.clone(), line)).is_err() {
                break;
            }
        }
    });
    sink
}

/// Numbers log lines, and writes them to the store in batches.
/// `line` without ANSI escape sequences: CSI (`ESC [ … final`), OSC
/// (`ESC ] … BEL` or `ESC \\`), and two-byte escapes.
pub fn strip_escapes(line: &str) -> String {
    if !line.contains('\u{1b}') {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Log lines a run keeps in memory while the store is unreachable.
const MAX_PENDING_LOG_LINES: usize = 100_000;

async fn write_logs(service: Arc<Service>, run: RunId, mut rx: tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let mut lost = 0usize;
    let store = service.store().ok();
    let mut batch: Vec<LogLine> = Vec::new();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_millis(100), rx.recv()).await;
        let closed = matches!(next, Ok(None));
        let idle = next.is_err();
        if let Ok(Some((image, line))) = next {
            let line = LogLine {
                image,
                seq: service.take_seqs(run, 1),
                at_ms: now_ms(),
                // Stored without terminal escapes (colours, cursor moves),
                // and kept to 8 KiB.
                line: {
                    let line = strip_escapes(&line);
                    if line.len() > 8192 { format!("{}…", &line[..line.floor_char_boundary(8192)]) } else { line }
                },
            };
            let _ = service.events.send(BuildEvent::Log { run, line: line.clone() });
            batch.push(line);
        }
        if !batch.is_empty() && (batch.len() >= 200 || idle || closed) {
            // Kept and retried (in order) through an outage; past the bound
            // the oldest are dropped and counted, never silently.
            if let Some(store) = &store {
                let lines = batch.clone();
                match store.call(move |s| s.append_logs(run, &lines)).await {
                    Ok(()) => batch.clear(),
                    Err(e) => {
                        if !closed && batch.len() < MAX_PENDING_LOG_LINES {
                            tracing::warn!("build logs: {e}; kept ({} lines) and retried", batch.len());
                        } else if !closed {
                            let drop = batch.len() - MAX_PENDING_LOG_LINES / 2;
                            batch.drain(..drop);
                            lost += drop;
                        }
                    }
                }
            } else {
                batch.clear();
            }
        }
        if closed && !batch.is_empty() {
            // The run is over: what is left gets the outage's patience.
            if let Some(store) = &store {
                let lines = std::mem::take(&mut batch);
                let n = lines.len();
                if store.write_retrying("log lines", move |s| s.append_logs(run, &lines)).await.is_err() {
                    lost += n;
                }
            }
        }
        if closed && lost > 0 {
            tracing::error!("build logs: {lost} line(s) of run {run} could not be stored (the store was unreachable)");
            service.history_lost.lock().unwrap_or_else(|p| p.into_inner()).insert(run);
            let note = LogLine {
                image: "(run)".into(),
                seq: service.take_seqs(run, 1),
                at_ms: now_ms(),
                line: format!("{lost} log line(s) were lost while the store was unreachable"),
            };
            if let Some(store) = &store {
                let _ = store
                    .write_retrying("the count of lost log lines", move |s| {
                        s.append_logs(run, std::slice::from_ref(&note))
                    })
                    .await;
            }
        }
        if closed {
            break;
        }
    }
}

/// An image that failed, and why (its state and its log say so already).
#[derive(Debug)]
struct JobFailed {
    why: String,
}

/// One image: pull what it builds on, build, verify, publish.
#[allow(clippy::too_many_arguments)]
async fn run_job(
    service: &Service,
    run: RunId,
    job: &Job,
    source: &dockyard_api::RunSource,
    engine: &dyn Engine,
    push: bool,
    use_cache: bool,
    log: LogSink,
) -> Result<(), JobFailed> {
    let host = Some(engine.name());
    let fail = |e: String| {
        let log = log.clone();
        async move {
            let _ = log.send(format!("error: {e}"));
            service.set_state(run, &job.name, ImageState::Failed, host, Some(e.clone())).await;
            Err(JobFailed { why: e })
        }
    };
    if !job.pull_first.is_empty() {
        service.set_state(run, &job.name, ImageState::Pulling, host, None).await;
        for parent in &job.pull_first {
            let _ = log.send(format!("pulling {parent}"));
            if let Err(e) = engine.pull(parent, job.auth.as_ref(), log.clone()).await {
                return fail(e.to_string()).await;
            }
        }
    }
    let mut built = None;
    if matches!(job.action, Action::Build | Action::StaleBuild) {
        service.set_state(run, &job.name, ImageState::Building, host, None).await;
        if job.action == Action::StaleBuild {
            let _ = log.send(format!("{} is in the engine, but was built from other inputs: built again", job.label));
        }
        let dockerfile = match &job.dockerfile {
            Ok(d) => d.clone(),
            Err(e) => return fail(format!("does not render: {e}")).await,
        };
        let (files, dir, display) = (job.files.clone(), job.dir.clone(), job.display.clone());
        let tar = match tokio::task::spawn_blocking(move || {
            crate::engine::context::tar(files.as_ref(), &dir, &display, &dockerfile)
        })
        .await
        {
            Ok(Ok(t)) => t,
            Ok(Err(d)) => return fail(d.to_string()).await,
            Err(e) => return fail(e.to_string()).await,
        };
        let _ = log.send(format!("building {} ({} bytes of context)", job.label, tar.len()));
        // What it is built from, as labels on the image.
        let mut parents = BTreeMap::new();
        for p in &job.parent_labels {
            match engine.inspect(p).await {
                Ok(Some(i)) => {
                    parents.insert(p.clone(), i.id);
                }
                Ok(None) => {}
                Err(e) => return fail(e.to_string()).await,
            }
        }
        let inputs = dockyard_core::provenance::Inputs {
            dockerfile: job.dockerfile.as_ref().map(|d| crate::sha::digest(d.as_bytes())).unwrap_or_default(),
            context: crate::sha::digest(&tar),
            parents,
        };
        let labels = dockyard_core::provenance::labels(
            &inputs,
            source.commit.as_deref().map(|c| (c, source.dirty.unwrap_or(false))),
            env!("CARGO_PKG_VERSION"),
        );
        let opts = BuildOptions { nocache: !use_cache, buildargs: job.buildargs.clone(), labels };
        if let Err(e) = engine.build(tar, &job.label, &opts, log.clone()).await {
            return fail(e.to_string()).await;
        }
        built = match engine.inspect(&job.label).await {
            Ok(info) => info.map(|i| i.id),
            Err(e) => return fail(e.to_string()).await,
        };
        if let Some(id) = &built {
            let _ = log.send(format!("built {} as {id}", job.label));
        }
    }
    if let Some((command, args)) = &job.verify {
        service.set_state(run, &job.name, ImageState::Verifying, host, None).await;
        if let Err(e) = verify(command, args, engine.endpoint(), &job.buildargs, &log).await {
            return fail(e).await;
        }
    }
    if push {
        service.set_state(run, &job.name, ImageState::Publishing, host, None).await;
        if let Err(e) = engine.tag(&job.label, &job.repo, "latest").await {
            return fail(e.to_string()).await;
        }
        let mut pushed = None;
        for tag in [job.tag.as_str(), "latest"] {
            let _ = log.send(format!("pushing {}:{tag}", job.repo));
            match engine.push(&job.repo, tag, job.auth.as_ref(), log.clone()).await {
                Ok(digest) => {
                    if tag == job.tag {
                        pushed.clone_from(&digest);
                    }
                    service.record_pushed(&job.repo, tag, digest).await;
                }
                Err(e) => return fail(e.to_string()).await,
            }
        }
        if let Some(d) = &pushed {
            let _ = log.send(format!("published {} as {d}", job.label));
        }
        service.set_state_with(run, &job.name, ImageState::Published, host, None, now_ms(), built, pushed).await;
    } else {
        service.set_state_with(run, &job.name, ImageState::Built, host, None, now_ms(), built, None).await;
    }
    Ok(())
}

impl Service {
    /// A tag this process just pushed goes into the registry index at once
    /// (with its digest), so that `dockyard registry`, `lint --registry` and
    /// the next plan see it without waiting for `--max-age`. The time the
    /// listing was last read is kept: other tags are no fresher than before.
    pub async fn record_pushed(&self, repo: &str, tag: &str, digest: Option<String>) {
        let Some((registry, path)) = repo.split_once('/') else { return };
        let (registry, path, tag) = (registry.to_owned(), path.to_owned(), tag.to_owned());
        let store = match self.store() {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!("the registry index could not record the push of {repo}: {e}");
                return;
            }
        };
        let saved = store
            .call(move |s| {
                let cached = s.load_tags(&registry, &path)?;
                let mut tags = cached.as_ref().and_then(|c| c.tags.clone()).unwrap_or_default();
                if !tags.contains(&tag) {
                    tags.push(tag.clone());
                }
                // Nothing stored yet: the push itself is the first listing.
                let at = cached.map(|c| c.fetched_at).filter(|at| *at > 0).unwrap_or_else(crate::store::now);
                s.save_tags(&registry, &path, Some(&tags), at)?;
                if let Some(d) = digest {
                    s.save_digest(&registry, &path, &tag, &d, crate::store::now())?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!("the registry index could not record the push of {repo}: {e}");
        }
    }
}

/// How long a verification may run.
const VERIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

/// Runs the verify command with `DOCKER_HOST` set to the engine the image
/// was built on, the proxy variables, and `PATH`; its output goes to the log.
async fn verify(
    command: &str,
    args: &[String],
    docker_host: &str,
    proxy: &HashMap<String, String>,
    log: &LogSink,
) -> Result<(), String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let _ = log.send(format!("verifying: {command} {}", args.join(" ")));
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
        .env("DOCKER_HOST", docker_host)
        .envs(proxy)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("verify: cannot run {command}: {e}"))?;
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let copy = |r: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>, log: LogSink| async move {
        if let Some(r) = r {
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = log.send(l);
            }
        }
    };
    let o = tokio::spawn(copy(out.map(|o| Box::new(o) as _), log.clone()));
    let e = tokio::spawn(copy(err.map(|e| Box::new(e) as _), log.clone()));
    let status = match tokio::time::timeout(VERIFY_TIMEOUT, child.wait()).await {
        Ok(s) => s.map_err(|e| format!("verify: {e}"))?,
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!("verify: {command} did not finish within {}s", VERIFY_TIMEOUT.as_secs()));
        }
    };
    let _ = (o.await, e.await);
    if status.success() {
        Ok(())
    } else {
        // The script by name (`…/test.sh`, not `/bin/bash`); the whole
        // command line is in the log's "verifying:" line.
        let script = args.iter().find_map(|a| a.split_whitespace().find(|w| w.ends_with(".sh"))).unwrap_or(command);
        Err(format!(
            "verification failed: {script} exited with {}",
            status.code().map_or("a signal".into(), |c| c.to_string())
        ))
    }
}

/// The summary of a run as the console prints it.
pub fn summary_line(r: &RunSummary) -> String {
    let counts: Vec<String> = r
        .counts
        .iter()
        .filter(|(s, _)| **s != ImageState::Present)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    format!("run {}: {} ({})", r.id, r.state.as_str(), counts.join(", "))
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn escapes_are_stripped_and_text_kept() {
        assert_eq!(super::strip_escapes("\u{1b}[1;32mok\u{1b}[0m done"), "ok done");
        assert_eq!(super::strip_escapes("a\u{1b}]0;title\u{7}b\u{1b}]8;;x\u{1b}\\c"), "abc");
        assert_eq!(super::strip_escapes("plain ünïcode"), "plain ünïcode");
        assert_eq!(super::strip_escapes("cut\u{1b}["), "cut");
    }
}
