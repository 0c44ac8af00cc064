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
    let dir = busybox_repo(&reg.host);
    let d = dir.path().join("dockerfiles");
    image(&d, "a", "1", &["base"], "RUN echo a > /a\n", &[]);
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
    // Engines are the operator's (the repository may not name them).
    let _operator = operator_file(&format!(
        "[[hosts]]\nname = \"one\"\nurl = \"{}\"\n\n[[hosts]]\nname = \"two\"\nurl = \"{}\"\n",
        one.host, two.host
    ));
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
        // The build, and the pull (pulls are runs in the history too).
        "dockyard_runs{state=\"succeeded\"} 2",
        "dockyard_http_request_duration_seconds_count{route=\"/api/v1/pins\",method=\"GET\",status=\"2xx\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }

    // Host two dies: host one is still served, two fails alone, and quickly.
    two.kill();
    // /metrics keeps what the engines said for 5 s (METRICS_ENGINES_TTL).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, metrics) = server.get("/metrics");
        if metrics.lines().any(|l| l == "dockyard_host_up{host=\"two\"} 0") {
            break;
        }
        assert!(Instant::now() < deadline, "host two still up 10 s after it died:\n{metrics}");
        std::thread::sleep(Duration::from_millis(500));
    }
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

/// A repository on `registry` with a busybox base, and an operator file
/// (outside it) listing two engines, used by this test's commands.
struct TwoHosts {
    dir: tempfile::TempDir,
    _operator: tempfile::TempDir,
}

impl TwoHosts {
    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

fn two_host_repo(registry: &str, one: &Dockerd, two: &Dockerd) -> TwoHosts {
    let dir = busybox_repo(registry);
    let _operator = operator_file(&format!(
        "[[hosts]]\nname = \"one\"\nurl = \"{}\"\n\n[[hosts]]\nname = \"two\"\nurl = \"{}\"\n",
        one.host, two.host
    ));
    TwoHosts { dir, _operator }
}

fn run_images(store: &str, run: u64) -> Vec<(String, String, String)> {
    let out = command(&["builds", "show", &run.to_string(), "--format", "json", "--store", store]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let s = |k: &str| i[k].as_str().unwrap_or("").to_owned();
                    (s("name"), s("state"), s("host"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn run_log(store: &str, run: u64) -> String {
    let out = command(&["builds", "show", &run.to_string(), "--store", store]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_build_spreads_over_two_engines_and_children_get_parents_through_the_registry() {
    let (one, two, reg) = (Dockerd::start(), Dockerd::start(), Registry::start(false));
    let dir = two_host_repo(&reg.host, &one, &two);
    let d = dir.path().join("dockerfiles");
    image(&d, "a", "1", &["base"], "RUN echo a > /a\n", &[]);
    image(&d, "b", "1", &["base"], "RUN echo b > /b\n", &[]);
    image(&d, "c", "1", &["a"], "RUN cat /a > /c\n", &[]);
    image(&d, "d", "1", &["a", "b"], "COPY --from={{ \"b\" | image_tag }} /b /b\nRUN cat /a /b > /d\n", &[]);
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();

    let refused = command(&["build", "--repo", r, "--store", s, "--hosts", "all"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "several hosts without --push: {}", stderr(&refused));
    assert!(stderr(&refused).contains("needs --push"), "{}", stderr(&refused));

    let out = command(&["build", "--repo", r, "--store", s, "--hosts", "all", "--push", "-j", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The refused build left no run behind.
    assert!(run_images(s, 2).is_empty());
    let images = run_images(s, 1);
    assert!(images.iter().all(|(_, state, _)| state == "published"), "{images:?}");
    let host = |n: &str| images.iter().find(|i| i.0 == n).unwrap().2.clone();
    // base and a on one (a follows its parent); b on two, the free engine.
    assert_eq!(
        (host("base"), host("a"), host("b"), host("c")),
        ("one".into(), "one".into(), "two".into(), "one".into())
    );
    // On two, b's parent came from the registry; every image's parents are
    // on the engine that built it, and the result holds both parents' files.
    let label = |n: &str, v: &str| format!("{}/ci/{n}:{v}", reg.host);
    assert!(run_log(s, 1).contains(&format!("pulling {}", label("base", "1.0"))));
    assert!(two.has(&label("base", "1.0")) && two.has(&label("b", "1")));
    let dh = if host("d") == "one" { &one } else { &two };
    let cat = dh.docker(&["run", "--rm", &label("d", "1"), "cat", "/d"]);
    assert_eq!(String::from_utf8_lossy(&cat.stdout), "a\nb\n");
}

/// Two children of base that take a few seconds each (time to lose an engine).
fn slow_children(d: &std::path::Path) {
    for n in ["x1", "x2"] {
        image(d, n, "1", &["base"], &format!("RUN sleep 4 && echo {n} > /{n}\n"), &[]);
    }
}

#[test]
fn a_host_lost_mid_build_has_its_image_built_again_on_the_other() {
    let (one, mut two, reg) = (Dockerd::start(), Dockerd::start(), Registry::start(false));
    let dir = two_host_repo(&reg.host, &one, &two);
    let d = dir.path().join("dockerfiles");
    slow_children(&d);
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    let mut child = command(&["build", "--repo", r, "--store", s, "--hosts", "all", "--push", "-j", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until x2 is building on two, then kill two.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let images = run_images(s, 1);
        if images.iter().any(|(n, st, h)| n == "x2" && st == "building" && h == "two") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the build ended ({status}) before x2 was built on two: {images:?}\n{err}");
        }
        assert!(Instant::now() < deadline, "x2 never built on two: {images:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    two.kill();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let images = run_images(s, 1);
    assert!(images.iter().all(|(_, st, _)| st == "published"), "{images:?}");
    assert_eq!(images.iter().find(|i| i.0 == "x2").unwrap().2, "one", "{images:?}");
    assert!(run_log(s, 1).contains("two stopped answering during this image: queued again on another host"));
    assert!(one.has(&format!("{}/ci/x2:1", reg.host)));
}

/// Bytes under `dir` (as `du -sb` counts them).
fn disk_use(dir: &std::path::Path) -> u64 {
    let out = std::process::Command::new("du").arg("-sb").arg(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn a_host_lost_mid_pull_fails_alone_and_the_other_gets_every_image() {
    let (builder, reg) = (Dockerd::start(), Registry::start(false));
    let (one, mut two) = (Dockerd::start(), Dockerd::start());
    let dir = two_host_repo(&reg.host, &one, &two);
    let d = dir.path().join("dockerfiles");
    // Layers of random bytes, so that a pull takes long enough to be cut.
    for n in ["big1", "big2"] {
        image(&d, n, "1", &["base"], "RUN dd if=/dev/urandom of=/big bs=1M count=80 2>/dev/null\n", &[]);
    }
    let pins: String = ["big1", "big2"].iter().map(|n| format!("    {n}: {}/ci/{n}:1\n", reg.host)).collect();
    std::fs::write(dir.path().join("jjb/jobs.yaml"), format!("- job:\n{pins}")).unwrap();
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    let out =
        command(&["build", "--repo", r, "--push", "--store", s]).env("DOCKER_HOST", &builder.host).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let before = disk_use(&two.dir.path().join("data"));
    let started = Instant::now();
    let child = command(&["pull", "--hosts", "all", "--repo", r, "--store", s, "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill two once its layers are coming in, before they are all there.
    loop {
        if disk_use(&two.dir.path().join("data")) > before + (20 << 20) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "two never started pulling: {}", two.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    two.kill();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, b) = (format!("{}/ci/big1:1", reg.host), format!("{}/ci/big2:1", reg.host));
    let got = outcomes(&v);
    assert!(got.contains(&format!("one {a} pulled")) && got.contains(&format!("one {b} pulled")), "{got:?}");
    assert!(got.iter().filter(|o| o.starts_with("two ")).any(|o| o.ends_with(" failed")), "{got:?}");
    assert!(one.has(&a) && one.has(&b), "{}", one.log());
    assert_eq!(got.len(), 4, "every host and image has a result: {got:?}");
    // The history has the pull as a failed run, with every host and image.
    let run = v["run"].as_u64().expect("the pull was recorded as a run");
    let shown = command(&["builds", "show", &run.to_string(), "--format", "json", "--store", s]).output().unwrap();
    let detail: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(detail["run"]["state"], "failed", "{detail}");
    assert!(detail["run"]["trigger"].as_str().unwrap().starts_with("cli:pull:"), "{detail}");
    // Each item says what it pulls where as fields, not only in its name.
    for item in detail["plan"]["items"].as_array().unwrap() {
        let p = &item["pull"];
        let name =
            format!("{}:{}@{}", p["image"].as_str().unwrap(), p["tag"].as_str().unwrap(), p["host"].as_str().unwrap());
        assert_eq!(item["name"].as_str(), Some(name.as_str()), "{item}");
    }
    let images = run_images(s, run);
    for n in ["big1", "big2"] {
        assert!(images.contains(&(format!("{n}:1@one"), "pulled".into(), "one".into())), "{images:?}");
    }
    let two_failed = images.iter().filter(|(n, st, h)| n.ends_with("@two") && st == "failed" && h == "two").count();
    assert!(two_failed >= 1 && images.len() == 4, "{images:?}");
    // The text history says where each pull went (the same label twice,
    // once per host, was all it said: issue 23, item 6).
    let text = run_log(s, run);
    for n in ["big1", "big2"] {
        assert!(text.contains(&format!("pulled      {}/ci/{n}:1 on one", reg.host)), "{text}");
    }
    // Each pull says how long it took (tens of MiB: not nothing), as a build does.
    for item in detail["images"].as_array().unwrap().iter().filter(|i| i["state"] == "pulled") {
        assert!(item["duration_ms"].as_i64().is_some_and(|ms| ms > 0), "{item}");
    }
    // The matrix shows what is left: one has both, two cannot be asked.
    let table = command(&["hosts", "--repo", r, "--store", s]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("host two (") && table.contains("UNREACHABLE"), "{table}");
}

/// Build-and-pull from the dashboard is one run, and it ends after its pull:
/// the moment the run is no longer `running`, the pull of the pinned images
/// is in its log (it used to be finished first and pulled into afterwards,
/// so the dashboard showed "succeeded" while the pull was still going on).
#[test]
fn a_dashboard_build_and_pull_run_ends_after_its_pull() {
    let builder = Dockerd::start();
    let reg = Registry::start(false);
    let dir = busybox_repo(&reg.host);
    let d = dir.path().join("dockerfiles");
    image(&d, "a", "1", &["base"], "RUN echo a > /a\n", &[]);
    let r = dir.path().to_str().unwrap();
    // Only the base is published: `a` is the server's to build.
    let cli_store = dir.path().join("cli.db");
    let out =
        command(&["build", "--repo", r, "--select", "*/base:*", "--push", "--store", cli_store.to_str().unwrap()])
            .env("DOCKER_HOST", &builder.host)
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(dir.path().join("jjb/jobs.yaml"), format!("- job:\n    image: {}/ci/base:1.0\n", reg.host)).unwrap();

    // A second engine that has nothing: the server builds `a` there and
    // then pulls the pin onto it.
    let engine = Dockerd::start();
    let token = "a-token-for-this-test";
    let store = dir.path().join("web.db");
    let server = Server::start_env(
        &["--repo", r, "--store", store.to_str().unwrap()],
        &[("DOCKER_HOST", engine.host.as_str()), ("DOCKYARD_TOKEN", token)],
    );
    let auth = format!("Bearer {token}");
    let body = r#"{"selection":{"kind":"globs","globs":["*/a:*"]},"push":false,"pull_pins":true}"#;
    let (status, _, started) = http(
        &format!("{}/api/v1/builds", server.url),
        "POST",
        &[("authorization", &auth), ("content-type", "application/json")],
        body,
    );
    assert_eq!(status, 202, "{started}");
    let run = serde_json::from_str::<Value>(&started).unwrap()["run"].as_u64().unwrap();
    let t = Instant::now();
    let state = loop {
        let (_, _, detail) = server.get(&format!("/api/v1/builds/{run}"));
        let v: Value = serde_json::from_str(&detail).unwrap();
        if v["run"]["state"] != "running" {
            break v["run"]["state"].as_str().unwrap().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(120), "the run did not end: {detail}");
        std::thread::sleep(Duration::from_millis(5));
    };
    let (_, _, logs) = server.get(&format!("/api/v1/builds/{run}/logs"));
    assert_eq!(state, "succeeded", "{logs}");
    assert!(logs.contains("Successfully built"), "`a` was built: {logs}");
    assert!(logs.contains(&format!("{}/ci/base:1.0", reg.host)) && logs.contains("pull onto"), "{logs}");
    assert!(engine.has(&format!("{}/ci/base:1.0", reg.host)), "{}", engine.log());
}

/// Issue 23, item 5: a frozen engine (SIGSTOP: its socket accepts, nothing
/// answers) hung builds for good. Frozen before the build, it is left out
/// and named; frozen mid-build, its image is built again on the other
/// engine within the idle timeout.
#[test]
fn a_frozen_engine_is_a_lost_engine_before_and_during_a_build() {
    let (one, two, reg) = (Dockerd::start(), Dockerd::start(), Registry::start(false));
    let dir = two_host_repo(&reg.host, &one, &two);
    let d = dir.path().join("dockerfiles");
    slow_children(&d);
    let r = dir.path().to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    let build = || {
        command(&["build", "--repo", r, "--store", s, "--hosts", "all", "--push", "-j", "1"])
            .env("DOCKYARD_ENGINE_IDLE_TIMEOUT", "5")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let finish = |mut child: std::process::Child, within: Duration| {
        let deadline = Instant::now() + within;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the build hung with an engine frozen");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Frozen before the build: only base is built, on one; two is named.
    std::fs::remove_dir_all(d.join("x1")).unwrap();
    std::fs::remove_dir_all(d.join("x2")).unwrap();
    two.freeze();
    let (code, err) = finish(build(), Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("warning: host two: no answer in 5 s: the engine stopped answering"), "{err}");
    assert!(run_images(s, 1).iter().all(|(_, st, h)| st == "published" && h == "one"), "{:?}", run_images(s, 1));
    two.thaw();
    // Frozen while it builds x2: x2 is built again on one.
    slow_children(&d);
    let child = build();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let images = run_images(s, 2);
        if images.iter().any(|(n, st, h)| n == "x2" && st == "building" && h == "two") {
            break;
        }
        assert!(Instant::now() < deadline, "x2 never built on two: {images:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    two.freeze();
    let (code, err) = finish(child, Duration::from_secs(90));
    assert_eq!(code, Some(0), "{err}");
    let images = run_images(s, 2);
    assert!(images.iter().all(|(n, st, _)| st == "published" || (n == "base" && st == "present")), "{images:?}");
    assert_eq!(images.iter().find(|i| i.0 == "x2").unwrap().2, "one", "{images:?}");
    assert!(run_log(s, 2).contains("two stopped answering during this image: queued again on another host"));
    // The requeued image's record is its second attempt's: no error from
    // the lost engine, and its time from its start on one (issue 23, item 6).
    let shown = command(&["builds", "show", "2", "--format", "json", "--store", s]).output().unwrap();
    let v: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let x2 = v["images"].as_array().unwrap().iter().find(|i| i["name"] == "x2").unwrap().clone();
    assert!(x2["error"].is_null(), "{x2}");
    assert!(x2["duration_ms"].as_i64().unwrap() < 9000, "the lost attempt is counted: {x2}");
    // The text history names the host of each image (issue 23, item 6).
    assert!(run_log(s, 2).contains(&format!("published   {}/ci/x2:1 on one", reg.host)), "{}", run_log(s, 2));
    assert!(one.has(&format!("{}/ci/x2:1", reg.host)));
    two.thaw();
}

/// `/metrics` asks the engines at most once every 5 s, whoever scrapes:
/// ten scrapes in a row and four at once cost the engine no more `version`
/// calls than the first scrape did (counted in the engine's own debug log);
/// after 5 s it is asked again.
#[test]
fn a_burst_of_metrics_scrapes_asks_the_engine_once() {
    let engine = Dockerd::start_with(&["--debug"]);
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("s.db");
    let server = Server::start_env(
        &["--repo", demo.to_str().unwrap(), "--store", db.to_str().unwrap()],
        &[("DOCKER_HOST", engine.host.as_str())],
    );
    let calls = || engine.log().lines().filter(|l| l.contains("Calling GET") && l.contains("/version")).count();
    let before = calls();
    let started = Instant::now();
    let (_, _, first) = server.get("/metrics");
    assert!(first.lines().any(|l| l == "dockyard_host_up{host=\"local\"} 1"), "{first}");
    // One asking (the client negotiates its API version too).
    let one = calls() - before;
    assert!(one >= 1, "the first scrape did not ask the engine");
    for _ in 0..10 {
        assert_eq!(server.get("/metrics").0, 200);
    }
    let at_once: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/metrics", server.url);
            std::thread::spawn(move || http(&url, "GET", &[], "").0)
        })
        .collect();
    for t in at_once {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert!(started.elapsed() < Duration::from_secs(4), "the burst took {:?}: too slow to test", started.elapsed());
    assert_eq!(calls() - before, one, "the burst asked the engine again:\n{}", engine.log());
    std::thread::sleep(Duration::from_millis(5500));
    assert_eq!(server.get("/metrics").0, 200);
    assert!(calls() - before > one, "the engine was not asked again after 5 s");
}
