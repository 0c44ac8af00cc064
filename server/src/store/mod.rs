//! The store: what dockyard remembers between runs. The registry index with
//! the time each part was fetched, and the history of builds (runs, their
//! images, and every log line).
//!
//! [`Store`] is the narrow interface; [`sqlite::Sqlite`] (the default) and
//! [`postgres::Postgres`] implement it with the same schema and behaviour,
//! each with its own numbered migrations. Calls are blocking: async code
//! reaches the store through [`Shared::call`], which runs them on tokio's
//! blocking pool, never on the async workers.
//!
//! Invariant: a database error is reported, never turned into an empty
//! answer. A locked database is [`StoreError::Busy`], a damaged one
//! [`StoreError::Corrupt`], one written by a newer dockyard
//! [`StoreError::TooNew`].

pub mod dump;
pub mod postgres;
pub mod sqlite;

use dockyard_api::{Action, ImageBuild, ImageState, LogLine, Plan, RunDetail, RunId, RunState, RunSummary, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;

/// What the store remembers of one repository's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedTags {
    /// `None`: the repository did not exist when last asked.
    pub tags: Option<Vec<String>>,
    /// 0 when the listing never succeeded.
    pub fetched_at: i64,
    pub last_error: Option<String>,
}

/// One repository of the registry index, whole (for export and import).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegistryEntry {
    pub registry: String,
    pub repo: String,
    /// `None`: the repository did not exist when last asked.
    pub tags: Option<Vec<String>>,
    pub fetched_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `(tag, digest, fetched_at)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<(String, String, i64)>,
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}: the database is locked by another process (gave up after the busy timeout)")]
    Busy(String),
    #[error("{0}: the database is damaged or not a dockyard database: {1}")]
    Corrupt(String, String),
    #[error("{0}: the database has schema version {1}, newer than this dockyard knows ({2}); upgrade dockyard")]
    TooNew(String, i64, i64),
    #[error("{0}: {1}")]
    Io(String, String),
    #[error("{0}: {1}")]
    Other(String, String),
}

/// A new run, as the engine starts it.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub trigger: dockyard_api::Trigger,
    pub selection: Vec<String>,
    pub hosts: Vec<String>,
    pub plan: Plan,
    pub started_at: Timestamp,
    /// Who runs it: `HOSTNAME:PID`, so that a later start can tell a dead
    /// run from one another process is still running.
    pub owner: String,
    /// Where it came from.
    pub source: Option<dockyard_api::RunSource>,
}

/// A change of one image's state in a run.
#[derive(Debug, Clone, Default)]
pub struct ImageUpdate {
    pub run: RunId,
    pub image: String,
    pub state: ImageState,
    pub host: Option<String>,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub error: Option<String>,
    /// The image id it built (`sha256:…`).
    pub built: Option<String>,
    /// The manifest digest its push gave.
    pub pushed: Option<String>,
}

/// The store's interface. Every method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// `sqlite:PATH` or `postgres://USER@HOST/DB` (no password).
    fn describe(&self) -> String;
    /// How many calls may be under way at once (see [`Shared`]).
    fn connections(&self) -> usize {
        1
    }
    /// The schema version the database is at.
    fn schema_version(&self) -> Result<i64, StoreError>;
    /// A number that changes whenever the build history (runs and their
    /// images) may have changed, by any process, read without a query: the
    /// service keeps the run list and recent runs in memory while it holds
    /// (`service::runs`). `None` when that cannot be known now (the store
    /// is unreachable, or was written a moment ago): every read then goes to
    /// the store, so a store that fails is an error, never an old answer.
    fn history_version(&self) -> Option<u64> {
        None
    }

    // The registry index.
    fn load_tags(&self, registry: &str, repo: &str) -> Result<Option<CachedTags>, StoreError>;
    fn save_tags(&self, registry: &str, repo: &str, tags: Option<&[String]>, at: i64) -> Result<(), StoreError>;
    /// Records a failed listing; the last good tags stay.
    fn save_error(&self, registry: &str, repo: &str, error: &str, at: i64) -> Result<(), StoreError>;
    fn load_digest(&self, registry: &str, repo: &str, tag: &str) -> Result<Option<(String, i64)>, StoreError>;
    fn save_digest(&self, registry: &str, repo: &str, tag: &str, digest: &str, at: i64) -> Result<(), StoreError>;
    /// What a manifest says, cached by its digest (it never changes).
    fn load_manifest(&self, digest: &str) -> Result<Option<dockyard_api::ManifestFacts>, StoreError>;
    fn save_manifest(&self, facts: &dockyard_api::ManifestFacts) -> Result<(), StoreError>;
    /// Everything the index holds, by registry and repository (for export).
    fn list_registry(&self) -> Result<Vec<RegistryEntry>, StoreError>;

    // Build history.
    /// Creates a run with every plan item `waiting` (or `present`).
    fn create_run(&self, run: &NewRun) -> Result<RunId, StoreError>;
    fn update_image(&self, update: &ImageUpdate) -> Result<(), StoreError>;
    fn append_logs(&self, run: RunId, lines: &[LogLine]) -> Result<(), StoreError>;
    /// Sets the run's final state; images not final become `interrupted`
    /// (when the run was interrupted) or `skipped`.
    fn finish_run(&self, run: RunId, state: RunState, at: Timestamp) -> Result<(), StoreError>;
    /// Newest first: at most `limit` runs, of those older than `before`
    /// (all when `None`).
    fn list_runs(&self, before: Option<RunId>, limit: usize) -> Result<Vec<RunSummary>, StoreError>;
    fn get_run(&self, run: RunId) -> Result<Option<RunDetail>, StoreError>;
    /// Log lines after `after_seq`, of one image or all, at most `limit`.
    fn logs(&self, run: RunId, image: Option<&str>, after_seq: i64, limit: usize) -> Result<Vec<LogLine>, StoreError>;
    /// Marks `running` runs of `owner`s that no longer live as `interrupted`;
    /// `alive` answers for an owner. Returns how many were marked.
    fn interrupt_dead_runs(&self, alive: &dyn Fn(&str) -> bool, at: Timestamp) -> Result<usize, StoreError>;
    /// Recent builds of one image, newest first.
    fn image_builds(&self, image: &str, limit: usize) -> Result<Vec<ImageBuild>, StoreError>;

    /// Runs `f`, whose calls on this store (from this thread) are one
    /// transaction: all of them are kept, or none when `f` or the commit
    /// fails. For whole-store operations of one command (`store import`).
    fn atomically(&self, f: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<(), StoreError>;
}

/// A store shared by async code. Calls wait their turn in a fair (FIFO)
/// queue of as many places as the store has connections, so that under
/// load they are served in order instead of racing for a lock on the
/// blocking pool, where an unlucky one waits for seconds.
#[derive(Clone)]
pub struct Shared(pub Arc<dyn Store>, Arc<tokio::sync::Semaphore>);

impl Shared {
    pub fn new(store: Arc<dyn Store>) -> Shared {
        let places = store.connections().max(1);
        Shared(store, Arc::new(tokio::sync::Semaphore::new(places)))
    }

    /// Runs a store call on the blocking pool, in turn.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.0.clone();
        let Ok(_turn) = self.1.acquire().await else {
            return Err(StoreError::Other(self.0.describe(), "the store is closed".into()));
        };
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Other(self.0.describe(), format!("store task failed: {e}"))),
        }
    }
}

/// How long a run's history writes are retried through a store outage.
pub const OUTAGE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

impl Shared {
    /// A write of a run's history, retried in order with backoff (0.2 s,
    /// doubling to 5 s) until it succeeds or [`OUTAGE_PATIENCE`] has passed:
    /// a database outage delays the history, it does not lose it. The
    /// caller waits, so writes of one image stay in order.
    pub async fn write_retrying(
        &self,
        what: &str,
        f: impl Fn(&dyn Store) -> Result<(), StoreError> + Clone + Send + 'static,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut wait = std::time::Duration::from_millis(200);
        let mut said = false;
        loop {
            let g = f.clone();
            match self.call(move |s| g(s)).await {
                Ok(()) => {
                    if said {
                        tracing::info!("build history: {what} written after the store came back");
                    }
                    return Ok(());
                }
                Err(e) if started.elapsed() + wait > OUTAGE_PATIENCE => return Err(e),
                Err(e) => {
                    if !said {
                        tracing::warn!(
                            "build history: {what}: {e}; retrying for up to {} s",
                            OUTAGE_PATIENCE.as_secs()
                        );
                        said = true;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(5));
                }
            }
        }
    }
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` URL (may hold a password: never shown).
    Postgres(String),
    /// None could be made (why): an error when the store is first used.
    Missing(String),
}

impl Location {
    /// `--database`/`--store` value: a `postgres://` URL, `sqlite:PATH` or a path.
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }
}

/// Opens (creating and migrating when needed) the store at `location`.
pub fn open(location: &Location) -> Result<Arc<dyn Store>, StoreError> {
    match location {
        Location::Sqlite(path) => Ok(Arc::new(sqlite::Sqlite::open(path)?)),
        Location::Postgres(url) => postgres::open(url),
        Location::Missing(why) => Err(StoreError::Io("store".into(), why.clone())),
    }
}

/// `$DOCKYARD_STORE`, else `$XDG_STATE_HOME/dockyard/dockyard.db`, else
/// `~/.local/state/dockyard/dockyard.db`.
pub fn default_location() -> Location {
    if let Some(p) = std::env::var_os("DOCKYARD_STORE") {
        return Location::parse(&p.to_string_lossy());
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/state"));
    Location::Sqlite(base.join("dockyard/dockyard.db"))
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// This process as a run owner: `HOSTNAME:PID`.
pub fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// Whether the owner `HOSTNAME:PID` is a live process of this host (owners
/// of other hosts are assumed alive: only they can tell).
pub fn owner_alive(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else { return false };
    let me = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if host != me.trim() {
        return true;
    }
    pid.parse::<u32>()
        .is_ok_and(|pid| pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Counts of images per state.
pub(crate) fn count_states(states: impl Iterator<Item = ImageState>) -> std::collections::BTreeMap<ImageState, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in states {
        *out.entry(s).or_default() += 1;
    }
    out
}

/// Fills the counts of `runs` (the newest runs, every id from the last up)
/// from rows of `SELECT run_id, state, count(*) … GROUP BY run_id, state`.
pub(crate) fn add_counts<S: AsRef<str>>(runs: &mut [RunSummary], rows: impl IntoIterator<Item = (RunId, S, i64)>) {
    let index: std::collections::HashMap<RunId, usize> = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for (id, state, n) in rows {
        if let (Some(&i), Some(state)) = (index.get(&id), ImageState::parse(state.as_ref())) {
            runs[i].counts.insert(state, n as usize);
        }
    }
}

/// The initial state of a plan item in a new run.
pub(crate) fn initial_state(action: Action) -> ImageState {
    match action {
        Action::Present => ImageState::Present,
        // Never attempted: skipped from the start (the plan says why).
        Action::Broken => ImageState::Skipped,
        Action::Build | Action::Publish | Action::Pull | Action::StaleBuild | Action::Delete => ImageState::Waiting,
    }
}

/// The final state of an image that was not final when its run ended.
pub(crate) fn unfinished_state(run: RunState) -> ImageState {
    match run {
        RunState::Interrupted => ImageState::Interrupted,
        _ => ImageState::Skipped,
    }
}

/// A value as the JSON text the stores keep in TEXT columns.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A TEXT column holding JSON, read as `T`: text that does not parse is
/// an error of the read (the database is damaged), never a default value.
/// Both stores read it through their `FromSql`.
pub(crate) struct JsonText<T>(pub T);

/// A stored action name.
pub(crate) fn action_of(s: &str) -> Action {
    match s {
        "publish" => Action::Publish,
        "present" => Action::Present,
        "broken" => Action::Broken,
        "pull" => Action::Pull,
        "stale-build" => Action::StaleBuild,
        "delete" => Action::Delete,
        _ => Action::Build,
    }
}
