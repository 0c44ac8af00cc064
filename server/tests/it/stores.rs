//! One store test suite, run against SQLite and against a real PostgreSQL
//! (a throwaway cluster in a temporary folder, started by the test as the
//! `nobody` user with Debian's `postgresql` 15): the registry index, runs
//! with images and logs, recovery of dead runs, concurrent first opens, a
//! store dump moved from one to the other, and `serve` on PostgreSQL.

use crate::common::*;
use dockyard::store::{self, ImageUpdate, Location, NewRun, Store};
use dockyard_api::{Action, ImageState, LogLine, Plan, PlanItem, RunState};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A PostgreSQL cluster of its own, stopped and removed on drop.
pub struct Pg {
    dir: tempfile::TempDir,
    pub port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl Pg {
    pub fn start() -> Pg {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "{PG_BIN}/initdb is missing: the PostgreSQL tests need Debian's postgresql (scripts/setup installs it; run them through scripts/test)"
        );
        let dir = tempfile::Builder::new().prefix("pg").tempdir_in("/tmp").unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        // PostgreSQL refuses to run as root: the cluster belongs to nobody.
        assert!(Command::new("chown").args(["nobody", &d]).status().unwrap().success());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let as_nobody = |cmd: &str| {
            let out = Command::new("su").args(["-s", "/bin/sh", "nobody", "-c", cmd]).output().unwrap();
            assert!(out.status.success(), "{cmd}: {}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        };
        as_nobody(&format!("{PG_BIN}/initdb -D {d}/data -A trust -U dockyard --no-sync > {d}/initdb.log"));
        as_nobody(&format!(
            "{PG_BIN}/pg_ctl -D {d}/data -l {d}/pg.log -w -o '-k {d} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off' start > /dev/null"
        ));
        Pg { dir, port }
    }

    fn pg_ctl(&self, what: &str) {
        let d = self.dir.path().display();
        let port = self.port;
        let cmd = format!(
            "{PG_BIN}/pg_ctl -D {d}/data -l {d}/pg.log -w -m fast -o '-k {d} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off' {what} > /dev/null"
        );
        let out = Command::new("su").args(["-s", "/bin/sh", "nobody", "-c", &cmd]).output().unwrap();
        assert!(out.status.success(), "pg_ctl {what}: {}", stderr(&out));
    }

    /// Stops the server (an outage).
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts it again after [`Pg::stop`].
    pub fn restart(&self) {
        self.pg_ctl("start");
    }

    /// A new empty database, as a URL.
    pub fn database(&self, name: &str) -> String {
        let out = Command::new(Path::new(PG_BIN).join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "dockyard", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb: {}", stderr(&out));
        format!("postgres://dockyard:not-a-real-secret-7Q@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let d = self.dir.path().display();
        let _ = Command::new("su")
            .args([
                "-s",
                "/bin/sh",
                "nobody",
                "-c",
                &format!("{PG_BIN}/pg_ctl -D {d}/data -m immediate stop > /dev/null 2>&1"),
            ])
            .status();
    }
}

fn item(name: &str, action: Action) -> PlanItem {
    PlanItem {
        name: name.into(),
        label: format!("r.example/ci/{name}:1"),
        action,
        in_registry: Some(false),
        in_engine: Some(false),
        selected: true,
        reason: "test".into(),
        parents: vec![],
        pull: None,
    }
}

fn new_run(owner: &str, at: i64) -> NewRun {
    NewRun {
        trigger: "cli:test".into(),
        selection: vec!["*".into()],
        hosts: vec!["local".into()],
        plan: Plan {
            items: vec![item("a", Action::Build), item("b", Action::Build), item("c", Action::Present)],
            ..Plan::default()
        },
        started_at: at,
        owner: owner.into(),
        source: Some(dockyard_api::RunSource {
            repo: "/srv/ci".into(),
            commit: Some("0123abcd".into()),
            dirty: Some(true),
            command: vec!["dockyard".into(), "build".into(), "--push".into()],
            dockyard: "0.1.0".into(),
        }),
    }
}

fn line(seq: i64, image: &str, text: &str) -> LogLine {
    LogLine { image: image.into(), seq, at_ms: 1_000_000 + seq, line: text.into() }
}

/// What every store must do, the same way.
fn contract(s: &dyn Store) {
    assert_eq!(s.schema_version().unwrap(), 3);
    // The registry index.
    assert_eq!(s.load_tags("r.example", "ci/a").unwrap(), None);
    s.save_tags("r.example", "ci/a", Some(&["1".into(), "2".into()]), 100).unwrap();
    s.save_error("r.example", "ci/b", "503 from the registry", 101).unwrap();
    s.save_tags("r.example", "ci/gone", None, 102).unwrap();
    let a = s.load_tags("r.example", "ci/a").unwrap().unwrap();
    assert_eq!((a.tags, a.fetched_at, a.last_error), (Some(vec!["1".into(), "2".into()]), 100, None));
    let b = s.load_tags("r.example", "ci/b").unwrap().unwrap();
    assert_eq!((b.tags, b.fetched_at, b.last_error.as_deref()), (None, 0, Some("503 from the registry")));
    s.save_error("r.example", "ci/a", "timeout", 103).unwrap();
    let a = s.load_tags("r.example", "ci/a").unwrap().unwrap();
    assert_eq!(
        (a.tags.map(|t| t.len()), a.last_error.as_deref()),
        (Some(2), Some("timeout")),
        "an error keeps the tags"
    );
    s.save_digest("r.example", "ci/a", "1", "sha256:aa", 104).unwrap();
    s.save_digest("r.example", "ci/a", "1", "sha256:bb", 105).unwrap();
    assert_eq!(s.load_digest("r.example", "ci/a", "1").unwrap(), Some(("sha256:bb".into(), 105)));
    assert_eq!(s.load_digest("r.example", "ci/a", "2").unwrap(), None);
    let listed = s.list_registry().unwrap();
    assert_eq!(listed.iter().map(|e| e.repo.as_str()).collect::<Vec<_>>(), ["ci/a", "ci/b", "ci/gone"]);
    assert_eq!(listed[0].digests, vec![("1".to_owned(), "sha256:bb".to_owned(), 105)]);

    // Runs: images in plan order, states, logs in order, duplicates ignored.
    let first = s.create_run(&new_run("elsewhere:1", 1000)).unwrap();
    let second = s.create_run(&new_run("elsewhere:1", 2000)).unwrap();
    assert!(second > first);
    let up = |run, image: &str, state, at_ms, error: Option<&str>| {
        s.update_image(&ImageUpdate {
            run,
            image: image.into(),
            state,
            host: Some("local".into()),
            at_ms,
            error: error.map(Into::into),
            ..Default::default()
        })
        .unwrap()
    };
    up(first, "a", ImageState::Building, 1_000_000, None);
    s.update_image(&ImageUpdate {
        run: first,
        image: "a".into(),
        state: ImageState::Published,
        host: None,
        at_ms: 1_004_000,
        error: None,
        built: Some("sha256:1d".into()),
        pushed: Some("sha256:d1".into()),
    })
    .unwrap();
    up(first, "b", ImageState::Building, 1_001_000, None);
    up(first, "b", ImageState::Failed, 1_002_500, Some("RUN returned 1"));
    s.append_logs(first, &[line(1, "a", "step 1"), line(2, "b", "tab\there and ünïcode"), line(3, "a", "step 2")])
        .unwrap();
    // A sequence number taken twice is an error, never a line dropped
    // silently; nothing of that batch is stored.
    assert!(s.append_logs(first, &[line(4, "b", "nul \0 byte"), line(3, "a", "a duplicate seq")]).is_err());
    s.append_logs(first, &[line(4, "b", "nul \0 byte")]).unwrap();
    s.finish_run(first, RunState::Failed, 1005).unwrap();

    let d = s.get_run(first).unwrap().unwrap();
    assert_eq!(d.run.state, RunState::Failed);
    assert_eq!(d.run.finished_at, Some(1005));
    assert_eq!(d.run.selection, vec!["*".to_owned()]);
    let states: Vec<(String, ImageState, Option<i64>)> =
        d.images.iter().map(|i| (i.name.clone(), i.state, i.duration_ms)).collect();
    assert_eq!(
        states,
        [
            ("a".into(), ImageState::Published, Some(4000)),
            ("b".into(), ImageState::Failed, Some(1500)),
            ("c".into(), ImageState::Present, None)
        ]
    );
    assert_eq!(d.images[1].error.as_deref(), Some("RUN returned 1"));
    assert_eq!(d.plan.items.len(), 3);
    // What it made, and where it came from.
    assert_eq!((d.images[0].built.as_deref(), d.images[0].pushed.as_deref()), (Some("sha256:1d"), Some("sha256:d1")));
    assert_eq!((d.images[1].built.as_deref(), d.images[1].pushed.as_deref()), (None, None));
    assert_eq!(d.source, new_run("", 0).source);
    // Manifests are cached by digest.
    let facts = dockyard_api::ManifestFacts {
        digest: "sha256:m1".into(),
        layers: vec![dockyard_api::Blob { digest: "sha256:l1".into(), size: 42 }],
        labels: [("k".to_owned(), "v".to_owned())].into(),
        ..Default::default()
    };
    assert_eq!(s.load_manifest("sha256:m1").unwrap(), None);
    s.save_manifest(&facts).unwrap();
    s.save_manifest(&facts).unwrap();
    assert_eq!(s.load_manifest("sha256:m1").unwrap(), Some(facts));
    let logs = s.logs(first, None, 0, 100).unwrap();
    assert_eq!(logs.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(logs[2].line, "step 2");
    assert_eq!(logs[1].line, "tab\there and ünïcode");
    assert!(logs[3].line.starts_with("nul "), "{:?}", logs[3].line);
    assert_eq!(s.logs(first, Some("a"), 1, 100).unwrap().iter().map(|l| l.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(s.logs(first, None, 0, 2).unwrap().len(), 2);

    // Newest first; counts per image state.
    let runs = s.list_runs(None, 10).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
    let counts = |pairs: &[(ImageState, usize)]| pairs.iter().copied().collect::<std::collections::BTreeMap<_, _>>();
    let first_counts = counts(&[(ImageState::Published, 1), (ImageState::Failed, 1), (ImageState::Present, 1)]);
    let second_counts = counts(&[(ImageState::Waiting, 2), (ImageState::Present, 1)]);
    assert_eq!((&runs[0].counts, &runs[1].counts), (&second_counts, &first_counts));
    assert_eq!(d.run.counts, first_counts);
    let newest = s.list_runs(None, 1).unwrap();
    assert_eq!(newest.iter().map(|r| (r.id, &r.counts)).collect::<Vec<_>>(), [(second, &second_counts)]);
    // The page older than the newest: the first run, with its own counts.
    let older = s.list_runs(Some(second), 10).unwrap();
    assert_eq!(older.iter().map(|r| (r.id, &r.counts)).collect::<Vec<_>>(), [(first, &first_counts)]);
    assert!(s.list_runs(Some(first), 10).unwrap().is_empty());
    assert!(s.get_run(second + 100).unwrap().is_none());

    // A run whose owner died is interrupted; its unfinished images too.
    up(second, "a", ImageState::Building, 2_000_000, None);
    assert_eq!(s.interrupt_dead_runs(&|_| true, 2001).unwrap(), 0);
    assert_eq!(s.interrupt_dead_runs(&|o| o != "elsewhere:1", 2002).unwrap(), 1);
    let d = s.get_run(second).unwrap().unwrap();
    assert_eq!(d.run.state, RunState::Interrupted);
    assert_eq!(
        d.images.iter().map(|i| i.state).collect::<Vec<_>>(),
        [ImageState::Interrupted, ImageState::Interrupted, ImageState::Present]
    );

    // An image's builds, newest first, without the runs that left it alone.
    let builds = s.image_builds("a", 10).unwrap();
    assert_eq!(
        builds.iter().map(|b| (b.run, b.state)).collect::<Vec<_>>(),
        [(second, ImageState::Interrupted), (first, ImageState::Published)]
    );
    assert!(s.image_builds("c", 10).unwrap().is_empty());
}

#[test]
fn sqlite_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let s = store::open(&Location::Sqlite(dir.path().join("s.db"))).unwrap();
    contract(s.as_ref());
}

#[test]
fn postgres_keeps_the_same_contract_and_moves_history_both_ways() {
    let pg = Pg::start();
    let url = pg.database("contract");
    let s = store::open(&Location::parse(&url)).unwrap();
    assert!(!s.describe().contains("not-a-real-secret"), "{}", s.describe());
    assert_eq!(s.describe(), format!("postgres://dockyard@127.0.0.1:{}/contract", pg.port));
    contract(s.as_ref());

    // Concurrent first opens of a new database: the migration runs once.
    let fresh = pg.database("concurrent");
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = fresh.clone();
            std::thread::spawn(move || store::open(&Location::parse(&url)).map(|s| s.schema_version()))
        })
        .collect();
    for o in opens {
        assert_eq!(o.join().unwrap().unwrap().unwrap(), 3);
    }

    // The history moves from PostgreSQL to SQLite and back, unchanged.
    let dump = store::dump::export(s.as_ref()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lite = store::open(&Location::Sqlite(dir.path().join("moved.db"))).unwrap();
    store::dump::import(lite.as_ref(), &dump).unwrap();
    let back = store::dump::export(lite.as_ref()).unwrap();
    let (b, d) = (serde_json::to_string_pretty(&back).unwrap(), serde_json::to_string_pretty(&dump).unwrap());
    assert_eq!(b, d);
    let again = pg.database("again");
    let s2 = store::open(&Location::parse(&again)).unwrap();
    store::dump::import(s2.as_ref(), &back).unwrap();
    assert_eq!(
        serde_json::to_value(store::dump::export(s2.as_ref()).unwrap()).unwrap(),
        serde_json::to_value(&dump).unwrap()
    );

    // A wrong port is a clear error that does not show the password.
    let err = store::open(&Location::parse("postgres://u:hunter2-secret@127.0.0.1:1/x")).err().unwrap().to_string();
    assert!(err.contains("postgres://u@127.0.0.1:1/x") && !err.contains("hunter2"), "{err}");
}

/// Two `serve` processes on one PostgreSQL: a run recorded through one
/// is in the other's history and streams from it (the live view reads
/// the store).
#[test]
fn two_servers_share_one_postgres() {
    let pg = Pg::start();
    let url = pg.database("shared");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let repo = repo.to_str().unwrap();
    let one = Server::start(&["--repo", repo, "--store", &url]);
    let two = Server::start(&["--repo", repo, "--store", &url]);
    let s = store::open(&Location::parse(&url)).unwrap();
    let id = s.create_run(&new_run(&store::owner(), 3000)).unwrap();
    s.append_logs(id, &[line(1, "a", "first line")]).unwrap();
    for server in [&one, &two] {
        let (status, _, body) = server.get("/api/v1/builds");
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["runs"][0]["id"], id);
        assert_eq!(v["runs"][0]["state"], "running");
        let (_, _, logs) = server.get(&format!("/api/v1/builds/{id}/logs"));
        assert!(logs.contains("first line"), "{logs}");
        let (_, _, overview) = server.get("/api/v1/overview");
        assert!(overview.contains(&format!("postgres://dockyard@127.0.0.1:{}/shared", pg.port)), "{overview}");
        assert!(!overview.contains("not-a-real-secret"));
    }
    // Finished through the store: both see it.
    s.finish_run(id, RunState::Succeeded, 3001).unwrap();
    for server in [&one, &two] {
        let (_, _, body) = server.get(&format!("/api/v1/builds/{id}"));
        assert!(body.contains("\"succeeded\""), "{body}");
    }
    let _keep: Arc<dyn Store> = s;
}

/// A build writes its history while other processes open the same file to
/// read it (the dashboard, `dockyard builds show` in a loop). Neither side
/// may give up with "locked": every open and every write waits its turn.
/// (Regression: each open ran its migration as a write, and a build lost
/// the race within seconds.)
#[test]
fn sqlite_writes_go_on_while_other_processes_open_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (p, stop) = (path.to_str().unwrap().to_owned(), stop.clone());
            std::thread::spawn(move || {
                let mut opened = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = command(&["builds", "show", "1", "--format", "json", "--store", &p]).output().unwrap();
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(out.status.success() || err.contains("no run 1"), "builds show: {err}");
                    opened += 1;
                }
                opened
            })
        })
        .collect();
    // The readers come first and find no file, as in a test that polls
    // before the build has begun.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let s = store::open(&Location::Sqlite(path.clone())).unwrap();
    let run = s.create_run(&new_run("test:1", 1)).unwrap();
    let started = std::time::Instant::now();
    let mut seq = 0;
    while started.elapsed() < std::time::Duration::from_secs(8) {
        for (i, state) in [ImageState::Building, ImageState::Built].into_iter().enumerate() {
            let u = ImageUpdate {
                run,
                image: "a".into(),
                state,
                host: Some("one".into()),
                at_ms: seq * 10 + i as i64,
                error: None,
                ..Default::default()
            };
            s.update_image(&u).unwrap();
        }
        let lines: Vec<_> = (0..20).map(|k| line(seq * 20 + k + 1, "a", "step")).collect();
        s.append_logs(run, &lines).unwrap();
        // A second writer opens the file afresh, as each `dockyard build` does.
        let fresh = store::open(&Location::Sqlite(path.clone())).unwrap();
        fresh.save_tags("r.example", "ci/a", Some(&["1".into()]), seq).unwrap();
        seq += 1;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(opened >= 10, "the readers opened the file only {opened} times");
    s.finish_run(run, RunState::Succeeded, 2).unwrap();
    assert_eq!(s.logs(run, None, 0, 100_000).unwrap().len() as i64, seq * 20);
}

/// The server drops every dockyard connection (a restart, an operator's
/// `pg_terminate_backend`): the store connects again instead of failing
/// from then on. The call that meets the dead connection may fail; the
/// next succeeds and sees what was written before.
#[test]
fn postgres_connects_again_after_the_server_drops_it() {
    let pg = Pg::start();
    let url = pg.database("dropped");
    let s = store::open(&Location::parse(&url)).unwrap();
    let id = s.create_run(&new_run("elsewhere:1", 4000)).unwrap();
    let psql = Command::new(Path::new(PG_BIN).join("psql"))
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "dockyard", "-d", "dropped", "-Atc"])
        .arg("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'dockyard'")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "1", "{}", stderr(&psql));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let first = s.list_runs(None, 5);
    if let Err(e) = &first {
        assert!(e.to_string().contains("postgres://dockyard@127.0.0.1"), "{e}");
        assert!(!e.to_string().contains("not-a-real-secret"), "{e}");
    }
    let runs = s.list_runs(None, 5).expect("connected again");
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
}

/// A repository on `registry`: the image `base` 1.0 and one pin to it.
fn one_image_repo(registry: &str) -> tempfile::TempDir {
    tree(&[
        ("dockerfiles/config.yaml", &format!("registry: {registry}\nnamespace: ci\n")),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["1.0"])),
        ("jjb/a.yaml", &format!("- job:\n    image: {registry}/ci/base:1.0\n")),
    ])
}

/// Issue 23, items 1 and 2: with the store named by `$DOCKYARD_STORE` or
/// the operator file's `database_env` (not `--store`), the commands that
/// open it inside their runtime panicked ("Cannot start a runtime from
/// within a runtime", exit 101), and dropping the client at exit panicked
/// after a successful command. Every route must answer without a panic.
#[test]
fn postgres_by_every_route_opens_and_closes_without_a_panic() {
    let pg = Pg::start();
    let url = pg.database("routes");
    let repo = one_image_repo("127.0.0.1:9");
    let r = repo.path().to_str().unwrap();
    // serve with the store from the environment answers the history.
    let server = Server::start_env(&["--repo", r], &[("DOCKYARD_STORE", url.as_str())]);
    let (status, _, body) = server.get("/api/v1/builds");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = server.get("/builds");
    assert_eq!(status, 200);
    drop(server);
    let by_env = |args: &[&str]| command(args).env("DOCKYARD_STORE", &url).output().unwrap();
    let by_operator = |args: &[&str]| command(args).env("DATABASE_FOR_TEST", &url).output().unwrap();
    let cases: [(&str, &[&str]); 5] = [
        ("registry", &["registry", "--repo", r, "--offline"]),
        ("lint --registry", &["lint", "--repo", r, "--registry", "--offline"]),
        ("builds", &["builds"]),
        ("build --dry-run", &["build", "--repo", r, "--dry-run", "--offline"]),
        ("pull", &["pull", "--repo", r, "--offline"]),
    ];
    let mut _op = None;
    for (route, run) in
        [("$DOCKYARD_STORE", &by_env as &dyn Fn(&[&str]) -> std::process::Output), ("database_env", &by_operator)]
    {
        if route == "database_env" {
            _op = Some(operator_file("[store]\ndatabase_env = \"DATABASE_FOR_TEST\"\n"));
        }
        for (name, args) in &cases {
            let out = run(args);
            let err = stderr(&out);
            assert!(!err.contains("panicked"), "{name} via {route} panicked: {err}");
            // 69: an engine that cannot be reached (build, pull), as the README says.
            assert!(matches!(out.status.code(), Some(0..=2 | 69)), "{name} via {route}: {:?} {err}", out.status);
        }
        // The store it used is the PostgreSQL one.
        let out = run(&["builds", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

/// Issue 23, items 3 and 4: while PostgreSQL is down, the overview said
/// `store ✓ ok` and "No builds yet", /metrics kept the store up, the live
/// stream said "no such run", and the first request after it came back got
/// a 500 from a stale pooled connection.
#[test]
fn a_postgres_outage_shows_as_an_error_everywhere_and_the_store_comes_back() {
    let pg = Pg::start();
    let url = pg.database("outage");
    let repo = one_image_repo("reg.example");
    let s = store::open(&Location::parse(&url)).unwrap();
    let done = s.create_run(&new_run("elsewhere:1", 2)).unwrap();
    s.finish_run(done, RunState::Succeeded, 3).unwrap();
    let live = s.create_run(&new_run(&store::owner(), 4)).unwrap();
    drop(s);
    let server = Server::start_env(&["--repo", repo.path().to_str().unwrap()], &[("DOCKYARD_STORE", url.as_str())]);
    let store_health = |o: &serde_json::Value| {
        o["sources"].as_array().unwrap().iter().find(|s| s["name"] == "store").unwrap()["health"].clone()
    };
    let overview = || serde_json::from_str::<serde_json::Value>(&server.get("/api/v1/overview").2).unwrap();
    assert_eq!(store_health(&overview()), "ok");

    pg.stop();
    let o = overview();
    assert_eq!(store_health(&o), "error", "{o}");
    assert!(o["last_builds_error"].as_str().unwrap().contains("unreachable"), "{o}");
    let (_, _, page) = server.get("/");
    assert!(page.contains("The build history cannot be read") && !page.contains("No builds yet"), "{page}");
    let (status, _, _) = server.get("/api/v1/builds");
    assert!(status >= 500, "the history answered {status} with the store down");
    let (_, _, page) = server.get("/builds");
    assert!(!page.contains("No builds"), "the builds page says there are none: {page}");
    let (_, _, metrics) = server.get("/metrics");
    assert!(metrics.contains("dockyard_source_up{source=\"store\"} 0"), "{metrics}");
    assert!(!metrics.contains("dockyard_runs{"), "{metrics}");
    let (status, _, events) = server.get(&format!("/api/v1/builds/{live}/events"));
    assert_eq!(status, 200);
    assert!(events.contains("event: error") && events.contains("retrying") && events.contains("retry:"), "{events}");
    assert!(!events.contains("no such run"), "{events}");

    pg.restart();
    // The very first request after the outage is answered.
    let (status, _, body) = server.get("/api/v1/builds");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("\"id\": {done}")) || body.contains(&format!("\"id\":{done}")), "{body}");
    assert_eq!(store_health(&overview()), "ok");
}

/// Issue 23, item 3: PostgreSQL stopped for a few seconds in the middle of
/// a build lost log lines, recorded a published image as skipped inside a
/// succeeded run, or left the run running for good. The history must agree
/// with what the registry and the engine hold, with every log line, in order.
#[test]
fn a_postgres_outage_mid_build_delays_the_history_and_loses_none_of_it() {
    use crate::engines::{Dockerd, busybox_repo, image};
    let pg = Pg::start();
    let url = pg.database("midbuild");
    let (engine, reg) = (Dockerd::start(), crate::regsupport::Registry::start(false));
    let dir = busybox_repo(&reg.host);
    let body = "RUN sleep 3; for i in $(seq 1 30); do echo line-$i; done\n";
    image(&dir.path().join("dockerfiles"), "x1", "1", &["base"], body, &[]);
    let r = dir.path().to_str().unwrap();
    let mut child = command(&["build", "--repo", r, "--push", "-j", "1"])
        .env("DOCKYARD_STORE", &url)
        .env("DOCKER_HOST", &engine.host)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let watcher = store::open(&Location::parse(&url)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let building = watcher
            .get_run(1)
            .ok()
            .flatten()
            .is_some_and(|d| d.images.iter().any(|i| i.name == "x1" && i.state == ImageState::Building));
        if building {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "x1 never started building");
        assert!(child.try_wait().unwrap().is_none(), "the build ended before x1 was built");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(watcher);
    pg.stop();
    std::thread::sleep(std::time::Duration::from_secs(6));
    pg.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(150);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the build did not end after the outage");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // What the registry holds.
    for (repo, tag) in [("ci/base", "1.0"), ("ci/x1", "1")] {
        let (status, _, body) = http(&format!("http://{}/v2/{repo}/tags/list", reg.host), "GET", &[], "");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&format!("\"{tag}\"")), "{repo}: {body}");
    }
    // The history agrees, and has every line.
    let s = store::open(&Location::parse(&url)).unwrap();
    let detail = s.get_run(1).unwrap().unwrap();
    assert_eq!(detail.run.state, RunState::Succeeded, "{detail:?}");
    for i in &detail.images {
        assert_eq!(i.state, ImageState::Published, "{}: {i:?}", i.name);
    }
    let x1 = detail.images.iter().find(|i| i.name == "x1").unwrap();
    assert!(x1.duration_ms.unwrap_or(0) >= 3000, "x1 took {:?}", x1.duration_ms);
    let logs = s.logs(1, None, 0, 100_000).unwrap();
    let seqs: Vec<i64> = logs.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=logs.len() as i64).collect::<Vec<_>>(), "log lines are missing");
    let text: Vec<&str> = logs.iter().map(|l| l.line.as_str()).collect();
    assert!(text.iter().any(|l| l.contains("line-30")), "{text:?}");
    assert!(!text.iter().any(|l| l.contains("lost")), "{text:?}");
}

/// Issue 23, item 2: `build --hosts all` on PostgreSQL exited 134 (an abort
/// as the client was dropped) after a run stored as succeeded. The exit
/// code is the run's, and the history agrees with the registry.
#[test]
fn a_build_over_two_engines_on_postgres_exits_as_its_run_ended() {
    use crate::engines::{Dockerd, busybox_repo, image};
    let pg = Pg::start();
    let url = pg.database("twohosts");
    let (one, two, reg) = (Dockerd::start(), Dockerd::start(), crate::regsupport::Registry::start(false));
    let dir = busybox_repo(&reg.host);
    for n in ["y1", "y2"] {
        image(&dir.path().join("dockerfiles"), n, "1", &["base"], &format!("RUN echo {n} > /{n}\n"), &[]);
    }
    let _operator = operator_file(&format!(
        "[[hosts]]\nname = \"one\"\nurl = \"{}\"\n\n[[hosts]]\nname = \"two\"\nurl = \"{}\"\n",
        one.host, two.host
    ));
    let r = dir.path().to_str().unwrap();
    let dry = command(&["build", "--repo", r, "--hosts", "all", "--push", "-j", "1", "--dry-run"])
        .env("DOCKYARD_STORE", &url)
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    // -j is per engine: two engines, two at once.
    assert!(stdout(&dry).contains("; 2 at once, publishing"), "{}", stdout(&dry));
    let out = command(&["build", "--repo", r, "--hosts", "all", "--push", "-j", "1"])
        .env("DOCKYARD_STORE", &url)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let shown = command(&["builds", "show", "1", "--format", "json"]).env("DOCKYARD_STORE", &url).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["run"]["state"], "succeeded", "{v}");
    for (name, tag) in [("base", "1.0"), ("y1", "1"), ("y2", "1")] {
        let item = v["images"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap();
        assert_eq!(item["state"], "published", "{item}");
        let (status, _, body) = http(&format!("http://{}/v2/ci/{name}/tags/list", reg.host), "GET", &[], "");
        assert!(status == 200 && body.contains(&format!("\"{tag}\"")), "{name}: {body}");
    }
}

/// The run recorder under concurrency: writers that log into one run at
/// once, 10,000 lines in all, through the service's one sequence owner.
/// Every line is stored, once, numbered 1..=10000 without a gap, and each
/// writer's lines keep their order.
fn recorder_keeps_every_line(location: &str) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let flags = dockyard::service::RepoFlags { repo: Some(repo), ..Default::default() };
    let service = dockyard::service::Service::new(dockyard::service::RepoConfig::resolve(&flags).unwrap());
    service.with_store(&Location::parse(location)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let run = rt.block_on(async {
        let store = service.store().unwrap();
        store.call(|s| s.create_run(&new_run(&dockyard::store::owner(), 1000))).await.unwrap()
    });
    const WRITERS: usize = 10;
    const CALLS: usize = 100;
    const LINES: usize = 10;
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let service = service.clone();
            tasks.spawn(async move {
                for c in 0..CALLS {
                    let lines = (0..LINES).map(|l| format!("{w} {}", c * LINES + l)).collect();
                    service.log_to_run(run, &format!("writer{w}"), lines).await;
                }
            });
        }
        while let Some(t) = tasks.join_next().await {
            t.unwrap();
        }
    });
    let store = dockyard::store::open(&Location::parse(location)).unwrap();
    let logs = store.logs(run, None, 0, usize::MAX).unwrap();
    assert_eq!(logs.len(), WRITERS * CALLS * LINES);
    assert_eq!(logs.iter().map(|l| l.seq).collect::<Vec<_>>(), (1..=10_000).collect::<Vec<i64>>());
    for w in 0..WRITERS {
        let mine: Vec<usize> = logs
            .iter()
            .filter(|l| l.image == format!("writer{w}"))
            .map(|l| l.line.split(' ').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(mine, (0..CALLS * LINES).collect::<Vec<_>>(), "writer {w}'s lines are out of order or missing");
    }
}

#[test]
fn the_recorder_keeps_10000_concurrent_lines_in_order_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    recorder_keeps_every_line(&format!("sqlite:{}", dir.path().join("s.db").display()));
}

#[test]
fn the_recorder_keeps_10000_concurrent_lines_in_order_on_postgres() {
    let pg = Pg::start();
    recorder_keeps_every_line(&pg.database("recorder"));
}

/// Polls `f` every 20 ms until it is true or `secs` have passed.
fn within(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The history's version, which lets a server answer the run list from
/// memory: on PostgreSQL it changes when another process writes (LISTEN /
/// NOTIFY) and is unknown while the database is gone; on SQLite it changes
/// with the files.
#[test]
fn the_history_version_changes_with_every_writer_and_is_unknown_without_the_store() {
    let pg = Pg::start();
    let url = pg.database("version");
    let (reader, writer) = (store::open(&Location::parse(&url)).unwrap(), store::open(&Location::parse(&url)).unwrap());
    assert!(within(10, || reader.history_version().is_some()), "the listener never listened");
    let before = reader.history_version();
    let id = writer.create_run(&new_run(&store::owner(), 4000)).unwrap();
    assert!(within(5, || reader.history_version() != before), "a run created elsewhere did not change the version");
    let before = reader.history_version();
    writer.finish_run(id, RunState::Succeeded, 4001).unwrap();
    assert!(within(5, || reader.history_version() != before), "a finished run did not change the version");
    // A two-server view of the same thing: a server that answered the list
    // from memory sees a run another process recorded.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let server = Server::start(&["--repo", repo.to_str().unwrap(), "--store", &url]);
    let runs = |server: &Server| {
        let (status, _, body) = server.get("/api/v1/builds");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["runs"].as_array().unwrap().len()
    };
    assert_eq!(runs(&server), 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(runs(&server), 1);
    writer.create_run(&new_run(&store::owner(), 4002)).unwrap();
    assert!(within(5, || runs(&server) == 2), "the server kept an old run list");
    pg.stop();
    assert!(within(5, || reader.history_version().is_none()), "the version outlived the database");
    let (status, _, _) = server.get("/api/v1/builds");
    assert!(status >= 500, "{status}");

    // SQLite: the files say when anyone wrote.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let (reader, writer) =
        (store::open(&Location::Sqlite(path.clone())).unwrap(), store::open(&Location::Sqlite(path)).unwrap());
    assert!(within(2, || reader.history_version().is_some()));
    let before = reader.history_version();
    writer.create_run(&new_run(&store::owner(), 5000)).unwrap();
    // Just written: unknown until the file's clock tick has passed.
    assert_ne!(reader.history_version(), before);
    assert!(within(2, || reader.history_version().is_some_and(|v| Some(v) != before)));
}

/// A damaged JSON column is an error of the read, on the command line and
/// in the API, never a run with an empty selection or plan (they were
/// read as defaults).
#[test]
fn a_damaged_json_column_is_an_error_not_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let s = store::open(&Location::Sqlite(path.clone())).unwrap();
    let id = s.create_run(&new_run(&store::owner(), 3000)).unwrap();
    s.finish_run(id, RunState::Succeeded, 3001).unwrap();
    drop(s);
    let db = path.to_str().unwrap();
    let (list, show) = (
        || command(&["builds", "--store", db, "--format", "json"]).output().unwrap(),
        || command(&["builds", "show", &id.to_string(), "--store", db, "--format", "json"]).output().unwrap(),
    );
    assert_eq!(list().status.code(), Some(0));
    for (column, value) in [("selection", "[\"*\""), ("plan", "{\"items\": 7}")] {
        let py = format!(
            "import sqlite3; c = sqlite3.connect({db:?}); c.execute(\"UPDATE runs SET {column} = ?\", ({value:?},)); c.commit()"
        );
        assert!(Command::new("python3").args(["-c", &py]).status().unwrap().success());
        let out = show();
        assert_ne!(out.status.code(), Some(0), "{column}: {}", stdout(&out));
        assert!(stderr(&out).contains("damaged JSON"), "{column}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    let out = list();
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let server = Server::start(&["--repo", repo.to_str().unwrap(), "--store", db]);
    let (status, _, body) = server.get("/api/v1/builds");
    assert!(status >= 500 && body.contains("damaged JSON"), "{status}: {body}");
    let (_, _, page) = server.get("/builds");
    assert!(page.contains("banner error") && page.contains("damaged JSON"), "{page}");
}
