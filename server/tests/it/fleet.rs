//! Several engines: two private `dockerd`s listed in `dockyard.toml` and a
//! real registry. `dockyard hosts` shows the host × pinned-image matrix,
//! `pull --hosts all` fills it on both at once, and a killed host fails on
//! its own while the other is served.

use crate::common::*;
use crate::engines::*;
use crate::regsupport::Registry;
use serde_json::Value;
use std::time::{Duration, Instant};

fn matrix(v: &Value) -> Vec<String> {
    let images: Vec<&str> = v["images"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    let mut out = Vec::new();
    for (h, host) in v["hosts"].as_array().unwrap().iter().enumerate() {
        for (i, image) in images.iter().enumerate() {
            out.push(format!("{} {} {}", host["name"].as_str().unwrap(), image, v["cells"][h][i].as_str().unwrap()));
        }
    }
    out
}

fn outcomes(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["host"].as_str().unwrap(),
                r["image"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn pull_onto_every_host_and_the_matrix_shows_it_and_a_dead_host_fails_alone() {
    let builder = Dockerd::start();
    let reg = Registry::start(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dockerfiles");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("config.yaml"), format!("registry: {}\nnamespace: ci\n", reg.host)).unwrap();
    busybox_base(&d.join("base"));
    std::fs::write(d.join("base/changelog"), changelog("base", &["1.0"])).unwrap();
    image(&d, "a", "1", &["base"], "RUN echo a > /a\n", &[]);
    std::fs::create_dir_all(dir.path().join("jjb")).unwrap();
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("h.db");
    let s = store.to_str().unwrap();
    let out =
        command(&["build", "--repo", r, "--push", "--store", s]).env("DOCKER_HOST", &builder.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        dir.path().join("jjb/jobs.yaml"),
        format!("- job:\n    a: {h}/ci/a:1\n    b: {h}/ci/base:1.0\n", h = reg.host),
    )
    .unwrap();

    let one = Dockerd::start();
    let mut two = Dockerd::start();
    std::fs::write(
        dir.path().join("dockyard.toml"),
        format!(
            "[[hosts]]\nname = \"one\"\nurl = \"{}\"\n\n[[hosts]]\nname = \"two\"\nurl = \"{}\"\n",
            one.host, two.host
        ),
    )
    .unwrap();
    let (a, base) = (format!("{}/ci/a:1", reg.host), format!("{}/ci/base:1.0", reg.host));
    let run = |args: &[&str]| {
        command(&[args, &["--repo", r, "--store", s, "--format", "json"][..]].concat()).output().unwrap()
    };

    let before = run(&["hosts"]);
    assert_eq!(before.status.code(), Some(1), "missing images are findings: {}", stderr(&before));
    let v: Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(
        matrix(&v),
        [
            format!("one {a} missing"),
            format!("one {base} missing"),
            format!("two {a} missing"),
            format!("two {base} missing")
        ]
    );

    let pulled = run(&["pull", "--hosts", "all", "--digest"]);
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    let v: Value = serde_json::from_slice(&pulled.stdout).unwrap();
    assert_eq!(
        outcomes(&v),
        [
            format!("one {a} pulled"),
            format!("one {base} pulled"),
            format!("two {a} pulled"),
            format!("two {base} pulled")
        ]
    );
    for engine in [&one, &two] {
        assert!(engine.has(&a) && engine.has(&base), "{}", engine.log());
    }
    let after = run(&["hosts", "--digest"]);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    let v: Value = serde_json::from_slice(&after.stdout).unwrap();
    assert!(matrix(&v).iter().all(|c| c.ends_with(" present")), "{:?}", matrix(&v));

    // A tag whose digest moved in the registry is outdated on both hosts.
    builder.docker(&["tag", &a, &base]);
    assert!(builder.docker(&["push", &base]).status.success());
    let moved = run(&["hosts", "--digest", "--max-age", "0"]);
    let v: Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(moved.status.code(), Some(1));
    assert_eq!(
        matrix(&v),
        [
            format!("one {a} present"),
            format!("one {base} outdated"),
            format!("two {a} present"),
            format!("two {base} outdated")
        ]
    );

    // /metrics tells the same: pins by status, each host's presence, the
    // requests it answered.
    let server = Server::start(&["--repo", r, "--store", s, "--registry", "--offline"]);
    assert_eq!(server.get("/api/v1/pins").0, 200);
    let (status, headers, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    for line in [
        "dockyard_pins{status=\"ok\"} 2",
        "dockyard_pins{status=\"stale\"} 0",
        "dockyard_host_up{host=\"one\"} 1",
        "dockyard_host_pinned_images{host=\"one\",presence=\"present\"} 1",
        "dockyard_host_pinned_images{host=\"two\",presence=\"outdated\"} 1",
        "dockyard_runs{state=\"succeeded\"} 1",
        "dockyard_http_request_duration_seconds_count{route=\"/api/v1/pins\",method=\"GET\",status=\"2xx\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }

    // Host two dies: host one is still served, two fails alone, and quickly.
    two.kill();
    let (_, _, metrics) = server.get("/metrics");
    assert!(metrics.lines().any(|l| l == "dockyard_host_up{host=\"two\"} 0"), "{metrics}");
    let started = Instant::now();
    let out = command(&["pull", "--hosts", "all", "--digest", "--repo", r, "--store", s]).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains(&format!("one: pulled   {base}")), "{text}");
    assert!(text.contains(&format!("two: FAILED   {a}")) && text.contains("host unreachable"), "{text}");
    assert!(text.contains("one: 2 images: 1 pulled, 1 present, 0 failed"), "{text}");
    assert!(text.contains("two: 2 images: 0 pulled, 0 present, 2 failed"), "{text}");
    let table = command(&["hosts", "--repo", r, "--store", s]).output().unwrap();
    assert_eq!(table.status.code(), Some(1));
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("host two (") && table.contains("UNREACHABLE"), "{table}");
}
