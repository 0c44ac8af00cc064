//! A Docker engine over the Engine API (bollard): unix socket, tcp, or
//! tcp with TLS client certificates. The API version is negotiated on first
//! use, so an engine that speaks 1.41 is spoken to in 1.41.

use super::{BuildOptions, Engine, EngineError, ImageInfo, LogSink, RegistryAuth, RunSpec};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ListImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Seconds one API request may take at the transport (a build is one
/// request); the deadlines that matter are below.
const REQUEST_TIMEOUT: u64 = 3600;
/// A ping, an inspect, a tag or a removal: a live engine answers in this.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// A build, push or pull stream that shows no progress for this long is
/// asked whether the engine still answers (`$DOCKYARD_ENGINE_IDLE_TIMEOUT`
/// seconds; a silent `RUN` on a live engine goes on).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// An engine reached over the Engine API.
pub struct DockerEngine {
    name: String,
    endpoint: String,
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
    client: OnceCell<Docker>,
    idle: Duration,
}

/// The idle timeout of streams: `$DOCKYARD_ENGINE_IDLE_TIMEOUT` seconds, else 120.
fn idle_timeout() -> Duration {
    std::env::var("DOCKYARD_ENGINE_IDLE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs)
}

impl DockerEngine {
    /// `endpoint`: `unix:///path`, `tcp://host:port` (with `tls` = (ca, cert, key)).
    pub fn new(name: &str, endpoint: &str, tls: Option<(PathBuf, PathBuf, PathBuf)>) -> DockerEngine {
        DockerEngine {
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            tls,
            client: OnceCell::new(),
            idle: idle_timeout(),
        }
    }

    /// `f`, or "stopped answering" when it takes past `limit`.
    async fn within<T>(
        &self,
        what: &str,
        limit: Duration,
        f: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(limit, f).await {
            Ok(r) => r,
            Err(_) => {
                Err(self
                    .unreachable(format!("{what}: no answer in {} s: the engine stopped answering", limit.as_secs())))
            }
        }
    }

    /// The next item of a build, push or pull stream. When none comes for
    /// the idle timeout, the engine is asked for its version: a live one
    /// (a long silent step) is waited for again; one that does not answer
    /// is lost.
    async fn next<S: futures::Stream + Unpin>(
        &self,
        what: &str,
        stream: &mut S,
    ) -> Result<Option<S::Item>, EngineError> {
        loop {
            match tokio::time::timeout(self.idle, stream.next()).await {
                Ok(item) => return Ok(item),
                Err(_) => {
                    let alive = async { self.client().await?.version().await.map_err(|e| self.failed("version", e)) };
                    if tokio::time::timeout(PROBE_TIMEOUT, alive).await.is_ok_and(|r| r.is_ok()) {
                        continue;
                    }
                    return Err(self.unreachable(format!(
                        "{what}: no progress for {} s, and the engine does not answer: it stopped answering",
                        self.idle.as_secs()
                    )));
                }
            }
        }
    }

    /// The engine `DOCKER_HOST` names, else the default socket.
    pub fn from_env() -> DockerEngine {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        DockerEngine::new("local", &endpoint, None)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> EngineError {
        EngineError::Unreachable(self.name.clone(), e.to_string())
    }

    /// The client, connected and version-negotiated on first use.
    async fn client(&self) -> Result<&Docker, EngineError> {
        let init = self.client.get_or_try_init(|| async {
            let v = bollard::API_DEFAULT_VERSION;
            let docker = if let Some(path) = self.endpoint.strip_prefix("unix://") {
                Docker::connect_with_unix(path, REQUEST_TIMEOUT, v)
            } else if let Some((ca, cert, key)) = &self.tls {
                Docker::connect_with_ssl(&self.endpoint, key, cert, ca, REQUEST_TIMEOUT, v)
            } else if self.endpoint.starts_with("tcp://") || self.endpoint.starts_with("http://") {
                Docker::connect_with_http(&self.endpoint, REQUEST_TIMEOUT, v)
            } else {
                return Err(EngineError::Config(self.name.clone(), format!("unknown endpoint `{}`", self.endpoint)));
            }
            .map_err(|e| self.lost("connect", e))?;
            docker.negotiate_version().await.map_err(|e| self.lost("connect", e))
        });
        match tokio::time::timeout(PROBE_TIMEOUT, init).await {
            Ok(r) => r,
            Err(_) => {
                Err(self
                    .unreachable(format!("no answer in {} s: the engine stopped answering", PROBE_TIMEOUT.as_secs())))
            }
        }
    }

    /// An engine that cannot be reached, said as what happened rather than
    /// as the HTTP client's internals ("Error in the hyper legacy client:
    /// client error (Connect)").
    fn lost(&self, what: &str, e: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as B;
        let why = match &e {
            B::SocketNotFoundError(path) => format!("no engine socket at {path}"),
            B::RequestTimeoutError => "no answer in time".to_owned(),
            B::IOError { err } => format!("the connection failed ({})", err.kind()),
            B::HyperResponseError { .. } | B::HyperLegacyError { .. } => {
                "the connection to it was refused or lost".to_owned()
            }
            other => other.to_string(),
        };
        tracing::debug!("{}: {what}: {e}", self.name);
        self.unreachable(format!("{what}: {why}"))
    }

    fn failed(&self, what: &str, e: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError { status_code, message } => {
                EngineError::Failed(format!("{what}: the engine answered {status_code}: {}", message.trim()))
            }
            B::DockerStreamError { error } => EngineError::Failed(format!("{what}: {}", error.trim())),
            B::HyperResponseError { .. }
            | B::HyperLegacyError { .. }
            | B::IOError { .. }
            | B::RequestTimeoutError
            | B::SocketNotFoundError(_) => self.lost(what, e),
            other => EngineError::Failed(format!("{what}: {other}")),
        }
    }
}

fn credentials(auth: Option<&RegistryAuth>) -> Option<DockerCredentials> {
    auth.map(|a| DockerCredentials {
        username: Some(a.username.clone()),
        password: Some(a.password.expose().to_owned()),
        serveraddress: Some(a.server.clone()),
        ..Default::default()
    })
}

/// Sends each line of a stream's text to the log.
fn log_lines(log: &LogSink, text: &str) {
    for line in text.lines() {
        let line = line.trim_end();
        if !line.is_empty() {
            let _ = log.send(line.to_owned());
        }
    }
}

impl Engine for DockerEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn version(&self) -> BoxFuture<'_, Result<String, EngineError>> {
        Box::pin(self.within("version", PROBE_TIMEOUT, async move {
            let d = self.client().await?;
            let v = d.version().await.map_err(|e| self.failed("version", e))?;
            Ok(format!("Docker {} (API {})", v.version.unwrap_or_default(), d.client_version()))
        }))
    }

    fn inspect<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, EngineError>> {
        Box::pin(self.within("inspect", PROBE_TIMEOUT, async move {
            let d = self.client().await?;
            match d.inspect_image(reference).await {
                Ok(i) => Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    tags: i.repo_tags.unwrap_or_default(),
                    digests: i.repo_digests.unwrap_or_default(),
                    labels: i.config.and_then(|c| c.labels).map(|l| l.into_iter().collect()).unwrap_or_default(),
                })),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
                Err(e) => Err(self.failed(&format!("inspect {reference}"), e)),
            }
        }))
    }

    fn images<'a>(&'a self, repo: &'a str) -> BoxFuture<'a, Result<Vec<ImageInfo>, EngineError>> {
        Box::pin(self.within("list images", PROBE_TIMEOUT, async move {
            let d = self.client().await?;
            let filters = HashMap::from([("reference".to_owned(), vec![repo.to_owned()])]);
            let list = d
                .list_images(Some(ListImagesOptions { all: false, filters: Some(filters), ..Default::default() }))
                .await
                .map_err(|e| self.failed(&format!("list images of {repo}"), e))?;
            Ok(list
                .into_iter()
                .map(|i| ImageInfo {
                    id: i.id,
                    tags: i.repo_tags,
                    digests: i.repo_digests,
                    labels: i.labels.into_iter().collect(),
                })
                .collect())
        }))
    }

    fn build<'a>(
        &'a self,
        context: Vec<u8>,
        tag: &'a str,
        opts: &'a BuildOptions,
        log: LogSink,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let d = self.client().await?;
            let options = BuildImageOptions {
                dockerfile: "Dockerfile".into(),
                t: Some(tag.to_owned()),
                nocache: opts.nocache,
                rm: true,
                forcerm: true,
                buildargs: (!opts.buildargs.is_empty()).then(|| opts.buildargs.clone()),
                labels: (!opts.labels.is_empty())
                    .then(|| opts.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                ..Default::default()
            };
            let mut stream = d.build_image(options, None, Some(bollard::body_full(context.into())));
            while let Some(item) = self.next(&format!("build {tag}"), &mut stream).await? {
                let info = item.map_err(|e| self.failed(&format!("build {tag}"), e))?;
                if let Some(text) = &info.stream {
                    log_lines(&log, text);
                }
                if let Some(status) = &info.status {
                    log_lines(&log, status);
                }
                if let Some(err) = info.error_detail.and_then(|e| e.message) {
                    log_lines(&log, &err);
                    return Err(EngineError::Failed(format!("build {tag}: {}", err.trim())));
                }
            }
            // The stream ended without an error: the tag must exist now.
            match self.inspect(tag).await? {
                Some(_) => Ok(()),
                None => Err(EngineError::Failed(format!(
                    "build {tag}: the engine reported no error, but has no such image"
                ))),
            }
        })
    }

    fn tag<'a>(&'a self, source: &'a str, repo: &'a str, tag: &'a str) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.within("tag", PROBE_TIMEOUT, async move {
            let d = self.client().await?;
            d.tag_image(source, Some(TagImageOptions { repo: Some(repo.to_owned()), tag: Some(tag.to_owned()) }))
                .await
                .map_err(|e| self.failed(&format!("tag {source} as {repo}:{tag}"), e))
        }))
    }

    fn push<'a>(
        &'a self,
        repo: &'a str,
        tag: &'a str,
        auth: Option<&'a RegistryAuth>,
        log: LogSink,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>> {
        Box::pin(async move {
            let d = self.client().await?;
            // The layers, by the digest of their content (bottom first).
            let reference = format!("{repo}:{tag}");
            if let Ok(image) = d.inspect_image(&reference).await {
                let layers = image.root_fs.and_then(|r| r.layers).unwrap_or_default();
                log_lines(&log, &format!("{reference} has {} layer(s):", layers.len()));
                for (n, layer) in layers.iter().enumerate() {
                    log_lines(&log, &format!("  layer {}: {layer}", n + 1));
                }
            }
            let (mut pushed, mut existed) = (0usize, 0usize);
            let mut stream = d.push_image(
                repo,
                Some(PushImageOptions { tag: Some(tag.to_owned()), ..Default::default() }),
                credentials(auth),
            );
            let mut digest = None;
            while let Some(item) = self.next(&format!("push {repo}:{tag}"), &mut stream).await? {
                let info = item.map_err(|e| self.failed(&format!("push {repo}:{tag}"), e))?;
                if let Some(err) = info.error_detail.and_then(|e| e.message) {
                    log_lines(&log, &err);
                    return Err(EngineError::Failed(format!("push {repo}:{tag}: {}", err.trim())));
                }
                if let Some(status) = &info.status {
                    // The stream's per-layer lines ("Preparing", "Waiting",
                    // "Pushing", "Pushed", "Layer already exists") lose
                    // their layer id in the Engine API's typed stream: they
                    // are counted, and the layers were named above.
                    match status.as_str() {
                        "Preparing" | "Waiting" => {}
                        s if s.starts_with("Pushing") => {}
                        "Pushed" => pushed += 1,
                        "Layer already exists" => existed += 1,
                        _ => log_lines(&log, status),
                    }
                    // "1.0: digest: sha256:… size: 528"
                    if let Some(rest) = status.split("digest: ").nth(1) {
                        digest = rest.split_whitespace().next().map(str::to_owned);
                    }
                }
            }
            log_lines(&log, &format!("{pushed} layer(s) pushed, {existed} already in the registry"));
            Ok(digest)
        })
    }

    fn pull<'a>(
        &'a self,
        reference: &'a str,
        auth: Option<&'a RegistryAuth>,
        log: LogSink,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let d = self.client().await?;
            let options = CreateImageOptions { from_image: Some(reference.to_owned()), ..Default::default() };
            let mut stream = d.create_image(Some(options), None, credentials(auth));
            while let Some(item) = self.next(&format!("pull {reference}"), &mut stream).await? {
                let info = item.map_err(|e| self.failed(&format!("pull {reference}"), e))?;
                if let Some(err) = info.error_detail.and_then(|e| e.message) {
                    return Err(EngineError::Failed(format!("pull {reference}: {}", err.trim())));
                }
                if let Some(status) = &info.status
                    && info.progress_detail.as_ref().is_none_or(|p| p.total.is_none())
                {
                    log_lines(&log, status);
                }
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.within("remove", PROBE_TIMEOUT, async move {
            let d = self.client().await?;
            match d
                .remove_image(
                    reference,
                    Some(RemoveImageOptions { force: false, noprune: false, ..Default::default() }),
                    None,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
                Err(e) => Err(self.failed(&format!("remove {reference}"), e)),
            }
        }))
    }

    fn run<'a>(&'a self, spec: &'a RunSpec) -> BoxFuture<'a, Result<i64, EngineError>> {
        Box::pin(async move {
            use bollard::models::{ContainerCreateBody, HostConfig};
            use bollard::query_parameters::{
                AttachContainerOptions, RemoveContainerOptions, ResizeContainerTTYOptions,
            };
            use tokio::io::AsyncWriteExt;
            let d = self.client().await?;
            let body = ContainerCreateBody {
                image: Some(spec.image.clone()),
                entrypoint: spec.entrypoint.clone(),
                cmd: spec.cmd.clone(),
                env: Some(spec.env.clone()),
                tty: Some(spec.tty),
                open_stdin: Some(spec.stdin),
                stdin_once: Some(spec.stdin),
                attach_stdin: Some(spec.stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                labels: Some(HashMap::from([("dockyard.try".to_owned(), "1".to_owned())])),
                host_config: Some(HostConfig { binds: Some(spec.binds.clone()), ..Default::default() }),
                ..Default::default()
            };
            let created = d.create_container(None, body).await.map_err(|e| self.failed("create the container", e))?;
            let id = created.id;
            let result = async {
                let attached = d
                    .attach_container(
                        &id,
                        Some(AttachContainerOptions {
                            stream: true,
                            stdin: spec.stdin,
                            stdout: true,
                            stderr: true,
                            ..Default::default()
                        }),
                    )
                    .await
                    .map_err(|e| self.failed("attach", e))?;
                d.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>)
                    .await
                    .map_err(|e| self.failed("start the container", e))?;
                if spec.tty
                    && let Some((w, h)) = crate::term::terminal_size()
                {
                    let _ = d.resize_container_tty(&id, ResizeContainerTTYOptions { w: w as i32, h: h as i32 }).await;
                }
                let mut input = attached.input;
                let pump = spec.stdin.then(|| {
                    tokio::spawn(async move {
                        use tokio::io::AsyncReadExt;
                        let mut stdin = tokio::io::stdin();
                        let mut buf = [0u8; 4096];
                        loop {
                            match stdin.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if input.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                    let _ = input.flush().await;
                                }
                            }
                        }
                        let _ = input.shutdown().await;
                    })
                });
                let mut output = attached.output;
                let (mut out, mut err) = (tokio::io::stdout(), tokio::io::stderr());
                while let Some(chunk) = output.next().await {
                    match chunk {
                        Ok(bollard::container::LogOutput::StdErr { message }) => {
                            let _ = err.write_all(&message).await;
                            let _ = err.flush().await;
                        }
                        Ok(other) => {
                            let _ = out.write_all(&other.into_bytes()).await;
                            let _ = out.flush().await;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(p) = pump {
                    p.abort();
                }
                let mut wait = d.wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
                let code = match wait.next().await {
                    Some(Ok(r)) => r.status_code,
                    Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                    Some(Err(e)) => return Err(self.failed("wait for the container", e)),
                    None => 0,
                };
                Ok(code)
            }
            .await;
            // The container is gone afterwards, whatever happened.
            let _ = d.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
            result
        })
    }
}
