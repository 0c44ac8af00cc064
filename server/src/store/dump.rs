//! A store as one JSON document: the registry index and the build history
//! with logs. `dockyard store export` writes it and `dockyard store import`
//! reads it into any store, through the [`Store`] trait only, so the same
//! file moves history from SQLite to PostgreSQL and seeds the demo.

use super::{ImageUpdate, NewRun, RegistryEntry, Store, StoreError};
use dockyard_api::{ImageState, LogLine, RunDetail, RunState};
use serde::{Deserialize, Serialize};

/// The `format` field of a dump.
pub const FORMAT: &str = "dockyard-store";
/// The version this dockyard writes and reads.
pub const VERSION: u32 = 1;
/// Log lines read per query while exporting.
const LOG_PAGE: usize = 10_000;

/// A whole store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    pub format: String,
    pub version: u32,
    pub registry: Vec<RegistryEntry>,
    /// Oldest first.
    pub runs: Vec<RunDump>,
}

/// One run with its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDump {
    #[serde(flatten)]
    pub detail: RunDetail,
    #[serde(default)]
    pub logs: Vec<LogLine>,
}

/// What an import added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub repositories: usize,
    pub runs: usize,
    pub log_lines: usize,
}

/// Reads everything `store` holds.
pub fn export(store: &dyn Store) -> Result<Dump, StoreError> {
    let registry = store.list_registry()?;
    let mut runs = Vec::new();
    for summary in store.list_runs(None, usize::MAX)?.into_iter().rev() {
        let Some(detail) = store.get_run(summary.id)? else { continue };
        let mut logs = Vec::new();
        loop {
            let after = logs.last().map_or(0, |l: &LogLine| l.seq);
            let page = store.logs(summary.id, None, after, LOG_PAGE)?;
            let done = page.len() < LOG_PAGE;
            logs.extend(page);
            if done {
                break;
            }
        }
        runs.push(RunDump { detail, logs });
    }
    Ok(Dump { format: FORMAT.into(), version: VERSION, registry, runs })
}

/// Checks a dump's header.
pub fn check(dump: &Dump) -> Result<(), String> {
    if dump.format != FORMAT {
        return Err(format!("not a dockyard store dump (format `{}`, expected `{FORMAT}`)", dump.format));
    }
    if dump.version != VERSION {
        return Err(format!("dump version {} is not {VERSION}, the one this dockyard reads", dump.version));
    }
    Ok(())
}

/// The newest time in the dump, in seconds.
fn newest(dump: &Dump) -> i64 {
    let reg = dump.registry.iter().map(|e| e.fetched_at);
    let runs = dump.runs.iter().map(|r| r.detail.run.finished_at.unwrap_or(r.detail.run.started_at));
    reg.chain(runs).max().unwrap_or(0)
}

/// Moves every time in the dump so that its newest is `now` (demo data
/// that looks recent); returns the shift in seconds.
pub fn shift_to(dump: &mut Dump, now: i64) -> i64 {
    let d = now - newest(dump);
    for e in &mut dump.registry {
        e.fetched_at += d;
        for x in &mut e.digests {
            x.2 += d;
        }
    }
    for r in &mut dump.runs {
        let run = &mut r.detail.run;
        run.started_at += d;
        run.finished_at = run.finished_at.map(|t| t + d);
        for i in &mut r.detail.images {
            i.started_at = i.started_at.map(|t| t + d);
            i.finished_at = i.finished_at.map(|t| t + d);
        }
        for l in &mut r.logs {
            l.at_ms += d * 1000;
        }
    }
    d
}

/// Adds the dump's contents to `store`: repositories are replaced, runs
/// added with new numbers (a run still running in the dump is interrupted).
pub fn import(store: &dyn Store, dump: &Dump) -> Result<Imported, StoreError> {
    let mut done = Imported::default();
    // One transaction: a failure anywhere leaves the store as it was, so a
    // retry adds nothing twice.
    store.atomically(&mut || {
        done = Imported::default();
        import_all(store, dump, &mut done)
    })?;
    Ok(done)
}

fn import_all(store: &dyn Store, dump: &Dump, done: &mut Imported) -> Result<(), StoreError> {
    for e in &dump.registry {
        if e.fetched_at > 0 || e.tags.is_some() {
            store.save_tags(&e.registry, &e.repo, e.tags.as_deref(), e.fetched_at)?;
        }
        if let Some(err) = &e.last_error {
            store.save_error(&e.registry, &e.repo, err, e.fetched_at)?;
        }
        for (tag, digest, at) in &e.digests {
            store.save_digest(&e.registry, &e.repo, tag, digest, *at)?;
        }
        done.repositories += 1;
    }
    for r in &dump.runs {
        let d = &r.detail;
        let id = store.create_run(&NewRun {
            trigger: d.run.trigger.clone(),
            selection: d.run.selection.clone(),
            hosts: d.run.hosts.clone(),
            plan: d.plan.clone(),
            started_at: d.run.started_at,
            owner: "import:0".into(),
            source: d.source.clone(),
        })?;
        for i in &d.images {
            // The dump has seconds for the ends and milliseconds for the
            // duration: a start that keeps both (the end was moved back a
            // second when the start was taken as the whole second).
            let start_ms = match (i.started_at, i.duration_ms, i.finished_at) {
                (Some(st), Some(ms), Some(f)) => Some((st * 1000).max(f * 1000 - ms)),
                (st, ..) => st.map(|t| t * 1000),
            };
            if let Some(at_ms) = start_ms {
                store.update_image(&ImageUpdate {
                    run: id,
                    image: i.name.clone(),
                    state: ImageState::Building,
                    host: i.host.clone(),
                    at_ms,
                    error: None,
                    ..Default::default()
                })?;
            }
            // An image that was never touched (present from the start) keeps
            // no times, as in the store it came from.
            let untouched =
                i.started_at.is_none() && i.finished_at.is_none() && i.state == super::initial_state(i.action);
            if i.state.is_final() && !untouched {
                let at_ms = match (start_ms, i.duration_ms, i.finished_at) {
                    (Some(s), Some(ms), _) => s + ms,
                    (_, _, Some(f)) => f * 1000,
                    _ => d.run.finished_at.unwrap_or(d.run.started_at) * 1000,
                };
                store.update_image(&ImageUpdate {
                    run: id,
                    image: i.name.clone(),
                    state: i.state,
                    host: i.host.clone(),
                    at_ms,
                    error: i.error.clone(),
                    built: i.built.clone(),
                    pushed: i.pushed.clone(),
                })?;
            }
        }
        for chunk in r.logs.chunks(1000) {
            store.append_logs(id, chunk)?;
            done.log_lines += chunk.len();
        }
        let state = if d.run.state == RunState::Running { RunState::Interrupted } else { d.run.state };
        store.finish_run(id, state, d.run.finished_at.unwrap_or(d.run.started_at))?;
        done.runs += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::Sqlite;
    use dockyard_api::{Action, Plan, PlanItem};

    fn item(name: &str) -> PlanItem {
        PlanItem {
            name: name.into(),
            label: format!("r/{name}:1"),
            action: Action::Build,
            in_registry: Some(false),
            in_engine: Some(false),
            selected: true,
            reason: "not built".into(),
            parents: vec![],
            pull: None,
        }
    }

    #[test]
    fn a_store_survives_export_and_import() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sqlite::open(&dir.path().join("a.db")).unwrap();
        a.save_tags("r", "n/a", Some(&["1".into(), "2".into()]), 100).unwrap();
        a.save_digest("r", "n/a", "2", "sha256:x", 101).unwrap();
        a.save_tags("r", "n/gone", None, 102).unwrap();
        let plan = Plan { items: vec![item("a"), item("b")], jobs: 2, ..Default::default() };
        let run = a
            .create_run(&NewRun {
                trigger: "cli:me".into(),
                selection: vec![],
                hosts: vec!["local".into()],
                plan,
                started_at: 200,
                owner: "h:1".into(),
                source: None,
            })
            .unwrap();
        // Sub-second times: an import moved such an end back by a second.
        for (name, state, at) in [("a", ImageState::Building, 200_900), ("a", ImageState::Built, 202_500)] {
            a.update_image(&ImageUpdate {
                run,
                image: name.into(),
                state,
                host: Some("local".into()),
                at_ms: at,
                error: None,
                ..Default::default()
            })
            .unwrap();
        }
        a.update_image(&ImageUpdate {
            run,
            image: "b".into(),
            state: ImageState::Failed,
            host: None,
            at_ms: 204_000,
            error: Some("boom".into()),
            ..Default::default()
        })
        .unwrap();
        let logs: Vec<LogLine> = (1..=3)
            .map(|seq| LogLine { image: "a".into(), seq, at_ms: 200_000 + seq, line: format!("step {seq}") })
            .collect();
        a.append_logs(run, &logs).unwrap();
        a.finish_run(run, RunState::Failed, 205).unwrap();

        let dump = export(&a).unwrap();
        check(&dump).unwrap();
        let b = Sqlite::open(&dir.path().join("b.db")).unwrap();
        let n = import(&b, &dump).unwrap();
        assert_eq!(n, Imported { repositories: 2, runs: 1, log_lines: 3 });
        let again = export(&b).unwrap();
        // The same contents, except the owner-free numbering that is the same here.
        assert_eq!(again, dump);
        let text = serde_json::to_string(&dump).unwrap();
        let mut parsed: Dump = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, dump);
        assert_eq!(shift_to(&mut parsed, 1205), 1000);
        assert_eq!(parsed.runs[0].detail.run.started_at, 1200);
        assert_eq!(parsed.runs[0].logs[0].at_ms, 1_200_001);
    }
}
