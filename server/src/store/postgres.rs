//! The PostgreSQL store (the `postgres` crate, synchronous like the SQLite
//! one): the same tables, the same numbered migrations (in PostgreSQL's
//! dialect), the same behaviour. Several `dockyard serve` processes may
//! share one database: migrations take an advisory lock so that concurrent
//! first opens wait for each other, runs get their ids from a sequence, and
//! the live view reads the store, so a build started by one process is
//! seen live by the others.
//!
//! The URL may hold a password: it is never shown (`describe` and every
//! error name the database as `postgres://USER@HOST:PORT/DB`).
//!
//! Calls block: they run on tokio's blocking pool ([`super::Shared::call`])
//! or on the CLI's main thread, never on async workers (the client runs
//! its own runtime inside).

use super::{
    CachedTags, ImageUpdate, JsonText, NewRun, RegistryEntry, Store, StoreError, action_of, add_counts, count_states,
    initial_state, json, unfinished_state,
};
use dockyard_api::{
    ImageBuild, ImageState, LogLine, Plan, RunDetail, RunId, RunImage, RunState, RunSummary, Timestamp,
};
use postgres::{Client, NoTls, Row};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The migrations, in order; the schema version is their count (the same
/// numbering as SQLite's).
const MIGRATIONS: &[&str] = &[
    // 1: the registry index.
    "CREATE TABLE IF NOT EXISTS registry_tags (
        registry   TEXT NOT NULL,
        repo       TEXT NOT NULL,
        tags       TEXT,
        fetched_at BIGINT NOT NULL,
        last_error TEXT,
        error_at   BIGINT,
        PRIMARY KEY (registry, repo)
    );
    CREATE TABLE IF NOT EXISTS registry_digests (
        registry   TEXT NOT NULL,
        repo       TEXT NOT NULL,
        tag        TEXT NOT NULL,
        digest     TEXT NOT NULL,
        fetched_at BIGINT NOT NULL,
        PRIMARY KEY (registry, repo, tag)
    );",
    // 2: build history.
    "CREATE TABLE runs (
        id          BIGSERIAL PRIMARY KEY,
        state       TEXT NOT NULL,
        trigger     TEXT NOT NULL,
        selection   TEXT NOT NULL,
        hosts       TEXT NOT NULL,
        plan        TEXT NOT NULL,
        owner       TEXT NOT NULL,
        started_at  BIGINT NOT NULL,
        finished_at BIGINT
    );
    CREATE TABLE run_images (
        run_id      BIGINT NOT NULL REFERENCES runs (id),
        name        TEXT NOT NULL,
        position    BIGINT NOT NULL,
        label       TEXT NOT NULL,
        action      TEXT NOT NULL,
        state       TEXT NOT NULL,
        host        TEXT,
        started_ms  BIGINT,
        finished_ms BIGINT,
        error       TEXT,
        PRIMARY KEY (run_id, name)
    );
    CREATE INDEX run_images_by_name ON run_images (name, run_id);
    CREATE TABLE run_logs (
        run_id BIGINT NOT NULL REFERENCES runs (id),
        seq    BIGINT NOT NULL,
        image  TEXT NOT NULL,
        at_ms  BIGINT NOT NULL,
        line   TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );",
    // 3: where a run came from, and the image ids and digests it made.
    "ALTER TABLE runs ADD COLUMN source TEXT;
    ALTER TABLE run_images ADD COLUMN built TEXT;
    ALTER TABLE run_images ADD COLUMN pushed TEXT;
    CREATE TABLE manifests (
        digest TEXT PRIMARY KEY,
        facts  TEXT NOT NULL
    );",
];

/// The advisory lock key that serialises migrations ("dockyard" in ASCII).
const MIGRATION_LOCK: i64 = 0x646f_636b_7961_7264;

/// Connections per process: calls on several at once, so that a slow
/// query (or many readers of the dashboard) does not queue every other.
const POOL: usize = 4;

/// A PostgreSQL database.
pub struct Postgres {
    /// `postgres://USER@HOST:PORT/DB`, without the password.
    shown: String,
    config: postgres::Config,
    /// The first is connected at open; the others when first needed, and
    /// any again after its connection was closed (a restarted server).
    clients: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
    /// The connection [`Store::atomically`] holds a transaction on
    /// (`usize::MAX`: none); other callers do not take it.
    reserved: AtomicUsize,
    /// The history's version, kept by a listener of [`HISTORY_CHANNEL`]
    /// (started by the first [`Store::history_version`]).
    watch: Arc<HistoryWatch>,
    watch_started: std::sync::Once,
}

/// The channel every write of the build history notifies (`NOTIFY`), so
/// that servers sharing the database forget what they keep in memory.
const HISTORY_CHANNEL: &str = "dockyard_history";

/// What the listener knows: a counter of notifications, and whether it is
/// listening now (a version is only good while it is).
#[derive(Default)]
struct HistoryWatch {
    version: std::sync::atomic::AtomicU64,
    live: std::sync::atomic::AtomicBool,
}

/// The listener: its own connection, `LISTEN`s, counts notifications, and
/// checks the connection every few seconds (a server gone without closing
/// the socket). When the connection is lost it says so at once and
/// connects again with backoff. It ends when the store is dropped.
fn listen_for_history(config: postgres::Config, shown: String, watch: Arc<HistoryWatch>) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut backoff = Duration::from_millis(200);
    while Arc::strong_count(&watch) > 1 {
        let listening =
            config.connect(NoTls).and_then(|mut c| c.batch_execute(&format!("LISTEN {HISTORY_CHANNEL}")).map(|()| c));
        if let Ok(mut client) = listening {
            backoff = Duration::from_millis(200);
            watch.version.fetch_add(1, Ordering::SeqCst);
            watch.live.store(true, Ordering::SeqCst);
            while Arc::strong_count(&watch) > 1 {
                let next = client.notifications().timeout_iter(Duration::from_secs(2)).next();
                match next {
                    Ok(Some(_)) => {
                        watch.version.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(None) if !client.is_closed() && client.is_valid(Duration::from_secs(2)).is_ok() => {}
                    _ => break,
                }
            }
            watch.live.store(false, Ordering::SeqCst);
            watch.version.fetch_add(1, Ordering::SeqCst);
            tracing::info!("{shown}: stopped listening for history changes; the history is read from the store");
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

thread_local! {
    /// The connection this thread's calls go to, inside `atomically`.
    static PINNED: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Opens a PostgreSQL store and migrates it (never on a runtime's thread:
/// the synchronous client blocks on a runtime of its own).
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(outside_runtime(|| Postgres::open(url))?))
}

/// The URL as it may be shown: no password, no query.
fn shown(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

fn classify(shown: &str, e: postgres::Error) -> StoreError {
    let where_ = shown.to_owned();
    if let Some(db) = e.as_db_error() {
        use postgres::error::SqlState;
        let code = db.code();
        if *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::QUERY_CANCELED
        {
            return StoreError::Busy(where_);
        }
        return StoreError::Other(where_, format!("{}: {}", code.code(), db.message()));
    }
    if e.is_closed() {
        return StoreError::Io(where_, "the connection is closed".into());
    }
    // The error's text names the cause (refused, timed out, …); it never
    // carries the password.
    StoreError::Io(where_, e.to_string())
}

impl Postgres {
    /// Connects (10 s at most) and migrates.
    pub fn open(url: &str) -> Result<Postgres, StoreError> {
        let mut config: postgres::Config =
            url.parse().map_err(|_| StoreError::Other("postgres".into(), "not a valid postgres:// URL".into()))?;
        let shown = shown(&config);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("dockyard");
        let mut client = config.connect(NoTls).map_err(|e| classify(&shown, e))?;
        migrate(&mut client).map_err(|e| match e {
            Migrate::Sql(e) => classify(&shown, e),
            Migrate::TooNew(v) => StoreError::TooNew(shown.clone(), v, MIGRATIONS.len() as i64),
        })?;
        let mut clients: Vec<Mutex<Option<Client>>> = (0..POOL).map(|_| Mutex::new(None)).collect();
        clients[0] = Mutex::new(Some(client));
        Ok(Postgres {
            shown,
            config,
            clients,
            next: AtomicUsize::new(0),
            reserved: AtomicUsize::new(usize::MAX),
            watch: Arc::default(),
            watch_started: std::sync::Once::new(),
        })
    }

    /// Runs `f` on a free connection, or waits for one (taken in turn). A
    /// pooled connection the server closed (a restart, an outage) is found
    /// out by the call that meets it: that call connects again and runs
    /// once more, so the first request after an outage does not fail.
    fn with<T>(&self, mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        let reserved = self.reserved.load(Ordering::Acquire);
        let mut slot = if let Some(i) = PINNED.get() {
            self.clients[i].lock().unwrap_or_else(|p| p.into_inner())
        } else {
            let free =
                self.clients.iter().enumerate().filter(|(i, _)| *i != reserved).find_map(|(_, c)| c.try_lock().ok());
            match free {
                Some(free) => free,
                None => {
                    let mut i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
                    if i == reserved {
                        i = (i + 1) % self.clients.len();
                    }
                    self.clients[i].lock().unwrap_or_else(|p| p.into_inner())
                }
            }
        };
        if PINNED.get().is_some() && slot.as_ref().is_none_or(Client::is_closed) {
            // The transaction was on that connection: it is gone with it.
            return Err(StoreError::Other(self.shown.clone(), "the connection closed inside a transaction".into()));
        }
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(outside_runtime(|| self.config.connect(NoTls)).map_err(|e| classify(&self.shown, e))?);
        }
        let client = slot.as_mut().expect("connected above");
        match f(client) {
            Err(e) if client.is_closed() && PINNED.get().is_none() => {
                tracing::info!("{}: the connection was closed ({e}); connecting again", self.shown);
                let fresh = outside_runtime(|| self.config.connect(NoTls)).map_err(|e| classify(&self.shown, e))?;
                let client = slot.insert(fresh);
                f(client).map_err(|e| classify(&self.shown, e))
            }
            r => r.map_err(|e| classify(&self.shown, e)),
        }
    }
}

/// Runs `f` where the synchronous client may start and drop the runtime
/// it keeps inside: on this thread when no tokio runtime is entered here,
/// else on a thread of its own (a connect or a drop on a runtime's thread
/// panicked: "Cannot start a runtime from within a runtime", issue 23).
fn outside_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    })
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let clients: Vec<Client> =
            self.clients.iter_mut().filter_map(|c| c.get_mut().unwrap_or_else(|p| p.into_inner()).take()).collect();
        outside_runtime(move || drop(clients));
    }
}

/// `$body` (using `$t` as the client, `?` for errors) in a transaction
/// of its own, or directly inside the one [`Store::atomically`] holds on
/// this connection.
macro_rules! in_tx {
    ($c:expr, |$t:ident| $body:block) => {{
        if PINNED.get().is_some() {
            let $t = $c;
            Ok($body)
        } else {
            let mut tx = $c.transaction()?;
            let out = {
                let $t = &mut tx;
                $body
            };
            tx.commit()?;
            Ok(out)
        }
    }};
}

enum Migrate {
    Sql(postgres::Error),
    TooNew(i64),
}

impl From<postgres::Error> for Migrate {
    fn from(e: postgres::Error) -> Self {
        Migrate::Sql(e)
    }
}

fn table_exists<C: postgres::GenericClient>(c: &mut C, table: &str) -> Result<bool, postgres::Error> {
    Ok(c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?.get(0))
}

fn current_version<C: postgres::GenericClient>(c: &mut C) -> Result<i64, postgres::Error> {
    if table_exists(c, "dockyard_schema")? {
        return Ok(c.query_one("SELECT version FROM dockyard_schema", &[])?.get(0));
    }
    Ok(if table_exists(c, "registry_tags")? { 1 } else { 0 })
}

fn migrate(client: &mut Client) -> Result<(), Migrate> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let version = current_version(&mut tx)?;
    let target = MIGRATIONS.len() as i64;
    if version > target {
        return Err(Migrate::TooNew(version));
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.batch_execute(sql)?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS dockyard_schema (version BIGINT NOT NULL); DELETE FROM dockyard_schema",
    )?;
    tx.execute("INSERT INTO dockyard_schema (version) VALUES ($1)", &[&target])?;
    tx.commit()?;
    Ok(())
}

/// A run's row; the counts are filled in by the caller from one query
/// (see `list_runs`, `get_run`), never one per run.
fn summary_of(row: &Row) -> Result<RunSummary, postgres::Error> {
    let state: String = row.try_get(1)?;
    Ok(RunSummary {
        id: row.try_get(0)?,
        state: RunState::parse(&state).unwrap_or(RunState::Interrupted),
        trigger: dockyard_api::Trigger::parse(row.try_get(2)?),
        selection: row.try_get::<_, JsonText<_>>(3)?.0,
        hosts: row.try_get::<_, JsonText<_>>(4)?.0,
        started_at: row.try_get(5)?,
        finished_at: row.try_get(6)?,
        counts: Default::default(),
    })
}

impl Store for Postgres {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn history_version(&self) -> Option<u64> {
        self.watch_started.call_once(|| {
            let (config, shown, watch) = (self.config.clone(), self.shown.clone(), self.watch.clone());
            let started = std::thread::Builder::new()
                .name("dockyard-history-listener".into())
                .spawn(move || listen_for_history(config, shown, watch));
            if let Err(e) = started {
                tracing::warn!("{}: cannot listen for history changes: {e}", self.shown);
            }
        });
        // The version first: one read after a change was seen as live is
        // never paired with the version from before it.
        let version = self.watch.version.load(Ordering::SeqCst);
        self.watch.live.load(Ordering::SeqCst).then_some(version)
    }

    fn connections(&self) -> usize {
        self.clients.len()
    }

    fn atomically(&self, f: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
        // One connection holds the transaction; this thread's calls go to
        // it, and other callers use the others.
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        if self.reserved.compare_exchange(usize::MAX, i, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(StoreError::Other(self.shown.clone(), "another whole-store operation is under way".into()));
        }
        PINNED.set(Some(i));
        // Connect it if needed (before the transaction begins).
        {
            let mut slot = self.clients[i].lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_none_or(Client::is_closed) {
                match outside_runtime(|| self.config.connect(NoTls)) {
                    Ok(c) => *slot = Some(c),
                    Err(e) => {
                        drop(slot);
                        PINNED.set(None);
                        self.reserved.store(usize::MAX, Ordering::Release);
                        return Err(classify(&self.shown, e));
                    }
                }
            }
        }
        let result = self
            .with(|c| c.batch_execute("BEGIN"))
            .and_then(|()| f())
            .and_then(|()| self.with(|c| c.batch_execute("COMMIT")));
        if result.is_err() {
            let _ = self.with(|c| c.batch_execute("ROLLBACK"));
        }
        PINNED.set(None);
        self.reserved.store(usize::MAX, Ordering::Release);
        result
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(current_version)
    }

    fn load_tags(&self, registry: &str, repo: &str) -> Result<Option<CachedTags>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT tags, fetched_at, last_error FROM registry_tags WHERE registry = $1 AND repo = $2",
                &[&registry, &repo],
            )?
            .map(|row| {
                Ok(CachedTags {
                    tags: row.try_get::<_, Option<JsonText<Vec<String>>>>(0)?.map(|t| t.0),
                    fetched_at: row.try_get(1)?,
                    last_error: row.try_get(2)?,
                })
            })
            .transpose()
        })
    }

    fn save_tags(&self, registry: &str, repo: &str, tags: Option<&[String]>, at: i64) -> Result<(), StoreError> {
        let tags = tags.map(json);
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES ($1, $2, $3, $4, NULL, NULL)
                 ON CONFLICT (registry, repo) DO UPDATE SET tags = $3, fetched_at = $4, last_error = NULL, error_at = NULL",
                &[&registry, &repo, &tags, &at],
            )
            .map(|_| ())
        })
    }

    fn save_error(&self, registry: &str, repo: &str, error: &str, at: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES ($1, $2, NULL, 0, $3, $4)
                 ON CONFLICT (registry, repo) DO UPDATE SET last_error = $3, error_at = $4",
                &[&registry, &repo, &error, &at],
            )
            .map(|_| ())
        })
    }

    fn load_digest(&self, registry: &str, repo: &str, tag: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT digest, fetched_at FROM registry_digests WHERE registry = $1 AND repo = $2 AND tag = $3",
                &[&registry, &repo, &tag],
            )?
            .map(|row| (row.get(0), row.get(1))))
        })
    }

    fn save_digest(&self, registry: &str, repo: &str, tag: &str, digest: &str, at: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_digests (registry, repo, tag, digest, fetched_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = $4, fetched_at = $5",
                &[&registry, &repo, &tag, &digest, &at],
            )
            .map(|_| ())
        })
    }

    fn load_manifest(&self, digest: &str) -> Result<Option<dockyard_api::ManifestFacts>, StoreError> {
        self.with(|c| {
            let row = c.query_opt("SELECT facts FROM manifests WHERE digest = $1", &[&digest])?;
            // A row that does not parse is asked for again, not trusted.
            Ok(row.and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()))
        })
    }

    fn save_manifest(&self, facts: &dockyard_api::ManifestFacts) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO manifests (digest, facts) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET facts = $2",
                &[&facts.digest, &json(facts)],
            )
            .map(|_| ())
        })
    }

    fn list_registry(&self) -> Result<Vec<RegistryEntry>, StoreError> {
        self.with(|c| {
            let mut out: Vec<RegistryEntry> = c
                .query(
                    "SELECT registry, repo, tags, fetched_at, last_error FROM registry_tags ORDER BY registry, repo",
                    &[],
                )?
                .iter()
                .map(|row| {
                    Ok(RegistryEntry {
                        registry: row.try_get(0)?,
                        repo: row.try_get(1)?,
                        tags: row.try_get::<_, Option<JsonText<Vec<String>>>>(2)?.map(|t| t.0),
                        fetched_at: row.try_get(3)?,
                        last_error: row.try_get(4)?,
                        digests: Vec::new(),
                    })
                })
                .collect::<Result<_, postgres::Error>>()?;
            let stmt = c.prepare(
                "SELECT tag, digest, fetched_at FROM registry_digests WHERE registry = $1 AND repo = $2 ORDER BY tag",
            )?;
            for e in &mut out {
                e.digests =
                    c.query(&stmt, &[&e.registry, &e.repo])?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
            }
            Ok(out)
        })
    }

    fn create_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        self.with(|c| {
            in_tx!(c, |tx| {
                let id: RunId = tx
                    .query_one(
                        "INSERT INTO runs (state, trigger, selection, hosts, plan, owner, started_at, source)
                     VALUES ('running', $1, $2, $3, $4, $5, $6, $7) RETURNING id",
                        &[
                            &run.trigger.to_string(),
                            &json(&run.selection),
                            &json(&run.hosts),
                            &json(&run.plan),
                            &run.owner,
                            &run.started_at,
                            &run.source.as_ref().map(json),
                        ],
                    )?
                    .get(0);
                tx.batch_execute(&format!("NOTIFY {HISTORY_CHANNEL}"))?;
                let stmt = tx.prepare(
                "INSERT INTO run_images (run_id, name, position, label, action, state) VALUES ($1, $2, $3, $4, $5, $6)",
            )?;
                for (i, item) in run.plan.items.iter().enumerate() {
                    tx.execute(
                        &stmt,
                        &[
                            &id,
                            &item.name,
                            &(i as i64),
                            &item.label,
                            &item.action.as_str(),
                            &initial_state(item.action).as_str(),
                        ],
                    )?;
                }
                id
            })
        })
    }

    fn update_image(&self, u: &ImageUpdate) -> Result<(), StoreError> {
        let active = !u.state.is_final() && u.state != ImageState::Waiting;
        let last = u.state.is_final();
        self.with(|c| {
            c.execute(
                "UPDATE run_images SET state = $3,
                    host = COALESCE($4, host),
                    started_ms = CASE WHEN $3 = 'waiting' THEN NULL WHEN $5 AND started_ms IS NULL THEN $6 ELSE started_ms END,
                    finished_ms = CASE WHEN $3 = 'waiting' THEN NULL WHEN $7 THEN $6 ELSE finished_ms END,
                    error = CASE WHEN $3 = 'waiting' THEN NULL ELSE COALESCE($8, error) END,
                    built = CASE WHEN $3 = 'waiting' THEN NULL ELSE COALESCE($9, built) END,
                    pushed = CASE WHEN $3 = 'waiting' THEN NULL ELSE COALESCE($10, pushed) END
                 WHERE run_id = $1 AND name = $2",
                &[&u.run, &u.image, &u.state.as_str(), &u.host, &active, &u.at_ms, &last, &u.error, &u.built, &u.pushed],
            )?;
            c.batch_execute(&format!("NOTIFY {HISTORY_CHANNEL}"))
        })
    }

    fn append_logs(&self, run: RunId, lines: &[LogLine]) -> Result<(), StoreError> {
        self.with(|c| {
            in_tx!(c, |tx| {
                let stmt =
                    tx.prepare("INSERT INTO run_logs (run_id, seq, image, at_ms, line) VALUES ($1, $2, $3, $4, $5)")?;
                for l in lines {
                    // PostgreSQL's TEXT holds no NUL byte; a log line may.
                    let line = l.line.replace('\0', "\u{FFFD}");
                    tx.execute(&stmt, &[&run, &l.seq, &l.image, &l.at_ms, &line])?;
                }
                tx.batch_execute(&format!("NOTIFY {HISTORY_CHANNEL}"))?;
            })
        })
    }

    fn finish_run(&self, run: RunId, state: RunState, at: Timestamp) -> Result<(), StoreError> {
        let leftover = unfinished_state(state);
        let finals: Vec<String> =
            ImageState::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str().to_owned()).collect();
        self.with(|c| {
            in_tx!(c, |tx| {
                tx.execute(
                    "UPDATE runs SET state = $2, finished_at = $3 WHERE id = $1",
                    &[&run, &state.as_str(), &at],
                )?;
                tx.execute(
                    "UPDATE run_images SET state = $2, finished_ms = $3 WHERE run_id = $1 AND NOT (state = ANY($4))",
                    &[&run, &leftover.as_str(), &(at * 1000), &finals],
                )?;
                tx.batch_execute(&format!("NOTIFY {HISTORY_CHANNEL}"))?;
            })
        })
    }

    fn list_runs(&self, before: Option<RunId>, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, state, trigger, selection, hosts, started_at, finished_at FROM runs WHERE id < $1 \
                 ORDER BY id DESC LIMIT $2",
                &[&before.unwrap_or(RunId::MAX), &limit_of(limit)],
            )?;
            let mut runs: Vec<RunSummary> = rows.iter().map(summary_of).collect::<Result<_, _>>()?;
            // The listed runs are consecutive: every id between the last and the first.
            let (Some(oldest), Some(newest)) = (runs.last().map(|r| r.id), runs.first().map(|r| r.id)) else {
                return Ok(runs);
            };
            let counts = c.query(
                "SELECT run_id, state, count(*) FROM run_images WHERE run_id >= $1 AND run_id <= $2 \
                 GROUP BY run_id, state",
                &[&oldest, &newest],
            )?;
            add_counts(
                &mut runs,
                counts.iter().map(|r| (r.get::<_, RunId>(0), r.get::<_, &str>(1), r.get::<_, i64>(2))),
            );
            Ok(runs)
        })
    }

    fn get_run(&self, run: RunId) -> Result<Option<RunDetail>, StoreError> {
        self.with(|c| {
            let Some(row) = c.query_opt(
                "SELECT id, state, trigger, selection, hosts, started_at, finished_at, plan, source FROM runs WHERE id = $1",
                &[&run],
            )?
            else {
                return Ok(None);
            };
            let mut summary = summary_of(&row)?;
            let plan: Plan = row.try_get::<_, JsonText<Plan>>(7)?.0;
            let source = row.try_get::<_, Option<JsonText<dockyard_api::RunSource>>>(8)?.map(|s| s.0);
            let images = c
                .query(
                    "SELECT name, label, action, state, host, started_ms, finished_ms, error, built, pushed
                     FROM run_images WHERE run_id = $1 ORDER BY position",
                    &[&run],
                )?
                .iter()
                .map(|r| {
                    let (start, end): (Option<i64>, Option<i64>) = (r.get(5), r.get(6));
                    RunImage {
                        name: r.get(0),
                        label: r.get(1),
                        action: action_of(r.get::<_, &str>(2)),
                        state: ImageState::parse(r.get::<_, &str>(3)).unwrap_or(ImageState::Interrupted),
                        host: r.get(4),
                        started_at: start.map(|s| s / 1000),
                        finished_at: end.map(|s| s / 1000),
                        duration_ms: start.zip(end).map(|(s, e)| e - s),
                        error: r.get(7),
                        built: r.get(8),
                        pushed: r.get(9),
                    }
                })
                .collect::<Vec<_>>();
            summary.counts = count_states(images.iter().map(|i| i.state));
            Ok(Some(RunDetail { run: summary, images, plan, source }))
        })
    }

    fn logs(&self, run: RunId, image: Option<&str>, after_seq: i64, limit: usize) -> Result<Vec<LogLine>, StoreError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT image, seq, at_ms, line FROM run_logs
                 WHERE run_id = $1 AND seq > $2 AND ($3::TEXT IS NULL OR image = $3) ORDER BY seq LIMIT $4",
                &[&run, &after_seq, &image, &limit_of(limit)],
            )?
            .iter()
            .map(|r| LogLine { image: r.get(0), seq: r.get(1), at_ms: r.get(2), line: r.get(3) })
            .collect())
        })
    }

    fn interrupt_dead_runs(&self, alive: &dyn Fn(&str) -> bool, at: Timestamp) -> Result<usize, StoreError> {
        let running: Vec<(RunId, String)> = self.with(|c| {
            Ok(c.query("SELECT id, owner FROM runs WHERE state = 'running'", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })?;
        let mut n = 0;
        for (id, owner) in running {
            if !alive(&owner) {
                self.finish_run(id, RunState::Interrupted, at)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn image_builds(&self, image: &str, limit: usize) -> Result<Vec<ImageBuild>, StoreError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT run_id, label, state, host, started_ms, finished_ms FROM run_images
                 WHERE name = $1 AND action != 'present' ORDER BY run_id DESC LIMIT $2",
                &[&image, &limit_of(limit)],
            )?
            .iter()
            .map(|r| {
                let (start, end): (Option<i64>, Option<i64>) = (r.get(4), r.get(5));
                ImageBuild {
                    run: r.get(0),
                    label: r.get(1),
                    state: ImageState::parse(r.get::<_, &str>(2)).unwrap_or(ImageState::Interrupted),
                    host: r.get(3),
                    started_at: start.map(|s| s / 1000),
                    duration_ms: start.zip(end).map(|(s, e)| e - s),
                }
            })
            .collect())
        })
    }
}

/// A `LIMIT` value: `usize::MAX` (everything) must not wrap to -1, which
/// PostgreSQL refuses.
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl<'a, T: serde::de::DeserializeOwned> postgres::types::FromSql<'a> for JsonText<T> {
    fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <&str as postgres::types::FromSql>::from_sql(ty, raw)?;
        Ok(JsonText(serde_json::from_str(text).map_err(|e| format!("damaged JSON: {e}"))?))
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        <&str as postgres::types::FromSql>::accepts(ty)
    }
}
