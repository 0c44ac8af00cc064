//! Hostile input: the pre-merge gate reads patches from anyone. One test per
//! finding of the security review (issue 7, items 1 to 10); each failed on
//! the build before the fix (run them with `DOCKYARD_TEST_BIN=old-binary`).

use crate::common::*;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// Requests that reached the collector: (path, Authorization header).
type Hits = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// How the hostile registry misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Basic auth; tag listings link to the collector (another host).
    LinkElsewhere,
    /// Bearer auth whose token realm is the collector.
    RealmElsewhere,
    /// A `Link` back to the same page.
    LinkLoop,
    /// A 20 MiB tag listing.
    HugeBody,
    /// Basic auth, and it records who authenticated.
    Basic,
}

/// A registry on 127.0.0.1 that misbehaves, and a collector on 127.0.0.2
/// (another host) that records what reaches it.
struct Hostile {
    host: String,
    hits: Hits,
    registry_hits: Hits,
    _rt: tokio::runtime::Runtime,
}

impl Hostile {
    fn start(mode: Mode) -> Hostile {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let hits: Hits = Arc::default();
        let registry_hits: Hits = Arc::default();
        let collector_l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.2:0")).expect("bind 127.0.0.2");
        let collector = collector_l.local_addr().unwrap().to_string();
        let h = hits.clone();
        let app = axum::Router::new().fallback(move |req: axum::http::Request<Body>| {
            let h = h.clone();
            async move {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                h.lock().unwrap().push((req.uri().to_string(), auth));
                axum::Json(serde_json::json!({"token": "t", "tags": ["2"]}))
            }
        });
        rt.spawn(async move { axum::serve(collector_l, app).await });
        let registry_l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let host = registry_l.local_addr().unwrap().to_string();
        let (c, rh) = (collector.clone(), registry_hits.clone());
        let app = axum::Router::new().fallback(move |req: axum::http::Request<Body>| {
            let (c, rh) = (c.clone(), rh.clone());
            async move { hostile(mode, &c, &rh, req) }
        });
        rt.spawn(async move { axum::serve(registry_l, app).await });
        Hostile { host, hits, registry_hits, _rt: rt }
    }
}

fn hostile(mode: Mode, collector: &str, seen: &Hits, req: axum::http::Request<Body>) -> Response {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let path = req.uri().path().to_owned();
    seen.lock().unwrap().push((req.uri().to_string(), auth.clone()));
    let mut headers = HeaderMap::new();
    let needs_auth = matches!(mode, Mode::LinkElsewhere | Mode::Basic | Mode::RealmElsewhere);
    if needs_auth && auth.is_none() {
        let challenge = match mode {
            Mode::RealmElsewhere => format!("Bearer realm=\"http://{collector}/token\",service=\"x\""),
            _ => "Basic realm=\"hostile\"".into(),
        };
        headers.insert("www-authenticate", challenge.parse().unwrap());
        return (StatusCode::UNAUTHORIZED, headers, "auth").into_response();
    }
    if path == "/v2/" {
        return (StatusCode::OK, "{}").into_response();
    }
    match mode {
        Mode::LinkElsewhere => {
            headers.insert(
                "link",
                format!("<http://{collector}/v2/ns/app/tags/list?last=1>; rel=\"next\"").parse().unwrap(),
            );
            (StatusCode::OK, headers, r#"{"name":"ns/app","tags":["1"]}"#).into_response()
        }
        Mode::LinkLoop => {
            headers.insert("link", "</v2/ns/app/tags/list>; rel=\"next\"".parse().unwrap());
            (StatusCode::OK, headers, r#"{"name":"ns/app","tags":["1"]}"#).into_response()
        }
        Mode::HugeBody => {
            let mut body = String::from(r#"{"name":"ns/app","tags":["#);
            while body.len() < 20 << 20 {
                body.push_str(
                    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",",
                );
            }
            body.push_str("\"1\"]}");
            (StatusCode::OK, body).into_response()
        }
        Mode::Basic | Mode::RealmElsewhere => (StatusCode::OK, r#"{"name":"ns/app","tags":["1"]}"#).into_response(),
    }
}

fn catalog_on(host: &str, extra: &str) -> tempfile::TempDir {
    crate::regsupport::catalog(host, &[("app", "1")], extra)
}

fn registry_run(cat: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let store = cat.join("store.db");
    let mut c = command(&["registry", cat.to_str().unwrap(), "--max-age", "0", "--retries", "0", "--store"]);
    c.arg(&store).args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (out.status.code(), format!("{}{}", stdout(&out), stderr(&out)))
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

// ---------------------------------------------- 1. shell injection

#[test]
fn item1_the_pull_script_quotes_or_drops_every_byte_from_input() {
    let evil_name = "x\ntouch PWNED1\n.yaml";
    let dir = tree(&[
        ("dockerfiles/config.yaml", "registry: \"reg.example\\ntouch PWNED2\"\nnamespace: ci\n"),
        ("dockerfiles/base/Dockerfile.template", "FROM scratch\n"),
        ("dockerfiles/base/changelog", &changelog("base", &["1.0"])),
    ]);
    std::fs::create_dir_all(dir.path().join("jjb")).unwrap();
    let prefix = "reg.example\ntouch PWNED2/ci/";
    std::fs::write(
        dir.path().join("jjb").join(evil_name),
        format!("a: {prefix}base\nb: {prefix}base:1.0\nc: {prefix}gone$(touch PWNED3):1\n"),
    )
    .unwrap();
    let out = dockyard(&["pull-script", "--repo", dir.path().to_str().unwrap(), "--host", "unix:///x';touch PWNED4;'"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = dir.path().join("pull.sh");
    std::fs::write(&script, &out.stdout).unwrap();
    let check = std::process::Command::new("sh").arg("-n").arg(&script).output().unwrap();
    assert!(check.status.success(), "sh -n: {}", String::from_utf8_lossy(&check.stderr));
    // Run it for real with a `docker` that records what it is asked to pull.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("docker"), "#!/bin/sh\nprintf '%s\\n' \"$2\" >> \"$PULLED\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pulled = dir.path().join("pulled.txt");
    let run = std::process::Command::new("sh")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("PULLED", &pulled)
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for n in 1..=4 {
        assert!(!dir.path().join(format!("PWNED{n}")).exists(), "input ran as a command (PWNED{n})");
    }
    let pulled = std::fs::read_to_string(&pulled).unwrap();
    assert_eq!(pulled, "reg.example\ntouch PWNED2/ci/base:1.0\n", "the one real pin, byte for byte");
}

// ---------------------------------------------- 2. credentials to other hosts

#[test]
fn item2_a_link_to_another_host_is_not_followed() {
    let h = Hostile::start(Mode::LinkElsewhere);
    let cat = catalog_on(&h.host, "username: ci\npassword: s3cret-Passw0rd\n");
    let (code, text) = registry_run(cat.path(), &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("another origin"), "{text}");
    assert!(h.hits.lock().unwrap().is_empty(), "the other host was contacted: {:?}", h.hits.lock().unwrap());
    assert!(!text.contains("s3cret-Passw0rd"));
}

#[test]
fn item2_a_token_realm_on_another_host_gets_nothing() {
    let h = Hostile::start(Mode::RealmElsewhere);
    let cat = catalog_on(&h.host, "username: ci\npassword: s3cret-Passw0rd\n");
    let (code, text) = registry_run(cat.path(), &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("another host or scheme"), "{text}");
    assert!(h.hits.lock().unwrap().is_empty(), "the realm host was contacted");
    // Allowing that host is an explicit choice.
    let (code, text) = registry_run(cat.path(), &["--token-realm", "127.0.0.2"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(h.hits.lock().unwrap().len(), 1);
}

#[test]
fn item2_credentials_from_the_environment_go_only_to_their_host() {
    let h = Hostile::start(Mode::Basic);
    let cat = catalog_on(&h.host, "");
    let env_for = |host: &str| {
        vec![
            ("DOCKYARD_REGISTRY_USERNAME", "ci"),
            ("DOCKYARD_REGISTRY_PASSWORD", "s3cret-Passw0rd"),
            ("DOCKYARD_REGISTRY_HOST", host),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    // Bound to another registry: the patched config gets nothing.
    let env = env_for("docker-registry.wikimedia.org");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, text) = registry_run(cat.path(), &[], &env);
    assert_eq!(code, Some(1), "{text}");
    let sent: Vec<_> = h.registry_hits.lock().unwrap().iter().filter_map(|(_, a)| a.clone()).collect();
    assert!(sent.is_empty(), "credentials went to an unbound host: {sent:?}");
    // Not bound at all: refused with a clear message.
    let (code, text) = registry_run(
        cat.path(),
        &[],
        &[("DOCKYARD_REGISTRY_USERNAME", "ci"), ("DOCKYARD_REGISTRY_PASSWORD", "s3cret-Passw0rd")],
    );
    assert_eq!(code, Some(2));
    assert!(text.contains("DOCKYARD_REGISTRY_HOST"), "{text}");
    // Bound to this host: used.
    let env = env_for(&h.host);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, text) = registry_run(cat.path(), &[], &env);
    assert_eq!(code, Some(0), "{text}");
    // The user-level docker-pkg config's credentials stay with its registry.
    let user = tempfile::tempdir().unwrap();
    std::fs::write(
        user.path().join("docker-pkg.yaml"),
        "registry: trusted.example\nusername: ci\npassword: s3cret-Passw0rd\n",
    )
    .unwrap();
    h.registry_hits.lock().unwrap().clear();
    let out = command(&["registry", cat.path().to_str().unwrap(), "--max-age", "0", "--store"])
        .arg(cat.path().join("s2.db"))
        .env("XDG_CONFIG_HOME", user.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        h.registry_hits.lock().unwrap().iter().all(|(_, a)| a.is_none()),
        "user-level credentials left their registry"
    );
}

// ---------------------------------------------- 3. templates

fn one_image(template: &str) -> tempfile::TempDir {
    tree(&[
        ("config.yaml", "registry: r\nnamespace: n\n"),
        ("img/Dockerfile.template", template),
        ("img/changelog", &changelog("img", &["1"])),
        ("ok/Dockerfile.template", "FROM ok\n"),
        ("ok/changelog", &changelog("ok", &["1"])),
    ])
}

fn render(dir: &Path) -> (Option<i32>, Value, String, Duration) {
    let (out, took) = timed(|| dockyard(&["render", dir.to_str().unwrap(), "--format", "json"]));
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), stderr(&out), took)
}

#[test]
fn item3_templates_print_themselves_like_python_and_cannot_grow_without_end() {
    // As Python prints them.
    let d = one_image(
        "{% set l = [1] %}{% do l.append(l) %}{{ l }}|{% set d = {'a': 1} %}{% do d.update({'me': d}) %}{{ d }}|{% set e = [1, 2] %}{% do e.extend(e) %}{{ e }}\n",
    );
    let (code, r, err, took) = render(d.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(r["images"]["img"]["dockerfile"], "[1, [...]]|{'a': 1, 'me': {...}}|[1, 2, 1, 2]");
    assert!(took < Duration::from_secs(5));
    // Growth without end is an error of that image only.
    for t in [
        "{% set l = [1] %}{% for i in range(64) %}{% do l.extend(l.copy()) %}{% endfor %}{{ l|length }}\n",
        "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}\n",
        "{% macro f(s, n) %}{% if n > 0 %}{{ f(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ f('xxxxxxxx', 40) }}\n",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}\n",
        "{% set l = [] %}{% for i in range(200000) %}{% set l = [l] %}{% endfor %}{% set m = [] %}{% do m.append(l) %}{{ m }}\n",
    ] {
        let d = one_image(t);
        let (code, r, err, took) = render(d.path());
        assert_eq!(code, Some(1), "{t}: {err}");
        assert!(r["images"]["img"]["error"].is_string(), "{t}: {r}");
        assert_eq!(r["images"]["ok"]["dockerfile"], "FROM ok", "the other image is rendered");
        assert!(took < Duration::from_secs(10), "{t}: took {took:?}");
    }
}

#[test]
fn item3_a_template_that_extends_itself_cannot_hang_the_server() {
    let d = tree(&[
        ("dockerfiles/config.yaml", "registry: r\nnamespace: n\n"),
        ("dockerfiles/img/Dockerfile.template", "{% set l = [1] %}{% do l.extend(l) %}{% do l.extend(l) %}{{ l }}\n"),
        ("dockerfiles/img/changelog", &changelog("img", &["1"])),
        ("jjb/a.yaml", "x: 1\n"),
    ]);
    let server = Server::start(&["--repo", d.path().to_str().unwrap()]);
    for _ in 0..5 {
        let (status, _, body) = server.get("/api/v1/catalog");
        assert_eq!(status, 200, "{body}");
    }
    // SIGTERM still stops it, promptly.
    let mut server = server;
    let t = Instant::now();
    let _ = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let status = server.child.wait().unwrap();
    assert!(status.success() || status.code().is_some(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?} to stop", t.elapsed());
}

// ---------------------------------------------- 4. YAML

#[test]
fn item4_yaml_bombs_and_deep_nesting_are_errors_with_lines() {
    let mut bomb = String::from("registry: r\nnamespace: n\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        let p = if i == 0 { "a".to_owned() } else { format!("l{}", i - 1) };
        bomb.push_str(&format!("l{i}: &l{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"));
    }
    assert!(bomb.len() < 1000);
    let dir = tree(&[
        ("config.yaml", &bomb),
        ("img/Dockerfile.template", "FROM x\n"),
        ("img/changelog", &changelog("img", &["1"])),
    ]);
    let (out, took) = timed(|| dockyard(&["render", dir.path().to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("config.yaml:") && stderr(&out).contains("YAML nodes"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5));
    for depth in [20_000, 6_000] {
        let deep = format!("registry: r\nnamespace: n\nx: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let dir = tree(&[
            ("config.yaml", &deep),
            ("img/Dockerfile.template", "FROM x\n"),
            ("img/changelog", &changelog("img", &["1"])),
        ]);
        let out = dockyard(&["render", dir.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "depth {depth}: {}", stderr(&out));
        assert!(stderr(&out).contains("config.yaml:3"), "{}", stderr(&out));
    }
    // A JJB file nested 6,000 deep does not take the server down.
    let dir = tree(&[
        ("dockerfiles/config.yaml", "registry: r\nnamespace: n\n"),
        ("dockerfiles/img/Dockerfile.template", "FROM x\n"),
        ("dockerfiles/img/changelog", &changelog("img", &["1"])),
        ("jjb/deep.yaml", &format!("a: {}r/n/img:{{v}}{}\n", "[".repeat(6000), "]".repeat(6000))),
    ]);
    let server = Server::start(&["--repo", dir.path().to_str().unwrap()]);
    let (status, _, body) = server.get("/api/v1/pins");
    assert_eq!(status, 200);
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["pins"][0]["status"], "unresolved");
    assert_eq!(server.get("/api/v1/catalog").0, 200);
}

// ---------------------------------------------- 5. lint resources

fn lint_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all: Vec<(String, String)> = vec![
        ("dockerfiles/config.yaml".into(), "registry: reg.example\nnamespace: ci\n".into()),
        ("dockerfiles/base/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/base/changelog".into(), changelog("base", &["2.0", "1.0"])),
    ];
    all.extend(files.iter().map(|(p, t)| (format!("jjb/{p}"), t.to_string())));
    let refs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    tree(&refs)
}

fn lint_timed(repo: &Path) -> (Option<i32>, Value, Duration) {
    let (out, took) = timed(|| dockyard(&["lint", "--repo", repo.to_str().unwrap(), "--format", "json"]));
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), took)
}

#[test]
fn item5_placeholder_products_are_bounded() {
    let axis: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let axis = axis.join(", ");
    let text = format!(
        "- project:\n    a: [{axis}]\n    b: [{axis}]\n    c: [{axis}]\n    d: [{axis}]\n    image: reg.example/ci/{{a}}{{b}}{{c}}{{d}}:{{a}}{{b}}\n"
    );
    let repo = lint_repo(&[("p.yaml", &text)]);
    let (code, r, took) = lint_timed(repo.path());
    assert_eq!(code, Some(0));
    assert_eq!(r["pins"][0]["status"], "unresolved");
    assert!(r["pins"][0]["note"].as_str().unwrap().contains("more than 256"), "{}", r["pins"][0]);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn item5_many_pins_on_one_line_and_many_includes_stay_linear() {
    let line: String = (0..40_000).map(|_| "reg.example/ci/base:1.0 ").collect();
    let includes: String = (0..40_000).map(|i| format!("x{i}: !include-raw: f{i}.sh\n")).collect();
    let one_line_includes: String = "!include-raw: ".repeat(60_000);
    let scope: String = {
        let mut s = String::from("- project:\n    v: '1.0'\n    jobs:\n");
        for i in 0..20_000 {
            s.push_str(&format!("      - j{i}: {{image: 'reg.example/ci/base:{{v}}'}}\n"));
        }
        s
    };
    for (name, text) in
        [("line.txt", line), ("inc.yaml", includes), ("inc1.yaml", one_line_includes), ("scope.yaml", scope)]
    {
        assert!(text.len() > 800_000, "{name} is {} bytes", text.len());
        let repo = lint_repo(&[(name, &text)]);
        let (code, r, took) = lint_timed(repo.path());
        assert!(code.is_some(), "{name}: crashed");
        assert!(took < Duration::from_secs(10), "{name}: took {took:?}");
        assert!(r["summary"]["files_scanned"] == 1, "{name}: {}", r["summary"]);
    }
}

// ---------------------------------------------- 6. --fix and shared display paths

#[test]
fn item6_fix_writes_each_real_file_at_its_own_offsets() {
    // Two different files that the earlier build showed as the same path:
    // `jjb/a.yaml` of the repository and `jjb/a.yaml` of the working folder.
    let repo = lint_repo(&[("a.yaml", "x: reg.example/ci/base:1.0\n")]);
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cwd.path().join("jjb")).unwrap();
    let other = "a much longer first line pushes the offsets\ny: reg.example/ci/base:1.0\n";
    std::fs::write(cwd.path().join("jjb/a.yaml"), other).unwrap();
    let out = command(&[
        "lint",
        "--repo",
        repo.path().to_str().unwrap(),
        "--pins",
        "jjb",
        "--fix",
        "--offline",
        "--allow-unpublished",
    ])
    .current_dir(cwd.path())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(repo.path().join("jjb/a.yaml")).unwrap(), "x: reg.example/ci/base:2.0\n");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("jjb/a.yaml")).unwrap(),
        other,
        "a file outside the repository was written"
    );
}

// ---------------------------------------------- 7. symlinks and special files

#[test]
fn item7_symlinks_out_of_the_repository_and_fifos_are_not_followed() {
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("token"), "TOKEN-d3adb33f\n").unwrap();
    let repo = lint_repo(&[("a.yaml", "x: reg.example/ci/base:1.0\n")]);
    let d = repo.path().join("dockerfiles");
    std::fs::create_dir_all(d.join("leak")).unwrap();
    std::fs::write(d.join("leak/Dockerfile.template"), "FROM x\n").unwrap();
    std::os::unix::fs::symlink(secret.path().join("token"), d.join("leak/changelog")).unwrap();
    std::fs::create_dir_all(d.join("leak2")).unwrap();
    std::fs::write(d.join("leak2/Dockerfile.template"), "FROM x\n").unwrap();
    std::fs::write(d.join("leak2/changelog"), changelog("leak2", &["1"])).unwrap();
    std::os::unix::fs::symlink(secret.path().join("token"), d.join("leak2/control")).unwrap();
    std::fs::create_dir_all(d.join("fifo")).unwrap();
    std::fs::write(d.join("fifo/Dockerfile.template"), "FROM x\n").unwrap();
    assert!(std::process::Command::new("mkfifo").arg(d.join("fifo/changelog")).status().unwrap().success());
    // A symlinked pin folder that leads out of the repository.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("o.yaml"), "y: reg.example/ci/base:1.0\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("jjb/linked")).unwrap();

    let (out, took) = timed(|| dockyard(&["catalog", "--repo", repo.path().to_str().unwrap(), "--format", "json"]));
    assert!(took < Duration::from_secs(5), "the FIFO hung the scan");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("d3adb33f"), "the token leaked: {all}");
    assert!(all.contains("leads outside the repository"), "{all}");
    assert!(all.contains("not a regular file"), "{all}");
    let server = Server::start(&["--repo", repo.path().to_str().unwrap()]);
    let (_, _, body) = server.get("/api/v1/catalog");
    assert!(!body.contains("d3adb33f"), "the token leaked through the API");
    drop(server);
    // --fix writes the repository's file and nothing behind the symlink.
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap(), "--fix", "--offline", "--allow-unpublished"]);
    assert!(out.status.code().is_some());
    assert_eq!(std::fs::read_to_string(outside.path().join("o.yaml")).unwrap(), "y: reg.example/ci/base:1.0\n");
    assert_eq!(std::fs::read_to_string(repo.path().join("jjb/a.yaml")).unwrap(), "x: reg.example/ci/base:2.0\n");
}

#[test]
fn item7_a_planted_symlink_at_the_output_is_replaced_not_written_through() {
    let repo = lint_repo(&[("a.yaml", "x: reg.example/ci/base:2.0\n")]);
    let victim = repo.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out_path = repo.path().join("pull.sh");
    std::os::unix::fs::symlink(&victim, &out_path).unwrap();
    let out = dockyard(&["pull-script", "--repo", repo.path().to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&out_path).unwrap().starts_with("#!/bin/sh"));
}

// ---------------------------------------------- 8. registry responses

#[test]
fn item8_registry_answers_are_bounded() {
    let h = Hostile::start(Mode::LinkLoop);
    let cat = catalog_on(&h.host, "");
    let ((code, text), took) = timed(|| registry_run(cat.path(), &[], &[]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("links back to a page already read"), "{text}");
    assert!(took < Duration::from_secs(5));
    assert!(h.registry_hits.lock().unwrap().len() < 10);

    let h = Hostile::start(Mode::HugeBody);
    let cat = catalog_on(&h.host, "");
    let (code, text) = registry_run(cat.path(), &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("larger than"), "{text}");

    // Flags that would compute a backoff of years, or make no sense.
    for bad in [&["--retries", "31"][..], &["--timeout=-1"], &["--timeout", "NaN"], &["--timeout", "inf"]] {
        let out = dockyard(&[&["registry", cat.path().to_str().unwrap()], bad].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn item8_a_credential_helper_that_never_answers_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("docker-credential-stuck"), "#!/bin/sh\nsleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("docker-credential-stuck"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("config.json"), "{\"credsStore\": \"stuck\"}").unwrap();
    let h = Hostile::start(Mode::Basic);
    let cat = catalog_on(&h.host, "");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let ((code, text), took) =
        timed(|| registry_run(cat.path(), &[], &[("DOCKER_CONFIG", dir.path().to_str().unwrap()), ("PATH", &path)]));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("did not answer"), "{text}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

// ---------------------------------------------- 9. the HTTP server

#[test]
fn item9_the_server_drops_slow_headers_caps_connections_and_checks_the_host() {
    let repo = lint_repo(&[("a.yaml", "x: reg.example/ci/base:2.0\n")]);
    let server =
        Server::start(&["--repo", repo.path().to_str().unwrap(), "--max-connections", "2", "--header-timeout", "2"]);
    let host = server.url.trim_start_matches("http://").to_owned();
    // Two clients that send half a request and stop.
    use std::io::{Read, Write};
    let stalled: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&host).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A third is served only once the stalled ones are dropped (at most 2 at once).
    let (r, took) = timed(|| server.get("/healthz"));
    assert_eq!(r.0, 200);
    assert!(took >= Duration::from_millis(1200), "served before a slot was free: {took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "a half-sent request was answered");
    }
    // DNS rebinding: a name the server does not serve gets nothing.
    let (status, _, body) =
        http(&format!("{}/api/v1/pins", server.url), "GET", &[("Host", "attacker.example:3000")], "");
    assert_eq!(status, 421, "{body}");
    assert!(!body.contains("reg.example"));
    // One snapshot serves every request: no re-render per request.
    let gens: Vec<String> =
        (0..20).map(|_| header(&server.get("/api/v1/catalog").1, "x-dockyard-snapshot").unwrap().to_owned()).collect();
    assert!(gens.iter().all(|g| *g == gens[0]), "{gens:?}");
}

// ---------------------------------------------- 10. small ones

#[test]
fn item10_terminal_escapes_and_xml_control_characters_are_neutralized() {
    let repo = lint_repo(&[("a.yaml", "x: reg.example/ci/base:1.0 \u{1b}]0;pwned\u{7}\u{1b}[2J \u{1}\u{8}\n")]);
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("stale"), "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{1}'), "{text:?}");
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap(), "--format", "junit"]);
    let xml = stdout(&out);
    let check = std::process::Command::new("python3")
        .args(["-c", "import sys,xml.dom.minidom as m; m.parseString(open(sys.argv[1],'rb').read()); print('ok')"])
        .arg({
            let p = repo.path().join("junit.xml");
            std::fs::write(&p, &xml).unwrap();
            p
        })
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&check.stderr));
}
