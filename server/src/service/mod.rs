//! The one service under the CLI and the dashboard: the repository, its
//! current snapshot, the store, the registry index and (next) the engines.
//! CLI commands and HTTP handlers are thin shells over its methods, so the
//! two can never disagree.
//!
//! Data flows one way: repository files → [`Snapshot`] (catalog, render,
//! graph, lint) → store-backed knowledge (registry index, build history) →
//! the API's JSON shapes.

pub mod build;
pub mod dashboard;
pub mod error;
pub mod fleet;
pub mod impact;
pub mod lifecycle;
pub mod maintain;
pub mod pull;
pub mod repo;
pub mod runs;
pub mod snapshot;
pub mod tryout;
pub mod watch;

pub use crate::store::now;
pub use error::{Error, Kind};
pub use repo::{RepoConfig, RepoFlags};
pub use snapshot::Snapshot;

use crate::registry::{self, IndexError, IndexReport, RegistryOptions};
use crate::store::{self, Shared, StoreError};
use dockyard_api::{Problem, RegistryIndex, RegistryReport};
use dockyard_core::Diagnostic;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// The long-lived application.
pub struct Service {
    pub repo: Arc<RepoConfig>,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// A newer state of the files that could not be loaded: the last good
    /// snapshot stays current meanwhile.
    /// Why the files could not be loaded, numbered like snapshots.
    pending_error: RwLock<Option<(u64, Problem)>>,
    generation: AtomicU64,
    /// Registry knowledge the snapshots lint with.
    registry: RwLock<Arc<Vec<RegistryIndex>>>,
    store: OnceLock<Result<Shared, StoreError>>,
    /// Build events as they happen: the console and live views read them.
    pub events: tokio::sync::broadcast::Sender<dockyard_api::BuildEvent>,
    /// Images with unbumped changes in the work tree, per snapshot generation.
    unbumped: std::sync::Mutex<Option<(u64, Option<BTreeSet<String>>)>>,
    /// When the store was first seen unreachable (since its last success).
    pub store_down_since: std::sync::Mutex<Option<i64>>,
    /// Runs some of whose history could not be written, even after retries
    /// (their end says so; other runs of a long-lived server are not touched).
    pub history_lost: std::sync::Mutex<BTreeSet<dockyard_api::RunId>>,
    /// The last cleanup plan and sizes.
    cache: std::sync::Mutex<lifecycle::LifecycleCache>,
    /// How `serve --registry` reads the registry (unset: it does not).
    pub live_registry: OnceLock<RegistryOptions>,
    /// The last log sequence number given out, per run this process writes
    /// to: the one owner of a run's numbers, so that no two lines share one.
    seqs: std::sync::Mutex<std::collections::HashMap<dockyard_api::RunId, i64>>,
    /// Run lists and finished runs, as answered at one history version.
    runs_cache: std::sync::Mutex<runs::RunsCache>,
    /// The engines' health as last asked for the session, when, and
    /// whether it is being asked again now.
    health_seen: std::sync::Mutex<(Option<(std::time::Instant, usize)>, bool)>,
    /// The engines as `/metrics` last saw them, and when.
    metrics_engines: tokio::sync::Mutex<Option<(std::time::Instant, Arc<dashboard::EnginesSeen>)>>,
}

impl Service {
    pub fn new(repo: RepoConfig) -> Arc<Service> {
        Arc::new(Service {
            repo: Arc::new(repo),
            current: RwLock::new(None),
            pending_error: RwLock::new(None),
            generation: AtomicU64::new(0),
            registry: RwLock::new(Arc::new(Vec::new())),
            store: OnceLock::new(),
            events: tokio::sync::broadcast::channel(4096).0,
            unbumped: std::sync::Mutex::new(None),
            store_down_since: std::sync::Mutex::new(None),
            history_lost: std::sync::Mutex::new(BTreeSet::new()),
            cache: std::sync::Mutex::new(lifecycle::LifecycleCache::default()),
            live_registry: OnceLock::new(),
            seqs: std::sync::Mutex::new(std::collections::HashMap::new()),
            runs_cache: std::sync::Mutex::default(),
            metrics_engines: tokio::sync::Mutex::new(None),
            health_seen: std::sync::Mutex::new((None, false)),
        })
    }

    /// The first of `n` log sequence numbers for `run` (numbers start at 1
    /// for a run this process began). Every writer of a run's log takes its
    /// numbers here: the build loop, notes added to the run, the pull of
    /// build-and-pull and of `pull`, the deletions of `cleanup`.
    pub fn take_seqs(&self, run: dockyard_api::RunId, n: usize) -> i64 {
        let mut seqs = self.seqs.lock().unwrap_or_else(|p| p.into_inner());
        let last = seqs.entry(run).or_insert(0);
        let first = *last + 1;
        *last += n as i64;
        first
    }

    /// Forgets a finished run's numbers.
    pub fn release_seqs(&self, run: dockyard_api::RunId) {
        self.seqs.lock().unwrap_or_else(|p| p.into_inner()).remove(&run);
    }

    /// Marks runs whose process died as `interrupted` (at start).
    pub async fn interrupt_dead_runs(&self) -> Result<usize, StoreError> {
        let store = self.store()?;
        store.call(|s| s.interrupt_dead_runs(&store::owner_alive, store::now())).await
    }

    /// The current snapshot, loading the first one when there is none.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, Diagnostic> {
        if let Some(s) = self.current.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(s);
        }
        let s = Arc::new(self.load_snapshot()?);
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        Ok(cur.get_or_insert(s).clone())
    }

    /// Reads the files into a new snapshot (not made current).
    pub fn load_snapshot(&self) -> Result<Snapshot, Diagnostic> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner()).clone();
        Snapshot::load(self.repo.clone(), generation, registry)
    }

    /// Makes `snapshot` current and clears any pending error, unless a
    /// newer one is current already. Loads run concurrently (the watch, the
    /// registry refresh), and a load numbered later started later, so it
    /// read files and registry knowledge at least as new: an older one that
    /// finishes last must not take its place. Returns whether it did.
    pub fn publish(&self, snapshot: Arc<Snapshot>) -> bool {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|c| c.generation > snapshot.generation) {
            return false;
        }
        let mut pending = self.pending_error.write().unwrap_or_else(|p| p.into_inner());
        if pending.as_ref().is_some_and(|(g, _)| *g < snapshot.generation) {
            *pending = None;
        }
        *current = Some(snapshot);
        true
    }

    /// Records that the files changed into a state that cannot be loaded.
    /// A snapshot loaded after this clears it; one that started before
    /// and finishes after does not.
    pub fn set_pending_error(&self, problem: Problem) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self.pending_error.write().unwrap_or_else(|p| p.into_inner()) = Some((generation, problem));
    }

    pub fn pending_error(&self) -> Option<Problem> {
        self.pending_error.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(_, p)| p.clone())
    }

    /// The store, opened (and migrated) on first use.
    pub fn store(&self) -> Result<Shared, StoreError> {
        self.store.get_or_init(|| store::open(&self.repo.store).map(Shared::new)).clone()
    }

    /// Uses `location` instead of the configured store (before first use).
    pub fn with_store(self: &Arc<Self>, location: &store::Location) -> Result<(), StoreError> {
        let opened = store::open(location).map(Shared::new);
        let result = opened.as_ref().map(|_| ()).map_err(Clone::clone);
        let _ = self.store.set(opened);
        result
    }

    /// The registry knowledge snapshots lint with.
    pub fn registry_knowledge(&self) -> Arc<Vec<RegistryIndex>> {
        self.registry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the registry knowledge (the next snapshot lints with it).
    pub fn set_registry_knowledge(&self, indexes: Vec<RegistryIndex>) {
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(indexes);
    }

    /// Builds the registry index of every catalog root (asking the registry
    /// unless `opts.offline`), stores it, and keeps it as the knowledge the
    /// next snapshot lints with. `want` are (image, tag) pairs whose digests
    /// are wanted.
    pub async fn refresh_registry(
        &self,
        opts: &RegistryOptions,
        want: &BTreeSet<(String, String)>,
    ) -> Result<Vec<IndexReport>, IndexError> {
        let snapshot = self.snapshot().map_err(|d| IndexError::Config(d.to_string()))?;
        let store = self.store()?;
        let mut reports = Vec::new();
        let mut seen = BTreeSet::new();
        for catalog in &snapshot.catalogs {
            // One index per registry, even when roots share one.
            if !seen.insert(catalog.config.registry()) {
                continue;
            }
            reports.push(registry::run_index(catalog, opts, &store, want).await?);
        }
        self.set_registry_knowledge(reports.iter().map(|r| r.index.clone()).collect());
        Ok(reports)
    }

    /// The (image, tag) pairs the pins name: whose digests the index keeps,
    /// so that pulls and the hosts matrix can compare by digest.
    /// Pins that cannot be read leave none, and say so in the log (the
    /// pages show the same error from the snapshot).
    pub fn pinned_pairs(&self) -> BTreeSet<(String, String)> {
        let plan =
            self.snapshot().map_err(|e| e.to_string()).and_then(|s| pull::plan(&s, None).map_err(|d| d.to_string()));
        match plan {
            Ok(plan) => plan.pairs(),
            Err(e) => {
                tracing::warn!("the pins cannot be read ({e}): the registry index keeps no digests this time");
                BTreeSet::new()
            }
        }
    }

    /// `registry --format json` / `GET /api/v1/registry`: the knowledge as it is.
    pub fn registry_report(&self) -> RegistryReport {
        RegistryReport { registries: self.registry_knowledge().as_ref().clone() }
    }
}

/// Keeps the registry index fresh: a refresh every `registry_refresh`
/// seconds, each making a new snapshot that lints with it.
pub async fn refresh_loop(service: Arc<Service>, opts: RegistryOptions) {
    loop {
        match service.refresh_registry(&opts, &service.pinned_pairs()).await {
            Ok(_) => {
                reload_now(&service).await;
                service.lifecycle_refresh(&opts).await;
            }
            Err(e) => tracing::warn!("registry refresh failed: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(service.repo.registry_refresh.max(10))).await;
    }
}

/// Loads a new snapshot now (with the current registry knowledge).
pub async fn reload_now(service: &Arc<Service>) {
    let s = service.clone();
    let _ = tokio::task::spawn_blocking(move || watch::reload(&s, &[])).await;
}

impl Service {
    /// `GET /api/v1/overview`: counts, the health of each source, the last builds.
    pub fn overview(&self, can_write: bool) -> dockyard_api::Overview {
        use dockyard_api::{Health, SourceHealth, Status};
        let mut o = dockyard_api::Overview {
            can_write,
            pending_error: self.pending_error(),
            server_time: store::now(),
            ..Default::default()
        };
        let mut sources = Vec::new();
        match self.snapshot() {
            Ok(s) => {
                o.generation = s.generation;
                o.loaded_at = s.loaded_at;
                let catalog = s.catalog_report();
                o.images = catalog.images.len();
                let broken = catalog.images.iter().filter(|i| i.error.is_some()).count();
                sources.push(SourceHealth {
                    name: dockyard_api::SourceKind::Catalog,
                    health: if broken + catalog.problems.len() > 0 { Health::Degraded } else { Health::Ok },
                    updated_at: Some(s.loaded_at),
                    detail: format!(
                        "{} images in {} root(s), {broken} broken, {} problems",
                        catalog.images.len(),
                        s.catalogs.len(),
                        catalog.problems.len()
                    ),
                    hint: None,
                });
                match s.pins_report() {
                    Ok(p) => {
                        let by = |st: Status| p.summary.by_status.get(&st).copied().unwrap_or(0);
                        o.pins = p.summary.references;
                        o.stale = by(Status::Stale);
                        o.dangling = by(Status::NotInCatalog) + by(Status::UnknownVersion);
                        o.unpublished = by(Status::Unpublished);
                        o.findings = p.pins.iter().filter(|x| x.status != Status::Ok).count();
                        sources.push(SourceHealth {
                            name: dockyard_api::SourceKind::Pins,
                            health: if o.findings + p.errors.len() > 0 { Health::Degraded } else { Health::Ok },
                            updated_at: Some(s.loaded_at),
                            detail: format!(
                                "{} pins in {} files, {} findings",
                                o.pins, p.summary.files_scanned, o.findings
                            ),
                            hint: None,
                        });
                    }
                    Err(e) => sources.push(SourceHealth {
                        name: dockyard_api::SourceKind::Pins,
                        health: Health::Error,
                        updated_at: Some(s.loaded_at),
                        detail: e.to_string(),
                        hint: None,
                    }),
                }
            }
            Err(d) => sources.push(SourceHealth {
                name: dockyard_api::SourceKind::Catalog,
                health: Health::Error,
                updated_at: None,
                detail: d.to_string(),
                hint: None,
            }),
        }
        let knowledge = self.registry_knowledge();
        if knowledge.is_empty() {
            sources.push(SourceHealth {
                name: dockyard_api::SourceKind::Registry,
                health: Health::NotConnected,
                updated_at: None,
                detail: "no registry index".into(),
                hint: Some(
                    "start the server with --registry (or set [registry] index = true in the operator file)".into(),
                ),
            });
        } else {
            let entries: Vec<&dockyard_api::RegistryEntry> = knowledge.iter().flat_map(|i| &i.entries).collect();
            let errors = entries.iter().filter(|e| e.error.is_some()).count();
            let oldest = entries.iter().filter_map(|e| e.fetched_at).min();
            sources.push(SourceHealth {
                name: dockyard_api::SourceKind::Registry,
                health: if errors > 0 { Health::Degraded } else { Health::Ok },
                updated_at: oldest,
                detail: format!(
                    "{} repositories on {}, {errors} unreadable",
                    entries.len(),
                    knowledge.iter().map(|i| i.registry.as_str()).collect::<Vec<_>>().join(", ")
                ),
                hint: None,
            });
        }
        o.sources = sources;
        o
    }
}
