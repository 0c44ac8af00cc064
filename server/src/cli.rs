//! Command-line definitions: every flag is declared here once.

use clap::{Args, Parser, Subcommand, ValueEnum};
use dockyard_core::ops::RootSpec;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Keeps a CI fleet's Docker images honest: renders docker-pkg catalogs,
/// shows their dependency graph and serves the dashboard.
#[derive(Debug, Parser)]
#[command(name = "dockyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every Dockerfile.template as docker-pkg 4.0.4 would.
    Render(RenderArgs),
    /// Show the dependency graph (control and image_tag) and its problems.
    Graph(GraphArgs),
    /// List the catalog's images with their versions.
    Catalog(CatalogArgs),
    /// Show the registry index: each image's tags and whether its version is published.
    Registry(RegistryCmdArgs),
    /// Check the image pins in jjb/ (and other pin paths) against the catalog.
    Lint(LintArgs),
    /// Write a shell script that pulls every pinned image once.
    PullScript(PullScriptArgs),
    /// Serve the dashboard.
    Serve(ServeArgs),
}

/// A repository with a catalog and pin paths.
#[derive(Debug, Args)]
pub struct PinRepoArgs {
    /// Repository root holding `dockerfiles/` and `jjb/`.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The catalog directory (default: REPO/dockerfiles).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// The docker-pkg config (default: CATALOG/config.yaml).
    #[arg(long, short = 'c', value_name = "CONFIG.yaml")]
    pub config: Option<PathBuf>,
    /// A further file or folder to search for pins, besides REPO/jjb (repeatable).
    #[arg(long, value_name = "PATH")]
    pub pins: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    Text,
    Json,
    Junit,
}

/// How to reach the registry and where its index is stored.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// The SQLite store (default: $DOCKYARD_STORE, else $XDG_STATE_HOME/dockyard/dockyard.db).
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// Index data younger than this many seconds is not fetched again.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub max_age: u64,
    /// Do not contact the registry; use what the store holds.
    #[arg(long)]
    pub offline: bool,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Retries of a request that timed out or got a 5xx.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long, conflicts_with = "tls")]
    pub insecure: bool,
    /// Use HTTPS even for a loopback registry (plain HTTP is the default there).
    #[arg(long)]
    pub tls: bool,
}

#[derive(Debug, Args)]
pub struct RegistryCmdArgs {
    #[command(flatten)]
    pub roots: RootArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub repo: PinRepoArgs,
    /// Also check that pinned tags are in the registry (adds `unpublished`).
    #[arg(long)]
    pub registry: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Statuses that fail the lint, comma-separated (or `none`).
    /// Default: stale,not-in-catalog,unknown-version.
    #[arg(long, value_name = "STATUS,...")]
    pub fail_on: Option<String>,
    /// Rewrite stale pins to the latest version in place (only the tag changes).
    #[arg(long)]
    pub fix: bool,
    /// Also list warnings (include targets that do not exist).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct PullScriptArgs {
    #[command(flatten)]
    pub repo: PinRepoArgs,
    /// Docker host the script pulls onto (sets DOCKER_HOST unless already set).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Write the script here (atomically, executable) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Pin each image by digest too (`name:tag@sha256:...`), from the registry index.
    #[arg(long)]
    pub digest: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}

/// Which catalog roots to read.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// The docker-pkg config file for DIR (default: DIR/config.yaml).
    #[arg(long, short = 'c', value_name = "CONFIG.yaml")]
    pub config: Option<PathBuf>,
    /// The catalog directory, scanned recursively.
    #[arg(value_name = "DIR", required_unless_present = "root")]
    pub dir: Option<PathBuf>,
    /// A further root as CONFIG.yaml=DIR (repeatable), for installations
    /// with several catalogs.
    #[arg(long, value_name = "CONFIG.yaml=DIR", value_parser = parse_root)]
    pub root: Vec<RootSpec>,
}

fn parse_root(s: &str) -> Result<RootSpec, String> {
    let (config, dir) = s.split_once('=').ok_or("expected CONFIG.yaml=DIR")?;
    Ok(RootSpec::new(dir.into(), Some(config.into())))
}

impl RootArgs {
    /// Every root named on the command line, in order.
    pub fn roots(&self) -> Vec<RootSpec> {
        let mut roots: Vec<RootSpec> = self.dir.iter().map(|d| RootSpec::new(d.clone(), self.config.clone())).collect();
        roots.extend(self.root.iter().cloned());
        roots
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Text,
    Json,
    Dot,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub roots: RootArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Render only these images (repeatable).
    #[arg(long, value_name = "NAME")]
    pub image: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub roots: RootArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub roots: RootArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000", env = "DOCKYARD_ADDR")]
    pub addr: SocketAddr,
    /// Directory holding the built front end (pkg/ and style).
    #[arg(long, env = "DOCKYARD_SITE", default_value = "target/site")]
    pub site: PathBuf,
    /// Files or folders whose pins the Pins page lints against the (first)
    /// catalog (repeatable); paths are shown relative to the working directory.
    #[arg(long, value_name = "PATH")]
    pub pins: Vec<PathBuf>,
    #[command(flatten)]
    pub roots: RootArgs,
}
