//! Reading the build history: the run list, one run with its log, and log
//! pages. `dockyard builds [show]` and `GET /api/v1/builds[/{id}]` are
//! these methods, serialized by `dockyard_api::to_json`, so they answer the
//! same bytes.
//!
//! The answers are kept in memory while the store's
//! [`history_version`](crate::store::Store::history_version) holds: a
//! PostgreSQL store says when any process changed the history (`LISTEN` /
//! `NOTIFY`), a SQLite store when its files changed. The store is not asked
//! per request then; when the version is unknown it is, so a store that
//! fails is an error, never an old answer.

use super::Service;
use super::error::{Error, Result};
use axum::body::Bytes;
use dockyard_api::{LogLine, RunDetail, RunId, RunList, RunShown};
use std::collections::HashMap;

/// The lines a raw log download holds at most, and its text at most.
pub const RAW_LOG_LINES: usize = 1_000_000;
pub const RAW_LOG_BYTES: usize = 64 << 20;
/// The text of the log lines a shown run holds at most.
const SHOWN_LOG_BYTES: usize = 8 << 20;

/// The runs a list holds at most.
pub const LIST_MAX: usize = 500;
/// A shown run's answer is kept in memory only up to this size.
const KEEP_BYTES_MAX: usize = 1 << 20;
/// Answers kept at most (run lists by limit, finished runs by id).
const KEEP_MAX: usize = 64;

/// The answers made at one history version.
#[derive(Default)]
pub struct RunsCache {
    version: Option<u64>,
    answers: HashMap<Key, Bytes>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    List(usize, Option<RunId>),
    Shown(RunId),
}

impl Service {
    /// The answer kept for `key` at `version`, if any.
    fn kept(&self, version: Option<u64>, key: &Key) -> Option<Bytes> {
        let cache = self.runs_cache.lock().unwrap_or_else(|p| p.into_inner());
        (version.is_some() && cache.version == version).then(|| cache.answers.get(key).cloned()).flatten()
    }

    /// Keeps `body` for `key`, made from the store after `version` was read
    /// (a change in between gives the next reader a new version).
    fn keep(&self, version: Option<u64>, key: Key, body: &Bytes) {
        if version.is_none() || body.len() > KEEP_BYTES_MAX {
            return;
        }
        let mut cache = self.runs_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.version != version {
            *cache = RunsCache { version, answers: HashMap::new() };
        }
        if cache.answers.len() >= KEEP_MAX {
            cache.answers.clear();
        }
        cache.answers.insert(key, body.clone());
    }

    /// The build history's version now: it changes whenever any process
    /// writes the history (`None`: unknown for a moment; look again).
    pub fn history_version_now(&self) -> Result<Option<u64>> {
        Ok(self.store()?.0.history_version())
    }

    /// The newest runs `/metrics` counts by state (at most 10,000).
    pub async fn runs_for_metrics(&self) -> Result<Vec<dockyard_api::RunSummary>> {
        let store = self.store()?;
        Ok(store.call(|s| s.list_runs(None, 10_000)).await?)
    }

    /// The newest runs (at most [`LIST_MAX`]), or the newest of those
    /// older than run `before`; `older` names the page after it, if any.
    pub async fn runs(&self, limit: usize, before: Option<RunId>) -> Result<RunList> {
        let store = self.store()?;
        let limit = limit.clamp(1, LIST_MAX);
        let mut runs = store.call(move |s| s.list_runs(before, limit + 1)).await?;
        let older = if runs.len() > limit {
            runs.truncate(limit);
            runs.last().map(|r| r.id)
        } else {
            None
        };
        Ok(RunList { runs, older })
    }

    /// [`Service::runs`] as JSON, from memory while the history is unchanged.
    pub async fn runs_json(&self, limit: usize, before: Option<RunId>) -> Result<Bytes> {
        let limit = limit.clamp(1, LIST_MAX);
        let version = self.history_version_now()?;
        if let Some(b) = self.kept(version, &Key::List(limit, before)) {
            return Ok(b);
        }
        let body = Bytes::from(dockyard_api::to_json(&self.runs(limit, before).await?));
        self.keep(version, Key::List(limit, before), &body);
        Ok(body)
    }

    /// One run with the first [`RunShown::LOG_LINES`] lines of its log (of
    /// one image, when named).
    pub async fn run_shown(&self, id: RunId, image: Option<String>) -> Result<RunShown> {
        let store = self.store()?;
        let Some(detail) = store.call(move |s| s.get_run(id)).await? else {
            return Err(Error::not_found(format!("no run {id}")));
        };
        let (logs, logs_truncated) = self.read_log(id, image, RunShown::LOG_LINES, SHOWN_LOG_BYTES).await?;
        Ok(RunShown { detail, logs, logs_truncated })
    }

    /// [`Service::run_shown`] of the whole run as JSON; a finished run's
    /// answer is kept in memory while the history is unchanged.
    pub async fn run_shown_json(&self, id: RunId) -> Result<Bytes> {
        let version = self.history_version_now()?;
        if let Some(b) = self.kept(version, &Key::Shown(id)) {
            return Ok(b);
        }
        let shown = self.run_shown(id, None).await?;
        let body = Bytes::from(dockyard_api::to_json(&shown));
        if shown.detail.run.finished_at.is_some() {
            self.keep(version, Key::Shown(id), &body);
        }
        Ok(body)
    }

    /// A run without its log.
    pub async fn run_detail(&self, id: RunId) -> Result<RunDetail> {
        let store = self.store()?;
        store.call(move |s| s.get_run(id)).await?.ok_or_else(|| Error::not_found(format!("no run {id}")))
    }

    /// A run's whole log (the raw download), read a page at a time, at most
    /// [`RAW_LOG_LINES`] lines.
    /// Whether lines were left out is the second value.
    pub async fn run_log_all(&self, id: RunId) -> Result<(Vec<LogLine>, bool)> {
        self.run_detail(id).await?;
        self.read_log(id, None, RAW_LOG_LINES, RAW_LOG_BYTES).await
    }

    /// A run's log from the start, a page at a time, until it ends or
    /// `max_lines` or `max_bytes` of text are read (lines are up to 8 KiB,
    /// so lines alone do not bound the memory); `true` when more is left.
    async fn read_log(
        &self,
        id: RunId,
        image: Option<String>,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<(Vec<LogLine>, bool)> {
        const PAGE: usize = 10_000;
        let (mut all, mut bytes): (Vec<LogLine>, usize) = (Vec::new(), 0);
        loop {
            let after = all.last().map_or(0, |l| l.seq);
            let page = self.run_logs(id, image.clone(), after, PAGE).await?;
            let full = page.len() == PAGE;
            for line in page {
                bytes += line.line.len();
                if all.len() == max_lines || bytes > max_bytes {
                    return Ok((all, true));
                }
                all.push(line);
            }
            if !full {
                return Ok((all, false));
            }
        }
    }

    /// Log lines after `after`, of one image or all, at most `limit`.
    pub async fn run_logs(&self, id: RunId, image: Option<String>, after: i64, limit: usize) -> Result<Vec<LogLine>> {
        let store = self.store()?;
        Ok(store.call(move |s| s.logs(id, image.as_deref(), after, limit)).await?)
    }
}

/// What `store import` did.
pub enum Imported {
    /// `if_empty` and the store has runs: nothing was imported.
    HadRuns,
    /// All of the dump (or nothing: one transaction), and a warning when
    /// runs left running by dead processes could not be checked.
    Added(crate::store::dump::Imported, Option<String>),
}

impl Service {
    /// `store export`: everything the store holds.
    pub fn export_store(&self) -> Result<crate::store::dump::Dump> {
        Ok(crate::store::dump::export(self.store()?.0.as_ref())?)
    }

    /// `store import`: a dump (`name` for errors), checked, its times moved
    /// to now when asked, added in one transaction. With `if_empty`, a
    /// store that has runs is left as it is.
    pub fn import_store(&self, name: &str, bytes: &[u8], shift_to_now: bool, if_empty: bool) -> Result<Imported> {
        use crate::store::dump;
        let store = self.store()?.0;
        if if_empty && !store.list_runs(None, 1)?.is_empty() {
            return Ok(Imported::HadRuns);
        }
        let mut dump: dump::Dump =
            serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("{name}:{}: {e}", e.line())))?;
        dump::check(&dump).map_err(|e| Error::invalid(format!("{name}: {e}")))?;
        if shift_to_now {
            dump::shift_to(&mut dump, crate::store::now());
        }
        let n = dump::import(store.as_ref(), &dump)?;
        // Runs the store held that a dead process left running.
        let warning = store
            .interrupt_dead_runs(&crate::store::owner_alive, crate::store::now())
            .err()
            .map(|e| format!("could not check for interrupted runs: {e}"));
        Ok(Imported::Added(n, warning))
    }
}
