//! One service under the CLI and the dashboard: the same bytes from both,
//! a snapshot that follows the files and survives a broken one, a store
//! that migrates and reports its failures, and the defects a newcomer found.

use crate::common::*;
use crate::regsupport::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const SNAPSHOTS: [&str; 4] = [
    "integration-config",
    "integration-config-history/abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b",
    "integration-config-history/63c70cb5005908cb544291824fe961c0d82e5db5",
    "integration-config-history/e6ee721afc4a6275137d48589ce873bd10b65f7a",
];

#[test]
fn cli_and_api_give_byte_equal_json_on_the_corpus_snapshots() {
    for snap in SNAPSHOTS {
        let repo = corpus().join(snap);
        let repo = repo.to_str().unwrap();
        let store = tempfile::tempdir().unwrap();
        let db = store.path().join("s.db");
        let db = db.to_str().unwrap();
        let server = Server::start(&["--repo", repo, "--registry", "--offline", "--store", db]);
        let cases: [(&[&str], &str); 5] = [
            (&["lint", "--registry", "--offline", "--store", db], "/api/v1/pins"),
            (&["catalog"], "/api/v1/catalog"),
            (&["graph"], "/api/v1/graph"),
            (&["registry", "--offline", "--store", db], "/api/v1/registry"),
            (&["pull-script"], "/api/v1/pull-script"),
        ];
        for (args, path) in cases {
            let mut full = args.to_vec();
            full.extend(["--repo", repo]);
            if path != "/api/v1/pull-script" {
                full.extend(["--format", "json"]);
            }
            let cli = stdout(&dockyard(&full));
            let (status, headers, body) = server.get(path);
            assert_eq!(status, 200, "{snap} {path}: {body}");
            assert!(header(&headers, "x-dockyard-snapshot").is_some(), "every response names its snapshot");
            assert!(!cli.is_empty());
            if cli != body {
                let at = cli.lines().zip(body.lines()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "{snap}: `dockyard {}` and GET {path} differ at line {}: {:?} vs {:?}",
                    full.join(" "),
                    at + 1,
                    cli.lines().nth(at),
                    body.lines().nth(at)
                );
            }
        }
    }
}

/// A repository with one image and a pin file.
fn repo(pins: &str) -> tempfile::TempDir {
    tree(&[
        ("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\n"),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["2.0", "1.0"])),
        ("jjb/jobs.yaml", pins),
    ])
}

fn pins(server: &Server) -> (u64, Value) {
    let (status, headers, body) = server.get("/api/v1/pins");
    assert_eq!(status, 200, "{body}");
    let generation = header(&headers, "x-dockyard-snapshot").unwrap().parse().unwrap();
    (generation, serde_json::from_str(&body).unwrap())
}

#[test]
fn editing_a_pin_file_changes_the_api_within_two_seconds() {
    let repo = repo("- job:\n    image: reg.example/ci/base:2.0\n");
    let server = Server::start(&["--repo", repo.path().to_str().unwrap()]);
    let (gen0, before) = pins(&server);
    assert_eq!(before["summary"]["by_status"]["stale"], 0);
    std::fs::write(repo.path().join("jjb/jobs.yaml"), "- job:\n    image: reg.example/ci/base:1.0\n").unwrap();
    let changed = Instant::now();
    loop {
        let (generation, now) = pins(&server);
        if now["summary"]["by_status"]["stale"] == 1 {
            assert!(generation > gen0, "a new snapshot, a new generation");
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(2), "the API did not follow the file within 2 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_half_written_yaml_file_keeps_the_last_good_snapshot_and_reports_the_error() {
    let repo = repo("- job:\n    image: reg.example/ci/base:1.0\n");
    let server = Server::start(&["--repo", repo.path().to_str().unwrap()]);
    let (gen0, before) = pins(&server);
    assert_eq!(before["summary"]["by_status"]["stale"], 1);
    // Cut off inside a quoted string.
    std::fs::write(
        repo.path().join("jjb/jobs.yaml"),
        "- job:\n    image: reg.example/ci/base:2.0\n    x: \"unterminated\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let overview = loop {
        let (_, _, body) = server.get("/api/v1/overview");
        let o: Value = serde_json::from_str(&body).unwrap();
        if !o["pending_error"].is_null() {
            break o;
        }
        assert!(Instant::now() < deadline, "no pending error reported: {o}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(overview["pending_error"]["file"], "jjb/jobs.yaml");
    assert!(overview["pending_error"]["line"].as_u64().is_some());
    let (generation, after) = pins(&server);
    assert_eq!(generation, gen0, "the last good snapshot stays");
    assert_eq!(after, before);
    // Finishing the file clears the error.
    std::fs::write(repo.path().join("jjb/jobs.yaml"), "- job:\n    image: reg.example/ci/base:2.0\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while pins(&server).1["summary"]["by_status"]["stale"] != 0 {
        assert!(Instant::now() < deadline, "the fixed file was not picked up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, _, body) = server.get("/api/v1/overview");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["pending_error"].is_null());
}

/// The schema of the registry store before schema versions existed.
const OLD_SCHEMA: &str = "
CREATE TABLE registry_tags (registry TEXT NOT NULL, repo TEXT NOT NULL, tags TEXT, fetched_at INTEGER NOT NULL,
    last_error TEXT, error_at INTEGER, PRIMARY KEY (registry, repo));
CREATE TABLE registry_digests (registry TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
    fetched_at INTEGER NOT NULL, PRIMARY KEY (registry, repo, tag));
INSERT INTO registry_tags VALUES ('127.0.0.1:9', 'ns/app', '[\"1.0\",\"1.1\"]', 1700000000, NULL, NULL);
";

fn sqlite(db: &Path, sql: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.executescript(sys.argv[2]) if ';' in sys.argv[2] and not sys.argv[2].lstrip().upper().startswith('SELECT') else c.execute(sys.argv[2]); print('\\n'.join('|'.join(map(str,x)) for x in (r.fetchall() if hasattr(r,'fetchall') else []))); c.commit()"])
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_database_in_the_earlier_schema_migrates_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    sqlite(&db, OLD_SCHEMA);
    let cat = catalog("127.0.0.1:9", &[("app", "1.1")], "");
    let out = dockyard(&[
        "registry",
        cat.path().to_str().unwrap(),
        "--offline",
        "--format",
        "json",
        "--store",
        db.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = &report["registries"][0]["entries"][0];
    assert_eq!((app["tags"].clone(), app["published"].clone()), (serde_json::json!(["1.0", "1.1"]), Value::Bool(true)));
    assert_eq!(sqlite(&db, "SELECT version FROM dockyard_schema"), "3");
    assert_eq!(sqlite(&db, "SELECT count(*) FROM runs"), "0", "the build history tables exist");
}

#[test]
fn a_damaged_database_is_an_error_not_an_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    std::fs::write(&db, "this is not a database at all, just some text long enough to fill a header page").unwrap();
    let cat = catalog("127.0.0.1:9", &[("app", "1.1")], "");
    let out = dockyard(&["registry", cat.path().to_str().unwrap(), "--offline", "--store", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("damaged or not a dockyard database"), "{}", stderr(&out));
    // A database from a newer dockyard is refused, not rewritten.
    let newer = dir.path().join("newer.db");
    sqlite(&newer, "CREATE TABLE dockyard_schema (version INTEGER); INSERT INTO dockyard_schema VALUES (99);");
    let out = dockyard(&["registry", cat.path().to_str().unwrap(), "--offline", "--store", newer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("schema version 99"), "{}", stderr(&out));
}

#[test]
fn two_registry_runs_on_one_new_database_both_finish() {
    let reg = Registry::start(false);
    push(&reg.host, "ns/a", &["1"], false);
    push(&reg.host, "ns/b", &["2"], false);
    let cat = catalog(&reg.host, &[("a", "1"), ("b", "2")], "");
    let db = store_path(&cat);
    for round in 0..3 {
        let children: Vec<_> = (0..4)
            .map(|_| {
                command(&["registry", cat.path().to_str().unwrap(), "--format", "json", "--max-age", "0", "--store"])
                    .arg(&db)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "round {round}: {}", stderr(&out));
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let published: Vec<&Value> =
                report["registries"][0]["entries"].as_array().unwrap().iter().map(|e| &e["published"]).collect();
            assert_eq!(published, [&Value::Bool(true), &Value::Bool(true)]);
        }
    }
}

#[test]
fn a_panic_in_one_render_stays_with_that_image() {
    let dir = tree(&[
        ("config.yaml", "registry: r\nnamespace: n\n"),
        ("a/Dockerfile.template", "FROM a\n"),
        ("a/changelog", &changelog("a", &["1"])),
        ("b/Dockerfile.template", "FROM b\n"),
        ("b/changelog", &changelog("b", &["1"])),
        ("c/Dockerfile.template", "FROM c\n"),
        ("c/changelog", &changelog("c", &["1"])),
    ]);
    let out = command(&["render", dir.path().to_str().unwrap(), "--format", "json"])
        .env("DOCKYARD_FAULT_RENDER_PANIC", "b")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["images"]["a"]["dockerfile"], "FROM a");
    assert_eq!(r["images"]["c"]["dockerfile"], "FROM c");
    assert_eq!(r["images"]["b"]["dockerfile"], Value::Null);
    assert!(r["images"]["b"]["error"].as_str().unwrap().contains("internal error while rendering"), "{r}");
}

#[test]
fn pin_paths_resolve_against_the_repository_and_the_catalog_json_has_both_parent_kinds() {
    let repo = tree(&[
        ("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\n"),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["2.0", "1.0"])),
        ("dockerfiles/child/Dockerfile.template", "FROM {{ 'base' | image_tag }}\n"),
        ("dockerfiles/child/changelog", &changelog("child", &["1"])),
        ("dockerfiles/child/control", "Package: child\nDepends: base\n"),
        ("zuul.d/jobs.yaml", "image: reg.example/ci/base:1.0\n"),
    ]);
    // Run from elsewhere: `--pins zuul.d` is the repository's.
    let out = command(&["lint", "--repo", repo.path().to_str().unwrap(), "--pins", "zuul.d", "--format", "json"])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["pins"][0]["file"], "zuul.d/jobs.yaml");
    let out = dockyard(&["catalog", "--repo", repo.path().to_str().unwrap(), "--format", "json"]);
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let child = c["images"].as_array().unwrap().iter().find(|i| i["name"] == "child").unwrap();
    assert_eq!(
        (child["depends"].clone(), child["parents"].clone()),
        (serde_json::json!(["base"]), serde_json::json!(["base"]))
    );
    let base = c["images"].as_array().unwrap().iter().find(|i| i["name"] == "base").unwrap();
    assert_eq!(base["children"], serde_json::json!(["child"]));
}

#[test]
fn the_api_answers_json_errors_and_the_server_says_why_it_cannot_lint() {
    let repo = tree(&[
        ("dockerfiles/config.yaml", "# no registry, no namespace\n"),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["1"])),
        ("jjb/a.yaml", "x: 1\n"),
    ]);
    let server = Server::start(&["--repo", repo.path().to_str().unwrap()]);
    let (status, headers, body) = server.get("/api/nope");
    assert_eq!((status, header(&headers, "content-type")), (404, Some("application/json")));
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    let (status, _, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (200, "ok"));
    // The CLI and the API refuse alike, with the same words.
    let cli = dockyard(&["lint", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(cli.status.code(), Some(2));
    let (status, _, body) = server.get("/api/v1/pins");
    assert_eq!(status, 422);
    let error = serde_json::from_str::<Value>(&body).unwrap()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("neither `registry` nor `namespace` is set"), "{error}");
    assert!(stderr(&cli).contains(&error), "{} / {error}", stderr(&cli));
}

#[test]
fn lint_output_for_people_gerrit_and_jenkins() {
    let repo = repo(
        "- job:\n    a: reg.example/ci/base:1.0\n    b: reg.example/ci/base:1.0\n    c: reg.example/ci/gone:1\n    d: !include-raw: missing.sh\n",
    );
    let r = repo.path().to_str().unwrap();
    let text = stdout(&dockyard(&["lint", "--repo", r]));
    let summary = &text[text.find("pins in").map(|i| text[..i].rfind('\n').map_or(0, |j| j + 1)).unwrap()..];
    assert!(summary.starts_with("3 pins in 1 file: 0 ok, 2 stale, 1 not-in-catalog (3 fail the lint)\n"), "{summary}");
    assert!(summary.contains("  gone:1    not-in-catalog   1 pin in 1 file\n"), "{summary}");
    assert!(summary.contains("  base:1.0  stale            2 pins in 1 file (latest 2.0)\n"), "{summary}");
    assert!(summary.contains("1 warning (missing include targets, unreadable YAML): -v lists them\n"), "{summary}");
    assert!(summary.contains(&format!("fix the 2 stale pins with: dockyard lint --repo {r} --fix\n")), "{summary}");
    // -v lists exactly the warnings it counts.
    let verbose = stdout(&dockyard(&["lint", "--repo", r, "-v"]));
    assert_eq!(
        verbose.matches("warning: jjb/jobs.yaml:5: !include-raw: target `missing.sh` does not exist").count(),
        1
    );
    let short = stdout(&dockyard(&["lint", "--repo", r, "--format", "short"]));
    assert_eq!(short.lines().count(), 3);
    assert!(short.starts_with("jjb/jobs.yaml:2:8: stale: `base:1.0` is stale"), "{short}");
    let junit = stdout(&dockyard(&["lint", "--repo", r, "--format", "junit"]));
    assert!(junit.contains("classname=\"dockyard-lint.jjb/jobs_yaml\""), "{junit}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let many: String = (0..2000).map(|i| format!("p{i}: reg.example/ci/base:1.0\n")).collect();
    let repo = repo(&many);
    for cmd in [
        &["lint", "--repo", repo.path().to_str().unwrap()][..],
        &["lint", "--repo", repo.path().to_str().unwrap(), "--format", "json"],
    ] {
        let mut child =
            command(cmd).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        {
            use std::io::Read;
            let mut first = [0u8; 1];
            child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        }
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_ne!(out.status.code(), Some(101), "{cmd:?} panicked: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_same_flags() {
    let bash = dockyard(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    assert!(stdout(&bash).contains("--fail-on"));
    let man = dockyard(&["man"]);
    assert!(stdout(&man).contains(".TH dockyard"), "{}", stdout(&man));
    let help = stdout(&dockyard(&["graph", "--help"]));
    assert!(help.contains("[DIR]") && help.contains("--repo <ROOT>"), "{help}");
}

/// One door: the dashboard's plan, the CLI's dry run and the run API are
/// the same bytes on the real catalog, for the same selection and the
/// defaults (a private engine; the registry is the corpus's, unreachable
/// here, which both say the same way).
#[test]
fn the_dashboard_plan_equals_the_dry_run_and_builds_show_equals_the_api_on_the_corpus() {
    let engine = crate::engines::Dockerd::start();
    let repo = corpus().join("integration-config");
    let repo = repo.to_str().unwrap();
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let db = db.to_str().unwrap();
    let token = "plan-equality-token-1";
    let server = Server::start_env(
        &["--repo", repo, "--store", db],
        &[("DOCKER_HOST", engine.host.as_str()), ("DOCKYARD_TOKEN", token)],
    );
    for globs in [vec!["*"], vec!["*/php8*", "*/node20*"]] {
        let body =
            serde_json::json!({"selection": {"kind": "globs", "globs": globs}, "push": false, "pull_pins": false});
        let (status, _, api) = http(
            &format!("{}/api/v1/plan", server.url),
            "POST",
            &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")],
            &body.to_string(),
        );
        assert_eq!(status, 200, "{api}");
        let mut args = vec!["build", "--repo", repo, "--store", db, "--dry-run", "--format", "json"];
        for g in &globs {
            args.extend(["--select", g]);
        }
        let out = command(&args).env("DOCKER_HOST", &engine.host).output().unwrap();
        let cli = String::from_utf8(out.stdout).unwrap();
        let plan: Value = serde_json::from_str(&cli).unwrap();
        assert!(plan["items"].as_array().unwrap().len() >= 85, "{plan}");
        assert_eq!(cli, api, "the dashboard's plan and `build --dry-run --format json` differ for {globs:?}");
    }
    // A run (it fails: the engine cannot reach the catalog's base images),
    // read through the CLI and through the API.
    let out = command(&["build", "--repo", repo, "--store", db, "--select", "*/ajv:*", "--no-pull"])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let list = command(&["builds", "--repo", repo, "--store", db, "--format", "json"]).output().unwrap();
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = list["runs"][0]["id"].as_i64().expect("the build was recorded");
    let cli = command(&["builds", "show", &id.to_string(), "--repo", repo, "--store", db, "--format", "json"])
        .output()
        .unwrap();
    let (status, _, api) = http(&format!("{}/api/v1/builds/{id}", server.url), "GET", &[], "");
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&cli.stdout), api, "builds show --format json and the API differ");
    let (cli, api): (Value, Value) =
        (serde_json::from_slice(&cli.stdout).unwrap(), serde_json::from_str(&api).unwrap());
    assert_eq!(cli["run"]["state"], "failed");
    assert_eq!(
        (&cli["run"], &cli["images"], &cli["plan"], &cli["source"]),
        (&api["run"], &api["images"], &api["plan"], &api["source"])
    );
}

/// A store that becomes unreadable while the server runs (PostgreSQL
/// stopped under it) is an error on the builds page and a non-2xx answer of
/// the API, never an empty history.
#[test]
fn a_store_made_unreadable_mid_serve_is_an_error_on_the_page_and_in_the_api() {
    let pg = crate::stores::Pg::start();
    let url = pg.database("unreadable");
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let out = dockyard(&["store", "import", "--store", &url, demo.join("store.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let server = Server::start(&["--repo", demo.to_str().unwrap(), "--store", &url]);
    let (status, _, body) = server.get("/api/v1/builds");
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["runs"].as_array().unwrap().len() >= 3, "{body}");
    pg.stop();
    let (status, _, body) = server.get("/api/v1/builds");
    assert!(status >= 500, "{status}: {body}");
    assert!(body.contains("error"), "{body}");
    let (_, _, page) = server.get("/builds");
    assert!(page.contains("banner error") && !page.contains("No builds yet"), "{page}");
    let (status, _, _) = server.get("/api/v1/builds/1");
    assert!(status >= 500, "{status}");
    // An image page says its history cannot be read.
    let (status, _, body) = server.get("/api/v1/images/ci-base");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["builds_error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

/// Pages say what they are: unknown pages, images and runs answer 404 with
/// a way back, every page has its own title, and HTML and JSON go out
/// gzipped to a client that asks.
#[test]
fn unknown_pages_are_404_each_page_has_a_title_and_answers_are_compressed() {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let server = Server::start(&["--repo", demo.to_str().unwrap(), "--store", db.to_str().unwrap()]);
    for path in ["/nonexistent", "/images/nonexistent", "/builds/999"] {
        let (status, _, body) = server.get(path);
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("href=\"/\""), "{path}: no way back");
    }
    for (path, title) in [
        ("/", "Overview · dockyard"),
        ("/pins", "Pins · dockyard"),
        ("/images", "Images · dockyard"),
        ("/images/tox", "tox · dockyard"),
        ("/graph", "Graph · dockyard"),
        ("/builds", "Builds · dockyard"),
        ("/hosts", "Hosts · dockyard"),
        ("/build", "Build & pull · dockyard"),
        ("/nonexistent", "Not found · dockyard"),
    ] {
        let (status, _, body) = server.get(path);
        assert!(status == 200 || path == "/nonexistent", "{path}: {status}");
        assert!(body.contains(&format!("<title>{title}</title>")), "{path}: {}", &body[..body.len().min(600)]);
    }
    // No registry: the unpublished count is unknown, never a reassuring 0.
    let (_, _, home) = server.get("/");
    assert!(home.contains("id=\"count-unpublished\" class=\"n\">—<"), "{}", &home[..home.len().min(400)]);
    // As the acceptance says: `curl -sI -H 'Accept-Encoding: gzip' /pins`.
    for path in ["/pins", "/api/v1/pins"] {
        let out = std::process::Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip"])
            .arg(format!("{}{path}", server.url))
            .output()
            .expect("curl");
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200") && head.contains("content-encoding: gzip"), "{path}: {head}");
    }
    // Without asking, plain.
    let (_, headers, _) = http(&format!("{}/api/v1/pins", server.url), "GET", &[], "");
    assert!(!headers.iter().any(|(k, _)| k == "content-encoding"), "{headers:?}");
    // The front end's files are revalidated; pages and answers never stored.
    let cache = |path: &str| {
        let (_, headers, _) = http(&format!("{}{path}", server.url), "GET", &[], "");
        headers.into_iter().find(|(k, _)| k == "cache-control").map(|(_, v)| v)
    };
    assert_eq!(cache("/pkg/app.css").as_deref(), Some("no-cache"));
    assert_eq!(cache("/pins").as_deref(), Some("no-store"));
    assert_eq!(cache("/api/v1/pins").as_deref(), Some("no-store"));
}

/// A changelog whose later entry is malformed: the image still loads (its
/// first entry names it, as docker-pkg reads it), and its page says why the
/// history is missing, with the file and line, instead of an empty history.
#[test]
fn a_malformed_later_changelog_entry_is_an_error_on_the_image_page_not_an_empty_history() {
    let good = changelog("app", &["2.0", "1.0"]);
    let bad_line = good.lines().count() + 2;
    let text = format!("{good}\nthis is not a header\n");
    let repo = tree(&[
        ("dockerfiles/config.yaml", "registry: r.example\nnamespace: ns\n"),
        ("dockerfiles/app/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/app/changelog", &text),
    ]);
    assert_eq!(text.lines().nth(bad_line - 1), Some("this is not a header"));
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let server = Server::start(&["--repo", repo.path().to_str().unwrap(), "--store", db.to_str().unwrap()]);
    let (status, _, body) = server.get("/api/v1/images/app");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["image"]["version"], "2.0", "{v}");
    let error = v["changelog_error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("changelog:{bad_line}")), "{v}");
    let (_, _, page) = server.get("/images/app");
    assert!(page.contains("id=\"changelog-error\"") && page.contains(&format!("changelog:{bad_line}")), "{page}");
}

/// The pages name the front end's files with their version (`?v=`, from
/// the sum `scripts/build-site` writes): asked for so, a file may be kept
/// for good (`immutable`); by plain name or an old version, it is asked
/// again. A new build is a new version, so no page runs an old script.
#[test]
fn assets_named_by_their_version_are_immutable_and_a_new_build_is_a_new_version() {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for f in ["app.js", "app_bg.wasm", "app.css"] {
        std::fs::write(pkg.join(f), format!("/* {f} */\n")).unwrap();
    }
    let sum = |text: &str| {
        let out = piped(&mut std::process::Command::new("sha256sum"), text.as_bytes());
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
    };
    let first = sum("build one");
    std::fs::write(pkg.join(".source"), format!("{first}\n")).unwrap();
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let server = Server::start_site(
        site.path().to_str().unwrap(),
        &["--repo", demo.to_str().unwrap(), "--store", db.to_str().unwrap()],
        &[],
    );
    let cache = |path: &str| {
        let (status, headers, _) = http(&format!("{}{path}", server.url), "GET", &[], "");
        assert_eq!(status, 200, "{path}");
        headers.into_iter().find(|(k, _)| k == "cache-control").map(|(_, v)| v).unwrap_or_default()
    };
    let v1 = &first[..16];
    let (_, _, page) = server.get("/pins");
    for name in ["app.js", "app_bg.wasm", "app.css"] {
        assert!(page.contains(&format!("/pkg/{name}?v={v1}")), "{name} is not named by its version: {page}");
        assert_eq!(cache(&format!("/pkg/{name}?v={v1}")), "public, max-age=31536000, immutable");
        assert_eq!(cache(&format!("/pkg/{name}")), "no-cache");
    }
    // A new build behind the running server: pages name the new version,
    // and the old one is no longer kept for good.
    let second = sum("build two");
    std::fs::write(pkg.join(".source"), format!("{second}\n")).unwrap();
    let (_, _, page) = server.get("/pins");
    assert!(page.contains(&format!("/pkg/app.js?v={}", &second[..16])) && !page.contains(v1), "{page}");
    assert_eq!(cache(&format!("/pkg/app.js?v={v1}")), "no-cache");
    assert_eq!(cache("/pins"), "no-store");
}

/// The run list pages: `before=ID` gives the runs older than that one, and
/// `older` names the next page; the CLI's `builds --before` and the API give
/// the same bytes, and the Builds page links the pages. The oracle is the
/// demo's store (its runs are numbered 1 to 3).
#[test]
fn the_run_list_pages_by_before_the_same_in_the_cli_the_api_and_the_page() {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let dump: Value = serde_json::from_str(&std::fs::read_to_string(demo.join("store.json")).unwrap()).unwrap();
    let mut ids: Vec<i64> = dump["runs"].as_array().unwrap().iter().map(|r| r["run"]["id"].as_i64().unwrap()).collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    assert!(ids.len() >= 3, "{ids:?}");
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let db = db.to_str().unwrap();
    let out = dockyard(&["store", "import", "--store", db, demo.join("store.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let server = Server::start(&["--repo", demo.to_str().unwrap(), "--store", db]);
    let page = |before: Option<i64>| {
        let q = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let (status, _, body) = server.get(&format!("/api/v1/builds?limit=2{q}"));
        assert_eq!(status, 200, "{body}");
        let mut args = vec!["builds".to_owned(), "--store".into(), db.into(), "--limit".into(), "2".into()];
        if let Some(b) = before {
            args.extend(["--before".into(), b.to_string()]);
        }
        args.extend(["--format".into(), "json".into()]);
        let cli = dockyard(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(String::from_utf8_lossy(&cli.stdout), body, "builds --before and the API differ");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    // People read where the next page is.
    let text = |before: Option<String>| {
        let mut args = vec!["builds".to_owned(), "--store".into(), db.into(), "--limit".into(), "2".into()];
        args.extend(before.into_iter().flat_map(|b| ["--before".to_owned(), b]));
        stdout(&dockyard(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    assert!(text(None).ends_with(&format!("older runs: dockyard builds --before {}\n", ids[1])), "{}", text(None));
    if ids.len() <= 4 {
        assert!(!text(Some(ids[1].to_string())).contains("older runs"));
    }
    assert_eq!(text(Some(ids[ids.len() - 1].to_string())), "no runs\n");
    let first = page(None);
    let listed =
        |v: &Value| v["runs"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(listed(&first), ids[..2]);
    assert_eq!(first["older"].as_i64(), Some(ids[1]));
    let second = page(Some(ids[1]));
    assert_eq!(listed(&second), ids[2..ids.len().min(4)]);
    if ids.len() <= 4 {
        assert!(second.get("older").is_none(), "{second}");
    }
    let (_, _, html) = server.get(&format!("/builds?before={}", ids[1]));
    assert!(html.contains(&format!("href=\"/builds/{}\"", ids[2])), "{html}");
    assert!(!html.contains(&format!("href=\"/builds/{}\"", ids[0])), "{html}");
    assert!(html.contains("id=\"newest-runs\""), "{html}");
    let (_, _, html) = server.get("/builds");
    assert!(!html.contains("id=\"older-runs\""), "50 a page: the demo has one page");
}
