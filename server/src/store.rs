//! The SQLite store: the registry index with the time each part was fetched,
//! so that it is refreshed incrementally and served, with its age, when the
//! registry is unreachable. Every write is one transaction.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What the store remembers of one repository's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedTags {
    /// `None`: the repository did not exist when last asked.
    pub tags: Option<Vec<String>>,
    pub fetched_at: i64,
    pub last_error: Option<String>,
}

/// A SQLite database file (or memory).
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS registry_tags (
    registry   TEXT NOT NULL,
    repo       TEXT NOT NULL,
    tags       TEXT,            -- JSON array; NULL when the repository is missing
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
);
";

/// `$DOCKYARD_STORE`, else `$XDG_STATE_HOME/dockyard/dockyard.db`, else
/// `~/.local/state/dockyard/dockyard.db`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DOCKYARD_STORE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/state"));
    base.join("dockyard/dockyard.db")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn err(path: &Path) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

impl Store {
    /// Opens (creating when needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(err(path))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err(path))?;
        conn.execute_batch(SCHEMA).map_err(err(path))?;
        Ok(Store { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn load_tags(&self, registry: &str, repo: &str) -> Result<Option<CachedTags>, String> {
        self.conn()
            .query_row(
                "SELECT tags, fetched_at, last_error FROM registry_tags WHERE registry = ?1 AND repo = ?2",
                params![registry, repo],
                |row| {
                    let tags: Option<String> = row.get(0)?;
                    Ok(CachedTags {
                        tags: tags.and_then(|t| serde_json::from_str(&t).ok()),
                        fetched_at: row.get(1)?,
                        last_error: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    /// Records a successful listing (clears the last error).
    pub fn save_tags(&self, registry: &str, repo: &str, tags: Option<&[String]>, at: i64) -> Result<(), String> {
        let json = tags.map(|t| serde_json::to_string(t).unwrap_or_default());
        self.conn()
            .execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, NULL)
                 ON CONFLICT (registry, repo) DO UPDATE SET tags = ?3, fetched_at = ?4, last_error = NULL, error_at = NULL",
                params![registry, repo, json, at],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Records a failed listing; the last good tags stay.
    pub fn save_error(&self, registry: &str, repo: &str, error: &str, at: i64) -> Result<(), String> {
        self.conn()
            .execute(
                "INSERT INTO registry_tags (registry, repo, tags, fetched_at, last_error, error_at)
                 VALUES (?1, ?2, NULL, 0, ?3, ?4)
                 ON CONFLICT (registry, repo) DO UPDATE SET last_error = ?3, error_at = ?4",
                params![registry, repo, error, at],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn load_digest(&self, registry: &str, repo: &str, tag: &str) -> Result<Option<(String, i64)>, String> {
        self.conn()
            .query_row(
                "SELECT digest, fetched_at FROM registry_digests WHERE registry = ?1 AND repo = ?2 AND tag = ?3",
                params![registry, repo, tag],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    pub fn save_digest(&self, registry: &str, repo: &str, tag: &str, digest: &str, at: i64) -> Result<(), String> {
        self.conn()
            .execute(
                "INSERT INTO registry_digests (registry, repo, tag, digest, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = ?4, fetched_at = ?5",
                params![registry, repo, tag, digest, at],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_good_tags_across_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/d.db")).unwrap();
        store.save_tags("r", "ns/a", Some(&["1".into(), "2".into()]), 100).unwrap();
        store.save_error("r", "ns/a", "timed out", 200).unwrap();
        let c = store.load_tags("r", "ns/a").unwrap().unwrap();
        assert_eq!(
            (c.tags.unwrap(), c.fetched_at, c.last_error.as_deref()),
            (vec!["1".to_owned(), "2".to_owned()], 100, Some("timed out"))
        );
        store.save_error("r", "ns/new", "down", 300).unwrap();
        assert_eq!(store.load_tags("r", "ns/new").unwrap().unwrap().tags, None);
        store.save_digest("r", "ns/a", "1", "sha256:x", 5).unwrap();
        assert_eq!(store.load_digest("r", "ns/a", "1").unwrap(), Some(("sha256:x".into(), 5)));
        drop(store);
        let again = Store::open(&dir.path().join("sub/d.db")).unwrap();
        assert!(again.load_tags("r", "ns/a").unwrap().is_some(), "persisted");
    }
}
