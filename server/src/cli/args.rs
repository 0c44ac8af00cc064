//! Every flag, defined once (clap derive). Help text, the man page and
//! shell completions are generated from these definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Keeps a CI fleet's Docker images honest: renders docker-pkg catalogs,
/// lints the pins of Jenkins jobs, indexes the registry, builds along the
/// dependency graph and serves the dashboard.
#[derive(Debug, Parser)]
#[command(name = "dockyard", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every Dockerfile.template as docker-pkg 4.0.4 would.
    Render(RenderArgs),
    /// Show the dependency graph (control and image_tag) and its problems.
    Graph(GraphArgs),
    /// List the catalog's images with their versions and parents.
    Catalog(CatalogArgs),
    /// Check the image pins in jjb/ (and other pin paths) against the catalog.
    Lint(LintArgs),
    /// Write a shell script that pulls every pinned image once.
    PullScript(PullScriptArgs),
    /// Show the registry index: each image's tags and whether its version is published.
    Registry(RegistryCmdArgs),
    /// Serve the dashboard and the JSON API.
    Serve(ServeArgs),
    /// Build images along the dependency graph (and verify and publish them).
    Build(BuildArgs),
    /// List past builds, or show one with its logs.
    Builds(BuildsArgs),
    /// Add changelog entries for an image and every image below it.
    Update(UpdateArgs),
    /// Remove local tags of catalog images other than their current version.
    Prune(PruneArgs),
    /// Pull every pinned image onto the engine (or every host), once.
    Pull(PullArgs),
    /// Which host has which pinned image: present, missing or outdated.
    Hosts(HostsArgs),
    /// What a catalog change will do once merged (for review).
    Impact(ImpactArgs),
    /// Run a catalog image the way CI runs it.
    Try(TryArgs),
    /// Registry tags that can be deleted safely (a dry run; --delete deletes),
    /// and images no pin or image uses.
    Cleanup(CleanupArgs),
    /// What pulling every pin costs: each image's compressed size, and what
    /// a fresh agent downloads.
    Sizes(SizesArgs),
    /// Export the store (registry index and build history) as JSON, or import such a file.
    Store(StoreArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the man page (roff): dockyard(1), or a command's, dockyard-COMMAND(1).
    Man(ManArgs),
}

/// Which repository, catalog roots and pin paths (every command takes these).
#[derive(Debug, Args, Clone, Default)]
pub struct RepoArgs {
    /// The repository: holds dockerfiles/ and jjb/ (and optionally
    /// dockyard.toml). Relative paths in other flags resolve against it.
    #[arg(long, value_name = "ROOT")]
    pub repo: Option<PathBuf>,
    /// A catalog folder, as docker-pkg takes it (default: ROOT/dockerfiles).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Same as DIR.
    #[arg(long = "catalog", value_name = "DIR", conflicts_with = "dir", hide = true)]
    pub catalog: Option<PathBuf>,
    /// The docker-pkg config of DIR (default: DIR/config.yaml).
    #[arg(long, short = 'c', value_name = "CONFIG.yaml")]
    pub config: Option<PathBuf>,
    /// A further catalog root as CONFIG.yaml=DIR (repeatable).
    #[arg(long = "root", value_name = "CONFIG.yaml=DIR", value_parser = parse_root)]
    pub roots: Vec<(PathBuf, PathBuf)>,
    /// A further file or folder to search for pins, besides ROOT/jjb (repeatable).
    #[arg(long, value_name = "PATH")]
    pub pins: Vec<PathBuf>,
    /// The operator file (store, auth, serve, registry tuning, engines): the
    /// server's settings, which the repository may not make. Default
    /// $DOCKYARD_OPERATOR, else $XDG_CONFIG_HOME/dockyard/operator.toml.
    /// Refused when it lies inside the repository.
    #[arg(long, value_name = "FILE")]
    pub operator: Option<PathBuf>,
}

fn parse_root(s: &str) -> Result<(PathBuf, PathBuf), String> {
    let (config, dir) = s.split_once('=').ok_or("expected CONFIG.yaml=DIR")?;
    Ok((config.into(), dir.into()))
}

impl RepoArgs {
    pub fn flags(&self) -> crate::service::RepoFlags {
        crate::service::RepoFlags {
            repo: self.repo.clone(),
            dir: self.dir.clone().or_else(|| self.catalog.clone()),
            config: self.config.clone(),
            roots: self.roots.clone(),
            pins: self.pins.clone(),
            operator: self.operator.clone(),
        }
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let t: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if t.is_finite() && t > 0.0 && t <= 600.0 { Ok(t) } else { Err("expected seconds between 0 and 600".into()) }
}

/// How to reach the registry and where its index is stored.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// The store: a SQLite file, or a postgres:// URL (default: $DOCKYARD_STORE,
    /// else $XDG_STATE_HOME/dockyard/dockyard.db).
    #[arg(long, alias = "database", value_name = "FILE|URL")]
    pub store: Option<String>,
    /// Index data younger than this many seconds is not fetched again.
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u64>,
    /// Do not contact the registry; use what the store holds.
    #[arg(long)]
    pub offline: bool,
    /// Per-request timeout in seconds (0 to 600).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Retries of a request that timed out or got a 5xx (0 to 10).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: Option<u32>,
    /// Requests in flight at once (1 to 256).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: Option<u64>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long, conflicts_with = "tls")]
    pub insecure: bool,
    /// Use HTTPS even for a loopback registry (plain HTTP is the default there).
    #[arg(long)]
    pub tls: bool,
    /// A host other than the registry's that may serve its bearer tokens
    /// (and so receive its credentials) (repeatable).
    #[arg(long, value_name = "HOST")]
    pub token_realm: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    Text,
    Json,
    Junit,
    /// One line per finding: file:line:col: status: message.
    Short,
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
    pub repo: RepoArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Render only these images (repeatable).
    #[arg(long, value_name = "NAME")]
    pub image: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
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
    /// Rewrite stale pins to the latest version in place (only the tag
    /// changes). It asks the registry first (or, with --offline, its stored
    /// index), and pins only versions known to be published.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: also pin versions not known to be published (they fail
    /// until the image is built and pushed).
    #[arg(long, requires = "fix")]
    pub allow_unpublished: bool,
    /// Also list warnings (include targets that do not exist).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct PullScriptArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
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

#[derive(Debug, Args)]
pub struct RegistryCmdArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Address to listen on.
    #[arg(long, env = "DOCKYARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Folder holding the built front end (pkg/app.js, pkg/app_bg.wasm,
    /// pkg/app.css); default: the operator file's [serve] site, else `site`
    /// beside the binary or in the build output above it. Made absolute at
    /// start, and refused inside the repository.
    #[arg(long, env = "DOCKYARD_SITE")]
    pub site: Option<PathBuf>,
    /// Keep a registry index, refreshed in the background (adds `unpublished`).
    #[arg(long)]
    pub registry: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    /// A `Host` name the server answers to, besides its address (repeatable).
    #[arg(long, value_name = "NAME")]
    pub allowed_host: Vec<String>,
    /// Reads need a login too.
    #[arg(long)]
    pub private: bool,
    /// Connections served at once; more wait.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Live streams (a run's events) open at once; past it, 503 with Retry-After.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_streams: u64,
    /// Seconds a client has to send its request headers.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command whose page to print (`dockyard man build` is dockyard-build(1)).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Which Docker engine to talk to.
#[derive(Debug, Args, Clone, Default)]
pub struct EngineArgs {
    /// A host of the operator file, or an engine URL (unix:///…, tcp://…);
    /// default: $DOCKER_HOST, else the local socket.
    #[arg(long = "host", value_name = "NAME|URL")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Build images whose full label (registry/namespace/name:tag) matches
    /// this glob, and the ancestors they need (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub select: Vec<String>,
    /// Do not pull: build every image not in the engine, even when the registry has it.
    #[arg(long)]
    pub no_pull: bool,
    /// Use the engine's build cache (docker-pkg builds without it).
    #[arg(long)]
    pub use_cache: bool,
    /// Tag as a nightly build (VERSION-YYYYMMDD).
    #[arg(long, conflicts_with = "snapshot")]
    pub nightly: bool,
    /// Tag as a snapshot build (VERSION-YYYYMMDD-HHMMSS).
    #[arg(long)]
    pub snapshot: bool,
    /// Images built at once (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the plan (each image, its state, why) and build nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish what is built (the version and latest) to the registry.
    #[arg(long)]
    pub push: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Spread the build over several hosts of the operator file: `all`, or names
    /// separated by commas (the first plans; needs --push, since a child on
    /// another host gets its parents through the registry).
    #[arg(long, value_name = "all|NAME,...", conflicts_with = "host")]
    pub hosts: Option<String>,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BuildsArgs {
    #[command(subcommand)]
    pub show: Option<BuildsCommand>,
    #[command(flatten)]
    pub common: BuildsCommon,
    /// Runs listed, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only runs older than this one (the next page: JSON's `older`).
    #[arg(long)]
    pub before: Option<i64>,
}

/// What `builds` and `builds show` both take.
#[derive(Debug, Args, Clone)]
pub struct BuildsCommon {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum BuildsCommand {
    /// One run with each image's state, durations and log.
    Show {
        id: i64,
        /// Only this image's log.
        #[arg(long)]
        image: Option<String>,
        #[command(flatten)]
        common: BuildsCommon,
    },
}

/// The repository for `update` (its `--pins` is a switch).
#[derive(Debug, Args, Clone, Default)]
pub struct UpdateRepoArgs {
    /// The repository (see `dockyard lint --help`).
    #[arg(long, value_name = "ROOT")]
    pub repo: Option<PathBuf>,
    /// A catalog folder, as docker-pkg takes it (default: ROOT/dockerfiles).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The docker-pkg config of DIR (default: DIR/config.yaml).
    #[arg(long, short = 'c', value_name = "CONFIG.yaml")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The image to update (its exact name).
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub repo: UpdateRepoArgs,
    /// Why (the changelog text).
    #[arg(long, default_value = "Security update")]
    pub reason: String,
    /// The new version of NAME (default: the next -sN).
    #[arg(long, short = 'v', value_name = "V")]
    pub version: Option<String>,
    /// Also bump the pins under the pin paths to the new versions (only to
    /// versions the registry holds, when it is known).
    #[arg(long)]
    pub pins: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Prune only images whose full label matches (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub select: Vec<String>,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Pull onto several hosts of the operator file at once: `all`, or names
    /// separated by commas. A failed or unreachable host does not stop the others.
    #[arg(long, value_name = "all|NAME,...", conflicts_with = "host")]
    pub hosts: Option<String>,
    /// Skip what the engine has by digest (asks the registry index).
    #[arg(long)]
    pub digest: bool,
    /// Pulls at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Keep this many highest versions of each image.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub keep_last: usize,
    /// Keep tags younger than this many days (by the image's `created`).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub min_age: u64,
    /// Delete the planned tags (through the registry's API; recorded as a run).
    #[arg(long)]
    pub delete: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SizesArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Ask the registry index for digests (else a tag counts as present).
    #[arg(long)]
    pub digest: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct ImpactArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The revision the change starts from (a commit, branch or tag).
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The revision of the change (default: the work tree).
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Say whether the versions pins wait for are published (registry index).
    #[arg(long)]
    pub registry: bool,
    /// Exit 0 when images are left on a bumped parent (they keep the old one
    /// until they are bumped); by default that fails the gate.
    #[arg(long)]
    pub allow_stale_parents: bool,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct TryArgs {
    /// The image, as NAME or NAME:VERSION (default version: the catalog's current).
    #[arg(value_name = "IMAGE[:VERSION]")]
    pub image: String,
    #[command(flatten)]
    pub repo: UpdateRepoArgs,
    /// The project checkout mounted at /src (default: the working folder).
    #[arg(long, value_name = "DIR")]
    pub src: Option<PathBuf>,
    /// Mounted at /var/lib/jenkins/log, outside the checkout (default: a
    /// temporary folder, kept and named afterwards when the job wrote to it).
    /// Created with mode 777.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Mounted at /cache, outside the checkout (default: a temporary folder,
    /// removed afterwards). Created with mode 777.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// KEY=VALUE lines for the container's environment.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// A variable for the container (repeatable).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Derive ZUUL_PROJECT, ZUUL_URL, ZUUL_REF and ZUUL_COMMIT from SRC's git checkout.
    #[arg(long)]
    pub zuul: bool,
    /// An interactive shell (bash, else sh) instead of the entrypoint.
    #[arg(long)]
    pub shell: bool,
    /// Build the image first when neither the engine nor the registry has it.
    #[arg(long)]
    pub build: bool,
    /// Print the equivalent `docker run` command instead of running.
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    /// Arguments for the container's command.
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write everything the store holds as one JSON document.
    Export {
        /// The repository (the store is the operator file's, or the default).
        #[arg(long, value_name = "ROOT")]
        repo: Option<std::path::PathBuf>,
        /// The store: a SQLite file, or a postgres:// URL.
        #[arg(long, alias = "database", value_name = "FILE|URL")]
        store: Option<String>,
        /// Write to FILE (atomically) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Add a JSON document written by `store export` to the store
    /// (repositories replaced, runs added with new numbers).
    Import {
        /// The repository (the store is the operator file's, or the default).
        #[arg(long, value_name = "ROOT")]
        repo: Option<std::path::PathBuf>,
        /// The store: a SQLite file, or a postgres:// URL.
        #[arg(long, alias = "database", value_name = "FILE|URL")]
        store: Option<String>,
        /// Move every time so the newest is now (demo data that looks recent).
        #[arg(long)]
        shift_to_now: bool,
        /// Only when the store has no runs yet (seeding; idempotent).
        #[arg(long)]
        if_empty: bool,
        /// The dump ("-" for stdin).
        file: std::path::PathBuf,
    },
}
