//! The repository is the unit: `--repo ROOT` (default: the working folder),
//! an optional `ROOT/dockyard.toml`, and the command line, resolved once
//! into [`RepoConfig`], which every command and the server share.
//!
//! Relative paths given on the command line resolve against ROOT, as after
//! `git -C ROOT`. Without `dockyard.toml`, the defaults are docker-pkg's
//! layout: the catalog in `ROOT/dockerfiles` (its config
//! `dockerfiles/config.yaml`), pins under `ROOT/jjb`.
//!
//! `dockyard.toml` lives in the repository, so a patch can change it: the
//! gate commands (`lint`, `impact`) read only `[catalog]`, `[pins]` and the
//! tuning of `[registry]` from it. Anything that decides where credentials
//! go or what may write (`--insecure`, the auth token, the database URL)
//! comes from the command line or the environment; `[hosts]` and `[store]`
//! are used only by the commands that run after review (`build`, `pull`,
//! `serve`).

use crate::registry::RegistryOptions;
use crate::store::Location;
use dockyard_core::files::{Disk, SharedFiles, absolute};
use dockyard_core::ops::RootSpec;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file at the repository root.
pub const FILE_NAME: &str = "dockyard.toml";

/// `dockyard.toml`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub catalog: CatalogSection,
    #[serde(default)]
    pub pins: PinsSection,
    #[serde(default)]
    pub registry: RegistrySection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub serve: ServeSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub hosts: Vec<HostEntry>,
}

/// `[catalog]`: the catalog roots.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// Folders (with their `config.yaml`), or `{ dir = "…", config = "…" }`.
    #[serde(default)]
    pub roots: Vec<RootEntry>,
}

/// One catalog root in `dockyard.toml`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RootEntry {
    Dir(String),
    Full { dir: String, config: Option<String> },
}

/// `[pins]`: where pins are searched.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinsSection {
    #[serde(default)]
    pub paths: Vec<String>,
}

/// `[registry]`: how the registry index is read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    pub max_age: Option<u64>,
    pub timeout: Option<f64>,
    pub retries: Option<u32>,
    pub concurrency: Option<usize>,
    /// Hosts other than the registry that may serve its tokens.
    #[serde(default)]
    pub token_realms: Vec<String>,
    /// Whether `serve` keeps a registry index (refreshed in the background).
    pub index: Option<bool>,
    /// Seconds between background refreshes.
    pub refresh: Option<u64>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A SQLite file, relative to the repository.
    pub path: Option<String>,
    /// The name of an environment variable holding a `postgres://` URL (the
    /// URL itself holds a password and stays out of the repository).
    pub database_env: Option<String>,
}

/// `[serve]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    pub addr: Option<String>,
    /// `Host` names the server answers to, besides the address it listens on.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Whether reads need a login too (default: reads are public).
    pub private: Option<bool>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// The environment variable holding the access token (default
    /// `DOCKYARD_TOKEN`).
    pub token_env: Option<String>,
}

/// One Docker engine in `dockyard.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    pub name: String,
    /// `unix:///path/docker.sock`, `tcp://host:port`.
    pub url: String,
    /// Client certificates for `tcp` with TLS.
    pub tls: Option<TlsEntry>,
}

/// TLS files of one engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsEntry {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// What the command line says about the repository (every command takes it).
#[derive(Debug, Clone, Default)]
pub struct RepoFlags {
    pub repo: Option<PathBuf>,
    /// A catalog folder named positionally (docker-pkg style) or `--catalog`.
    pub dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// Further roots as (config, dir).
    pub roots: Vec<(PathBuf, PathBuf)>,
    pub pins: Vec<PathBuf>,
}

/// Options of the server.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub allowed_hosts: Vec<String>,
    pub private: bool,
}

/// A configured Docker engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    pub url: String,
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

/// The repository, resolved.
#[derive(Clone)]
pub struct RepoConfig {
    /// Absolute, symlinks resolved.
    pub root: PathBuf,
    /// The work tree, bounded by the root.
    pub files: SharedFiles,
    pub roots: Vec<RootSpec>,
    /// Files or folders searched for pins (absolute).
    pub pin_paths: Vec<PathBuf>,
    pub registry: RegistryOptions,
    pub store: Location,
    pub serve: ServeOptions,
    /// The environment variable holding the access token.
    pub token_env: String,
    pub hosts: Vec<HostSpec>,
    /// Whether `serve` keeps a registry index, and how often it refreshes.
    pub registry_index: bool,
    pub registry_refresh: u64,
    /// Where `dockyard.toml` was read from.
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for RepoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoConfig").field("root", &self.root).field("roots", &self.roots).finish()
    }
}

/// Reads `ROOT/dockyard.toml` (within its size limit), when it exists.
pub fn read_file_config(root: &Path) -> Result<Option<(PathBuf, FileConfig)>, String> {
    let path = root.join(FILE_NAME);
    let disk = Disk::new(root);
    let text = match dockyard_core::files::Files::read_text(&disk, &path, dockyard_core::limits::MAX_CONFIG_BYTES) {
        Ok(t) => t,
        Err(dockyard_core::files::ReadError::NotFound) => return Ok(None),
        Err(e) => return Err(format!("{FILE_NAME}: cannot read: {e}")),
    };
    let parsed: FileConfig = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => format!("{FILE_NAME}:{l}: {}", e.message()),
            None => format!("{FILE_NAME}: {}", e.message()),
        }
    })?;
    Ok(Some((path, parsed)))
}

/// `path` against `base` unless absolute.
fn against(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { dockyard_core::files::normalize(&base.join(path)) }
}

/// A path as shown: relative to the root when inside it.
pub fn shown(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Ok(p) => p.to_owned(),
        Err(_) => path.to_owned(),
    }
}

impl RepoConfig {
    /// Resolves the command line against the repository and its `dockyard.toml`.
    pub fn resolve(flags: &RepoFlags) -> Result<RepoConfig, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working folder: {e}"))?;
        // A catalog folder named without `--repo` is a repository of its own
        // (docker-pkg style): paths are shown as given, and reads stay in it.
        let positional_only = flags.repo.is_none() && flags.dir.is_some();
        let root_given = match (&flags.repo, &flags.dir) {
            (Some(r), _) => against(&cwd, r),
            (None, Some(d)) => against(&cwd, d),
            (None, None) => cwd.clone(),
        };
        if !root_given.is_dir() {
            return Err(format!("{}: not a folder", root_given.display()));
        }
        let root = root_given.canonicalize().unwrap_or_else(|_| absolute(&root_given));
        let files: SharedFiles = Arc::new(Disk::new(&root));
        let (file, fc) = match read_file_config(&root)? {
            Some((p, fc)) => (Some(p), fc),
            None => (None, FileConfig::default()),
        };
        let display_base = |dir: &Path| -> PathBuf {
            if positional_only {
                // As the user wrote it.
                let given = flags.dir.clone().unwrap_or_default();
                match dir.strip_prefix(&root) {
                    Ok(rest) if rest.as_os_str().is_empty() => given,
                    Ok(rest) => given.join(rest),
                    Err(_) => dir.to_owned(),
                }
            } else {
                shown(&root, dir)
            }
        };
        let mut roots = Vec::new();
        let mk_root = |dir: PathBuf, config: Option<PathBuf>| -> RootSpec {
            let dir = dir.canonicalize().unwrap_or(dir);
            let mut spec = RootSpec::new(dir.clone(), config);
            spec.display = Some(display_base(&dir));
            spec
        };
        if positional_only {
            roots.push(mk_root(root.clone(), flags.config.as_ref().map(|c| against(&cwd, c))));
        } else if let Some(d) = &flags.dir {
            roots.push(mk_root(against(&root, d), flags.config.as_ref().map(|c| against(&root, c))));
        } else if flags.roots.is_empty() && !fc.catalog.roots.is_empty() {
            for entry in &fc.catalog.roots {
                let (dir, config) = match entry {
                    RootEntry::Dir(d) => (d.clone(), None),
                    RootEntry::Full { dir, config } => (dir.clone(), config.clone()),
                };
                // Paths from the file stay inside the repository.
                let mut spec = mk_root(against(&root, Path::new(&dir)), None);
                if let Some(c) = config {
                    spec.config = against(&root, Path::new(&c));
                }
                roots.push(spec);
            }
        } else if flags.roots.is_empty() {
            roots.push(mk_root(root.join("dockerfiles"), flags.config.as_ref().map(|c| against(&root, c))));
        }
        for (config, dir) in &flags.roots {
            let base = if flags.repo.is_some() { &root } else { &cwd };
            roots.push(mk_root(against(base, dir), Some(against(base, config))));
        }
        // Pin paths: the file's (default `jjb`), then the flags'. The default
        // is dropped when it does not exist and other paths are given.
        let mut pin_paths = Vec::new();
        if !positional_only {
            let defaults: Vec<PathBuf> = if fc.pins.paths.is_empty() {
                vec![root.join("jjb")]
            } else {
                fc.pins.paths.iter().map(|p| against(&root, Path::new(p))).collect()
            };
            for d in defaults {
                if flags.pins.is_empty() || d.exists() {
                    pin_paths.push(d);
                }
            }
        }
        for p in &flags.pins {
            let base = if flags.repo.is_some() || !positional_only { &root } else { &cwd };
            pin_paths.push(against(base, p));
        }
        let r = &fc.registry;
        let registry = RegistryOptions {
            max_age: r.max_age.unwrap_or(300),
            timeout: r.timeout.unwrap_or(10.0),
            retries: r.retries.unwrap_or(3),
            concurrency: r.concurrency.unwrap_or(16),
            token_realms: r.token_realms.clone(),
            ..RegistryOptions::default()
        };
        let store = match (&fc.store.database_env, &fc.store.path) {
            (Some(var), _) => match std::env::var(var) {
                Ok(url) => Location::parse(&url),
                Err(_) => return Err(format!("{FILE_NAME}: [store] database_env names `{var}`, which is not set")),
            },
            (None, Some(p)) => Location::Sqlite(against(&root, Path::new(p))),
            (None, None) => crate::store::default_location(),
        };
        let hosts = fc
            .hosts
            .iter()
            .map(|h| HostSpec {
                name: h.name.clone(),
                url: h.url.clone(),
                tls: h.tls.as_ref().map(|t| {
                    (
                        against(&root, Path::new(&t.ca)),
                        against(&root, Path::new(&t.cert)),
                        against(&root, Path::new(&t.key)),
                    )
                }),
            })
            .collect();
        Ok(RepoConfig {
            files,
            roots,
            pin_paths,
            registry,
            store,
            serve: ServeOptions {
                allowed_hosts: fc.serve.allowed_hosts.clone(),
                private: fc.serve.private.unwrap_or(false),
            },
            token_env: fc.auth.token_env.clone().unwrap_or_else(|| "DOCKYARD_TOKEN".into()),
            hosts,
            registry_index: r.index.unwrap_or(false),
            registry_refresh: r.refresh.unwrap_or(300),
            file,
            root,
        })
    }

    /// The files of one catalog root: the repository's, or (for a root
    /// outside the repository, named on the command line) its own.
    pub fn files_for(&self, spec: &RootSpec) -> SharedFiles {
        if spec.dir.starts_with(&self.root) { self.files.clone() } else { Arc::new(Disk::new(&spec.dir)) }
    }

    /// A path as shown: relative to the repository.
    pub fn shown(&self, path: &Path) -> String {
        shown(&self.root, path).display().to_string()
    }
}
