//! The engine adapter: Docker engines behind a narrow interface
//! ([`Engine`]), with one real implementation over the Engine API
//! ([`docker::DockerEngine`], bollard, version negotiated: the engines here
//! speak 1.41), and the build context as a tar ([`context`]).
//!
//! Invariant: nothing here decides what to build. The service plans and
//! schedules; the engine only does one thing at a time when asked, and
//! reports every error a stream carries (an error inside a push or build
//! stream fails the operation).

pub mod context;
pub mod docker;

use futures::future::BoxFuture;
use std::collections::HashMap;

/// What an engine knows of one image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    pub id: String,
    /// `name:tag` references.
    pub tags: Vec<String>,
    /// `name@sha256:…` references (the registry digests it was pulled or pushed with).
    pub digests: Vec<String>,
    /// The image config's labels (what dockyard built it from: see
    /// `service::provenance`).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl ImageInfo {
    /// Whether the image carries `digest` for `name` (`name@digest`).
    pub fn has_digest(&self, name: &str, digest: &str) -> bool {
        self.digests.iter().any(|d| d.split_once('@').is_some_and(|(n, dg)| n == name && dg == digest))
    }
}

/// Credentials for a registry, sent to the engine for a push or pull.
#[derive(Clone)]
pub struct RegistryAuth {
    pub username: String,
    pub password: dockyard_core::config::Secret,
    /// The registry host they belong to.
    pub server: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryAuth({}@{}, ***)", self.username, self.server)
    }
}

/// Why an engine call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("engine {0} unreachable: {1}")]
    Unreachable(String, String),
    #[error("{0}")]
    Failed(String),
    #[error("engine {0}: {1}")]
    Config(String, String),
}

/// Where an operation's output goes, line by line.
pub type LogSink = tokio::sync::mpsc::UnboundedSender<String>;

/// Options of one build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub nocache: bool,
    pub buildargs: HashMap<String, String>,
    /// Labels the image gets (`LABEL`s added by the engine).
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A container to run, attached to this process's terminal.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    /// `HOST:CONTAINER` bind mounts.
    pub binds: Vec<String>,
    /// Allocate a terminal (stdin is one).
    pub tty: bool,
    /// Forward this process's stdin.
    pub stdin: bool,
}

/// One Docker engine.
pub trait Engine: Send + Sync {
    /// Its name (from the operator file, or `local`).
    fn name(&self) -> &str;
    /// `unix:///…` or `tcp://…`, as `DOCKER_HOST` for commands that talk to it.
    fn endpoint(&self) -> &str;
    /// The engine's version and negotiated API version.
    fn version(&self) -> BoxFuture<'_, Result<String, EngineError>>;
    /// The image a reference names, if the engine has it.
    fn inspect<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, EngineError>>;
    /// Every image of one repository (`registry/namespace/name`).
    fn images<'a>(&'a self, repo: &'a str) -> BoxFuture<'a, Result<Vec<ImageInfo>, EngineError>>;
    /// Builds `context` (a tar holding the Dockerfile) as `tag`.
    fn build<'a>(
        &'a self,
        context: Vec<u8>,
        tag: &'a str,
        opts: &'a BuildOptions,
        log: LogSink,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    /// Adds `repo:tag` to the image `source`.
    fn tag<'a>(&'a self, source: &'a str, repo: &'a str, tag: &'a str) -> BoxFuture<'a, Result<(), EngineError>>;
    /// Pushes `repo:tag`; returns the pushed digest when the engine says it.
    fn push<'a>(
        &'a self,
        repo: &'a str,
        tag: &'a str,
        auth: Option<&'a RegistryAuth>,
        log: LogSink,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>>;
    /// Pulls `reference` (`name:tag` or `name@digest`).
    fn pull<'a>(
        &'a self,
        reference: &'a str,
        auth: Option<&'a RegistryAuth>,
        log: LogSink,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    /// Removes a reference (untags; deletes the image with its last tag).
    fn remove<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<(), EngineError>>;
    /// Runs a container attached to this process's stdio, removes it, and
    /// returns its exit code.
    fn run<'a>(&'a self, spec: &'a RunSpec) -> BoxFuture<'a, Result<i64, EngineError>>;
}

/// A log sink that drops everything.
pub fn discard() -> LogSink {
    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
    tx
}
