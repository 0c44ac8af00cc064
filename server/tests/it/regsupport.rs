//! Real registries for the tests: Debian's `docker-registry` (CNCF
//! distribution) on a free loopback port, plain or with htpasswd basic auth;
//! a small proxy of our own in front of it that is a bearer token service
//! and can inject faults (500s, slowness, a registry that dies mid-run);
//! images pushed with oci-client.
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const USER: &str = "ci-bot";
pub const PASSWORD: &str = "s3cret-Passw0rd";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `docker-registry`; stopped on drop.
pub struct Registry {
    pub host: String,
    child: Arc<Mutex<Option<Child>>>,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `basic_auth`, it requires USER/PASSWORD.
    pub fn start(basic_auth: bool) -> Registry {
        Self::start_with(basic_auth, None)
    }

    /// Starts a registry serving HTTPS with `(certificate, key)` PEM files.
    pub fn start_with(basic_auth: bool, tls: Option<(&std::path::Path, &std::path::Path)>) -> Registry {
        Self::start_full(basic_auth, tls, false)
    }

    /// Starts a registry in read-only maintenance mode: every push is
    /// refused inside the push stream.
    pub fn start_readonly() -> Registry {
        Self::start_full(false, None, true)
    }

    /// Starts a registry that logs every request to [`Registry::log`], and
    /// allows deletion or not.
    pub fn start_logged(delete: bool) -> Registry {
        Self::start_opts(false, None, false, delete, true)
    }

    fn start_full(basic_auth: bool, tls: Option<(&std::path::Path, &std::path::Path)>, readonly: bool) -> Registry {
        Self::start_opts(basic_auth, tls, readonly, true, false)
    }

    fn start_opts(
        basic_auth: bool,
        tls: Option<(&std::path::Path, &std::path::Path)>,
        readonly: bool,
        delete: bool,
        logged: bool,
    ) -> Registry {
        let bin = "/usr/bin/docker-registry";
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: the registry tests need Debian's docker-registry (scripts/setup installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {delete}\n{}http:\n  addr: 127.0.0.1:{port}\n",
            !logged,
            dir.path().join("data").display(),
            if readonly { "  maintenance:\n    readonly:\n      enabled: true\n" } else { "" }
        );
        if let Some((cert, key)) = tls {
            config.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display()));
        }
        if basic_auth {
            let out =
                Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]).output().expect("htpasswd (apache2-utils)");
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: dockyard-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = || -> Stdio {
            if logged {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.path().join("registry.log"))
                    .unwrap()
                    .into()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdout(log())
            .stderr(log())
            .spawn()
            .expect("start docker-registry");
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start on {host}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry { host, child: Arc::new(Mutex::new(Some(child))), _dir: dir }
    }

    /// What it logged (with [`Registry::start_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Bytes of every blob it stores (layers, configs, manifests).
    pub fn blob_bytes(&self) -> u64 {
        fn walk(p: &std::path::Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(p) else { return 0 };
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { walk(&path) } else { e.metadata().map_or(0, |m| m.len()) }
                })
                .sum()
        }
        walk(&self._dir.path().join("data/docker/registry/v2/blobs"))
    }

    /// Runs `registry garbage-collect` on its storage.
    pub fn garbage_collect(&self) {
        let out = Command::new("/usr/bin/docker-registry")
            .arg("garbage-collect")
            .arg(self._dir.path().join("config.yml"))
            .output()
            .expect("docker-registry garbage-collect");
        assert!(out.status.success(), "garbage-collect: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the registry now.
    pub fn stop(&self) {
        stop(&self.child);
    }

    fn handle(&self) -> Arc<Mutex<Option<Child>>> {
        self.child.clone()
    }
}

fn stop(child: &Mutex<Option<Child>>) {
    if let Some(mut c) = child.lock().unwrap().take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pushes a tiny image as `host/repo:tag` for each tag; returns digests.
pub fn push(host: &str, repo: &str, tags: &[&str], basic: bool) -> Vec<String> {
    dockyard::init_tls();
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    use oci_client::secrets::RegistryAuth;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = oci_client::Client::new(ClientConfig { protocol: ClientProtocol::Http, ..Default::default() });
        let auth = if basic { RegistryAuth::Basic(USER.into(), PASSWORD.into()) } else { RegistryAuth::Anonymous };
        let mut digests = Vec::new();
        for tag in tags {
            let reference: oci_client::Reference = format!("{host}/{repo}:{tag}").parse().unwrap();
            let layer = ImageLayer::oci_v1(format!("layer of {repo}:{tag}").into_bytes(), None);
            let config = Config::oci_v1(
                br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
                None,
            );
            let resp = client.push(&reference, &[layer], config, &auth, None).await.expect("push");
            let digest = client.fetch_manifest_digest(&reference, &auth).await.expect("digest");
            let _ = resp;
            digests.push(digest);
        }
        digests
    })
}

/// The image config of `host/repo:tag`, read by oci-client (not dockyard):
/// its manifest digest and the config's JSON.
pub fn config_of(host: &str, repo: &str, tag: &str) -> (String, serde_json::Value) {
    dockyard::init_tls();
    use oci_client::client::{ClientConfig, ClientProtocol};
    use oci_client::secrets::RegistryAuth;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = oci_client::Client::new(ClientConfig { protocol: ClientProtocol::Http, ..Default::default() });
        let reference: oci_client::Reference = format!("{host}/{repo}:{tag}").parse().unwrap();
        let (_, digest, config) =
            client.pull_manifest_and_config(&reference, &RegistryAuth::Anonymous).await.expect("manifest and config");
        (digest, serde_json::from_str(&config).unwrap())
    })
}

/// The compressed sizes of `host/repo:tag` as the registry stores them
/// (read by oci-client): each blob's digest and size, config included.
pub fn blobs_of(host: &str, repo: &str, tag: &str) -> Vec<(String, u64)> {
    dockyard::init_tls();
    use oci_client::client::{ClientConfig, ClientProtocol};
    use oci_client::secrets::RegistryAuth;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = oci_client::Client::new(ClientConfig { protocol: ClientProtocol::Http, ..Default::default() });
        let reference: oci_client::Reference = format!("{host}/{repo}:{tag}").parse().unwrap();
        let (manifest, _) = client.pull_image_manifest(&reference, &RegistryAuth::Anonymous).await.expect("manifest");
        std::iter::once(&manifest.config)
            .chain(manifest.layers.iter())
            .map(|d| (d.digest.clone(), d.size as u64))
            .collect()
    })
}

/// Faults the proxy can inject.
#[derive(Default)]
pub struct Faults {
    pub fail_500: AtomicBool,
    /// Fail only tag listings (the `/v2/` probe still answers).
    pub fail_lists: AtomicBool,
    pub delay_ms: AtomicU64,
    /// Stop the backend registry after this many forwarded tag listings (0: never).
    pub kill_after_lists: AtomicU64,
}

/// Counters the proxy keeps.
#[derive(Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub lists: AtomicU64,
    pub scopes: Mutex<Vec<String>>,
}

struct ProxyState {
    backend: String,
    bearer: bool,
    realm: String,
    faults: Arc<Faults>,
    counts: Arc<Counts>,
    registry: Arc<Mutex<Option<Child>>>,
    http: reqwest::Client,
}

/// A loopback proxy in front of a registry: with `bearer`, a token service
/// (`/token`, checking USER/PASSWORD) and a registry that demands its tokens.
pub struct Proxy {
    pub host: String,
    pub faults: Arc<Faults>,
    pub counts: Arc<Counts>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    pub fn start(registry: &Registry, bearer: bool) -> Proxy {
        dockyard::init_tls();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let faults = Arc::new(Faults::default());
        let counts = Arc::new(Counts::default());
        let state = Arc::new(ProxyState {
            backend: format!("http://{}", registry.host),
            bearer,
            realm: format!("http://{host}/token"),
            faults: faults.clone(),
            counts: counts.clone(),
            registry: registry.handle(),
            http: reqwest::Client::new(),
        });
        let app = axum::Router::new().route("/token", axum::routing::get(token)).fallback(forward).with_state(state);
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { host, faults, counts, _rt: rt }
    }
}

async fn token(State(s): State<Arc<ProxyState>>, req: Request<Body>) -> Response {
    s.counts.requests.fetch_add(1, Ordering::SeqCst);
    s.counts.token_requests.fetch_add(1, Ordering::SeqCst);
    use base64::Engine;
    let want = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")));
    if req.headers().get("authorization").and_then(|h| h.to_str().ok()) != Some(want.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let scopes: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(|s| s.replace("%3A", ":").replace("%2F", "/"))
        .collect();
    s.counts.scopes.lock().unwrap().extend(scopes);
    axum::Json(serde_json::json!({ "token": "granted-token", "expires_in": 300 })).into_response()
}

async fn forward(State(s): State<Arc<ProxyState>>, req: Request<Body>) -> Response {
    s.counts.requests.fetch_add(1, Ordering::SeqCst);
    let delay = s.faults.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if s.faults.fail_500.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    if s.bearer && req.headers().get("authorization").and_then(|h| h.to_str().ok()) != Some("Bearer granted-token") {
        let mut h = HeaderMap::new();
        h.insert(
            "www-authenticate",
            format!("Bearer realm=\"{}\",service=\"dockyard-test\"", s.realm).parse().unwrap(),
        );
        return (StatusCode::UNAUTHORIZED, h, "token required").into_response();
    }
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    if path.contains("/tags/list") && s.faults.fail_lists.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    if path.contains("/tags/list") {
        let n = s.counts.lists.fetch_add(1, Ordering::SeqCst) + 1;
        let kill = s.faults.kill_after_lists.load(Ordering::SeqCst);
        if kill > 0 && n > kill {
            stop(&s.registry);
        }
    }
    let mut out = s.http.request(req.method().clone(), format!("{}{path}", s.backend));
    if let Some(a) = req.headers().get("accept") {
        out = out.header("accept", a.clone());
    }
    match out.send().await {
        Err(_) => (StatusCode::BAD_GATEWAY, "registry unreachable").into_response(),
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            let mut headers = HeaderMap::new();
            for name in ["content-type", "docker-content-digest", "link"] {
                if let Some(v) = resp.headers().get(name) {
                    headers.insert(name, v.to_str().unwrap().parse().unwrap());
                }
            }
            let body = resp.bytes().await.unwrap_or_default();
            (status, headers, body).into_response()
        }
    }
}

/// A docker-pkg catalog whose images live on `host`, in namespace `ns`.
pub fn catalog(host: &str, images: &[(&str, &str)], extra_config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), format!("registry: {host}\nnamespace: ns\n{extra_config}")).unwrap();
    for (name, version) in images {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("Dockerfile.template"), "FROM scratch\n").unwrap();
        std::fs::write(d.join("changelog"), crate::common::changelog(name, &[version])).unwrap();
    }
    dir
}

/// A private CA and a server certificate it signed for 127.0.0.1, made with
/// openssl: returns (ca.pem, server.pem, server.key).
pub fn private_ca(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=dockyard test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

pub fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store.db")
}
