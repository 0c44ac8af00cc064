//! The maintainer's workflow never says "fine" when it is not (issue 22):
//! each bad state exits non-zero, names its file or image, and the rest of
//! the catalog is still planned. Real engine, real registry.

use crate::common::*;
use crate::engines::*;
use crate::regsupport::{Registry, config_of};
use serde_json::Value;

fn dry_run(repo: &std::path::Path, engine: &Dockerd, extra: &[&str]) -> (Option<i32>, Value, String) {
    let store = repo.join("s.db");
    let mut args = vec!["build", "--repo", repo.to_str().unwrap(), "--dry-run", "--format", "json", "--store"];
    args.push(store.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = command(&args).env("DOCKER_HOST", &engine.host).output().unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), stderr(&out))
}

fn action(plan: &Value, name: &str) -> (String, String) {
    let item = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} left the plan: {plan}"));
    (item["action"].as_str().unwrap().to_owned(), item["reason"].as_str().unwrap().to_owned())
}

#[test]
fn broken_images_cycles_and_empty_selections_are_findings_and_nothing_vanishes() {
    let engine = Dockerd::start();
    let dir = busybox_repo("127.0.0.1:9");
    let d = dir.path().join("dockerfiles");
    image(&d, "php83", "8.3.33", &["base"], "", &[]);
    image(&d, "child", "1", &["php83"], "", &[]);
    image(&d, "ok", "1", &["base"], "", &[]);
    // A changelog whose first line is not an entry header.
    std::fs::write(d.join("php83/changelog"), "php83 8.3.34 wikimedia; urgency=high\n").unwrap();
    let (code, plan, err) = dry_run(dir.path(), &engine, &["--offline"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: php83 cannot be built: dockerfiles/php83/changelog:1"), "{err}");
    assert_eq!(action(&plan, "php83").0, "broken");
    assert_eq!(action(&plan, "child"), ("broken".into(), "parent php83 cannot be built".into()));
    // The child's own error says why, not "php83 not found".
    let cat = stderr(&dockyard(&["catalog", "--repo", dir.path().to_str().unwrap()]))
        + &stdout(&dockyard(&["catalog", "--repo", dir.path().to_str().unwrap()]));
    assert!(cat.contains("image_tag: php83 is in the catalog, but its own files do not load"), "{cat}");
    assert!(!cat.contains("php83 not found"), "{cat}");
    assert_eq!(action(&plan, "ok").0, "build", "{plan}");

    // A control cycle.
    std::fs::write(d.join("php83/changelog"), changelog("php83", &["8.3.33"])).unwrap();
    image(&d, "c1", "1", &["c2"], "", &[]);
    image(&d, "c2", "1", &["c1"], "", &[]);
    let (code, plan, err) = dry_run(dir.path(), &engine, &["--offline"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("c1 is in a dependency cycle") && err.contains("c2 is in a dependency cycle"), "{err}");
    assert_eq!(action(&plan, "c1").0, "broken");
    assert_eq!(action(&plan, "php83").0, "build");
    std::fs::remove_dir_all(d.join("c1")).unwrap();
    std::fs::remove_dir_all(d.join("c2")).unwrap();

    // A selection that matches nothing.
    let (code, _, err) = dry_run(dir.path(), &engine, &["--offline", "--select", "*nosuch*"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--select *nosuch* matches no image"), "{err}");
    // The real build says so too, and exits 1.
    let store = dir.path().join("s.db");
    let out =
        command(&["build", "--repo", dir.path().to_str().unwrap(), "--offline", "--select", "*nosuch*", "--store"])
            .arg(&store)
            .env("DOCKER_HOST", &engine.host)
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("every selected image is present"), "{}", stderr(&out));

    // A clean plan is still 0.
    std::fs::remove_dir_all(d.join("child")).unwrap();
    let (code, _, err) = dry_run(dir.path(), &engine, &["--offline"]);
    assert_eq!(code, Some(0), "{err}");
    // A FROM outside the catalog and base_images is said (and is no failure).
    image(&d, "ext", "1", &[], "", &[]);
    std::fs::write(d.join("ext/Dockerfile.template"), "FROM docker.io/library/debian:12 AS b\nFROM b\n").unwrap();
    let (code, _, err) = dry_run(dir.path(), &engine, &["--offline"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("warning: ext: FROM docker.io/library/debian:12 is neither a catalog image nor in base_images"),
        "{err}"
    );
    assert!(!err.contains("FROM b "), "{err}");
}

#[test]
fn a_registry_that_cannot_be_reached_is_said_once_and_fails_the_plan() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let dir = busybox_repo(&reg.host);
    image(&dir.path().join("dockerfiles"), "a", "1", &["base"], "", &[]);
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    // An index from when the registry answered.
    let out = command(&["registry", "--repo", r, "--store", store.to_str().unwrap()]).output().unwrap();
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    reg.stop();
    let (code, plan, err) = dry_run(dir.path(), &engine, &["--max-age", "0", "--retries", "0", "--timeout", "2"]);
    let index =
        command(&["registry", "--repo", r, "--store", store.to_str().unwrap(), "--format", "json", "--max-age", "0"])
            .output()
            .unwrap();
    assert_eq!(code, Some(1), "{err}\n{plan}\n{}", stdout(&index));
    let said = err.lines().filter(|l| l.contains("unreachable")).count();
    assert_eq!(said, 1, "said {said} times: {err}");
    assert!(err.contains(&format!("registry {} unreachable", reg.host)), "{err}");
    assert!(err.contains("planning from its index of"), "{err}");
    // `dockyard registry` and `lint --registry` say it once, not once per image.
    let out =
        command(&["registry", "--repo", r, "--store", store.to_str().unwrap(), "--max-age", "0", "--retries", "0"])
            .output()
            .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(text.lines().filter(|l| l.contains("refused")).count(), 1, "{text}");
    let out = command(&[
        "lint",
        "--repo",
        r,
        "--registry",
        "--store",
        store.to_str().unwrap(),
        "--max-age",
        "0",
        "--retries",
        "0",
    ])
    .output()
    .unwrap();
    let text = stderr(&out);
    assert_eq!(text.lines().filter(|l| l.contains("refused")).count(), 1, "{text}");
    assert!(text.contains("every repository"), "{text}");
}

/// A repository with stale pins in three files and one pin to an image the
/// catalog does not have.
fn stale_repo() -> tempfile::TempDir {
    tree(&[
        ("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\n"),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["2.0", "1.0"])),
        ("jjb/a.yaml", "- job:\n    image: reg.example/ci/base:1.0\n"),
        ("jjb/b.yaml", "- job:\n    image: reg.example/ci/base:1.0\n"),
        ("jjb/c.yaml", "- job:\n    image: reg.example/ci/base:1.0\n    other: reg.example/ci/gone:3\n"),
    ])
}

/// `dockyard ARGS` with its stdout a pipe whose reader is already gone.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap()
}

#[test]
fn lint_fix_writes_every_file_through_a_closed_pipe_and_fails_while_findings_remain() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let out = into_closed_pipe(&["lint", "--repo", r, "--fix", "--offline", "--allow-unpublished"]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    // The stale pins are fixed in every file; gone:3 is still there: exit 1.
    for f in ["a", "b", "c"] {
        let text = std::fs::read_to_string(repo.path().join(format!("jjb/{f}.yaml"))).unwrap();
        assert!(text.contains("reg.example/ci/base:2.0"), "{f}.yaml was not fixed: {text}");
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 finding(s) remain"), "{err}");
    // Nothing left to fix and nothing wrong: 0.
    std::fs::write(repo.path().join("jjb/c.yaml"), "- job:\n    image: reg.example/ci/base:2.0\n").unwrap();
    let out = dockyard(&["lint", "--repo", r, "--fix", "--offline", "--allow-unpublished"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn no_command_panics_on_a_closed_pipe() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let store = repo.path().join("s.db");
    let s = store.to_str().unwrap();
    let commands: [&[&str]; 12] = [
        &["render", "--repo", r],
        &["render", "--repo", r, "--format", "json"],
        &["graph", "--repo", r],
        &["catalog", "--repo", r],
        &["lint", "--repo", r],
        &["lint", "--repo", r, "--format", "json"],
        &["pull-script", "--repo", r],
        &["registry", "--repo", r, "--offline", "--store", s],
        &["builds", "--store", s],
        &["completions", "bash"],
        &["man"],
        &["--help"],
    ];
    for args in commands {
        let out = into_closed_pipe(args);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(matches!(out.status.code(), Some(0..=2)), "{args:?}: {:?} {err}", out.status);
    }
}

#[test]
fn update_refuses_versions_that_can_never_build() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let changelog_before = std::fs::read_to_string(repo.path().join("dockerfiles/base/changelog")).unwrap();
    // A downgrade, and the current version itself.
    for v in ["1.5", "2.0"] {
        let out = dockyard(&["update", "base", "--repo", r, "--version", v, "--reason", "x"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{v}: {err}");
        assert!(
            err.contains("dockerfiles/base/changelog:1") && err.contains("is not above the current version 2.0"),
            "{err}"
        );
        assert!(err.contains("2.0-s1 would work"), "{err}");
    }
    // A version the registry already has (the stored index says so).
    let store = repo.path().join("s.db");
    let s = dockyard::store::open(&dockyard::store::Location::Sqlite(store.clone())).unwrap();
    s.save_tags("reg.example", "ci/base", Some(&["1.0".into(), "2.0".into(), "3.0".into()]), dockyard::store::now())
        .unwrap();
    drop(s);
    let out = dockyard(&[
        "update",
        "base",
        "--repo",
        r,
        "--version",
        "3.0",
        "--reason",
        "x",
        "--store",
        store.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--version 3.0 of base is already published"), "{err}");
    assert_eq!(std::fs::read_to_string(repo.path().join("dockerfiles/base/changelog")).unwrap(), changelog_before);
    // A version above, not published: written.
    let out = dockyard(&[
        "update",
        "base",
        "--repo",
        r,
        "--version",
        "3.1",
        "--reason",
        "x",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(repo.path().join("dockerfiles/base/changelog")).unwrap().starts_with("base (3.1)"));
}

#[test]
fn a_push_is_in_the_registry_index_at_once() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let dir = busybox_repo(&reg.host);
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    std::fs::write(dir.path().join("jjb/a.yaml"), format!("- job:\n    image: {}/ci/base:1.0\n", reg.host)).unwrap();
    // Indexed before the push: base is not there (kept for --max-age).
    let out = command(&["registry", "--repo", r, "--store", s]).output().unwrap();
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let out =
        command(&["build", "--repo", r, "--push", "--store", s]).env("DOCKER_HOST", &engine.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Right after, within --max-age, the index has the pushed tag.
    let out = command(&["registry", "--repo", r, "--store", s, "--format", "json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = v["registries"][0]["entries"].as_array().unwrap().iter().find(|e| e["image"] == "base").unwrap().clone();
    assert_eq!(base["published"], true, "{base}");
    assert!(base["tags"].as_array().unwrap().iter().any(|t| t == "1.0"), "{base}");
    // And the gate agrees: the pin is not unpublished.
    let out = command(&["lint", "--repo", r, "--registry", "--store", s, "--format", "json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pins"][0]["status"], "ok", "{v}");
}

#[test]
fn nothing_to_build_names_the_images_changed_without_a_bump() {
    let engine = Dockerd::start();
    let dir = busybox_repo("127.0.0.1:9");
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    let build = |extra: &[&str]| {
        command(&[&["build", "--repo", r, "--offline", "--store", s][..], extra].concat())
            .env("DOCKER_HOST", &engine.host)
            .output()
            .unwrap()
    };
    // A build by someone the environment does not name, whose log has colours.
    image(
        &dir.path().join("dockerfiles"),
        "colour",
        "1",
        &["base"],
        "RUN printf '\\033[1;31mred\\033[0m text\\n'\n",
        &[],
    );
    let out = command(&["build", "--repo", r, "--offline", "--store", s])
        .env("DOCKER_HOST", &engine.host)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = command(&["builds", "show", "1", "--format", "json", "--store", s]).output().unwrap();
    let v: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let trigger = v["run"]["trigger"].as_str().unwrap();
    assert!(trigger.starts_with("cli:") && trigger != "cli:unknown", "{trigger}");
    let lines: Vec<&str> = v["logs"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap()).collect();
    assert!(lines.iter().any(|l| l.contains("red text")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains('\u{1b}')), "an escape was stored: {lines:?}");
    commit_all(std::path::Path::new(r));
    // The wiki's "No images are built": the image came from docker-pkg (no
    // labels say what it was built from), then its template changed and its
    // version did not.
    let out = engine.docker(&[
        "build",
        "-q",
        "-f",
        dir.path().join("dockerfiles/base/Dockerfile.template").to_str().unwrap(),
        "-t",
        "127.0.0.1:9/ci/base:1.0",
        dir.path().join("dockerfiles/base").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let t = dir.path().join("dockerfiles/base/Dockerfile.template");
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, format!("{text}LABEL changed=yes\n")).unwrap();
    let out = build(&["--select", "*/base:*"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("nothing to build"), "{err}");
    assert!(err.contains("base: its folder changed since HEAD without a version bump"), "{err}");
    assert!(err.contains("run `dockyard update base`"), "{err}");
}

#[test]
fn update_refuses_a_cycle_and_impact_calls_a_broken_image_broken() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let d = repo.path().join("dockerfiles");
    for (n, p) in [("c1", "c2"), ("c2", "c1")] {
        std::fs::create_dir_all(d.join(n)).unwrap();
        std::fs::write(d.join(format!("{n}/Dockerfile.template")), format!("FROM {{{{ \"{p}\" | image_tag }}}}\n"))
            .unwrap();
        std::fs::write(d.join(format!("{n}/changelog")), changelog(n, &["1"])).unwrap();
        std::fs::write(d.join(format!("{n}/control")), format!("Depends: {p}\n")).unwrap();
    }
    let out = dockyard(&["update", "c1", "--repo", r, "--reason", "x"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("dockerfiles/c1/control") && err.contains("c1, c2 are in a dependency cycle"), "{err}");
    assert_eq!(std::fs::read_to_string(d.join("c1/changelog")).unwrap(), changelog("c1", &["1"]));
    // impact: a changelog broken by the change is broken, not removed.
    std::fs::remove_dir_all(d.join("c1")).unwrap();
    std::fs::remove_dir_all(d.join("c2")).unwrap();
    commit_all(std::path::Path::new(r));
    std::fs::write(d.join("base/changelog"), "base 3.0 wikimedia; urgency=high\n").unwrap();
    let out = dockyard(&["impact", "--repo", r, "--base", "HEAD", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "base").unwrap().clone();
    assert_eq!(base["change"], "broken", "{v}");
    assert!(base["files"][0].as_str().unwrap().contains("dockerfiles/base/changelog:1"), "{base}");
}

#[test]
fn impact_names_only_paths_that_exist_and_the_files_of_no_image() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    std::fs::write(repo.path().join("dockerfiles/README.md"), "catalog\n").unwrap();
    commit_all(std::path::Path::new(r));
    std::fs::write(repo.path().join("dockerfiles/README.md"), "the catalog\n").unwrap();
    std::fs::create_dir_all(repo.path().join("dockerfiles/shared")).unwrap();
    std::fs::write(repo.path().join("dockerfiles/shared/lib.sh"), "x\n").unwrap();
    std::fs::write(repo.path().join("dockerfiles/base/Dockerfile.template"), "FROM scratch\nLABEL x=1\n").unwrap();
    let out = dockyard(&["impact", "--repo", r, "--base", "HEAD", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unowned"], serde_json::json!(["dockerfiles/README.md", "dockerfiles/shared/lib.sh"]), "{v}");
    let base = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "base").unwrap().clone();
    assert_eq!(base["change"], "unbumped");
    for f in base["files"].as_array().unwrap() {
        assert!(repo.path().join(f.as_str().unwrap()).exists(), "{f} does not exist: {base}");
    }
    for c in v["update_commands"].as_array().unwrap() {
        assert!(!c.as_str().unwrap().contains("(rendered)"), "{c}");
    }
    let text = dockyard(&["impact", "--repo", r, "--base", "HEAD"]);
    assert!(stdout(&text).contains("dockerfiles/shared/lib.sh: in no image"), "{}", stdout(&text));
}

#[test]
fn every_page_the_man_page_lists_can_be_printed() {
    let top = stdout(&dockyard(&["man"]));
    let listed: Vec<String> = top
        .lines()
        .filter_map(|l| l.strip_prefix("dockyard\\-").and_then(|r| r.strip_suffix("(1)")))
        .map(|n| n.replace("\\-", "-"))
        .collect();
    assert!(listed.len() >= 15, "{top}");
    for name in &listed {
        let out = dockyard(&["man", name]);
        assert_eq!(out.status.code(), Some(0), "dockyard man {name}: {}", stderr(&out));
        assert!(stdout(&out).contains(&format!(".TH dockyard-{name} 1")), "{name}");
    }
    assert_eq!(dockyard(&["man", "nosuch"]).status.code(), Some(2));
}

#[test]
fn an_engine_that_cannot_be_reached_is_said_plainly() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let store = repo.path().join("s.db");
    for (host, said) in [
        ("unix:///nonexistent/docker.sock", "no engine socket at /nonexistent/docker.sock"),
        ("tcp://127.0.0.1:9", "the connection to it was refused or lost"),
    ] {
        let out = command(&["build", "--repo", r, "--dry-run", "--offline", "--store", store.to_str().unwrap()])
            .env("DOCKER_HOST", host)
            .output()
            .unwrap();
        let err = stderr(&out);
        // The README: 69 (EX_UNAVAILABLE) when an engine cannot be reached,
        // so a script may retry.
        assert_eq!(out.status.code(), Some(69), "{err}");
        assert!(err.contains(&format!("local: unreachable: connect: {said}")), "{err}");
        assert!(!err.contains("hyper"), "{err}");
    }
}

#[test]
fn template_errors_say_which_value_and_which_block() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let t = repo.path().join("dockerfiles/base/Dockerfile.template");
    std::fs::write(&t, "FROM scratch\nRUN echo {{ nosuch.attr }}\n").unwrap();
    let err = stderr(&dockyard(&["render", "--repo", r]));
    assert!(err.contains("Dockerfile.template:2: undefined value in `RUN echo {{ nosuch.attr }}`"), "{err}");
    std::fs::write(&t, "FROM scratch\n{% if true %}\nRUN x\n\nRUN y\n").unwrap();
    let err = stderr(&dockyard(&["render", "--repo", r]));
    assert!(
        err.contains("Dockerfile.template:2: syntax error") && err.contains("the `{% if %}` of line 2 is never closed"),
        "{err}"
    );
}

#[test]
fn lint_fix_pins_only_versions_known_to_be_published() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let store = repo.path().join("s.db");
    let s = store.to_str().unwrap();
    let before = std::fs::read_to_string(repo.path().join("jjb/a.yaml")).unwrap();
    // Nothing is known of the registry: nothing is moved, and it says why.
    let out = dockyard(&["lint", "--repo", r, "--fix", "--offline", "--store", s]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not known to be published") && err.contains("--allow-unpublished"), "{err}");
    assert_eq!(std::fs::read_to_string(repo.path().join("jjb/a.yaml")).unwrap(), before);
    // Known to be published (the stored index says so): fixed.
    let st = dockyard::store::open(&dockyard::store::Location::Sqlite(store.clone())).unwrap();
    st.save_tags("reg.example", "ci/base", Some(&["1.0".into(), "2.0".into()]), dockyard::store::now()).unwrap();
    drop(st);
    let out = dockyard(&["lint", "--repo", r, "--fix", "--offline", "--store", s]);
    assert_eq!(out.status.code(), Some(1), "gone:3 remains: {}", stderr(&out));
    assert!(std::fs::read_to_string(repo.path().join("jjb/a.yaml")).unwrap().contains("base:2.0"));
}

#[test]
fn impact_catches_a_new_parent_that_is_not_built_or_published() {
    let repo = stale_repo();
    let r = repo.path().to_str().unwrap();
    let d = repo.path().join("dockerfiles");
    std::fs::create_dir_all(d.join("php")).unwrap();
    std::fs::write(d.join("php/Dockerfile.template"), "FROM scratch\n").unwrap();
    std::fs::write(d.join("php/changelog"), changelog("php", &["8.1"])).unwrap();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/Dockerfile.template"), "FROM {{ \"base\" | image_tag }}\n").unwrap();
    std::fs::write(d.join("app/changelog"), changelog("app", &["1"])).unwrap();
    std::fs::write(d.join("app/control"), "Depends: base\n").unwrap();
    commit_all(std::path::Path::new(r));
    // app moves onto php, bumped; php 8.1 was never published (the stored index).
    std::fs::write(d.join("app/Dockerfile.template"), "FROM {{ \"php\" | image_tag }}\n").unwrap();
    std::fs::write(d.join("app/control"), "Depends: php\n").unwrap();
    std::fs::write(d.join("app/changelog"), changelog("app", &["2", "1"])).unwrap();
    let store = repo.path().join("s.db");
    let st = dockyard::store::open(&dockyard::store::Location::Sqlite(store.clone())).unwrap();
    st.save_tags("reg.example", "ci/php", Some(&["8.0".into()]), dockyard::store::now()).unwrap();
    drop(st);
    let s = store.to_str().unwrap();
    let out = dockyard(&[
        "impact",
        "--repo",
        r,
        "--base",
        "HEAD",
        "--registry",
        "--offline",
        "--store",
        s,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "app").unwrap().clone();
    assert_eq!(app["change"], "bumped", "{app}");
    assert_eq!(app["unbuilt_parents"], serde_json::json!(["php:8.1"]), "{app}");
    let text = stdout(&dockyard(&["impact", "--repo", r, "--base", "HEAD", "--registry", "--offline", "--store", s]));
    assert!(text.contains("its new parent php:8.1 is not published"), "{text}");
}

/// The busybox repository on `reg` with `app` 1.0 on `base`.
fn app_on_busybox(reg: &Registry) -> tempfile::TempDir {
    let dir = busybox_repo(&reg.host);
    image(&dir.path().join("dockerfiles"), "app", "1.0", &["base"], "RUN echo one > /v\n", &[]);
    dir
}

/// Item 5 (the issue's own case): the engine holds `app:1.0`, built by
/// another checkout on the old `base`; this checkout gives app the same
/// version on a rebuilt base. `build --push` must build app again, never
/// publish the copy it has. The labels on what it publishes say what it was
/// built from (read back from the registry by oci-client).
#[test]
fn a_tag_built_from_other_inputs_is_built_again_never_published_as_is() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let dir = app_on_busybox(&reg);
    let d = dir.path().join("dockerfiles");
    let r = dir.path().to_str().unwrap();
    let s = dir.path().join("s.db");
    let s = s.to_str().unwrap();
    // The other checkout: built, not pushed.
    let out = command(&["build", "--repo", r, "--store", s]).env("DOCKER_HOST", &engine.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = engine.image_id(&format!("{}/ci/app:1.0", reg.host));
    assert!(first.starts_with("sha256:"), "{first}");
    // This checkout: base bumped and changed, app's version unchanged.
    std::fs::write(d.join("base/changelog"), changelog("base", &["1.1", "1.0"])).unwrap();
    let t = std::fs::read_to_string(d.join("base/Dockerfile.template")).unwrap();
    std::fs::write(d.join("base/Dockerfile.template"), format!("{t}ENV REBUILT=1\n")).unwrap();
    let (code, plan, err) = dry_run(dir.path(), &engine, &["--push"]);
    assert_eq!(code, Some(0), "{err}");
    let (act, why) = action(&plan, "app");
    assert_eq!(act, "stale-build", "{why}");
    assert!(why.contains("Dockerfile") || why.contains("base"), "{why}");
    let out =
        command(&["build", "--repo", r, "--push", "--store", s]).env("DOCKER_HOST", &engine.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = engine.image_id(&format!("{}/ci/app:1.0", reg.host));
    assert_ne!(first, second, "the copy built on the old base was published as is");
    // The registry's own config: built on base 1.1, from this Dockerfile.
    let (_, config) = config_of(&reg.host, "ci/app", "1.0");
    let labels = &config["config"]["Labels"];
    let base_id = engine.image_id(&format!("{}/ci/base:1.1", reg.host));
    assert_eq!(
        labels["org.wikimedia.dockyard.parents"],
        format!("{}/ci/base:1.1@{base_id}", reg.host).as_str(),
        "{labels}"
    );
    let rendered = command(&["render", "--repo", r, "--image", "app", "--format", "json"]).output().unwrap();
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let rendered: Value = serde_json::from_slice(&rendered.stdout).unwrap();
    let rendered_digest = dockyard::sha::digest(rendered["images"]["app"]["dockerfile"].as_str().unwrap().as_bytes());
    assert_eq!(labels["org.wikimedia.dockyard.dockerfile.sha256"], rendered_digest.as_str(), "{labels}");
    assert_eq!(labels["org.wikimedia.dockyard.version"], env!("CARGO_PKG_VERSION"));
    assert!(labels["org.wikimedia.dockyard.context.sha256"].as_str().unwrap().starts_with("sha256:"));
    // Nothing changed since: the engine's copies are current, nothing is built.
    let (_, plan, _) = dry_run(dir.path(), &engine, &["--push"]);
    assert_eq!(action(&plan, "app").0, "present", "{plan}");
    // A parent rebuilt under the same tag (its content changed, its version
    // did not): the child's label names another image id.
    std::fs::write(d.join("base/Dockerfile.template"), format!("{t}ENV REBUILT=2\n")).unwrap();
    engine.docker(&["rmi", &format!("{}/ci/base:1.1", reg.host)]);
    let out = command(&["build", "--repo", r, "--no-pull", "--select", "*/base:*", "--store", s])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, plan, _) = dry_run(dir.path(), &engine, &["--no-pull"]);
    let (act, why) = action(&plan, "app");
    assert_eq!(act, "stale-build", "{plan}");
    assert!(why.contains("built on another"), "{why}");
}

/// Item 5, the registry side: a version already published with other
/// contents is never built over, at build (broken, exit 1, the `update`
/// command) and in `impact --registry` (two changes, one version).
#[test]
fn a_published_version_with_other_contents_is_caught_at_build_and_in_impact() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let dir = app_on_busybox(&reg);
    let d = dir.path().join("dockerfiles");
    let r = dir.path().to_str().unwrap();
    let s = dir.path().join("s.db");
    let s = s.to_str().unwrap();
    commit_all(dir.path());
    // Change one: app 1.1, published.
    std::fs::write(d.join("app/changelog"), changelog("app", &["1.1", "1.0"])).unwrap();
    std::fs::write(d.join("app/Dockerfile.template"), "FROM {{ \"base\" | image_tag }}\nRUN echo two > /v\n").unwrap();
    let out =
        command(&["build", "--repo", r, "--push", "--store", s]).env("DOCKER_HOST", &engine.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Change two, from the same base: app 1.1 again, other contents.
    std::fs::write(d.join("app/Dockerfile.template"), "FROM {{ \"base\" | image_tag }}\nRUN echo three > /v\n")
        .unwrap();
    let (code, plan, err) = dry_run(dir.path(), &engine, &["--push"]);
    assert_eq!(code, Some(1), "{err}");
    let (act, why) = action(&plan, "app");
    assert_eq!(act, "broken", "{plan}");
    assert!(why.contains("already published") && why.contains("dockyard update app"), "{why}");
    assert!(plan["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("app")), "{plan}");
    // impact against the commit before either change.
    let out = command(&["impact", "--repo", r, "--registry", "--store", s, "--base", "HEAD", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "app").unwrap();
    assert_eq!(app["change"], "bumped");
    assert!(app["published_differs"].as_str().unwrap().contains("1.1 is already published"), "{app}");
    // The contents the registry has: impact says nothing.
    std::fs::write(d.join("app/Dockerfile.template"), "FROM {{ \"base\" | image_tag }}\nRUN echo two > /v\n").unwrap();
    let out = command(&["impact", "--repo", r, "--registry", "--store", s, "--base", "HEAD", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "app").unwrap();
    assert!(app.get("published_differs").is_none(), "{app}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Item 10: a run says where it came from (the repository, its commit and
/// whether it was dirty, the command line) and what it made (the image id
/// built and the digest pushed, as the engine and the registry know them).
#[test]
fn a_run_records_its_source_command_and_the_digests_it_made() {
    let engine = Dockerd::start();
    let reg = Registry::start(false);
    let dir = busybox_repo(&reg.host);
    let r = dir.path().to_str().unwrap();
    let s = dir.path().join("s.db");
    let s = s.to_str().unwrap();
    let head = commit_all(dir.path());
    std::fs::write(dir.path().join("jjb/new.yaml"), "# not committed\n").unwrap();
    let out = command(&["build", "--repo", r, "--push", "--store", s, "--jobs", "1"])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = command(&["builds", "--repo", r, "--store", s, "--format", "json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = runs["runs"][0]["id"].as_i64().unwrap().to_string();
    let out = command(&["builds", "show", &id, "--repo", r, "--store", s, "--format", "json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let src = &v["source"];
    assert_eq!(src["repo"], std::fs::canonicalize(dir.path()).unwrap().to_str().unwrap(), "{v}");
    assert_eq!(src["commit"], head.as_str());
    assert_eq!(src["dirty"], true);
    let command_line: Vec<&str> = src["command"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(command_line.windows(2).any(|w| w == ["--jobs", "1"]) && command_line.contains(&"--push"), "{src}");
    let base = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "base").unwrap();
    assert_eq!(base["built"], engine.image_id(&format!("{}/ci/base:1.0", reg.host)).as_str(), "{base}");
    let (digest, _) = config_of(&reg.host, "ci/base", "1.0");
    assert_eq!(base["pushed"], digest.as_str(), "{base}");
    // The text says it too, and the push log names the layers.
    let out = command(&["builds", "show", &id, "--repo", r, "--store", s]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("at {head} with uncommitted changes")), "{text}");
    assert!(text.contains(&format!("pushed {digest}")), "{text}");
    assert!(text.contains("layer 1: sha256:"), "{text}");
    assert!(!text.lines().any(|l| l.trim() == "Preparing"), "{text}");
}
