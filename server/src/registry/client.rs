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
/// The largest response body read (a page of tags, a token).
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Pages of one tag listing, and tags of one repository.
pub const MAX_PAGES: usize = 1_000;
pub const MAX_TAGS: usize = 100_000;
/// Retries are capped, and so is one backoff sleep.
pub const MAX_RETRIES: u32 = 10;
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

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
    /// Hosts other than the registry's own that may serve its bearer tokens
    /// (and so receive its credentials): an explicit choice.
    pub token_realms: Vec<String>,
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
            token_realms: Vec::new(),
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
    #[error("refused: {0}")]
    Refused(String),
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

/// `scheme://host[:port]` of a URL, lowercased, with the default port
/// written out, so that two spellings of one origin compare equal.
pub fn origin(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// One registry.
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    /// The registry's origin: credentials and `Link`s stay on it.
    base_origin: String,
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
    pub fn new(host: &str, creds: Option<Credentials>, mut opts: ClientOptions) -> Result<Self, RegistryError> {
        if host.is_empty()
            || host.contains(['/', '\\', '@', '?', '#'])
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(RegistryError::Config(format!(
                "`{}` is not a registry host",
                dockyard_core::limits::quote(host)
            )));
        }
        opts.retries = opts.retries.min(MAX_RETRIES);
        let scheme = if !opts.force_tls && (is_loopback(host) || opts.insecure) { "http" } else { "https" };
        let base = format!("{scheme}://{host}");
        let base_origin = reqwest::Url::parse(&base).ok().as_ref().and_then(origin).ok_or_else(|| {
            RegistryError::Config(format!("`{}` is not a registry host", dockyard_core::limits::quote(host)))
        })?;
        // Redirects are followed only within the registry's origin (reqwest
        // would drop credentials on another host, but still send the request).
        let same = base_origin.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 || origin(attempt.url()).as_deref() != Some(same.as_str()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .redirect(policy)
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
            base,
            base_origin,
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
                    let wait = self.opts.backoff.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_BACKOFF);
                    tokio::time::sleep(wait).await;
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
                    Some(Challenge::Bearer { realm, service }) => {
                        self.check_realm(&realm)?;
                        AuthMode::Bearer { realm, service }
                    }
                    None => return Err(RegistryError::Protocol(format!("unknown challenge `{header}`"))),
                }
            }
            s => return Err(RegistryError::Status(s.as_u16())),
        };
        Ok(())
    }

    /// A token realm may be on the registry's own host (over its scheme, or
    /// HTTPS), or on a host allowed by `token_realms`; anything else would
    /// receive the registry's credentials, or be a request forged toward
    /// another host.
    fn check_realm(&self, realm: &str) -> Result<(), RegistryError> {
        let url = reqwest::Url::parse(realm).map_err(|_| {
            RegistryError::Protocol(format!("token realm `{}` is not a URL", dockyard_core::limits::quote(realm)))
        })?;
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let registry_host = self
            .host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(self.host.as_str(), |(h, _)| h)
            .to_ascii_lowercase();
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && self.base.starts_with("http://"));
        let allowed = self.opts.token_realms.iter().any(|r| r.eq_ignore_ascii_case(&host));
        if scheme_ok && (host == registry_host || allowed) {
            return Ok(());
        }
        Err(RegistryError::Refused(format!(
            "the registry {} sends token requests to `{}`, another host or scheme; credentials go only to the registry (allow a token host with --token-realm HOST)",
            self.host,
            dockyard_core::limits::quote(realm)
        )))
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
        let scopes: Vec<String> = repos.iter().map(|r| format!("repository:{r}:pull")).collect();
        self.fetch_token_for(realm, service, &scopes).await
    }

    async fn fetch_token_scoped(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        self.fetch_token_for(realm, service, &[scope.to_owned()]).await
    }

    async fn fetch_token_for(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String, RegistryError> {
        let mut query: Vec<(&str, String)> = scopes.iter().map(|s| ("scope", s.clone())).collect();
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

    /// Every tag of `repo`, sorted; `None` when the repository does not
    /// exist. `Link`s are followed only within the registry's origin, at
    /// most [`MAX_PAGES`] pages and never the same page twice.
    pub async fn list_tags(&self, repo: &str) -> Result<Option<Vec<String>>, RegistryError> {
        let mut url = format!("{}/v2/{repo}/tags/list", self.base);
        let mut tags = Vec::new();
        let mut visited = std::collections::HashSet::new();
        loop {
            if !visited.insert(url.clone()) {
                return Err(RegistryError::Protocol(format!(
                    "the tag listing of {repo} links back to a page already read"
                )));
            }
            if visited.len() > MAX_PAGES {
                return Err(RegistryError::Protocol(format!(
                    "the tag listing of {repo} has more than {MAX_PAGES} pages"
                )));
            }
            let resp = self.get_for(repo, reqwest::Method::GET, &url, None).await?;
            match resp.status() {
                StatusCode::NOT_FOUND => return Ok(None),
                s if !s.is_success() => return Err(RegistryError::Status(s.as_u16())),
                _ => {}
            }
            let next = resp.headers().get(LINK).and_then(|h| h.to_str().ok()).and_then(parse_link_next);
            let json = read_json(resp).await?;
            tags.extend(json["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)));
            if tags.len() > MAX_TAGS {
                return Err(RegistryError::Protocol(format!("{repo} has more than {MAX_TAGS} tags")));
            }
            match next {
                Some(n) => url = self.same_origin(&n)?,
                None => break,
            }
        }
        tags.sort_by(|a, b| dockyard_core::version::compare(a, b).then_with(|| a.cmp(b)));
        tags.dedup();
        Ok(Some(tags))
    }

    /// A `Link` target resolved against the registry, when it stays on the
    /// registry's origin.
    fn same_origin(&self, link: &str) -> Result<String, RegistryError> {
        let base = reqwest::Url::parse(&self.base).map_err(|e| RegistryError::Config(e.to_string()))?;
        let next = base
            .join(link)
            .map_err(|_| RegistryError::Protocol(format!("bad Link `{}`", dockyard_core::limits::quote(link))))?;
        if origin(&next).as_deref() != Some(self.base_origin.as_str()) {
            return Err(RegistryError::Refused(format!(
                "the registry linked to `{}`, another origin: not followed",
                dockyard_core::limits::quote(link)
            )));
        }
        Ok(next.to_string())
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

impl RegistryClient {
    /// The manifest `reference` (a tag or a digest) names in `repo`: its
    /// digest, checked against the body, and its JSON; `None` when missing.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, serde_json::Value, u64)>, RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let resp = self.get_for(repo, reqwest::Method::GET, &url, Some(MANIFEST_ACCEPT)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if !s.is_success() => return Err(RegistryError::Status(s.as_u16())),
            _ => {}
        }
        let said = resp.headers().get("docker-content-digest").and_then(|h| h.to_str().ok()).map(str::to_owned);
        let body = read_body(resp).await?;
        let digest = crate::sha::digest(&body);
        if said.as_deref().is_some_and(|d| d != digest) || (reference.starts_with("sha256:") && reference != digest) {
            return Err(RegistryError::Protocol(format!(
                "the manifest of {repo}:{reference} does not match its digest"
            )));
        }
        let json = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol(format!("not JSON: {e}")))?;
        Ok(Some((digest, json, body.len() as u64)))
    }

    /// The registry's repositories (`/v2/_catalog`, following `Link`
    /// within the registry's origin, at most [`MAX_PAGES`] pages).
    pub async fn repositories(&self) -> Result<Vec<String>, RegistryError> {
        self.probe().await?;
        let mut url = format!("{}/v2/_catalog?n=1000", self.base);
        let mut out = Vec::new();
        let mut visited = std::collections::HashSet::new();
        loop {
            if !visited.insert(url.clone()) || visited.len() > MAX_PAGES {
                return Err(RegistryError::Protocol("the repository listing loops or has too many pages".into()));
            }
            let auth = match &*self.mode.lock().await {
                AuthMode::Basic => self.authorization("", &AuthMode::Basic),
                _ => None,
            };
            let resp = self
                .exchange(|| {
                    let req = self.http.get(&url);
                    match &auth {
                        Some(a) => req.header(AUTHORIZATION, a.clone()),
                        None => req,
                    }
                })
                .await?;
            match resp.status() {
                StatusCode::UNAUTHORIZED => {
                    return Err(RegistryError::Unauthorized("the registry does not list its repositories".into()));
                }
                s if !s.is_success() => return Err(RegistryError::Status(s.as_u16())),
                _ => {}
            }
            let next = resp.headers().get(LINK).and_then(|h| h.to_str().ok()).and_then(parse_link_next);
            let json = read_json(resp).await?;
            out.extend(
                json["repositories"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)),
            );
            if out.len() > MAX_TAGS {
                return Err(RegistryError::Protocol(format!("more than {MAX_TAGS} repositories")));
            }
            match next {
                Some(n) => url = self.same_origin(&n)?,
                None => break,
            }
        }
        Ok(out)
    }

    /// A JSON blob (an image config), checked against its digest.
    pub async fn blob_json(&self, repo: &str, digest: &str) -> Result<serde_json::Value, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let resp = self.get_for(repo, reqwest::Method::GET, &url, None).await?;
        if !resp.status().is_success() {
            return Err(RegistryError::Status(resp.status().as_u16()));
        }
        let body = read_body(resp).await?;
        if crate::sha::digest(&body) != digest {
            return Err(RegistryError::Protocol(format!("the blob {digest} of {repo} does not match its digest")));
        }
        serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol(format!("not JSON: {e}")))
    }

    /// Deletes the manifest `digest` of `repo` (every tag on it goes with it).
    /// A registry that does not allow deletion answers 405 (distribution
    /// without `storage.delete.enabled`), said as such.
    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<(), RegistryError> {
        if !digest.starts_with("sha256:") || digest.len() != 71 {
            return Err(RegistryError::Config(format!(
                "`{}` is not a manifest digest",
                dockyard_core::limits::quote(digest)
            )));
        }
        // Token registries want the delete action in the token's scope.
        if matches!(&*self.mode.lock().await, AuthMode::Bearer { .. }) {
            self.prepare(&[repo.to_owned()]).await?;
            let (realm, service) = match &*self.mode.lock().await {
                AuthMode::Bearer { realm, service } => (realm.clone(), service.clone()),
                _ => unreachable!("checked above"),
            };
            let token =
                self.fetch_token_scoped(&realm, service.as_deref(), &format!("repository:{repo}:delete")).await?;
            self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(repo.to_owned(), token);
        }
        let url = format!("{}/v2/{repo}/manifests/{digest}", self.base);
        let resp = self.get_for(repo, reqwest::Method::DELETE, &url, None).await?;
        // A pull-only token must not linger for the next reads.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(repo);
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED => Err(RegistryError::Refused(format!(
                "{} does not allow deletion (405; distribution needs storage.delete.enabled: true)",
                self.host
            ))),
            StatusCode::NOT_FOUND => Err(RegistryError::Refused(format!("{repo}@{digest} is not in the registry"))),
            s => Err(RegistryError::Status(s.as_u16())),
        }
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, RegistryError> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(RegistryError::Protocol(format!("a response larger than {MAX_BODY_BYTES} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| RegistryError::Unreachable(root_cause(&e)))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RegistryError::Protocol(format!("a response larger than {MAX_BODY_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`].
async fn read_json(resp: reqwest::Response) -> Result<serde_json::Value, RegistryError> {
    let body = read_body(resp).await?;
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
