//! Builds on a real engine and a real registry: a synthetic catalog with a
//! busybox base, real `RUN` steps, a diamond and a 4-deep chain, one image
//! whose `RUN` fails and one whose `test.sh` fails, built, verified,
//! published and pulled back; `update` against docker-pkg itself.

use crate::common::*;
use crate::engines::*;
use crate::regsupport::Registry;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn run(name: &str) -> String {
    format!("RUN echo {name} > /{name}\n")
}

/// The full synthetic catalog of the issue.
fn full_catalog(registry: &str) -> tempfile::TempDir {
    let dir = busybox_repo(registry);
    let d = dir.path().join("dockerfiles");
    let test_sh = |file: &str| format!("#!/bin/sh\nexec docker run --rm \"$1\" cat /{file}\n");
    image(&d, "a", "1", &["base"], &run("a"), &[("test.sh", &test_sh("a"))]);
    image(&d, "b", "1", &["base"], &run("b"), &[]);
    // The diamond: d is built FROM a, with a file of b.
    image(&d, "d", "1", &["a", "b"], &format!("COPY --from={{{{ \"b\" | image_tag }}}} /b /b\n{}", run("d")), &[]);
    image(&d, "c1", "1", &["base"], &run("c1"), &[]);
    image(&d, "c2", "1", &["c1"], &run("c2"), &[]);
    image(&d, "c3", "1", &["c2"], &run("c3"), &[]);
    image(&d, "c4", "1", &["c3"], &run("c4"), &[("test.sh", &test_sh("c3"))]);
    image(&d, "bad", "1", &["base"], "RUN echo about to fail && false\n", &[]);
    image(&d, "bad-child", "1", &["bad"], &run("x"), &[]);
    image(&d, "vfail", "1", &["base"], &run("vfail"), &[("test.sh", "#!/bin/sh\necho verification says no\nexit 1\n")]);
    image(&d, "vfail-child", "1", &["vfail"], &run("y"), &[]);
    dir
}

fn dockyard_on(engine: &Dockerd, args: &[&str]) -> std::process::Output {
    command(args).env("DOCKER_HOST", &engine.host).output().unwrap()
}

fn show(store: &Path, run: u64) -> Value {
    let out = dockyard(&[
        "builds",
        "show",
        &run.to_string(),
        "--format",
        "json",
        "--store",
        store.to_str().unwrap(),
        "--repo",
        "/tmp",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn states(detail: &Value) -> BTreeMap<String, String> {
    detail["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), i["state"].as_str().unwrap().to_owned()))
        .collect()
}

fn tags(registry: &str, repo: &str) -> Vec<String> {
    let (status, _, body) = http(&format!("http://{registry}/v2/{repo}/tags/list"), "GET", &[], "");
    if status != 200 {
        return vec![];
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut t: Vec<String> =
        v["tags"].as_array().into_iter().flatten().map(|t| t.as_str().unwrap().to_owned()).collect();
    t.sort();
    t
}

#[test]
fn builds_verifies_and_publishes_along_the_graph_and_a_failure_skips_only_what_is_below_it() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = full_catalog(&reg.host);
    let store = repo.path().join("history.db");
    let r = repo.path().to_str().unwrap();
    let out = dockyard_on(&engine, &["build", "--repo", r, "--push", "-j", "4", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a failed image fails the run\n{}", stderr(&out));
    let list: Value = serde_json::from_slice(
        &dockyard(&["builds", "--format", "json", "--store", store.to_str().unwrap(), "--repo", r]).stdout,
    )
    .unwrap();
    assert_eq!(list["runs"].as_array().unwrap().len(), 1);
    assert_eq!(list["runs"][0]["state"], "failed");
    let detail = show(&store, list["runs"][0]["id"].as_u64().unwrap());
    let got = states(&detail);
    let want: BTreeMap<String, String> = [
        ("base", "published"),
        ("a", "published"),
        ("b", "published"),
        ("d", "published"),
        ("c1", "published"),
        ("c2", "published"),
        ("c3", "published"),
        ("c4", "published"),
        ("bad", "failed"),
        ("bad-child", "skipped"),
        ("vfail", "failed"),
        ("vfail-child", "skipped"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(got, want);
    // Logs of every image are stored; the failures say why.
    let logs = detail["logs"].as_array().unwrap();
    let log_of = |image: &str| -> String {
        logs.iter().filter(|l| l["image"] == image).map(|l| l["line"].as_str().unwrap()).collect::<Vec<_>>().join("\n")
    };
    assert!(log_of("bad").contains("about to fail"), "{}", log_of("bad"));
    assert!(log_of("vfail").contains("verification says no"), "{}", log_of("vfail"));
    assert!(log_of("a").contains("verifying"), "{}", log_of("a"));
    let images = detail["images"].as_array().unwrap();
    // A failed verification names its script, not only the shell (issue 22, item 11).
    let vfail = images.iter().find(|i| i["name"] == "vfail").unwrap();
    assert!(vfail["error"].as_str().unwrap().contains("test.sh exited with 1"), "{vfail}");
    let bad = images.iter().find(|i| i["name"] == "bad").unwrap();
    assert!(bad["duration_ms"].as_i64().unwrap() > 0);
    let skipped = images.iter().find(|i| i["name"] == "bad-child").unwrap();
    assert_eq!(skipped["error"], "parent bad failed");
    // Published: the version and latest.
    assert_eq!(tags(&reg.host, "ci/d"), ["1", "latest"]);
    assert_eq!(tags(&reg.host, "ci/c4"), ["1", "latest"]);
    assert!(tags(&reg.host, "ci/bad").is_empty() && tags(&reg.host, "ci/vfail").is_empty());
    // The diamond got both parents.
    let ls = engine.docker(&["run", "--rm", &format!("{}/ci/d:1", reg.host), "cat", "/a", "/b", "/d"]);
    assert_eq!(String::from_utf8_lossy(&ls.stdout), "a\nb\nd\n");

    // A second run: everything is in the registry; nothing to do.
    let out = dockyard_on(&engine, &["build", "--repo", r, "--select", "*/c4:*", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to build"), "{}", stderr(&out));
}

#[test]
fn select_no_pull_and_dry_run_mean_what_they_mean_in_docker_pkg() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = full_catalog(&reg.host);
    let r = repo.path().to_str().unwrap();
    let store = repo.path().join("h.db");
    let s = store.to_str().unwrap();
    let plan = |args: &[&str]| -> BTreeMap<String, (String, bool)> {
        let out = dockyard_on(
            &engine,
            &[&["build", "--repo", r, "--dry-run", "--format", "json", "--store", s][..], args].concat(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let p: Value = serde_json::from_slice(&out.stdout).unwrap();
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().to_owned(),
                    (i["action"].as_str().unwrap().to_owned(), i["selected"].as_bool().unwrap()),
                )
            })
            .collect()
    };
    // Selecting c3 pulls in its ancestors, nothing else.
    let p = plan(&["--select", "*/c3:*"]);
    let building: Vec<&str> = p.iter().filter(|(_, (a, _))| a == "build").map(|(n, _)| n.as_str()).collect();
    assert_eq!(building, ["base", "c1", "c2", "c3"]);
    assert!(p["c3"].1 && !p["c2"].1);
    // Build and publish c3 and what it needs; then on an empty engine the
    // default (pull) leaves published images alone, --no-pull builds them.
    let out = dockyard_on(&engine, &["build", "--repo", r, "--select", "*/c3:*", "--push", "--store", s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let other = Dockerd::start();
    let out = command(&["build", "--repo", r, "--dry-run", "--format", "json", "--store", s, "--select", "*/c2:*"])
        .env("DOCKER_HOST", &other.host)
        .output()
        .unwrap();
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(p["items"].as_array().unwrap().iter().all(|i| i["action"] == "present"), "{p}");
    let out = command(&[
        "build",
        "--repo",
        r,
        "--dry-run",
        "--no-pull",
        "--format",
        "json",
        "--store",
        s,
        "--select",
        "*/c2:*",
    ])
    .env("DOCKER_HOST", &other.host)
    .output()
    .unwrap();
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let building: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "build")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(building, ["base", "c1", "c2"]);
    // The text plan says why.
    let out = command(&["build", "--repo", r, "--dry-run", "--store", s, "--select", "*/c4:*"])
        .env("DOCKER_HOST", &other.host)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("c4") && text.contains("pulls c3 first"), "{text}");
    assert!(text.contains("critical path"), "{text}");
}

#[test]
fn the_build_context_follows_dockerignore_with_bang_and_double_star() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    let d = repo.path().join("dockerfiles");
    image(
        &d,
        "ctx",
        "1",
        &["base"],
        "COPY . /ctx/\nRUN cd /ctx && find . -type f | sort > /list\n",
        &[
            (".dockerignore", "# comment\n**/*.tmp\n!keep.tmp\nsecret/\n"),
            ("keep.txt", "k"),
            ("keep.tmp", "k"),
            ("drop.tmp", "d"),
            ("sub/deep/x.tmp", "x"),
            ("sub/deep/y.txt", "y"),
            ("secret/key", "s3cret"),
        ],
    );
    let out = dockyard_on(
        &engine,
        &[
            "build",
            "--repo",
            repo.path().to_str().unwrap(),
            "--no-pull",
            "--store",
            repo.path().join("h.db").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = engine.docker(&["run", "--rm", &format!("{}/ci/ctx:1", reg.host), "cat", "/list"]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "./.dockerignore\n./Dockerfile\n./Dockerfile.template\n./changelog\n./control\n./keep.tmp\n./keep.txt\n./sub/deep/y.txt\n"
    );
}

#[test]
fn an_error_inside_the_push_stream_fails_the_image() {
    let engine = Dockerd::start();
    let reg = Registry::start_readonly();
    let repo = busybox_repo(&reg.host);
    let store = repo.path().join("h.db");
    let out = dockyard_on(
        &engine,
        &["build", "--repo", repo.path().to_str().unwrap(), "--push", "--no-pull", "--store", store.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let detail = show(&store, 1);
    assert_eq!(states(&detail)["base"], "failed");
    let err = detail["images"][0]["error"].as_str().unwrap();
    assert!(err.contains("push"), "{err}");
}

#[test]
fn pull_fetches_every_pin_once_and_skips_what_the_engine_has() {
    let builder = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    let d = repo.path().join("dockerfiles");
    image(&d, "a", "1", &["base"], &run("a"), &[]);
    let r = repo.path().to_str().unwrap();
    let store = repo.path().join("h.db");
    let s = store.to_str().unwrap();
    let out = dockyard_on(&builder, &["build", "--repo", r, "--push", "--store", s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        repo.path().join("jjb/jobs.yaml"),
        format!("- job:\n    a: {h}/ci/a:1\n    b: {h}/ci/a:1\n    c: {h}/ci/base:1.0\n", h = reg.host),
    )
    .unwrap();
    let agent = Dockerd::start();
    let pull = |args: &[&str]| -> Value {
        let out = dockyard_on(&agent, &[&["pull", "--repo", r, "--format", "json", "--store", s][..], args].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let outcomes = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["image"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
            .collect()
    };
    let first = pull(&["--digest"]);
    assert_eq!(outcomes(&first), [format!("{}/ci/a:1 pulled", reg.host), format!("{}/ci/base:1.0 pulled", reg.host)]);
    assert!(agent.has(&format!("{}/ci/a:1", reg.host)));
    let again = pull(&["--digest"]);
    assert_eq!(outcomes(&again), [format!("{}/ci/a:1 skipped", reg.host), format!("{}/ci/base:1.0 skipped", reg.host)]);
}

#[test]
fn stopping_the_engine_mid_build_records_a_failed_run_never_a_running_one() {
    let mut engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    image(&repo.path().join("dockerfiles"), "slow", "1", &["base"], "RUN sleep 30\n", &[]);
    let store = repo.path().join("h.db");
    let mut child = command(&[
        "build",
        "--repo",
        repo.path().to_str().unwrap(),
        "--no-pull",
        "-j",
        "1",
        "--store",
        store.to_str().unwrap(),
    ])
    .env("DOCKER_HOST", &engine.host)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_state(&store, "slow", "building");
    std::thread::sleep(Duration::from_millis(500));
    engine.kill();
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    assert_eq!(status, Some(1));
    let detail = show(&store, 1);
    assert_eq!(detail["run"]["state"], "failed");
    assert_eq!(states(&detail)["slow"], "failed");
    assert!(detail["images"].as_array().unwrap().iter().all(|i| i["state"] != "building"));
}

#[test]
fn a_run_whose_process_died_is_marked_interrupted_at_the_next_start() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    image(&repo.path().join("dockerfiles"), "slow", "1", &["base"], "RUN sleep 30\n", &[]);
    let store = repo.path().join("h.db");
    let mut child =
        command(&["build", "--repo", repo.path().to_str().unwrap(), "--no-pull", "--store", store.to_str().unwrap()])
            .env("DOCKER_HOST", &engine.host)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    wait_for_state(&store, "slow", "building");
    let _ = child.kill();
    let _ = child.wait();
    let list: Value = serde_json::from_slice(
        &dockyard(&["builds", "--format", "json", "--store", store.to_str().unwrap(), "--repo", "/tmp"]).stdout,
    )
    .unwrap();
    assert_eq!(list["runs"][0]["state"], "interrupted");
    assert_eq!(states(&show(&store, 1))["slow"], "interrupted");
}

#[test]
fn prune_removes_old_versions_and_keeps_the_current_one() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    let d = repo.path().join("dockerfiles");
    image(&d, "a", "1", &["base"], &run("a"), &[]);
    let r = repo.path().to_str().unwrap();
    let s = repo.path().join("h.db");
    let s = s.to_str().unwrap();
    assert_eq!(dockyard_on(&engine, &["build", "--repo", r, "--no-pull", "--store", s]).status.code(), Some(0));
    std::fs::write(d.join("a/changelog"), changelog("a", &["2", "1"])).unwrap();
    assert_eq!(dockyard_on(&engine, &["build", "--repo", r, "--no-pull", "--store", s]).status.code(), Some(0));
    let (a1, a2) = (format!("{}/ci/a:1", reg.host), format!("{}/ci/a:2", reg.host));
    assert!(engine.has(&a1) && engine.has(&a2));
    let out = dockyard_on(&engine, &["prune", "--repo", r]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("removed {a1}")), "{}", stdout(&out));
    assert!(!engine.has(&a1) && engine.has(&a2) && engine.has(&format!("{}/ci/base:1.0", reg.host)));
}

fn wait_for_state(store: &Path, image: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if store.exists() {
            let out = dockyard(&[
                "builds",
                "show",
                "1",
                "--format",
                "json",
                "--store",
                store.to_str().unwrap(),
                "--repo",
                "/tmp",
            ]);
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                if states(&v).get(image).map(String::as_str) == Some(state) {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "{image} never reached {state}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the build did not end within {limit:?} after its engine died");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs docker-pkg 4.0.4's `update` (from its venv) with the time fixed.
fn docker_pkg_update(dir: &Path, name: &str, reason: &str, version: Option<&str>, engine: &Dockerd, epoch: i64) {
    let python = std::env::var("DOCKER_PKG_PYTHON").expect("DOCKER_PKG_PYTHON: run through scripts/test");
    let mut argv = vec![
        "-c".to_owned(),
        dir.join("config.yaml").display().to_string(),
        "update".into(),
        name.into(),
        "--reason".into(),
        reason.into(),
    ];
    if let Some(v) = version {
        argv.extend(["--version".into(), v.into()]);
    }
    argv.push(dir.display().to_string());
    let code = format!(
        "import time, sys\n_s = time.strftime\ntime.strftime = lambda f, t=None: _s(f, time.gmtime({epoch}))\nfrom docker_pkg import cli\ncli.main(cli.parse_args(sys.argv[1:]))\n"
    );
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(code)
        .args(&argv)
        .current_dir(work.path())
        .env("DOCKER_HOST", &engine.host)
        .env("DEBFULLNAME", "Dock Yard")
        .env("DEBEMAIL", "dockyard@example.org")
        .env("TZ", "UTC")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker-pkg update: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn changelogs(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.join("changelog").exists() {
            out.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p.join("changelog")).unwrap(),
            );
        }
    }
    out
}

#[test]
fn update_writes_what_docker_pkg_writes_on_the_corpus_and_a_synthetic_catalog() {
    let engine = Dockerd::start();
    let epoch = 1_790_000_000;
    let corpus_dir = corpus().join("integration-config/dockerfiles");
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("ci-bookworm", "Security update of the base", None),
        ("node24", "Bump Node.js", Some("24.99.0")),
        ("sonar-scanner", "Multi-line\nreason", None),
    ];
    for (name, reason, version) in cases {
        let theirs = tempfile::tempdir().unwrap();
        let ours = tempfile::tempdir().unwrap();
        copy_dir(&corpus_dir, theirs.path());
        copy_dir(&corpus_dir, ours.path());
        docker_pkg_update(theirs.path(), name, reason, version, &engine, epoch);
        let mut args = vec!["update", name, "--reason", reason, ours.path().to_str().unwrap()];
        if let Some(v) = version {
            args.extend(["--version", v]);
        }
        let out = command(&args)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("DEBFULLNAME", "Dock Yard")
            .env("DEBEMAIL", "dockyard@example.org")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (t, o) = (changelogs(theirs.path()), changelogs(ours.path()));
        let changed: Vec<&String> = t
            .keys()
            .filter(|k| t[*k] != std::fs::read_to_string(corpus_dir.join(k).join("changelog")).unwrap())
            .collect();
        assert!(!changed.is_empty(), "docker-pkg changed nothing for {name}");
        for (k, v) in &t {
            assert_eq!(&o[k], v, "{name}: {k}/changelog differs from docker-pkg's");
        }
    }
}

#[test]
fn update_matches_names_exactly_and_bumps_pins_only_to_published_versions() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let epoch = 1_790_000_000;
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("dockerfiles");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config.yaml"), format!("registry: {}\nnamespace: ci\n", reg.host)).unwrap();
        image(&d, "php", "8.1-s2", &[], "LABEL php=1\n", &[]);
        image(&d, "php-child", "1.0", &["php"], "LABEL child=1\n", &[]);
        // docker-pkg's `*php:*` also takes this one.
        image(&d, "ci-php", "2.0", &[], "LABEL ci=1\n", &[]);
        // A changelog that starts with blank lines.
        let text = format!("\n\n{}", changelog("php-child", &["1.0"]));
        std::fs::write(d.join("php-child/changelog"), text).unwrap();
        std::fs::create_dir_all(dir.path().join("jjb")).unwrap();
        std::fs::write(
            dir.path().join("jjb/jobs.yaml"),
            format!(
                "- job:\n    a: {h}/ci/php:8.1-s2\n    b: {h}/ci/php-child:1.0\n    c: {h}/ci/ci-php:2.0\n",
                h = reg.host
            ),
        )
        .unwrap();
        dir
    };
    let (theirs, ours) = (make(), make());
    docker_pkg_update(&theirs.path().join("dockerfiles"), "php", "PHP security release", None, &engine, epoch);
    let out = command(&[
        "update",
        "php",
        "--reason",
        "PHP security release",
        "--repo",
        ours.path().to_str().unwrap(),
        "--pins",
        "--store",
    ])
    .arg(ours.path().join("h.db"))
    .env("SOURCE_DATE_EPOCH", epoch.to_string())
    .env("DEBFULLNAME", "Dock Yard")
    .env("DEBEMAIL", "dockyard@example.org")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (t, o) = (changelogs(&theirs.path().join("dockerfiles")), changelogs(&ours.path().join("dockerfiles")));
    assert_eq!(o["php"], t["php"]);
    assert_eq!(o["php-child"], t["php-child"]);
    assert!(t["ci-php"].starts_with("ci-php (2.0-s1)"), "docker-pkg over-matches");
    assert!(o["ci-php"].starts_with("ci-php (2.0)"), "dockyard matches the exact name");
    // The registry holds none of the new versions: every pin waits.
    assert!(stderr(&out).contains("waits for a publish"), "{}", stderr(&out));
    let jobs = std::fs::read_to_string(ours.path().join("jjb/jobs.yaml")).unwrap();
    assert!(jobs.contains("php:8.1-s2") && jobs.contains("php-child:1.0"), "{jobs}");
    // Once the versions are published, --fix bumps them (the same rule).
    let r = ours.path().to_str().unwrap();
    let s = ours.path().join("h.db");
    let s = s.to_str().unwrap();
    let out = dockyard_on(&engine, &["build", "--repo", r, "--push", "--no-pull", "--select", "*/php*", "--store", s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = dockyard(&["lint", "--repo", r, "--fix", "--registry", "--max-age", "0", "--store", s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let jobs = std::fs::read_to_string(ours.path().join("jjb/jobs.yaml")).unwrap();
    assert!(
        jobs.contains("ci/php:8.1-s3") && jobs.contains("ci/php-child:1.0-s1") && jobs.contains("ci/ci-php:2.0"),
        "{jobs}"
    );
}

#[test]
fn a_nightly_build_tags_every_image_and_its_parents_with_the_date() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let repo = busybox_repo(&reg.host);
    image(&repo.path().join("dockerfiles"), "a", "1", &["base"], &run("a"), &[]);
    let r = repo.path().to_str().unwrap();
    let out = dockyard_on(
        &engine,
        &["build", "--repo", r, "--no-pull", "--nightly", "--store", repo.path().join("h.db").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let today = {
        let o = std::process::Command::new("date").args(["-u", "+%Y%m%d"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert!(engine.has(&format!("{}/ci/a:1-{today}", reg.host)));
    let history = engine.docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.Cmd}}",
        &format!("{}/ci/base:1.0-{today}", reg.host),
    ]);
    assert!(history.status.success());
}
