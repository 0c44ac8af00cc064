//! A client for the OCI distribution API, made for indexing many
//! repositories with few requests: one `/v2/` probe per registry, bearer
//! tokens fetched for many repository scopes at once, `tags/list` with `Link`
//! pagination, manifest digests by `HEAD`. Every request has a timeout,
//! transient failures (timeouts, connection errors, 5xx, 429) are retried with
//! exponential backoff, and a circuit stops requests to a registry that keeps
//! failing. Plain HTTP only for loopback registries or when asked.

use super::auth::{Challenge, Credentials, parse_challenge, parse_link_next};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, LINK, WWW_AUTHENTICATE};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Manifest media types a `HEAD` accepts (Docker v2, OCI, and their lists).
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json";

/// Tokens are requested for this many repositories at a time.
const SCOPES_PER_TOKEN: usize = 64;

/// Tuning of one client.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Consecutive failures that open the circuit, and how long it stays open.
    pub circuit_threshold: u32,
    pub circuit_cooldown: Duration,
    /// Allow plain HTTP to a registry that is not on loopback.
    pub insecure: bool,
    /// Use HTTPS even for a loopback registry.
    pub force_tls: bool,
    /// Extra CA certificates (PEM) to trust.
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(100),
            circuit_threshold: 8,
            circuit_cooldown: Duration::from_secs(30),
            insecure: false,
            force_tls: false,
            ca_bundle: None,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("registry answered {0}")]
    Status(u16),
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    #[error("circuit open: the registry failed {0} times in a row, not asking again for a while")]
    CircuitOpen(u32),
    #[error("bad answer: {0}")]
    Protocol(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl RegistryError {
    fn transient(&self) -> bool {
        match self {
            RegistryError::Timeout(_) | RegistryError::Unreachable(_) => true,
            RegistryError::Status(s) => *s >= 500 || *s == 429,
            _ => false,
        }
    }
}

enum AuthMode {
    Unknown,
    Open,
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// True for `127.0.0.0/8`, `localhost` and `[::1]`, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
    };
    name == "localhost" || name == "::1" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// One registry.
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    pub host: String,
    creds: Option<Credentials>,
    opts: ClientOptions,
    mode: tokio::sync::Mutex<AuthMode>,
    tokens: Mutex<HashMap<String, String>>,
    requests: AtomicU64,
    consecutive_failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl RegistryClient {
    pub fn new(host: &str, creds: Option<Credentials>, opts: ClientOptions) -> Result<Self, RegistryError> {
        let scheme = if !opts.force_tls && (is_loopback(host) || opts.insecure) { "http" } else { "https" };
        let mut builder = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .user_agent(concat!("dockyard/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64);
        if let Some(ca) = &opts.ca_bundle {
            let pem = std::fs::read(ca).map_err(|e| RegistryError::Config(format!("{}: {e}", ca.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| RegistryError::Config(format!("{}: {e}", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| RegistryError::Config(e.to_string()))?;
        Ok(RegistryClient {
            http,
            base: format!("{scheme}://{host}"),
            host: host.to_owned(),
            creds,
            opts,
            mode: tokio::sync::Mutex::new(AuthMode::Unknown),
            tokens: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        })
    }

    /// Requests sent so far (retries and token requests included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn circuit_check(&self) -> Result<(), RegistryError> {
        let mut open = self.open_until.lock().unwrap_or_else(|p| p.into_inner());
        match *open {
            Some(until) if Instant::now() < until => {
                Err(RegistryError::CircuitOpen(self.consecutive_failures.load(Ordering::Relaxed)))
            }
            Some(_) => {
                *open = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self, ok: bool) {
        if ok {
            self.consecutive_failures.store(0, Ordering::Relaxed);
            return;
        }
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.opts.circuit_threshold {
            *self.open_until.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + self.opts.circuit_cooldown);
        }
    }

    /// One HTTP exchange with retries and the circuit; statuses are returned
    /// as they are (callers decide what 404 means).
    async fn exchange(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response, RegistryError> {
        let mut attempt = 0;
        loop {
            self.circuit_check()?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let result = match build().send().await {
                Ok(resp) if resp.status().is_server_error() || resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                    Err(RegistryError::Status(resp.status().as_u16()))
                }
                Ok(resp) => Ok(resp),
                Err(e) if e.is_timeout() => Err(RegistryError::Timeout(self.opts.timeout)),
                Err(e) => Err(RegistryError::Unreachable(root_cause(&e))),
            };
            match result {
                Ok(resp) => {
                    self.record(true);
                    return Ok(resp);
                }
                Err(e) => {
                    self.record(false);
                    if !e.transient() || attempt >= self.opts.retries {
                        return Err(e);
                    }
                    tokio::time::sleep(self.opts.backoff * 2u32.pow(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Asks `/v2/` how to authenticate (once per client).
    async fn probe(&self) -> Result<(), RegistryError> {
        let mut mode = self.mode.lock().await;
        if !matches!(*mode, AuthMode::Unknown) {
            return Ok(());
        }
        let url = format!("{}/v2/", self.base);
        let resp = self.exchange(|| self.http.get(&url)).await?;
        *mode = match resp.status() {
            s if s.is_success() => AuthMode::Open,
            StatusCode::UNAUTHORIZED => {
                let header = resp.headers().get(WWW_AUTHENTICATE).and_then(|h| h.to_str().ok()).unwrap_or("");
                match parse_challenge(header) {
                    Some(Challenge::Basic) if self.creds.is_some() => AuthMode::Basic,
                    Some(Challenge::Basic) => {
                        return Err(RegistryError::Unauthorized(
                            "the registry wants credentials and none are configured".into(),
                        ));
                    }
                    Some(Challenge::Bearer { realm, service }) => AuthMode::Bearer { realm, service },
                    None => return Err(RegistryError::Protocol(format!("unknown challenge `{header}`"))),
                }
            }
            s => return Err(RegistryError::Status(s.as_u16())),
        };
        Ok(())
    }

    /// Probes the registry and, for token auth, fetches tokens covering
    /// `repos` (many scopes per token request).
    pub async fn prepare(&self, repos: &[String]) -> Result<(), RegistryError> {
        self.probe().await?;
        let (realm, service) = match &*self.mode.lock().await {
            AuthMode::Bearer { realm, service } => (realm.clone(), service.clone()),
            _ => return Ok(()),
        };
        let missing: Vec<String> = {
            let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            repos.iter().filter(|r| !tokens.contains_key(*r)).cloned().collect()
        };
        for chunk in missing.chunks(SCOPES_PER_TOKEN) {
            let token = self.fetch_token(&realm, service.as_deref(), chunk).await?;
            let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            for r in chunk {
                tokens.insert(r.clone(), token.clone());
            }
        }
        Ok(())
    }

    async fn fetch_token(&self, realm: &str, service: Option<&str>, repos: &[String]) -> Result<String, RegistryError> {
        let mut query: Vec<(&str, String)> = repos.iter().map(|r| ("scope", format!("repository:{r}:pull"))).collect();
        if let Some(s) = service {
            query.push(("service", s.to_owned()));
        }
        let resp = self
            .exchange(|| {
                let req = self.http.get(realm).query(&query);
                match &self.creds {
                    Some(c) => req.basic_auth(&c.username, Some(c.password.expose())),
                    None => req,
                }
            })
            .await?;
        if !resp.status().is_success() {
            return Err(RegistryError::Unauthorized(format!("the token service answered {}", resp.status().as_u16())));
        }
        let json = read_json(resp).await?;
        json["token"]
            .as_str()
            .or_else(|| json["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::Protocol("the token service sent no token".into()))
    }

    fn authorization(&self, repo: &str, mode: &AuthMode) -> Option<HeaderValue> {
        match mode {
            AuthMode::Basic => self.creds.as_ref().map(|c| {
                use base64::Engine;
                let raw = format!("{}:{}", c.username, c.password.expose());
                let mut v =
                    HeaderValue::from_str(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
                        .unwrap_or(HeaderValue::from_static(""));
                v.set_sensitive(true);
                v
            }),
            AuthMode::Bearer { .. } => {
                let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
                tokens.get(repo).and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()).map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
            }
            _ => None,
        }
    }

    /// A request for `repo` with its credentials; a 401 under token auth
    /// fetches a fresh token once.
    async fn get_for(
        &self,
        repo: &str,
        method: reqwest::Method,
        url: &str,
        accept: Option<&'static str>,
    ) -> Result<reqwest::Response, RegistryError> {
        self.prepare(&[repo.to_owned()]).await?;
        for refreshed in [false, true] {
            let auth = self.authorization(repo, &*self.mode.lock().await);
            let resp = self
                .exchange(|| {
                    let mut req = self.http.request(method.clone(), url);
                    if let Some(a) = &auth {
                        req = req.header(AUTHORIZATION, a.clone());
                    }
                    if let Some(accept) = accept {
                        req = req.header(ACCEPT, accept);
                    }
                    req
                })
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            let bearer = matches!(&*self.mode.lock().await, AuthMode::Bearer { .. });
            if refreshed || !bearer {
                let from = self
                    .creds
                    .as_ref()
                    .map_or("no credentials".to_owned(), |c| format!("credentials from {}", c.source));
                return Err(RegistryError::Unauthorized(format!("{} refused the request ({from})", self.host)));
            }
            self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(repo);
            self.prepare(&[repo.to_owned()]).await?;
        }
        Err(RegistryError::Unauthorized(self.host.clone()))
    }

    /// Every tag of `repo`, sorted; `None` when the repository does not exist.
    pub async fn list_tags(&self, repo: &str) -> Result<Option<Vec<String>>, RegistryError> {
        let mut url = format!("{}/v2/{repo}/tags/list", self.base);
        let mut tags = Vec::new();
        loop {
            let resp = self.get_for(repo, reqwest::Method::GET, &url, None).await?;
            match resp.status() {
                StatusCode::NOT_FOUND => return Ok(None),
                s if !s.is_success() => return Err(RegistryError::Status(s.as_u16())),
                _ => {}
            }
            let next = resp.headers().get(LINK).and_then(|h| h.to_str().ok()).and_then(parse_link_next);
            let json = read_json(resp).await?;
            tags.extend(json["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)));
            match next {
                Some(n) if n.starts_with('/') => url = format!("{}{n}", self.base),
                Some(n) => url = n,
                None => break,
            }
        }
        tags.sort_by(|a, b| dockyard_core::version::compare(a, b).then_with(|| a.cmp(b)));
        tags.dedup();
        Ok(Some(tags))
    }

    /// The digest of `repo:tag`, `None` when it does not exist.
    pub async fn manifest_digest(&self, repo: &str, tag: &str) -> Result<Option<String>, RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base);
        let resp = self.get_for(repo, reqwest::Method::HEAD, &url, Some(MANIFEST_ACCEPT)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => resp
                .headers()
                .get("docker-content-digest")
                .and_then(|h| h.to_str().ok())
                .map(|d| Some(d.to_owned()))
                .ok_or_else(|| RegistryError::Protocol("no Docker-Content-Digest header".into())),
            s => Err(RegistryError::Status(s.as_u16())),
        }
    }
}

async fn read_json(resp: reqwest::Response) -> Result<serde_json::Value, RegistryError> {
    let body = resp.bytes().await.map_err(|e| RegistryError::Unreachable(root_cause(&e)))?;
    serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol(format!("not JSON: {e}")))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:5000", "127.1.2.3", "localhost:5000", "[::1]:5000", "localhost"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker-registry.wikimedia.org", "10.0.0.1:5000", "registry.localhost.example"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
