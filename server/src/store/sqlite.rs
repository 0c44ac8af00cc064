//! The SQLite store (rusqlite, bundled SQLite): one file, WAL, a busy
//! timeout set before anything else, and numbered migrations run in one
//! `BEGIN IMMEDIATE` transaction so that concurrent first opens wait for
//! each other instead of failing.

use super::{
    CachedTags, ImageUpdate, JsonText, NewRun, RegistryEntry, Store, StoreError, action_of, add_counts, count_states,
    initial_state, json, unfinished_state,
};
use dockyard_api::{
    ImageBuild, ImageState, LogLine, Plan, RunDetail, RunId, RunImage, RunState, RunSummary, Timestamp,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    // 1: the registry index (the schema before versions existed).
    "CREATE TABLE IF NOT EXISTS registry_tags (
        registry   TEXT NOT NULL,
        repo       TEXT NOT NULL,
        tags       TEXT,
        fetched_at INTEGER NOT NULL,
        last_error TEXT,
        error_at   INTEGER,
        PRIMARY KEY (registry, repo)
    );
    CREATE TABLE IF NOT EXISTS registry_digests (
        registry   TEXT NOT NULL,
        repo       TEXT NOT NULL,
        tag        TEXT NOT NULL,
        digest     TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (registry, repo, tag)
    );",
    // 2: build history.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        state       TEXT NOT NULL,
        trigger     TEXT NOT NULL,
        selection   TEXT NOT NULL,
        hosts       TEXT NOT NULL,
        plan        TEXT NOT NULL,
        owner       TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER
    );
    CREATE TABLE run_images (
        run_id      INTEGER NOT NULL REFERENCES runs (id),
        name        TEXT NOT NULL,
        position    INTEGER NOT NULL,
        label       TEXT NOT NULL,
        action      TEXT NOT NULL,
        state       TEXT NOT NULL,
        host        TEXT,
        started_ms  INTEGER,
        finished_ms INTEGER,
        error       TEXT,
        PRIMARY KEY (run_id, name)
    );
    CREATE INDEX run_images_by_name ON run_images (name, run_id);
    CREATE TABLE run_logs (
        run_id INTEGER NOT NULL REFERENCES runs (id),
        seq    INTEGER NOT NULL,
        image  TEXT NOT NULL,
        at_ms  INTEGER NOT NULL,
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

/// A SQLite database file.
pub struct Sqlite {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    let where_ = path.display().to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(where_),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(where_, e.to_string()),
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::DiskFull) => {
            StoreError::Io(where_, e.to_string())
        }
        _ => StoreError::Other(where_, e.to_string()),
    }
}

/// A file's change that may still share its modification time with the
/// next one (the kernel stamps files with a coarse clock, a few ms).
const MTIME_SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

impl Sqlite {
    /// The history's version: the size, inode and modification time of the
    /// database and its write-ahead log, which every commit by any process
    /// changes. A file changed in the last [`MTIME_SETTLE`] gives `None`:
    /// a second commit within the clock's tick could leave all three as
    /// they are.
    fn file_version(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let now = std::time::SystemTime::now();
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        for (file, optional) in [(self.path.as_path(), false), (Path::new(&wal), true)] {
            match std::fs::metadata(file) {
                Ok(m) => {
                    let modified = m.modified().ok()?;
                    if now.duration_since(modified).map_or(true, |age| age < MTIME_SETTLE) {
                        return None;
                    }
                    (m.len(), m.ino(), m.dev(), modified).hash(&mut h);
                }
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => 0u8.hash(&mut h),
                Err(_) => return None,
            }
        }
        Some(h.finish())
    }

    /// Opens (creating when needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(dir.display().to_string(), e.to_string()))?;
        }
        let err = |e| classify(path, e);
        let mut conn = Connection::open(path).map_err(err)?;
        // The busy timeout first: switching to WAL takes a lock that a
        // concurrent first open may hold.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        use_wal(&conn).map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        migrate(&mut conn).map_err(|e| match e {
            Migrate::Sql(e) => classify(path, e),
            Migrate::TooNew(v) => StoreError::TooNew(path.display().to_string(), v, MIGRATIONS.len() as i64),
        })?;
        Ok(Sqlite { path: path.to_owned(), conn: Mutex::new(conn) })
    }

    /// A transaction for one call: its own (`BEGIN`, immediate when asked),
    /// or a savepoint inside [`Store::atomically`]'s.
    fn tx(c: &mut Connection, immediate: bool) -> rusqlite::Result<Tx<'_>> {
        if !c.is_autocommit() {
            Ok(Tx::Savepoint(c.savepoint()?))
        } else if immediate {
            Ok(Tx::Own(c.transaction_with_behavior(TransactionBehavior::Immediate)?))
        } else {
            Ok(Tx::Own(c.transaction()?))
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| classify(&self.path, e))
    }
}

/// A call's own transaction, or a savepoint in an outer one.
enum Tx<'a> {
    Own(rusqlite::Transaction<'a>),
    Savepoint(rusqlite::Savepoint<'a>),
}

impl Tx<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Tx::Own(t) => t.commit(),
            Tx::Savepoint(s) => s.commit(),
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Tx::Own(t) => t,
            Tx::Savepoint(s) => s,
        }
    }
}

enum Migrate {
    Sql(rusqlite::Error),
    TooNew(i64),
}

impl From<rusqlite::Error> for Migrate {
    fn from(e: rusqlite::Error) -> Self {
        Migrate::Sql(e)
    }
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    if table_exists(conn, "dockyard_schema")? {
        return conn.query_row("SELECT version FROM dockyard_schema", [], |r| r.get(0));
    }
    // Databases from before schema versions hold the registry tables only.
    Ok(if table_exists(conn, "registry_tags")? { 1 } else { 0 })
}

/// How long any statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts the file in WAL mode, once for all connections. SQLite answers
/// `PRAGMA journal_mode = WAL` with SQLITE_BUSY at once, without the busy
/// handler, while another connection has the file open in rollback mode
/// (as every connection does for the instant between creating the file and
/// switching it). So: read the mode first, which waits like any read, and
/// retry the switch until the busy timeout has passed.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), Migrate> {
    // Most opens find the schema current: they read and take no write lock.
    if current_version(conn)? == MIGRATIONS.len() as i64 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = current_version(&tx)?;
    let target = MIGRATIONS.len() as i64;
    if version > target {
        return Err(Migrate::TooNew(version));
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch("CREATE TABLE IF NOT EXISTS dockyard_schema (version INTEGER NOT NULL)")?;
    tx.execute("DELETE FROM dockyard_schema", [])?;
    tx.execute("INSERT INTO dockyard_schema (version) VALUES (?1)", [target])?;
    tx.commit()?;
    Ok(())
}

/// A run's row (id, state, trigger, selection, hosts, started_at,
/// finished_at); the counts come from `run_images`, read in one query per
/// call (see `list_runs`, `get_run`), never one per run.
fn summary_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    let state: String = row.get(1)?;
    Ok(RunSummary {
        id: row.get(0)?,
        state: RunState::parse(&state).unwrap_or(RunState::Interrupted),
        trigger: dockyard_api::Trigger::parse(&row.get::<_, String>(2)?),
        selection: row.get::<_, JsonText<_>>(3)?.0,
        hosts: row.get::<_, JsonText<_>>(4)?.0,
        started_at: row.get(5)?,
        finished_at: row.get(6)?,
        counts: Default::default(),
    })
}

impl Store for Sqlite {
    fn history_version(&self) -> Option<u64> {
        self.file_version()
    }

    /// Calls serialize on the one connection's lock; letting several wait
    /// at the lock hands it over at once, without a trip through the async
    /// side for each call (benches/serve.sh, /api/v1/builds: 9,696 req/s
    /// and p99 38.6 ms, against 5,699 req/s and 53.9 ms one call at a time).
    fn connections(&self) -> usize {
        16
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn atomically(&self, f: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.with(|c| c.execute_batch("BEGIN IMMEDIATE"))?;
        match f() {
            Ok(()) => self.with(|c| c.execute_batch("COMMIT")).inspect_err(|_| {
                let _ = self.with(|c| c.execute_batch("ROLLBACK"));
            }),
            Err(e) => {
                let _ = self.with(|c| c.execute_batch("ROLLBACK"));
                Err(e)
            }
        }
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(|c| current_version(c))
    }

    fn load_tags(&self, registry: &str, repo: &str) -> Result<Option<CachedTags>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT tags, fetched_at, last_error FROM registry_tags WHERE registry = ?1 AND repo = ?2",
                params![registry, repo],
                |row| {
                    let tags: Option<JsonText<Vec<String>>> = row.get(0)?;
                    Ok(CachedTags { tags: tags.map(|t| t.0), fetched_at: row.get(1)?, last_error: row.get(2)? })
                },
            )
            .optional()
        })
    }

    fn save_tags(&self, registry: &str, repo: &str, tags: Option<&[String]>, at: i64) -> Result<(), StoreError> {
        let tags = tags.map(json);
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, NULL)
                 ON CONFLICT (registry, repo) DO UPDATE SET tags = ?3, fetched_at = ?4, last_error = NULL, error_at = NULL",
                params![registry, repo, tags, at],
            )
            .map(|_| ())
        })
    }

    fn save_error(&self, registry: &str, repo: &str, error: &str, at: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES (?1, ?2, NULL, 0, ?3, ?4)
                 ON CONFLICT (registry, repo) DO UPDATE SET last_error = ?3, error_at = ?4",
                params![registry, repo, error, at],
            )
            .map(|_| ())
        })
    }

    fn load_digest(&self, registry: &str, repo: &str, tag: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT digest, fetched_at FROM registry_digests WHERE registry = ?1 AND repo = ?2 AND tag = ?3",
                params![registry, repo, tag],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
        })
    }

    fn save_digest(&self, registry: &str, repo: &str, tag: &str, digest: &str, at: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_digests (registry, repo, tag, digest, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = ?4, fetched_at = ?5",
                params![registry, repo, tag, digest, at],
            )
            .map(|_| ())
        })
    }

    fn load_manifest(&self, digest: &str) -> Result<Option<dockyard_api::ManifestFacts>, StoreError> {
        self.with(|c| {
            let text: Option<String> =
                c.query_row("SELECT facts FROM manifests WHERE digest = ?1", [digest], |r| r.get(0)).optional()?;
            // A row that does not parse is asked for again, not trusted.
            Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
        })
    }

    fn save_manifest(&self, facts: &dockyard_api::ManifestFacts) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO manifests (digest, facts) VALUES (?1, ?2) ON CONFLICT (digest) DO UPDATE SET facts = ?2",
                params![facts.digest, json(facts)],
            )
            .map(|_| ())
        })
    }

    fn list_registry(&self) -> Result<Vec<RegistryEntry>, StoreError> {
        self.with(|c| {
            let mut out: Vec<RegistryEntry> = c
                .prepare(
                    "SELECT registry, repo, tags, fetched_at, last_error FROM registry_tags ORDER BY registry, repo",
                )?
                .query_map([], |row| {
                    let tags: Option<JsonText<Vec<String>>> = row.get(2)?;
                    Ok(RegistryEntry {
                        registry: row.get(0)?,
                        repo: row.get(1)?,
                        tags: tags.map(|t| t.0),
                        fetched_at: row.get(3)?,
                        last_error: row.get(4)?,
                        digests: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = c.prepare(
                "SELECT tag, digest, fetched_at FROM registry_digests WHERE registry = ?1 AND repo = ?2 ORDER BY tag",
            )?;
            for e in &mut out {
                e.digests = stmt
                    .query_map(params![e.registry, e.repo], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(out)
        })
    }

    fn create_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        self.with(|c| {
            let tx = Self::tx(c, true)?;
            tx.execute(
                "INSERT INTO runs (state, trigger, selection, hosts, plan, owner, started_at, source) VALUES ('running', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.trigger.to_string(),
                    json(&run.selection),
                    json(&run.hosts),
                    json(&run.plan),
                    run.owner,
                    run.started_at,
                    run.source.as_ref().map(json)
                ],
            )?;
            let id = tx.last_insert_rowid();
            for (i, item) in run.plan.items.iter().enumerate() {
                tx.execute(
                    "INSERT INTO run_images (run_id, name, position, label, action, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, item.name, i as i64, item.label, item.action.as_str(), initial_state(item.action).as_str()],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    fn update_image(&self, u: &ImageUpdate) -> Result<(), StoreError> {
        let active = !u.state.is_final() && u.state != ImageState::Waiting;
        self.with(|c| {
            c.execute(
                "UPDATE run_images SET state = ?3,
                    host = COALESCE(?4, host),
                    started_ms = CASE WHEN ?3 = 'waiting' THEN NULL WHEN ?5 AND started_ms IS NULL THEN ?6 ELSE started_ms END,
                    finished_ms = CASE WHEN ?3 = 'waiting' THEN NULL WHEN ?7 THEN ?6 ELSE finished_ms END,
                    error = CASE WHEN ?3 = 'waiting' THEN NULL ELSE COALESCE(?8, error) END,
                    built = CASE WHEN ?3 = 'waiting' THEN NULL ELSE COALESCE(?9, built) END,
                    pushed = CASE WHEN ?3 = 'waiting' THEN NULL ELSE COALESCE(?10, pushed) END
                 WHERE run_id = ?1 AND name = ?2",
                params![
                    u.run,
                    u.image,
                    u.state.as_str(),
                    u.host,
                    active,
                    u.at_ms,
                    u.state.is_final(),
                    u.error,
                    u.built,
                    u.pushed
                ],
            )
            .map(|_| ())
        })
    }

    fn append_logs(&self, run: RunId, lines: &[LogLine]) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = Self::tx(c, false)?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO run_logs (run_id, seq, image, at_ms, line) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for l in lines {
                    stmt.execute(params![run, l.seq, l.image, l.at_ms, l.line])?;
                }
            }
            tx.commit()
        })
    }

    fn finish_run(&self, run: RunId, state: RunState, at: Timestamp) -> Result<(), StoreError> {
        let leftover = unfinished_state(state);
        self.with(|c| {
            let tx = Self::tx(c, false)?;
            tx.execute("UPDATE runs SET state = ?2, finished_at = ?3 WHERE id = ?1", params![run, state.as_str(), at])?;
            let finals: Vec<&str> = ImageState::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
            let placeholders = finals.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
            tx.execute(
                &format!(
                    "UPDATE run_images SET state = ?2, finished_ms = ?3 WHERE run_id = ?1 AND state NOT IN ({placeholders})"
                ),
                params![run, leftover.as_str(), at * 1000],
            )?;
            tx.commit()
        })
    }

    fn list_runs(&self, before: Option<RunId>, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, state, trigger, selection, hosts, started_at, finished_at FROM runs WHERE id < ?1 \
                 ORDER BY id DESC LIMIT ?2",
            )?;
            let mut runs: Vec<RunSummary> = stmt
                .query_map([before.unwrap_or(RunId::MAX), limit.min(i64::MAX as usize) as i64], summary_of)?
                .collect::<Result<_, _>>()?;
            // The listed runs are consecutive: every id between the last and the first.
            let (Some(oldest), Some(newest)) = (runs.last().map(|r| r.id), runs.first().map(|r| r.id)) else {
                return Ok(runs);
            };
            let mut stmt = c.prepare_cached(
                "SELECT run_id, state, count(*) FROM run_images WHERE run_id >= ?1 AND run_id <= ?2 \
                 GROUP BY run_id, state",
            )?;
            let counts: Vec<(RunId, String, i64)> = stmt
                .query_map([oldest, newest], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            add_counts(&mut runs, counts);
            Ok(runs)
        })
    }

    fn get_run(&self, run: RunId) -> Result<Option<RunDetail>, StoreError> {
        self.with(|c| {
            let Some((mut summary, plan, source)) = c
                .query_row(
                    "SELECT id, state, trigger, selection, hosts, started_at, finished_at, plan, source FROM runs WHERE id = ?1",
                    [run],
                    |row| {
                        Ok((
                            summary_of(row)?,
                            row.get::<_, JsonText<Plan>>(7)?.0,
                            row.get::<_, Option<JsonText<dockyard_api::RunSource>>>(8)?.map(|s| s.0),
                        ))
                    },
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare(
                "SELECT name, label, action, state, host, started_ms, finished_ms, error, built, pushed
                 FROM run_images WHERE run_id = ?1 ORDER BY position",
            )?;
            let images = stmt
                .query_map([run], |r| {
                    let (start, end): (Option<i64>, Option<i64>) = (r.get(5)?, r.get(6)?);
                    Ok(RunImage {
                        name: r.get(0)?,
                        label: r.get(1)?,
                        action: action_of(&r.get::<_, String>(2)?),
                        state: ImageState::parse(&r.get::<_, String>(3)?).unwrap_or(ImageState::Interrupted),
                        host: r.get(4)?,
                        started_at: start.map(|s| s / 1000),
                        finished_at: end.map(|s| s / 1000),
                        duration_ms: start.zip(end).map(|(s, e)| e - s),
                        error: r.get(7)?,
                        built: r.get(8)?,
                        pushed: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            summary.counts = count_states(images.iter().map(|i| i.state));
            Ok(Some(RunDetail { run: summary, images, plan, source }))
        })
    }

    fn logs(&self, run: RunId, image: Option<&str>, after_seq: i64, limit: usize) -> Result<Vec<LogLine>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT image, seq, at_ms, line FROM run_logs
                 WHERE run_id = ?1 AND seq > ?2 AND (?3 IS NULL OR image = ?3) ORDER BY seq LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![run, after_seq, image, limit as i64], |r| {
                Ok(LogLine { image: r.get(0)?, seq: r.get(1)?, at_ms: r.get(2)?, line: r.get(3)? })
            })?;
            rows.collect()
        })
    }

    fn interrupt_dead_runs(&self, alive: &dyn Fn(&str) -> bool, at: Timestamp) -> Result<usize, StoreError> {
        let running: Vec<(RunId, String)> = self.with(|c| {
            let mut stmt = c.prepare("SELECT id, owner FROM runs WHERE state = 'running'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
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
            let mut stmt = c.prepare(
                "SELECT run_id, label, state, host, started_ms, finished_ms FROM run_images
                 WHERE name = ?1 AND action != 'present' ORDER BY run_id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![image, limit as i64], |r| {
                let (start, end): (Option<i64>, Option<i64>) = (r.get(4)?, r.get(5)?);
                Ok(ImageBuild {
                    run: r.get(0)?,
                    label: r.get(1)?,
                    state: ImageState::parse(&r.get::<_, String>(2)?).unwrap_or(ImageState::Interrupted),
                    host: r.get(3)?,
                    started_at: start.map(|s| s / 1000),
                    duration_ms: start.zip(end).map(|(s, e)| e - s),
                })
            })?;
            rows.collect()
        })
    }
}

impl<T: serde::de::DeserializeOwned> rusqlite::types::FromSql for JsonText<T> {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(JsonText)
            .map_err(|e| rusqlite::types::FromSqlError::Other(format!("damaged JSON: {e}").into()))
    }
}
