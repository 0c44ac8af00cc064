//! The hostile suite, part two: the trust boundary (issue 18). The
//! repository is data; a patch may change anything in it, `dockyard.toml`
//! included, and `serve` is public for reads. One test per finding of the
//! review; each failed on the build before its fix (run them with
//! `DOCKYARD_TEST_BIN=old-binary`).

use crate::common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const SECRET: &str = "S3CRET-0ut5ide-7h3-r3po";

/// A repository with one image (`base`, versions 2.0 and 1.0) and a pin.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all: Vec<(String, String)> = vec![
        ("dockerfiles/config.yaml".into(), "registry: reg.example\nnamespace: ci\n".into()),
        ("dockerfiles/base/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/base/changelog".into(), changelog("base", &["2.0", "1.0"])),
        ("jjb/a.yaml".into(), "- job:\n    name: pinned-job\n    image: reg.example/ci/base:1.0\n".into()),
    ];
    all.extend(files.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    let refs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    tree(&refs)
}

fn both(o: &std::process::Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

// ------------------------------------------ 1. catalog roots outside the repository

#[test]
fn item1_a_catalog_root_outside_the_repository_is_refused_and_nothing_outside_is_read() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    let r = outer.path().join("repo");
    std::fs::create_dir_all(r.join("img")).unwrap();
    std::fs::create_dir_all(r.join("jjb")).unwrap();
    std::fs::write(r.join("img/Dockerfile.template"), "FROM x\n{% include 'changelog' %}\n").unwrap();
    std::os::unix::fs::symlink("../../secret.txt", r.join("img/changelog")).unwrap();
    for (roots, key_line) in [
        ("[catalog]\nroots = [{ dir = \"..\", config = \"repo/config.yaml\" }]\n", 2),
        ("[catalog]\nroots = [\"/\"]\n", 2),
        ("\n[catalog]\nroots = [\"img/../..\"]\n", 3),
    ] {
        std::fs::write(r.join("dockyard.toml"), roots).unwrap();
        for cmd in ["lint", "render", "catalog"] {
            let out = dockyard(&[cmd, "--repo", r.to_str().unwrap()]);
            let text = both(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {roots}: {text}");
            assert!(text.contains(&format!("dockyard.toml:{key_line}")) && text.contains("[catalog] roots"), "{text}");
            assert!(text.contains("outside the repository") || text.contains("absolute"), "{text}");
            assert!(!text.contains(SECRET), "{cmd} printed a file outside the repository: {text}");
        }
    }
    // A root inside the repository is fine, and a symlink in it is not followed.
    std::fs::write(r.join("dockyard.toml"), "[catalog]\nroots = [\"img/..\"]\n").unwrap();
    let out = dockyard(&["render", "--repo", r.to_str().unwrap()]);
    assert!(!both(&out).contains(SECRET), "{}", both(&out));
}

#[test]
fn item1_a_symlinked_root_inside_the_repository_that_leads_out_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.yaml"), format!("k: {SECRET}\n")).unwrap();
    let r = repo(&[("dockyard.toml", "[pins]\npaths = [\"linked\"]\n")]);
    std::os::unix::fs::symlink(outside.path(), r.path().join("linked")).unwrap();
    let out = dockyard(&["lint", "--repo", r.path().to_str().unwrap()]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("dockyard.toml:2") && text.contains("[pins] paths") && text.contains("symlink"), "{text}");
    assert!(!text.contains(SECRET));
}

// ------------------------------------------ 2. security settings from the repository

#[test]
fn item2_operator_settings_in_the_repository_are_refused_with_where_they_belong() {
    let cases = [
        ("[auth]\ntoken_env = \"SHELL\"\n", "auth", 1),
        ("# a comment\n[store]\ndatabase_env = \"DOCKYARD_TOKEN\"\n", "store", 2),
        ("[store]\npath = \"/tmp/dockyard-outside/x.db\"\n", "store", 1),
        ("[catalog]\nroots = []\n\n[serve]\nallowed_hosts = [\"evil.example\"]\n", "serve", 4),
        ("[[hosts]]\nname = \"x\"\nurl = \"tcp://evil.example:2375\"\n", "hosts", 1),
        ("[registry]\ntoken_realms = [\"evil.example\"]\n", "registry", 1),
    ];
    let _ = std::fs::remove_dir_all("/tmp/dockyard-outside");
    for (text, key, line) in cases {
        let r = repo(&[("dockyard.toml", text)]);
        for cmd in ["lint", "impact", "serve"] {
            let mut c = command(&[cmd, "--repo", r.path().to_str().unwrap()]);
            if cmd == "impact" {
                c.args(["--base", "HEAD"]);
            }
            if cmd == "serve" {
                c.args(["--addr", "127.0.0.1:0", "--site", "/nonexistent"]);
            }
            let out = c.env("DOCKYARD_TOKEN", "tok-for-the-test-only").output().unwrap();
            let all = both(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} with {text}: {all}");
            assert!(all.contains(&format!("dockyard.toml:{line}")), "{cmd}: {all}");
            assert!(all.contains(&format!("`{key}` is the operator's setting")), "{cmd}: {all}");
            assert!(all.contains("operator file"), "{all}");
            assert!(!all.contains("tok-for-the-test-only"), "{all}");
        }
    }
    assert!(!Path::new("/tmp/dockyard-outside").exists(), "a store was made outside the repository");
    // Unknown keys are errors, not ignored.
    let r = repo(&[("dockyard.toml", "[catalog]\nroots = []\n\n[plugins]\nrun = \"rm -rf /\"\n")]);
    let out = dockyard(&["lint", "--repo", r.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(both(&out).contains("dockyard.toml:4: unknown key `plugins`"), "{}", both(&out));
    let r = repo(&[("dockyard.toml", "[catalog]\nroots = []\nhooks = 1\n")]);
    let out = dockyard(&["lint", "--repo", r.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(both(&out).contains("dockyard.toml:3") && both(&out).contains("hooks"), "{}", both(&out));
}

#[test]
fn item2_the_operator_file_configures_the_server_and_may_not_live_in_the_repository() {
    let r = repo(&[]);
    // Inside the repository: refused.
    std::fs::write(r.path().join("operator.toml"), "[serve]\nprivate = false\n").unwrap();
    let op = r.path().join("operator.toml");
    let out = dockyard(&["lint", "--repo", r.path().to_str().unwrap(), "--operator", op.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("inside the repository"), "{}", both(&out));
    // Outside: its token variable and private mode hold.
    let _op = operator_file("[auth]\ntoken_env = \"OPERATOR_TOKEN\"\n\n[serve]\nprivate = true\n");
    let server = Server::start_env(&["--repo", r.path().to_str().unwrap()], &[("OPERATOR_TOKEN", "operator-token-1")]);
    assert_eq!(server.get("/api/v1/pins").0, 401);
    let (status, _, body) =
        http(&format!("{}/api/v1/pins", server.url), "GET", &[("Authorization", "Bearer operator-token-1")], "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("base"));
}

// ------------------------------------------ 3. private mode covers everything

#[test]
fn item3_private_mode_is_one_layer_over_every_page_stream_file_and_metrics() {
    let r = repo(&[]);
    let token = "private-token-42";
    let store = r.path().join("s.db");
    let server = Server::start_env(
        &["--repo", r.path().to_str().unwrap(), "--private", "--store", store.to_str().unwrap()],
        &[("DOCKYARD_TOKEN", token), ("DOCKYARD_METRICS_TOKEN", "scrape-only-token")],
    );
    let pages = [
        "/",
        "/pins",
        "/images",
        "/images/base",
        "/graph",
        "/builds",
        "/builds/1",
        "/build",
        "/hosts",
        "/files?path=jjb/a.yaml",
        "/metrics",
        "/api/v1/pins",
        "/api/v1/overview",
        "/api/v1/file?path=jjb/a.yaml",
        "/api/v1/builds/1/events",
        "/api/v1/graph.svg",
        "/api/v1/nosuchroute",
    ];
    for p in pages {
        let (status, _, body) = server.get(p);
        assert_eq!(status, 401, "{p} answered without a login: {body}");
        for data in ["pinned-job", "reg.example", "ci/base", "2.0"] {
            assert!(!body.contains(data), "{p} shows `{data}` without a login: {body}");
        }
    }
    // A page asks for a login (with a form), and says nothing else.
    let (_, headers, body) = server.get("/pins");
    assert!(header(&headers, "content-type").unwrap().starts_with("text/html"));
    assert!(body.contains("<form") && body.contains("name=\"token\""), "{body}");
    // Open: the health check, the login page, the assets.
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.get("/login").0, 200);
    // With the token, each shows its data.
    let bearer = format!("Bearer {token}");
    for (p, data) in [
        ("/", "1 pins in 1 files"),
        ("/pins", "jjb/a.yaml"),
        ("/images/base", "2.0"),
        ("/files?path=jjb/a.yaml", "reg.example/ci/base:1.0"),
        ("/api/v1/pins", "reg.example/ci/base"),
        ("/metrics", "dockyard_pins"),
    ] {
        let (status, _, body) = http(&format!("{}{p}", server.url), "GET", &[("Authorization", &bearer)], "");
        assert_eq!(status, 200, "{p}: {body}");
        assert!(body.contains(data), "{p} lacks `{data}` with the token: {body}");
    }
    // Prometheus may scrape with its own token, which opens nothing else.
    let scrape = [("Authorization", "Bearer scrape-only-token")];
    let (status, _, body) = http(&format!("{}/metrics", server.url), "GET", &scrape, "");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http(&format!("{}/api/v1/pins", server.url), "GET", &scrape, "");
    assert_eq!(status, 401);
    // A form login gives a session that opens the pages.
    let (status, headers, _) = http(
        &format!("{}/api/v1/login", server.url),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("token={token}"),
    );
    assert_eq!(status, 303);
    let cookie = header(&headers, "set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let (status, _, body) = http(&format!("{}/pins", server.url), "GET", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    assert!(body.contains("jjb/a.yaml"));
}

// ------------------------------------------ 4. the file viewer and symlinks inside

#[test]
fn item4_the_file_viewer_follows_no_symlink_even_inside_the_repository() {
    let r = repo(&[(".git/config", &format!("[remote \"origin\"]\n\turl = https://user:{SECRET}@git.example/r\n"))]);
    std::os::unix::fs::symlink("../.git/config", r.path().join("jjb/x.yaml")).unwrap();
    std::os::unix::fs::symlink("a.yaml", r.path().join("jjb/alias.yaml")).unwrap();
    let server = Server::start(&["--repo", r.path().to_str().unwrap()]);
    for p in ["jjb/x.yaml", "jjb/alias.yaml", ".git/config", "jjb/../.git/config"] {
        let (status, _, body) = server.get(&format!("/api/v1/file?path={p}"));
        assert_eq!(status, 404, "{p}: {body}");
        assert!(!body.contains(SECRET), "{p} served the secret");
        let (_, _, page) = server.get(&format!("/files?path={p}"));
        assert!(!page.contains(SECRET), "/files?path={p} served the secret");
    }
    let (_, _, pins) = server.get("/api/v1/pins");
    assert!(!pins.contains(SECRET));
    assert_eq!(server.get("/api/v1/file?path=jjb/a.yaml").0, 200);
}

// ------------------------------------------ 5. the site folder

#[test]
fn item5_the_dashboard_script_never_comes_from_the_repository() {
    let r = repo(&[("target/site/pkg/app.js", "alert('planted by a patch')\n")]);
    // Named inside the repository: refused at start (not served).
    let site = r.path().join("target/site");
    let mut c = command(&["serve", "--repo", r.path().to_str().unwrap(), "--addr", "127.0.0.1:0", "--site"]);
    let mut child =
        c.arg(&site).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve started with its site folder inside the repository");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("inside the repository"), "{}", both(&out));
    // The default, from inside the checkout, is not the checkout's.
    let mut c = std::process::Command::new(bin());
    c.args(["serve", "--repo", ".", "--addr", "127.0.0.1:0"])
        .current_dir(r.path())
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env_remove("DOCKYARD_SITE")
        .env_remove("DOCKYARD_OPERATOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let url = line.trim().trim_start_matches("listening on ").trim_end_matches('/').to_owned();
    let (_, _, body) = http(&format!("{url}/pkg/app.js"), "GET", &[], "");
    let _ = child.kill();
    let _ = child.wait();
    assert!(!body.contains("planted by a patch"), "the checkout's script was served as the dashboard's");
}

// ------------------------------------------ 6. live streams

/// (utime + stime) of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A store holding one run stuck in `running` by a live owner (this
/// test), and one left `running` by a process that is gone.
fn store_with_runs(path: &Path) -> (i64, i64) {
    use dockyard::store::{Location, NewRun};
    let store = dockyard::store::open(&Location::Sqlite(path.to_owned())).unwrap();
    let plan = dockyard_api::Plan::default();
    let new = |owner: String| NewRun {
        trigger: "test".into(),
        selection: vec![],
        hosts: vec![],
        plan: plan.clone(),
        started_at: dockyard::store::now(),
        owner,
        source: None,
    };
    let live = store.create_run(&new(dockyard::store::owner())).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let dead = store.create_run(&new(format!("{}:{}", host.trim(), 999_999_999u32))).unwrap();
    (live, dead)
}

#[test]
fn item6_live_streams_are_capped_cheap_and_end_with_their_clients() {
    let r = repo(&[]);
    let store = r.path().join("s.db");
    let (live, dead) = store_with_runs(&store);
    let server = Server::start(&["--repo", r.path().to_str().unwrap(), "--store", store.to_str().unwrap()]);
    // A run whose process died is interrupted when serve starts.
    let (_, _, body) = server.get(&format!("/api/v1/builds/{dead}"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["run"]["state"], "interrupted", "{body}");
    let host = server.url.trim_start_matches("http://").to_owned();
    let request = format!("GET /api/v1/builds/{live}/events HTTP/1.1\r\nHost: {host}\r\n\r\n");
    // 600 clients open the stream of a run that never ends.
    let mut clients: Vec<std::net::TcpStream> = Vec::new();
    for _ in 0..600 {
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        clients.push(s);
    }
    // Past the cap, 503 with Retry-After; the rest stream.
    let (mut streaming, mut refused) = (0, 0);
    for s in &mut clients {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 512];
        let n = s.read(&mut head).unwrap_or(0);
        let head = String::from_utf8_lossy(&head[..n]);
        if head.starts_with("HTTP/1.1 200") {
            streaming += 1;
        } else if head.starts_with("HTTP/1.1 503") {
            assert!(head.to_ascii_lowercase().contains("retry-after: 5"), "{head}");
            refused += 1;
        }
    }
    assert_eq!((streaming, refused), (64, 536));
    // The API and the health check still answer at once.
    let t = Instant::now();
    let (status, _, _) = server.get("/healthz");
    let took = t.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(100), "/healthz took {took:?} with 600 streams open");
    assert_eq!(server.get("/api/v1/pins").0, 200);
    // The clients go away: within 2 s the server is idle again.
    drop(clients);
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_ticks(server.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(server.child.id()) - before;
    assert!(used <= 5, "the server used {used} ticks of CPU in the second after its clients left");
    // And a new stream is served (the slots came back).
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 64];
    let n = s.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
}

// ------------------------------------------ 7. git revisions from users

#[test]
fn item7_revisions_are_checked_before_git_sees_them() {
    let r = repo(&[]);
    commit_all(r.path());
    let server = Server::start(&["--repo", r.path().to_str().unwrap()]);
    let evil = "HEAD%5E%7B%2F(.*)(.*)(.*)(.*)(.*)(.*)%5C1%5C2%5C3%5C4%7D";
    let t = Instant::now();
    let (status, _, body) = server.get(&format!("/api/v1/impact?base={evil}"));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not a revision dockyard accepts"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(2));
    for bad in ["%3A%2Ffix", "HEAD%3Adockerfiles", "%40%7B-1%7D", "-n"] {
        let (status, _, body) = server.get(&format!("/api/v1/impact?base={bad}"));
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, _, body) = server.get("/api/v1/impact?base=HEAD");
    assert_eq!(status, 200, "{body}");
    // No git child is left behind (children of any of the server's threads).
    let mut children = String::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", server.child.id())).unwrap().flatten() {
        children.push_str(&std::fs::read_to_string(task.path().join("children")).unwrap_or_default());
    }
    assert!(children.trim().is_empty(), "children left: {children}");
    // The command line holds to the same rule.
    let out = dockyard(&["impact", "--repo", r.path().to_str().unwrap(), "--base", "HEAD^{/x}"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

// ------------------------------------------ 8. glob matching

#[test]
fn item8_many_stars_in_copy_against_a_long_name_are_linear() {
    let long = "a".repeat(200);
    let template = "FROM scratch\nCOPY *a*a*a*a*a*a*a*a*a*a*b /x\n";
    let r = repo(&[("dockerfiles/base/Dockerfile.template", template), (&format!("dockerfiles/base/{long}"), "x")]);
    commit_all(r.path());
    std::fs::write(r.path().join(format!("dockerfiles/base/{long}")), "y").unwrap();
    let t = Instant::now();
    let out = dockyard(&["impact", "--repo", r.path().to_str().unwrap(), "--base", "HEAD", "--format", "json"]);
    let took = t.elapsed();
    assert!(out.status.code().is_some(), "{}", both(&out));
    assert!(took < Duration::from_secs(5), "impact took {took:?}");
}

// ------------------------------------------ 9. metrics labels

#[test]
fn item9_random_requests_add_a_bounded_number_of_series() {
    let r = repo(&[]);
    let server = Server::start(&["--repo", r.path().to_str().unwrap()]);
    let host = server.url.trim_start_matches("http://").to_owned();
    let methods = ["GET", "POST", "PUT", "DELETE", "FOO", "BAR1", "PATCH", "OPTIONS"];
    for i in 0..2000u32 {
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        let method = methods[i as usize % methods.len()];
        let method = if i % 3 == 0 { format!("M{i}") } else { method.to_owned() };
        let path = match i % 4 {
            0 => format!("/api/v1/r{i}"),
            1 => format!("/x{i}/y"),
            2 => format!("/images/i{i}"),
            _ => format!("/builds/{i}/events"),
        };
        let _ =
            s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes());
        let mut sink = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_end(&mut sink);
    }
    let (status, _, body) = server.get("/metrics");
    assert_eq!(status, 200);
    let series = body.lines().filter(|l| l.starts_with("dockyard_http_request_duration_seconds_count")).count();
    // Routes hit × {GET, POST, other} × status classes: a few, whatever the paths.
    assert!(series <= 20, "{series} series after 2000 random requests:\n{body}");
    assert!(!body.contains("/r1") && !body.contains("M3"), "a visitor's path or method became a label");
}

// ------------------------------------------ 10. the small ones

#[test]
fn item10_failed_logins_are_limited_per_client() {
    let r = repo(&[]);
    let server = Server::start_env(&["--repo", r.path().to_str().unwrap()], &[("DOCKYARD_TOKEN", "right-token-123")]);
    let login = |token: &str| {
        http(
            &format!("{}/api/v1/login", server.url),
            "POST",
            &[("Content-Type", "application/json")],
            &format!("{{\"token\":\"{token}\"}}"),
        )
    };
    for _ in 0..10 {
        assert_eq!(login("wrong-token").0, 401);
    }
    let (status, headers, body) = login("wrong-token");
    assert_eq!(status, 429, "{body}");
    let wait: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // Even the right token waits: guessing cannot go on.
    assert_eq!(login("right-token-123").0, 429);
}

#[test]
fn item10_the_host_check_parses_the_authority() {
    let r = repo(&[]);
    let server = Server::start(&["--repo", r.path().to_str().unwrap()]);
    for evil in ["[::1]evil.example", "127.0.0.1:80:80", "[::1]:80evil"] {
        let (status, _, _) = http(&format!("{}/api/v1/pins", server.url), "GET", &[("Host", evil)], "");
        assert_eq!(status, 421, "{evil}");
    }
    let (status, _, _) = http(&format!("{}/api/v1/pins", server.url), "GET", &[("Host", "[::1]:3000")], "");
    assert_eq!(status, 200);
}

#[test]
fn item10_store_import_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let store = dockyard::store::open(&dockyard::store::Location::Sqlite(a.clone())).unwrap();
    let new = |t: &str| dockyard::store::NewRun {
        trigger: t.into(),
        selection: vec![],
        hosts: vec![],
        plan: dockyard_api::Plan::default(),
        started_at: 1_700_000_000,
        owner: "import:0".into(),
        source: None,
    };
    for t in ["one", "two"] {
        let id = store.create_run(&new(t)).unwrap();
        store.finish_run(id, dockyard_api::RunState::Succeeded, 1_700_000_100).unwrap();
    }
    store.save_tags("reg.example", "ci/base", Some(&["1.0".into()]), 1_700_000_000).unwrap();
    drop(store);
    let dump = dir.path().join("dump.json");
    let out = dockyard(&["store", "export", "--store", a.to_str().unwrap(), "-o", dump.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // A store whose second run cannot be written (a real SQLite trigger).
    let b = dir.path().join("b.db");
    drop(dockyard::store::open(&dockyard::store::Location::Sqlite(b.clone())).unwrap());
    let sql = "CREATE TRIGGER boom BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= 1 \
               BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;";
    let py =
        format!("import sqlite3; c = sqlite3.connect({:?}); c.executescript({sql:?}); c.commit()", b.to_str().unwrap());
    assert!(std::process::Command::new("python3").args(["-c", &py]).status().unwrap().success());
    let import = || dockyard(&["store", "import", "--store", b.to_str().unwrap(), dump.to_str().unwrap()]);
    let out = import();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("disk on fire"), "{}", both(&out));
    let count = |table: &str| {
        let py = format!(
            "import sqlite3; print(sqlite3.connect({:?}).execute('SELECT count(*) FROM {table}').fetchone()[0])",
            b.to_str().unwrap()
        );
        let out = std::process::Command::new("python3").args(["-c", &py]).output().unwrap();
        stdout(&out).trim().parse::<u32>().unwrap()
    };
    assert_eq!((count("runs"), count("registry_tags")), (0, 0), "a failed import left part of itself");
    // Mended, the retry imports everything once.
    let py = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('DROP TRIGGER boom'); c.commit()",
        b.to_str().unwrap()
    );
    assert!(std::process::Command::new("python3").args(["-c", &py]).status().unwrap().success());
    assert_eq!(import().status.code(), Some(0));
    assert_eq!((count("runs"), count("registry_tags")), (2, 1));
}

/// The operator's own paths (`--repo`, `--config`, a positional catalog)
/// may go through symlinks (a symlinked home, `/tmp` elsewhere); only the
/// paths inside the repository may not. Found by a CI-like run from a
/// clone whose `shared/` was a symlink: the corpus's named config was
/// refused as "a symlink".
#[test]
fn paths_the_operator_names_may_go_through_symlinks() {
    let r = repo(&[]);
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("checkout");
    std::os::unix::fs::symlink(r.path(), &link).unwrap();
    let l = link.to_str().unwrap();
    let config = link.join("dockerfiles/config.yaml");
    let out =
        dockyard(&["render", "--config", config.to_str().unwrap(), &format!("{l}/dockerfiles"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let out = dockyard(&["lint", "--repo", l, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(stdout(&out).contains("reg.example/ci/base:1.0"), "{}", both(&out));
}
