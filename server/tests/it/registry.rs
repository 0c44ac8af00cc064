//! The registry index against real registries: plain, basic auth, bearer
//! tokens, and faults (500s, slowness, a registry stopped mid-index, wrong
//! credentials). Images are pushed with oci-client, not faked.

use crate::common::*;
use crate::regsupport::*;
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn registry_json(
    catalog: &std::path::Path,
    store: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockyard"));
    cmd.args(["registry", catalog.to_str().unwrap(), "--format", "json", "--store", store.to_str().unwrap()])
        .args(extra)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("DOCKYARD_REGISTRY_USERNAME")
        .env_remove("DOCKYARD_REGISTRY_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    // One catalog root: its registry's index.
    let index = json["registries"].get(0).cloned().unwrap_or(Value::Null);
    (out.status.code(), index, text)
}

/// The request count `dockyard registry` reports on stderr.
fn requests(text: &str) -> u64 {
    let at = text.find(" requests, ").unwrap_or_else(|| panic!("no request count in {text}"));
    let head = &text[..at];
    head[head.rfind(' ').map_or(0, |i| i + 1)..].parse().unwrap()
}

fn entry<'a>(report: &'a Value, image: &str) -> &'a Value {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["image"] == image)
        .unwrap_or_else(|| panic!("no {image} in {report}"))
}

#[test]
fn plain_registry_tags_published_and_request_count() {
    let reg = Registry::start(false);
    push(&reg.host, "ns/app", &["1.0", "0.9", "1.0-s1", "0.10"], false);
    push(&reg.host, "ns/lib", &["2.0"], false);
    push(&reg.host, "bookworm", &["20240101", "latest"], false);
    let base = format!("base_images:\n  - {}/bookworm:20240101\n  - docker.io/library/debian:12\n", reg.host);
    let cat = catalog(&reg.host, &[("app", "1.0-s1"), ("lib", "2.1"), ("ghost", "1")], &base);
    let (code, report, text) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(0), "{text}");
    let app = entry(&report, "app");
    assert_eq!(app["tags"], serde_json::json!(["0.9", "0.10", "1.0", "1.0-s1"]), "sorted in Debian order");
    assert_eq!((app["published"].as_bool(), app["state"].as_str()), (Some(true), Some("fresh")));
    assert_eq!(entry(&report, "lib")["published"], false);
    assert_eq!(entry(&report, "ghost")["state"], "missing");
    // Base images on the same registry are indexed too; others are not ours to ask.
    let bookworm = entry(&report, &format!("{}/bookworm", reg.host));
    assert_eq!((bookworm["base"].as_bool(), bookworm["published"].as_bool()), (Some(true), Some(true)));
    assert_eq!(report["entries"].as_array().unwrap().len(), 4);
    // One probe and one listing per repository: the minimum.
    assert_eq!(requests(&text), 1 + 4);

    // A second run within --max-age asks nothing: served from the store.
    let (_, again, text2) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(entry(&again, "app")["state"], "cached");
    assert_eq!(requests(&text2), 0);
}

#[test]
fn basic_auth_from_config_env_and_docker_config_and_wrong_credentials() {
    let reg = Registry::start(true);
    push(&reg.host, "ns/app", &["1.0"], true);
    // From the docker-pkg config (username/password keys).
    let cat = catalog(&reg.host, &[("app", "1.0")], &format!("username: {USER}\npassword: {PASSWORD}\n"));
    let (code, report, text) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(entry(&report, "app")["published"], true);
    assert!(!text.contains(PASSWORD), "the password leaked into the output");

    // From the environment, and from ~/.docker/config.json.
    let cat = catalog(&reg.host, &[("app", "1.0")], "");
    let (code, _, text) = registry_json(
        cat.path(),
        &store_path(&cat),
        &[],
        &[
            ("DOCKYARD_REGISTRY_USERNAME", USER),
            ("DOCKYARD_REGISTRY_PASSWORD", PASSWORD),
            ("DOCKYARD_REGISTRY_HOST", &reg.host),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    let docker = tempfile::tempdir().unwrap();
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.path().join("config.json"),
        format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}", reg.host),
    )
    .unwrap();
    let cat = catalog(&reg.host, &[("app", "1.0")], "");
    let (code, report, text) =
        registry_json(cat.path(), &store_path(&cat), &[], &[("DOCKER_CONFIG", docker.path().to_str().unwrap())]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(entry(&report, "app")["state"], "fresh");

    // From a credential helper named in config.json.
    let helper_dir = tempfile::tempdir().unwrap();
    let helper = helper_dir.path().join("docker-credential-dockyardtest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread host\n[ \"$host\" = \"{}\" ] || exit 1\necho '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n", reg.host),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        docker.path().join("config.json"),
        format!("{{\"credHelpers\":{{\"{}\":\"dockyardtest\"}}}}", reg.host),
    )
    .unwrap();
    let path = format!("{}:{}", helper_dir.path().display(), std::env::var("PATH").unwrap());
    let (code, report, text) = registry_json(
        cat.path(),
        &store_path(&cat),
        &["--max-age", "0"],
        &[("DOCKER_CONFIG", docker.path().to_str().unwrap()), ("PATH", &path)],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(entry(&report, "app")["state"], "fresh");

    // Wrong credentials: a clear per-image error, exit 1, no secret shown.
    let cat = catalog(&reg.host, &[("app", "1.0")], &format!("username: {USER}\npassword: wrong-{PASSWORD}\n"));
    let (code, report, text) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    let err = entry(&report, "app")["error"].as_str().unwrap();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!text.contains(PASSWORD), "the password leaked into the output");
    // No credentials at all.
    let cat = catalog(&reg.host, &[("app", "1.0")], "");
    let (code, report, _) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(1));
    assert!(entry(&report, "app")["error"].as_str().unwrap().contains("wants credentials"));
}

#[test]
fn bearer_tokens_cover_many_repositories_per_request() {
    let reg = Registry::start(false);
    let names: Vec<String> = (0..10).map(|i| format!("img{i}")).collect();
    for n in &names {
        push(&reg.host, &format!("ns/{n}"), &["1.0"], false);
    }
    let proxy = Proxy::start(&reg, true);
    let images: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1.0")).collect();
    let cat = catalog(&proxy.host, &images, &format!("username: {USER}\npassword: {PASSWORD}\n"));
    let (code, report, text) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(report["entries"].as_array().unwrap().iter().all(|e| e["published"] == true), "{report}");
    assert_eq!(proxy.counts.token_requests.load(Ordering::SeqCst), 1, "one token for all ten repositories");
    let scopes = proxy.counts.scopes.lock().unwrap().clone();
    assert_eq!(scopes.len(), 10);
    assert!(scopes.contains(&"repository:ns/img3:pull".to_owned()), "{scopes:?}");
    // probe + token + one listing each.
    assert_eq!(requests(&text), 12);
    assert_eq!(proxy.counts.requests.load(Ordering::SeqCst), 12);

    // Wrong password: the token service refuses; every image says so.
    let cat = catalog(&proxy.host, &images, &format!("username: {USER}\npassword: nope\n"));
    let (code, report, _) = registry_json(cat.path(), &store_path(&cat), &[], &[]);
    assert_eq!(code, Some(1));
    assert!(entry(&report, "img0")["error"].as_str().unwrap().contains("token service answered 401"), "{report}");
}

#[test]
fn a_failing_registry_keeps_the_last_good_index_and_nothing_hangs() {
    let reg = Registry::start(false);
    push(&reg.host, "ns/app", &["1.0", "2.0"], false);
    let proxy = Proxy::start(&reg, false);
    let cat = catalog(&proxy.host, &[("app", "2.0")], "");
    let store = store_path(&cat);
    let (code, _, text) = registry_json(cat.path(), &store, &[], &[]);
    assert_eq!(code, Some(0), "{text}");

    // 500s: retried, then a clear error; the stored tags are served with their age.
    proxy.faults.fail_500.store(true, Ordering::SeqCst);
    let before = proxy.counts.requests.load(Ordering::SeqCst);
    let (code, report, text) = registry_json(cat.path(), &store, &["--max-age", "0", "--retries", "2"], &[]);
    assert_eq!(code, Some(1), "{text}");
    let app = entry(&report, "app");
    assert_eq!(app["state"], "stale");
    assert_eq!(app["tags"], serde_json::json!(["1.0", "2.0"]));
    assert_eq!(app["published"], true);
    assert!(app["error"].as_str().unwrap().contains("500"), "{app}");
    assert!(app["fetched_at"].as_i64().unwrap() > 0);
    assert_eq!(proxy.counts.requests.load(Ordering::SeqCst) - before, 3, "one try and two retries");

    // Too slow: per-request timeouts, no hang.
    proxy.faults.fail_500.store(false, Ordering::SeqCst);
    proxy.faults.delay_ms.store(5_000, Ordering::SeqCst);
    let started = Instant::now();
    let (code, report, _) =
        registry_json(cat.path(), &store, &["--max-age", "0", "--timeout", "0.3", "--retries", "1"], &[]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(code, Some(1));
    assert!(entry(&report, "app")["error"].as_str().unwrap().contains("timed out"), "{report}");
    assert_eq!(entry(&report, "app")["tags"], serde_json::json!(["1.0", "2.0"]));

    // Offline: the store alone.
    let (_, report, _) = registry_json(cat.path(), &store, &["--offline", "--max-age", "0"], &[]);
    assert_eq!(entry(&report, "app")["state"], "stale");
}

#[test]
fn registry_stopped_mid_index_gives_per_image_status() {
    let reg = Registry::start(false);
    let names: Vec<String> = (0..6).map(|i| format!("img{i}")).collect();
    for n in &names {
        push(&reg.host, &format!("ns/{n}"), &["1"], false);
    }
    let proxy = Proxy::start(&reg, false);
    proxy.faults.kill_after_lists.store(3, Ordering::SeqCst);
    let images: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let cat = catalog(&proxy.host, &images, "");
    let started = Instant::now();
    let (code, report, text) =
        registry_json(cat.path(), &store_path(&cat), &["--concurrency", "1", "--retries", "1"], &[]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(code, Some(1), "{text}");
    let states: Vec<&str> =
        report["entries"].as_array().unwrap().iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "fresh").count(), 3, "{states:?}");
    assert_eq!(states.iter().filter(|s| **s == "error").count(), 3, "{states:?}");
    for e in report["entries"].as_array().unwrap().iter().filter(|e| e["state"] == "error") {
        assert!(e["error"].as_str().unwrap().contains("502"), "{e}");
    }

    // And a registry that is simply down: unreachable, quickly.
    reg.stop();
    let cat = catalog(&reg.host, &[("img0", "1")], "");
    let (code, report, _) = registry_json(cat.path(), &store_path(&cat), &["--retries", "0"], &[]);
    assert_eq!(code, Some(1));
    assert!(entry(&report, "img0")["error"].as_str().unwrap().contains("unreachable"), "{report}");
}

#[test]
fn circuit_opens_on_a_registry_that_keeps_failing() {
    let reg = Registry::start(false);
    let proxy = Proxy::start(&reg, false);
    let names: Vec<String> = (0..40).map(|i| format!("img{i}")).collect();
    let images: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let cat = catalog(&proxy.host, &images, "");
    // The probe succeeds; every listing fails.
    proxy.faults.fail_lists.store(true, Ordering::SeqCst);
    let before = proxy.counts.requests.load(Ordering::SeqCst);
    let (code, report, _) =
        registry_json(cat.path(), &store_path(&cat), &["--max-age", "0", "--retries", "0", "--concurrency", "1"], &[]);
    assert_eq!(code, Some(1));
    let sent = proxy.counts.requests.load(Ordering::SeqCst) - before;
    assert!(sent < 40, "the circuit should stop the requests, {sent} were sent");
    let open = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["error"].as_str().unwrap_or("").contains("circuit open"))
        .count();
    assert!(open > 0, "{report}");
}

#[test]
fn lint_with_the_registry_reports_exactly_the_unpublished_pin() {
    let reg = Registry::start(false);
    push(&reg.host, "ns/app", &["1.0", "1.1"], false);
    push(&reg.host, "ns/lib", &["3.0"], false);
    let repo = tempfile::tempdir().unwrap();
    let cat = catalog(&reg.host, &[("app", "1.2"), ("lib", "3.0")], "");
    std::fs::rename(cat.path(), repo.path().join("dockerfiles")).unwrap();
    // app's changelog knows 1.1 too.
    std::fs::write(
        repo.path().join("dockerfiles/app/changelog"),
        "app (1.2) w; urgency=low\n\n  * x\n\n -- T <t@e.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\napp (1.1) w; urgency=low\n\n  * x\n\n -- T <t@e.org>  Mon, 01 Jan 2024 00:00:00 +0000\n",
    )
    .unwrap();
    std::fs::create_dir_all(repo.path().join("jjb")).unwrap();
    std::fs::write(
        repo.path().join("jjb/jobs.yaml"),
        format!("- job:\n    a: {h}/ns/app:1.2\n    b: {h}/ns/lib:3.0\n    c: {h}/ns/app:1.1\n", h = reg.host),
    )
    .unwrap();
    let store = repo.path().join("store.db");
    let out = dockyard(&[
        "lint",
        "--repo",
        repo.path().to_str().unwrap(),
        "--format",
        "json",
        "--registry",
        "--store",
        store.to_str().unwrap(),
        "--fail-on",
        "unpublished",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<(u64, &str)> = report["pins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "unpublished")
        .map(|p| (p["line"].as_u64().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(bad, [(2, "1.2")]);
    assert_eq!(report["summary"]["registry_checked"], true);

    // pull-script --digest pins the digests the registry reports.
    let digests = push(&reg.host, "ns/lib", &["3.0"], false);
    let out = dockyard(&[
        "pull-script",
        "--repo",
        repo.path().to_str().unwrap(),
        "--digest",
        "--store",
        store.to_str().unwrap(),
        "--max-age",
        "0",
    ]);
    let script = stdout(&out);
    assert!(script.contains(&format!("'{}/ns/lib:3.0@{}'", reg.host, digests[0])), "{script}");
    // app:1.2 is not in the registry: pulled by tag, said so, exit 1.
    assert!(script.contains(&format!("'{}/ns/app:1.2' \\", reg.host)), "{script}");
    assert_eq!(out.status.code(), Some(1));
    // The API answers the same script, byte for byte, from what the
    // server knows of the registry (the digests the CLI stored).
    let server = Server::start(&[
        "--repo",
        repo.path().to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--registry",
        "--offline",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let api = loop {
        let (status, _, body) = server.get("/api/v1/pull-script?digest=1");
        assert_eq!(status, 200, "{body}");
        if body.contains(&digests[0]) || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(api, script, "pull-script --digest and GET /api/v1/pull-script?digest=1 differ");
}

#[test]
fn https_with_a_private_ca_from_the_config() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(certs.path());
    let reg = Registry::start_with(false, Some((&cert, &key)));
    // Trusted through the config's ca_bundle: the TLS exchange succeeds.
    let cat = catalog(&reg.host, &[("app", "1.0")], &format!("ca_bundle: {}\n", ca.display()));
    let (code, report, text) = registry_json(cat.path(), &store_path(&cat), &["--tls", "--retries", "0"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(entry(&report, "app")["state"], "missing", "{report}");
    // Without the CA the certificate is refused, and the image says so.
    let cat = catalog(&reg.host, &[("app", "1.0")], "");
    let (code, report, _) = registry_json(cat.path(), &store_path(&cat), &["--tls", "--retries", "0"], &[]);
    assert_eq!(code, Some(1));
    let err = entry(&report, "app")["error"].as_str().unwrap().to_lowercase();
    assert!(err.contains("certificate") || err.contains("issuer"), "{err}");
}
