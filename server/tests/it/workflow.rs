//! The maintainer's workflow never says "fine" when it is not (issue 22):
//! each bad state exits non-zero, names its file or image, and the rest of
//! the catalog is still planned. Real engine, real registry.

use crate::common::*;
use crate::engines::*;
use crate::regsupport::Registry;
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
}
