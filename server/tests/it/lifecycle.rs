//! The catalog's lifecycle (issue 21) against a real `docker-registry` with
//! deletion enabled, seeded by real builds whose images share layers. The
//! expected sizes come from the registry's own blobs (read by oci-client,
//! and from its storage folder), never from dockyard.

use crate::common::*;
use crate::engines::*;
use crate::regsupport::{Registry, blobs_of};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A catalog on `reg`: base 1.0, app 1.0 → 1.3 each built and pushed (so the
/// registry holds four versions sharing base's layer), `old` 1.0 and 1.1
/// pushed and then removed from the catalog, a pin on app 1.1, and
/// `app:1.1-alias` pushed with 1.1's manifest.
fn seeded(engine: &Dockerd, reg: &Registry) -> (tempfile::TempDir, String) {
    let dir = busybox_repo(&reg.host);
    let d = dir.path().join("dockerfiles");
    let r = dir.path().to_str().unwrap().to_owned();
    let s = dir.path().join("s.db");
    let build = |what: &str| {
        let out = command(&["build", "--repo", &r, "--push", "--store", s.to_str().unwrap(), "--max-age", "0"])
            .env("DOCKER_HOST", &engine.host)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
    };
    let mut versions: Vec<&str> = Vec::new();
    for v in ["1.0", "1.1", "1.2", "1.3"] {
        versions.insert(0, v);
        image(&d, "app", v, &["base"], &format!("RUN echo {v} > /version\n"), &[]);
        std::fs::write(d.join("app/changelog"), changelog("app", &versions)).unwrap();
        if v == "1.0" {
            image(&d, "old", "1.0", &["base"], "RUN echo old > /o\n", &[]);
        }
        if v == "1.1" {
            std::fs::write(d.join("old/changelog"), changelog("old", &["1.1", "1.0"])).unwrap();
            std::fs::write(d.join("old/Dockerfile.template"), "FROM {{ \"base\" | image_tag }}\nRUN echo old2 > /o\n")
                .unwrap();
        }
        build(v);
    }
    std::fs::remove_dir_all(d.join("old")).unwrap();
    let alias = format!("{}/ci/app:1.1-alias", reg.host);
    assert!(engine.docker(&["tag", &format!("{}/ci/app:1.1", reg.host), &alias]).status.success());
    let out = engine.docker(&["push", &alias]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(dir.path().join("jjb/jobs.yaml"), format!("- job:\n    image: {}/ci/app:1.1\n", reg.host)).unwrap();
    (dir, s.to_str().unwrap().to_owned())
}

/// The newest run of the store, with its images (`builds show --format json`).
fn last_run(repo: &str, store: &str) -> Value {
    let runs = json(&command(&["builds", "--repo", repo, "--store", store, "--format", "json"]).output().unwrap());
    let id = runs["runs"][0]["id"].as_i64().unwrap().to_string();
    json(&command(&["builds", "show", &id, "--repo", repo, "--store", store, "--format", "json"]).output().unwrap())
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

#[test]
fn cleanup_deletes_exactly_the_plan_keeps_shared_digests_and_gc_frees_what_it_said() {
    let engine = Dockerd::start();
    let reg = Registry::start_logged(true);
    let (dir, s) = seeded(&engine, &reg);
    let r = dir.path().to_str().unwrap();
    // --max-age 0: the tags pushed behind dockyard's back (the alias) are
    // listed, as --delete always lists them.
    let args = [
        "cleanup",
        "--repo",
        r,
        "--store",
        &s,
        "--keep-last",
        "1",
        "--min-age",
        "0",
        "--max-age",
        "0",
        "--format",
        "json",
    ];
    let out = command(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = json(&out);
    let deleted: BTreeSet<String> = plan["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}:{}", d["image"].as_str().unwrap(), d["tag"].as_str().unwrap()))
        .collect();
    // app 1.3 is current, 1.1 pinned, 1.1-alias shares 1.1's digest; old 1.1
    // is the newest of an image no longer in the catalog.
    assert_eq!(deleted, BTreeSet::from(["app:1.0".to_owned(), "app:1.2".to_owned(), "old:1.0".to_owned()]), "{plan}");
    let keep: BTreeMap<String, String> = plan["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                format!("{}:{}", k["image"].as_str().unwrap(), k["tag"].as_str().unwrap()),
                k["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(keep["app:1.3"], "current");
    assert_eq!(keep["app:1.1"], "pinned");
    assert_eq!(keep["app:1.1-alias"], "shares-digest");
    assert_eq!(keep.get("old:1.1").map(String::as_str), Some("recent"), "{keep:?}");
    assert_eq!(keep["base:1.0"], "current");
    // The digests are the registry's own.
    for d in plan["delete"].as_array().unwrap() {
        let (digest, _) = crate::regsupport::config_of(
            &reg.host,
            &format!("ci/{}", d["image"].as_str().unwrap()),
            d["tag"].as_str().unwrap(),
        );
        assert_eq!(d["digest"], digest.as_str());
    }
    // Reclaimable: the blobs only the deleted manifests reference, by the
    // registry's own manifests.
    let mut kept_blobs = BTreeSet::new();
    for (image, tag) in keep.keys().filter_map(|k| k.split_once(':')) {
        kept_blobs.extend(blobs_of(&reg.host, &format!("ci/{image}"), tag).into_iter().map(|b| b.0));
    }
    let mut freed: BTreeMap<String, u64> = BTreeMap::new();
    let mut manifest_bytes = 0;
    for (image, tag) in deleted.iter().filter_map(|k| k.split_once(':')) {
        for (digest, size) in blobs_of(&reg.host, &format!("ci/{image}"), tag) {
            if !kept_blobs.contains(&digest) {
                freed.insert(digest, size);
            }
        }
        manifest_bytes += 2048;
    }
    assert_eq!(plan["reclaimable_bytes"], freed.values().sum::<u64>(), "{plan}");
    assert!(plan["reclaimable_bytes"].as_u64().unwrap() > 0);
    // Retirement: no pin names `base`? It is app's parent; app is pinned.
    assert_eq!(plan["retire"].as_array().unwrap().len(), 0, "{plan}");

    // Delete, then collect garbage: exactly the planned tags are gone, and
    // the storage shrinks by what was said (plus the manifests themselves).
    let before = reg.blob_bytes();
    let mut del = args.to_vec();
    del.push("--delete");
    let out = command(&del).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tags = |repo: &str| -> BTreeSet<String> {
        let out =
            command(&["registry", "--repo", r, "--store", &s, "--max-age", "0", "--format", "json"]).output().unwrap();
        let v = json(&out);
        let _ = repo;
        v["registries"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| {
                let image = e["image"].as_str().unwrap().to_owned();
                e["tags"].as_array().unwrap().iter().map(move |t| format!("{image}:{}", t.as_str().unwrap()))
            })
            .collect()
    };
    let now = tags("");
    for gone in ["app:1.0", "app:1.2"] {
        assert!(!now.contains(gone), "{gone} is still there: {now:?}");
    }
    for kept in ["app:1.1", "app:1.1-alias", "app:1.3", "base:1.0", "app:latest"] {
        assert!(now.contains(kept), "{kept} was deleted: {now:?}");
    }
    reg.garbage_collect();
    let after = reg.blob_bytes();
    let reclaimable = plan["reclaimable_bytes"].as_u64().unwrap();
    let gc_freed = before - after;
    eprintln!("garbage-collect freed {gc_freed} bytes; dockyard said {reclaimable}");
    assert!(
        gc_freed >= reclaimable && gc_freed <= reclaimable + manifest_bytes,
        "garbage-collect freed {gc_freed} bytes; dockyard said {reclaimable} (+ at most {manifest_bytes} of manifests)"
    );
    // The deletion is a run in the history: one item per tag, action delete.
    let run = last_run(r, &s);
    let items: BTreeSet<(String, String, String)> = run["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["action"].as_str().unwrap().into(),
                i["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> =
        deleted.iter().map(|d| (d.clone(), "delete".to_owned(), "deleted".to_owned())).collect();
    assert_eq!(items, want, "{run}");
    eprintln!("CLEANUP JSON\n{}", stdout(&out));
}

#[test]
fn a_registry_that_refuses_deletion_fails_the_first_item_and_deletes_nothing_else() {
    let engine = Dockerd::start();
    let reg = Registry::start_logged(false);
    let (dir, s) = seeded(&engine, &reg);
    let r = dir.path().to_str().unwrap();
    let out = command(&["cleanup", "--repo", r, "--store", &s, "--keep-last", "1", "--min-age", "0", "--delete"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let run = last_run(r, &s);
    let states: Vec<(&str, &str)> = run["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["state"].as_str().unwrap(), i["error"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(states[0].0, "failed", "{run}");
    assert!(states[0].1.contains("does not allow deletion"), "{run}");
    assert!(states[1..].iter().all(|(s, e)| *s == "skipped" && e.contains("not attempted")), "{run}\n{text}");
    // Every tag is still there.
    for tag in ["1.0", "1.2"] {
        let (digest, _) = crate::regsupport::config_of(&reg.host, "ci/app", tag);
        assert!(digest.starts_with("sha256:"));
    }
}

#[test]
fn sizes_come_from_the_registrys_blobs_and_a_second_run_asks_for_no_manifest() {
    let engine = Dockerd::start();
    let reg = Registry::start_logged(true);
    let (dir, s) = seeded(&engine, &reg);
    let r = dir.path().to_str().unwrap();
    // Pin base too, so two pinned images share base's layer.
    std::fs::write(
        dir.path().join("jjb/jobs.yaml"),
        format!("- job:\n    image: {0}/ci/app:1.1\n- job:\n    image: {0}/ci/base:1.0\n", reg.host),
    )
    .unwrap();
    let manifests_asked = |log: &str| log.lines().filter(|l| l.contains("/manifests/")).count();
    let sizes = |docker_host: &str| {
        command(&["sizes", "--repo", r, "--store", &s, "--format", "json"])
            .env("DOCKER_HOST", docker_host)
            .output()
            .unwrap()
    };
    let before = manifests_asked(&reg.log());
    let out = sizes(&engine.host);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = manifests_asked(&reg.log()) - before;
    let v = json(&out);
    let app = blobs_of(&reg.host, "ci/app", "1.1");
    let base = blobs_of(&reg.host, "ci/base", "1.0");
    let size = |b: &[(String, u64)]| b.iter().map(|x| x.1).sum::<u64>();
    let row = |label: &str| v["images"].as_array().unwrap().iter().find(|i| i["label"] == label).unwrap().clone();
    let app_row = row(&format!("{}/ci/app:1.1", reg.host));
    assert_eq!(app_row["compressed_bytes"], size(&app), "{v}");
    let shared: u64 = app.iter().filter(|b| base.iter().any(|c| c.0 == b.0)).map(|b| b.1).sum();
    assert!(shared > 0, "app and base share no blob");
    assert_eq!(app_row["shared_bytes"], shared, "{v}");
    let unique: BTreeMap<String, u64> = app.iter().chain(base.iter()).cloned().collect();
    assert_eq!(v["fresh_agent_bytes"], unique.values().sum::<u64>(), "{v}");
    // The engine built both: it lacks nothing.
    assert_eq!(v["hosts"][0]["missing_bytes"], 0, "{v}");
    // Again: every digest is known, no manifest is asked for.
    let before = manifests_asked(&reg.log());
    let out = sizes(&engine.host);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = manifests_asked(&reg.log()) - before;
    assert_eq!(json(&out), v);
    assert!(first > 0);
    assert_eq!(second, 0, "the second run asked for {second} manifests");
    eprintln!("SIZES JSON (manifest requests: first run {first}, second run {second})\n{}", stdout(&out));
    // A fresh engine lacks everything.
    let fresh = Dockerd::start();
    let out = sizes(&fresh.host);
    assert_eq!(json(&out)["hosts"][0]["missing_bytes"], unique.values().sum::<u64>());
}

#[test]
fn retire_candidates_are_images_nothing_pins_or_builds_on() {
    // The real catalog: 3 images no job pins and no image builds on.
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.db");
    let repo = corpus().join("integration-config");
    let out = dockyard(&[
        "cleanup",
        "--repo",
        repo.to_str().unwrap(),
        "--offline",
        "--store",
        store.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v = json(&out);
    let names: Vec<&str> = v["retire"].as_array().unwrap().iter().map(|r| r["image"].as_str().unwrap()).collect();
    assert_eq!(names, ["ajv", "buildctl", "php81-compile"], "{v}");
    for r in v["retire"].as_array().unwrap() {
        assert!(r["last_changed"].as_str().unwrap().len() == 10, "{r}");
    }
}
