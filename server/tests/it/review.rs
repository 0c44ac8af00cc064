//! The review loop on real git repositories made here: `impact` classifies
//! every kind of change and every pin rule, in three formats; `try` runs an
//! image on a real engine as CI does.

use crate::common::*;
use crate::engines::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (p, t) in files {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    }
}

/// A repository with a first commit: `base` (COPY of a glob and a folder,
/// a .dockerignore, a README), `child` FROM base, `gone`, and pins.
fn history() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]);
    write(
        r,
        &[
            ("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\napt_options: -q\n"),
            (
                "dockerfiles/base/Dockerfile.template",
                "FROM scratch\nCOPY *.sh /usr/local/bin/\nCOPY files/ /files/\nRUN apt-get {{ apt_options }}\n",
            ),
            ("dockerfiles/base/changelog", &changelog("base", &["1.0"])),
            ("dockerfiles/base/run.sh", "echo run\n"),
            ("dockerfiles/base/ignored.sh", "echo ignored\n"),
            ("dockerfiles/base/.dockerignore", "ignored.sh\n"),
            ("dockerfiles/base/files/a.txt", "a\n"),
            ("dockerfiles/base/README.md", "about base\n"),
            ("dockerfiles/child/Dockerfile.template", "FROM {{ \"base\" | image_tag }}\nRUN true\n"),
            ("dockerfiles/child/changelog", &changelog("child", &["1.0"])),
            ("dockerfiles/child/control", "Package: child\nDepends: base\n"),
            ("dockerfiles/gone/Dockerfile.template", "FROM scratch\n"),
            ("dockerfiles/gone/changelog", &changelog("gone", &["1"])),
            ("dockerfiles/other/Dockerfile.template", "FROM scratch\nRUN true\n"),
            ("dockerfiles/other/changelog", &changelog("other", &["1"])),
            (
                "jjb/jobs.yaml",
                "- job:\n    a: reg.example/ci/child:1.0\n    b: reg.example/ci/gone:1\n    c: reg.example/ci/base:1.0\n",
            ),
        ],
    );
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "first"]);
    dir
}

fn impact(repo: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = dockyard(
        &[&["impact", "--repo", repo.to_str().unwrap(), "--base", "main", "--format", "json"][..], extra].concat(),
    );
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}{}", stdout(&out), stderr(&out))),
    )
}

fn classes(report: &Value) -> BTreeMap<String, String> {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), i["change"].as_str().unwrap().to_owned()))
        .collect()
}

fn files_of(report: &Value, name: &str) -> Vec<String> {
    let i = report["images"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap();
    i["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_copied_glob_file_or_folder_changed_without_a_bump_is_unbumped() {
    let repo = history();
    let r = repo.path();
    write(r, &[("dockerfiles/base/run.sh", "echo run faster\n")]);
    let (code, rep) = impact(r, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(classes(&rep), BTreeMap::from([("base".into(), "unbumped".into())]));
    assert_eq!(files_of(&rep, "base"), ["dockerfiles/base/run.sh"]);
    git(r, &["checkout", "-q", "--", "."]);
    write(r, &[("dockerfiles/base/files/a.txt", "changed\n")]);
    let (code, rep) = impact(r, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(files_of(&rep, "base"), ["dockerfiles/base/files/a.txt"]);
    assert!(rep["update_commands"][0].as_str().unwrap().starts_with("dockyard update base --reason "));
}

#[test]
fn files_no_copy_takes_are_outside_the_image() {
    let repo = history();
    let r = repo.path();
    // ignored.sh matches COPY *.sh, but .dockerignore keeps it out.
    write(r, &[("dockerfiles/base/ignored.sh", "echo changed\n"), ("dockerfiles/base/README.md", "more about base\n")]);
    let (code, rep) = impact(r, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(classes(&rep), BTreeMap::from([("base".into(), "outside-image".into())]));
    assert_eq!(files_of(&rep, "base"), ["dockerfiles/base/README.md", "dockerfiles/base/ignored.sh"]);
}

#[test]
fn a_config_change_reaches_every_image_that_renders_it() {
    let repo = history();
    let r = repo.path();
    write(r, &[("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\napt_options: -qq\n")]);
    let (code, rep) = impact(r, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(classes(&rep), BTreeMap::from([("base".into(), "unbumped".into())]));
    assert!(files_of(&rep, "base").contains(&"dockerfiles/config.yaml".to_owned()), "{rep}");
}

#[test]
fn a_bumped_parent_leaves_its_unbumped_children_on_the_old_parent() {
    let repo = history();
    let r = repo.path();
    write(
        r,
        &[
            ("dockerfiles/base/changelog", &changelog("base", &["1.1", "1.0"])),
            ("dockerfiles/base/run.sh", "echo v2\n"),
        ],
    );
    // A stale parent fails the gate, with the update that mends it (issue
    // 22, item 8); --allow-stale-parents lets it pass.
    let (code, rep) = impact(r, &[]);
    assert_eq!(code, Some(1), "{rep}");
    let commands = rep["update_commands"].as_array().unwrap();
    assert!(commands.iter().any(|c| c.as_str().unwrap().starts_with("dockyard update child --reason")), "{rep}");
    let (code, rep) = impact(r, &["--allow-stale-parents"]);
    assert_eq!(code, Some(0), "{rep}");
    assert_eq!(
        classes(&rep),
        BTreeMap::from([("base".into(), "bumped".into()), ("child".into(), "stale-parent".into())])
    );
    let child = rep["images"].as_array().unwrap().iter().find(|i| i["name"] == "child").unwrap();
    assert_eq!(child["bumped_ancestors"], serde_json::json!(["base"]));
    assert_eq!((child["base_version"].as_str(), child["head_version"].as_str()), (Some("1.0"), Some("1.0")));
}

#[test]
fn added_and_removed_images_and_the_pin_rules_between_two_commits() {
    let repo = history();
    let r = repo.path();
    std::fs::remove_dir_all(r.join("dockerfiles/gone")).unwrap();
    write(
        r,
        &[
            ("dockerfiles/new/Dockerfile.template", "FROM scratch\n"),
            ("dockerfiles/new/changelog", &changelog("new", &["0.1"])),
            ("dockerfiles/base/changelog", &changelog("base", &["1.1", "1.0"])),
            // The pin to base moves to the version this change introduces;
            // the pin to `gone` stays, and `gone` is removed.
            (
                "jjb/jobs.yaml",
                "- job:\n    a: reg.example/ci/child:1.0\n    b: reg.example/ci/gone:1\n    c: reg.example/ci/base:1.1\n",
            ),
        ],
    );
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "second"]);
    let out =
        dockyard(&["impact", "--repo", r.to_str().unwrap(), "--base", "HEAD~1", "--head", "HEAD", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "a pin to a removed image fails: {}", stderr(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        classes(&rep),
        BTreeMap::from([
            ("base".into(), "bumped".into()),
            ("child".into(), "stale-parent".into()),
            ("gone".into(), "removed".into()),
            ("new".into(), "added".into()),
        ])
    );
    let pins: Vec<(String, String, bool)> = rep["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["image"].as_str().unwrap().to_owned(),
                p["impact"].as_str().unwrap().to_owned(),
                p["error"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pins,
        [("gone".into(), "removed-image".into(), true), ("base".into(), "unpublished-until-merge".into(), false)]
    );
    // Text for Gerrit, worst first, and JUnit for Jenkins.
    let text = stdout(&dockyard(&["impact", "--repo", r.to_str().unwrap(), "--base", "HEAD~1", "--head", "HEAD"]));
    let removed = text.find("removed").unwrap();
    let added = text.find("added").unwrap();
    assert!(removed < added, "{text}");
    assert!(text.contains("pins gone:1, an image this change removes"), "{text}");
    let junit = stdout(&dockyard(&[
        "impact",
        "--repo",
        r.to_str().unwrap(),
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--format",
        "junit",
    ]));
    let path = r.join("impact.xml");
    std::fs::write(&path, &junit).unwrap();
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,xml.dom.minidom as m; d=m.parse(sys.argv[1]); print(len(d.getElementsByTagName('failure')))",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "1", "{junit}");
    // The API answers the same JSON.
    let server = Server::start(&["--repo", r.to_str().unwrap()]);
    let (status, _, body) = server.get("/api/v1/impact?base=HEAD~1&head=HEAD");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, stdout(&out));
    let (status, _, _) = server.get("/api/v1/impact?base=--output=/tmp/x");
    assert_eq!(status, 422);
}

#[test]
fn text_output_ends_with_the_update_command() {
    let repo = history();
    let r = repo.path();
    write(r, &[("dockerfiles/base/run.sh", "echo changed\n")]);
    let out = dockyard(&["impact", "--repo", r.to_str().unwrap(), "--base", "main"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    assert!(last.trim_start().starts_with("dockyard update base --reason"), "{text}");
}

// ------------------------------------------------------------------ try

fn try_catalog(engine: &Dockerd) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dockerfiles");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("config.yaml"), "registry: 127.0.0.1:1\nnamespace: ci\n").unwrap();
    busybox_base(&d.join("base"));
    std::fs::write(d.join("base/changelog"), changelog("base", &["1.0"])).unwrap();
    image(
        &d,
        "tool",
        "2.0",
        &["base"],
        "CMD [\"sh\", \"-c\", \"env | sort > /var/lib/jenkins/log/env.txt; ls /src > /var/lib/jenkins/log/src.txt; touch /cache/c; echo done\"]\n",
        &[],
    );
    image(&d, "three", "1", &["base"], "CMD [\"sh\", \"-c\", \"exit 3\"]\n", &[]);
    let _ = engine;
    dir
}

#[test]
fn try_runs_an_image_as_ci_does() {
    let engine = Dockerd::start();
    let cat = try_catalog(&engine);
    let r = cat.path().to_str().unwrap();
    // A project checkout to mount.
    let src = tempfile::tempdir().unwrap();
    write(src.path(), &[("composer.json", "{}"), ("src/A.php", "<?php")]);
    git(src.path(), &["init", "-q", "-b", "main"]);
    git(src.path(), &["remote", "add", "origin", "https://gerrit.example.org/r/mediawiki/extensions/Foo.git"]);
    git(src.path(), &["add", "-A"]);
    git(src.path(), &["commit", "-q", "-m", "x"]);
    let commit = git(src.path(), &["rev-parse", "HEAD"]);
    std::fs::write(src.path().join("ci.env"), "# CI\nFROM_FILE=yes\n").unwrap();
    let run = |args: &[&str]| {
        command(&[&["try"][..], args].concat())
            .env("DOCKER_HOST", &engine.host)
            .current_dir(src.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // Neither the engine nor the registry has it: say so, offer the build.
    let out = run(&["tool", "--repo", r]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("dockyard build --select"), "{}", stderr(&out));
    // A version the changelog does not have can never be built: nothing is
    // recorded, and the advice is a command that works.
    let store = cat.path().join("s.db");
    let out = run(&["tool:9.9", "--repo", r, "--build", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("tool:2.0") && err.contains("dockyard update tool --version 9.9"), "{err}");
    assert!(!err.contains("build --select"), "{err}");
    let runs =
        command(&["builds", "--repo", r, "--store", store.to_str().unwrap(), "--format", "json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap_or_default();
    assert_eq!(runs["runs"].as_array().map_or(0, Vec::len), 0, "{runs}");
    let out = run(&["tool", "--repo", r, "--build", "--zuul", "-e", "FROM_FLAG=1", "--env-file", "ci.env"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("done"));
    // As CI: log and cache beside the checkout, never in it; the cache is
    // gone afterwards, the log the job wrote is kept and named.
    for d in ["log", "cache"] {
        assert!(!src.path().join(d).exists(), "try left {d}/ in the checkout");
    }
    let err = stderr(&out);
    let log = err
        .lines()
        .find_map(|l| l.strip_prefix("the job's log folder (/var/lib/jenkins/log): "))
        .and_then(|l| l.split(" (").next())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("the log folder is not named: {err}"));
    assert!(!log.starts_with(src.path()), "{}", log.display());
    assert!(!log.parent().unwrap().join("cache").exists(), "the cache was left behind");
    let env = std::fs::read_to_string(log.join("env.txt")).unwrap();
    for want in [
        "FROM_FLAG=1".to_owned(),
        "FROM_FILE=yes".to_owned(),
        format!("ZUUL_COMMIT={commit}"),
        "ZUUL_PROJECT=mediawiki/extensions/Foo".to_owned(),
        "ZUUL_URL=https://gerrit.example.org/r".to_owned(),
        "ZUUL_REF=refs/heads/main".to_owned(),
    ] {
        assert!(env.contains(&want), "{want} missing from {env}");
    }
    let listing = std::fs::read_to_string(log.join("src.txt")).unwrap();
    assert!(listing.contains("composer.json") && listing.contains("src"), "{listing}");
    assert!(!listing.contains("log") && !listing.contains("cache"), "{listing}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o777);
    std::fs::remove_dir_all(log.parent().unwrap()).unwrap();
    // Folders the user names are used, and kept; never inside the checkout.
    let keep = tempfile::tempdir().unwrap();
    let (l, c) = (keep.path().join("l"), keep.path().join("c"));
    let out = run(&["tool", "--repo", r, "--log-dir", l.to_str().unwrap(), "--cache-dir", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(l.join("env.txt").exists() && c.join("c").exists());
    let out = run(&["tool", "--repo", r, "--log-dir", "log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("inside the checkout"), "{}", stderr(&out));
    // Its exit code is dockyard's.
    let out = run(&["three", "--repo", r, "--build"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // --print shows the docker run line.
    let out = run(&["tool", "--repo", r, "--print", "-e", "A=b c"]);
    let line = stdout(&out);
    assert!(
        line.starts_with("docker run --rm -i --volume ")
            && line.contains("--env 'A=b c'")
            && line.contains("127.0.0.1:1/ci/tool:2.0"),
        "{line}"
    );
    // No container is left behind.
    let left = engine.docker(&["ps", "-aq", "--filter", "label=dockyard.try"]);
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}

#[test]
fn try_shell_under_a_pseudo_terminal_gets_a_prompt() {
    let engine = Dockerd::start();
    let cat = try_catalog(&engine);
    let src = tempfile::tempdir().unwrap();
    let bin = bin();
    // Build first, then open a shell through `script` (a real pty).
    let out = command(&["build", "--repo", cat.path().to_str().unwrap(), "--no-pull", "--select", "*/base:*"])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cmd = format!("{} try base --repo {} --shell", bin.display(), cat.path().display());
    let mut child = std::process::Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .current_dir(src.path())
        .env("DOCKER_HOST", &engine.host)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(3));
        stdin.write_all(b"echo marker-$((6*7))\r").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        stdin.write_all(b"exit 0\r").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("marker-42"), "{text}");
    assert!(text.contains("# "), "no prompt: {text}");
    let left = engine.docker(&["ps", "-aq", "--filter", "label=dockyard.try"]);
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}
