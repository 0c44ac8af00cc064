//! The repository is the unit: `--repo ROOT` (default: the working folder),
//! an optional `ROOT/dockyard.toml`, and the command line, resolved once
//! into [`RepoConfig`], which every command and the server share.
//!
//! Relative paths given on the command line resolve against ROOT, as after
//! `git -C ROOT`. Without `dockyard.toml`, the defaults are docker-pkg's
//! layout: the catalog in `ROOT/dockerfiles` (its config
//! `dockerfiles/config.yaml`), pins under `ROOT/jjb`.
//!
//! **The trust boundary.** The repository is data: a patch under review
//! may change anything in it, `dockyard.toml` included. So `dockyard.toml`
//! may describe only the catalog and the pins (`[catalog] roots`, `[pins]
//! paths`), every path in it must stay inside the repository after
//! symlinks are resolved, and any other key is refused with an error that
//! names it and says where it belongs. Everything that decides where
//! credentials go, what may write, who may read, or which engines run
//! (auth and its token variables, the store and its database variable,
//! private mode, allowed hosts, the site folder, registry tuning and token
//! realms, engines and their TLS files) comes from the operator: flags, the
//! environment, or the operator file ([`OperatorConfig`]), which must lie
//! outside the repository.

use crate::registry::RegistryOptions;
use crate::store::Location;
use dockyard_core::files::{Disk, SharedFiles, absolute};
use dockyard_core::ops::RootSpec;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file at the repository root.
pub const FILE_NAME: &str = "dockyard.toml";

/// `dockyard.toml`, as written: the catalog and the pins, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub catalog: CatalogSection,
    #[serde(default)]
    pub pins: PinsSection,
}

/// Sections of `dockyard.toml` that are the operator's: refused in the
/// repository, with where they belong.
const OPERATOR_SECTIONS: [&str; 5] = ["registry", "store", "serve", "auth", "hosts"];

/// Where the operator file is looked for, for messages.
pub const OPERATOR_HINT: &str = "the operator file (--operator FILE, $DOCKYARD_OPERATOR, or $XDG_CONFIG_HOME/dockyard/operator.toml), outside the repository";

/// The operator's configuration: everything about the server that the
/// repository must not decide. Read from `--operator FILE`,
/// `$DOCKYARD_OPERATOR`, or `$XDG_CONFIG_HOME/dockyard/operator.toml`
/// (`~/.config/dockyard/operator.toml`); never from inside the repository.
/// Relative paths in it are relative to its own folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
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
    /// A SQLite file (relative to the operator file's folder).
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
    /// The built front end (`pkg/app.js`, …); must lie outside the repository.
    pub site: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// The environment variable holding the access token (default
    /// `DOCKYARD_TOKEN`).
    pub token_env: Option<String>,
    /// The environment variable holding a token that may read `/metrics`
    /// only (default `DOCKYARD_METRICS_TOKEN`).
    pub metrics_token_env: Option<String>,
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
    /// The operator file (`--operator`), over `$DOCKYARD_OPERATOR` and the
    /// user's config folder.
    pub operator: Option<PathBuf>,
}

/// Options of the server.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub allowed_hosts: Vec<String>,
    pub private: bool,
    /// The site folder from the operator file (absolute).
    pub site: Option<PathBuf>,
    /// The variable holding the metrics-only token.
    pub metrics_token_env: String,
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
    /// Where the operator file was read from.
    pub operator_file: Option<PathBuf>,
}

impl std::fmt::Debug for RepoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoConfig").field("root", &self.root).field("roots", &self.roots).finish()
    }
}

/// The 1-based line where a top-level table or key `key` is written.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix("[[").or_else(|| l.strip_prefix('[')).unwrap_or(l).trim_start();
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            rest.strip_prefix(key).is_some_and(|after| {
                let after = after.trim_start_matches('"').trim_start();
                after.starts_with(']') || after.starts_with('=') || after.starts_with('.')
            })
        })
        .map(|i| i + 1)
}

/// The 1-based line where the string `value` is written (for messages about
/// a value of the file).
fn value_line(text: &str, value: &str) -> Option<usize> {
    let quoted = [format!("\"{value}\""), format!("'{value}'")];
    text.lines().position(|l| quoted.iter().any(|q| l.contains(q.as_str()))).map(|i| i + 1)
}

fn at(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_owned(),
    }
}

/// Parses `dockyard.toml`: only `[catalog]` and `[pins]`; an operator
/// section is refused with where it belongs, an unknown key as unknown.
pub fn parse_file_config(text: &str) -> Result<FileConfig, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(FILE_NAME, text, &e))?;
    for key in table.keys() {
        let line = key_line(text, key);
        if OPERATOR_SECTIONS.contains(&key.as_str()) {
            return Err(format!(
                "{}: `{}` is the operator's setting, not the repository's: the repository's {FILE_NAME} may \
                 describe only the catalog and the pins ([catalog] roots, [pins] paths); put `{}` in {OPERATOR_HINT}",
                at(FILE_NAME, line),
                dockyard_core::limits::quote(key),
                dockyard_core::limits::quote(key),
            ));
        }
        if !["catalog", "pins"].contains(&key.as_str()) {
            return Err(format!(
                "{}: unknown key `{}` (the repository's {FILE_NAME} knows [catalog] roots and [pins] paths only)",
                at(FILE_NAME, line),
                dockyard_core::limits::quote(key),
            ));
        }
    }
    toml::from_str(text).map_err(|e| toml_error(FILE_NAME, text, &e))
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    format!("{}: {}", at(file, line), e.message().trim_end())
}

/// Reads `ROOT/dockyard.toml` (within its size limit, through the
/// repository's own file access: never through a symlink), when it exists.
pub fn read_file_config(root: &Path) -> Result<Option<(PathBuf, FileConfig, String)>, String> {
    let path = root.join(FILE_NAME);
    let disk = Disk::new(root);
    let text = match dockyard_core::files::Files::read_text(&disk, &path, dockyard_core::limits::MAX_CONFIG_BYTES) {
        Ok(t) => t,
        Err(dockyard_core::files::ReadError::NotFound) => return Ok(None),
        Err(e) => return Err(format!("{FILE_NAME}: cannot read: {e}")),
    };
    let parsed = parse_file_config(&text)?;
    Ok(Some((path, parsed, text)))
}

/// The operator file: `flag`, else `$DOCKYARD_OPERATOR`, else the user's
/// config folder's `dockyard/operator.toml` when it exists. It is refused
/// when it lies inside the repository `root` (a patch could change it).
pub fn read_operator_config(root: &Path, flag: Option<&Path>) -> Result<Option<(PathBuf, OperatorConfig)>, String> {
    let named = flag.map(Path::to_owned).or_else(|| std::env::var_os("DOCKYARD_OPERATOR").map(PathBuf::from));
    let path = match named {
        Some(p) => p,
        None => {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            match base.map(|b| b.join("dockyard/operator.toml")) {
                Some(p) if p.is_file() => p,
                _ => return Ok(None),
            }
        }
    };
    let shown = path.display().to_string();
    let real = path.canonicalize().map_err(|e| format!("{shown}: cannot read the operator file: {e}"))?;
    if real.starts_with(root) {
        return Err(format!(
            "{shown}: the operator file lies inside the repository ({}), where a patch could change it; keep it outside",
            root.display()
        ));
    }
    let meta = std::fs::metadata(&real).map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() || meta.len() > dockyard_core::limits::MAX_CONFIG_BYTES {
        return Err(format!(
            "{shown}: not a regular file of at most {} bytes",
            dockyard_core::limits::MAX_CONFIG_BYTES
        ));
    }
    let text = std::fs::read_to_string(&real).map_err(|e| format!("{shown}: {e}"))?;
    let parsed: OperatorConfig = toml::from_str(&text).map_err(|e| toml_error(&shown, &text, &e))?;
    Ok(Some((real, parsed)))
}

/// A path from `dockyard.toml` (the repository's): inside `root` once `.`
/// and `..` are folded and, where it exists, once symlinks are resolved.
fn inside(root: &Path, text: &str, key: &str, value: &str) -> Result<PathBuf, String> {
    let refuse = |why: &str| {
        format!(
            "{}: {key} `{}` {why}: paths in the repository's {FILE_NAME} must stay inside the repository",
            at(FILE_NAME, value_line(text, value)),
            dockyard_core::limits::quote(value)
        )
    };
    if Path::new(value).is_absolute() {
        return Err(refuse("is absolute"));
    }
    let path = dockyard_core::files::normalize(&root.join(value));
    if !path.starts_with(root) {
        return Err(refuse("leads outside the repository"));
    }
    match path.canonicalize() {
        Ok(real) if !real.starts_with(root) => Err(refuse("leads outside the repository through a symlink")),
        Ok(real) if real != path => Err(refuse("goes through a symlink")),
        _ => Ok(path),
    }
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
        let (file, fc, text) = match read_file_config(&root)? {
            Some((p, fc, text)) => (Some(p), fc, text),
            None => (None, FileConfig::default(), String::new()),
        };
        let (operator_file, op) = match read_operator_config(&root, flags.operator.as_deref())? {
            Some((p, op)) => (Some(p), op),
            None => (None, OperatorConfig::default()),
        };
        // Relative paths of the operator file are its folder's.
        let op_base =
            operator_file.as_ref().and_then(|p| p.parent()).map(Path::to_owned).unwrap_or_else(|| cwd.clone());
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
                let mut spec = mk_root(inside(&root, &text, "[catalog] roots: dir", &dir)?, None);
                if let Some(c) = config {
                    spec.config = inside(&root, &text, "[catalog] roots: config", &c)?;
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
                fc.pins.paths.iter().map(|p| inside(&root, &text, "[pins] paths", p)).collect::<Result<_, _>>()?
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
        let r = &op.registry;
        let registry = RegistryOptions {
            max_age: r.max_age.unwrap_or(300),
            timeout: r.timeout.unwrap_or(10.0),
            retries: r.retries.unwrap_or(3),
            concurrency: r.concurrency.unwrap_or(16),
            token_realms: r.token_realms.clone(),
            ..RegistryOptions::default()
        };
        // A variable that is not set is an error only when the store is
        // used without `--store` (which replaces it).
        let store = match (&op.store.database_env, &op.store.path) {
            (Some(var), _) => match std::env::var(var) {
                Ok(url) => Location::parse(&url),
                Err(_) => Location::Missing(format!(
                    "the operator file's [store] database_env names `{var}`, which is not set"
                )),
            },
            (None, Some(p)) => Location::Sqlite(against(&op_base, Path::new(p))),
            (None, None) => crate::store::default_location(),
        };
        let hosts = op
            .hosts
            .iter()
            .map(|h| HostSpec {
                name: h.name.clone(),
                url: h.url.clone(),
                tls: h.tls.as_ref().map(|t| {
                    (
                        against(&op_base, Path::new(&t.ca)),
                        against(&op_base, Path::new(&t.cert)),
                        against(&op_base, Path::new(&t.key)),
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
                allowed_hosts: op.serve.allowed_hosts.clone(),
                private: op.serve.private.unwrap_or(false),
                site: op.serve.site.as_ref().map(|p| against(&op_base, Path::new(p))),
                metrics_token_env: op.auth.metrics_token_env.clone().unwrap_or_else(|| "DOCKYARD_METRICS_TOKEN".into()),
            },
            token_env: op.auth.token_env.clone().unwrap_or_else(|| "DOCKYARD_TOKEN".into()),
            hosts,
            registry_index: r.index.unwrap_or(false),
            registry_refresh: r.refresh.unwrap_or(300),
            file,
            operator_file,
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
