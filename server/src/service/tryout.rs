//! `try`'s plan and its image: which label, which variables (an env file,
//! `-e`, a git checkout's `ZUUL_*`), which folders, and the image made
//! ready in the engine (there, else pulled, else built when asked). The
//! command line only reads its flags, creates the workspace, runs the
//! container with the terminal attached and prints.

use super::Service;
use super::build::{BuildSpec, engine_auth};
use super::error::Error;
use crate::engine::Engine;
use std::path::{Path, PathBuf};

/// What `try` was asked for.
#[derive(Debug, Clone, Default)]
pub struct TryRequest {
    /// `NAME` or `NAME:VERSION`.
    pub image: String,
    /// The checkout mounted at /src (absolute or relative to `cwd`).
    pub src: PathBuf,
    pub env_file: Option<PathBuf>,
    pub zuul: bool,
    pub env: Vec<String>,
    pub shell: bool,
    pub args: Vec<String>,
    pub log_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub cwd: PathBuf,
}

/// How `try` runs an image: everything decided before an engine is asked.
#[derive(Debug, Clone)]
pub struct TryPlan {
    pub name: String,
    pub version: String,
    /// The changelog's first version: the only one that can be built.
    pub current: String,
    pub label: String,
    pub src: PathBuf,
    /// A temporary workspace for `log` and `cache` when no folder is given.
    pub workspace: PathBuf,
    pub log: PathBuf,
    pub cache: PathBuf,
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
}

/// The shell `--shell` starts: bash when the image has it.
const SHELL: &str = "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi";

impl TryPlan {
    /// The `docker run` command line that does what `try` does (`--print`).
    pub fn docker_run(&self, tty: bool) -> Vec<String> {
        let mut words: Vec<String> =
            vec!["docker".into(), "run".into(), "--rm".into(), if tty { "-it".into() } else { "-i".into() }];
        for (host, inside) in self.mounts() {
            words.push("--volume".into());
            words.push(format!("{}:{inside}", host.display()));
        }
        for e in &self.env {
            words.push("--env".into());
            words.push(e.clone());
        }
        if self.entrypoint.is_some() {
            words.push("--entrypoint".into());
            words.push("/bin/sh".into());
        }
        words.push(self.label.clone());
        if let Some(c) = &self.cmd {
            words.extend(c.iter().cloned());
        } else if self.entrypoint.is_some() {
            words.extend(["-c".into(), SHELL.into()]);
        }
        words
    }

    /// Host folders and where CI has them in the container.
    pub fn mounts(&self) -> [(&Path, &'static str); 3] {
        [(&self.src, "/src"), (&self.log, "/var/lib/jenkins/log"), (&self.cache, "/cache")]
    }
}

impl Service {
    /// `try`'s plan: the image and version (the changelog's first by
    /// default), the variables, and the folders, checked.
    pub fn try_plan(&self, req: &TryRequest) -> Result<TryPlan, Error> {
        let snapshot = self.snapshot()?;
        let (name, version) = match req.image.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (req.image.as_str(), None),
        };
        let Some((catalog, image)) = snapshot
            .catalogs
            .iter()
            .find_map(|c| c.images.iter().find(|i| i.name == name && i.error.is_none()).map(|i| (c, i)))
        else {
            return Err(Error::not_found(format!(
                "no image named `{}` in the catalog",
                dockyard_core::limits::quote(name)
            )));
        };
        let current = image.version.clone().unwrap_or_default();
        let version = version.map(str::to_owned).unwrap_or_else(|| current.clone());
        if version.is_empty() || !dockyard_core::label::valid_tag(&version) {
            return Err(Error::invalid(format!("`{}` is not a tag", dockyard_core::limits::quote(&version))));
        }
        let repo_name = dockyard_core::label::image_name(&catalog.config.registry(), &catalog.config.namespace(), name);
        let src = req.cwd.join(&req.src);
        let src = src.canonicalize().map_err(|e| Error::invalid(format!("{}: {e}", src.display())))?;
        let mut env = Vec::new();
        if let Some(f) = &req.env_file {
            env.extend(env_file(f).map_err(Error::invalid)?);
        }
        if req.zuul {
            env.extend(zuul_env(&src).map_err(Error::invalid)?);
        }
        for e in &req.env {
            if !e.contains('=') {
                return Err(Error::invalid(format!("-e {e}: expected KEY=VALUE")));
            }
            env.push(e.clone());
        }
        // CI's workspace: the checkout at /src, and log and cache beside it.
        // Without --log-dir/--cache-dir they go in a temporary workspace,
        // never into the checkout.
        let workspace = std::env::temp_dir().join(format!(
            "dockyard-try-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
        ));
        let (log, cache) = (
            req.log_dir.clone().unwrap_or_else(|| workspace.join("log")),
            req.cache_dir.clone().unwrap_or_else(|| workspace.join("cache")),
        );
        for (dir, flag) in [(&log, "--log-dir"), (&cache, "--cache-dir")] {
            if req.cwd.join(dir).starts_with(&src) {
                return Err(Error::invalid(format!(
                    "{flag} {} is inside the checkout mounted at /src; CI keeps it beside the checkout",
                    dir.display()
                )));
            }
        }
        let label = format!("{repo_name}:{version}");
        Ok(TryPlan {
            name: name.to_owned(),
            version,
            current,
            label,
            src,
            workspace,
            log,
            cache,
            env,
            entrypoint: req.shell.then(|| vec!["/bin/sh".to_owned(), "-c".to_owned(), SHELL.to_owned()]),
            cmd: (!req.args.is_empty()).then(|| req.args.clone()),
        })
    }

    /// The plan's image in `engine`: there already, else pulled from the
    /// registry, else built when `build` (recorded as a run). Only the
    /// changelog's first version can be built: a command that cannot work
    /// is never suggested, and nothing is recorded.
    pub async fn try_image_ready(
        self: &std::sync::Arc<Self>,
        plan: &TryPlan,
        engine: &std::sync::Arc<dyn Engine>,
        build: bool,
        registry: &crate::registry::RegistryOptions,
    ) -> Result<(), Error> {
        let label = &plan.label;
        let unavailable = |e: crate::engine::EngineError| Error::from_source(super::Kind::Unavailable, e);
        if engine.inspect(label).await.map_err(unavailable)?.is_some() {
            return Ok(());
        }
        let snapshot = self.snapshot()?;
        if engine.pull(label, engine_auth(&snapshot).as_ref(), crate::engine::discard()).await.is_ok() {
            return Ok(());
        }
        let (name, current) = (&plan.name, &plan.current);
        if plan.version != *current {
            return Err(Error::not_found(format!(
                "neither the engine nor the registry has {label}, and it cannot be built: {name}'s version is {current} \
                 (first entry of its changelog). Try {name}:{current}, or give it that version first: dockyard update {name} --version {}",
                dockyard_core::shell::word(&plan.version)
            )));
        }
        if !build {
            return Err(Error::not_found(format!(
                "neither the engine nor the registry has {label}; build it first: dockyard build --select {} (or try again with --build)",
                dockyard_core::shell::word(label)
            )));
        }
        let spec = BuildSpec {
            globs: vec![label.clone()],
            pull: true,
            push: false,
            use_cache: true,
            jobs: 2,
            suffix: None,
            trigger: dockyard_api::Trigger::cli(dockyard_api::Operation::Try, ""),
            command: std::env::args().collect(),
        };
        let prepared = self.plan_build(&spec, Some(engine.as_ref()), registry).await?;
        if let Some(item) =
            prepared.plan.items.iter().find(|i| i.name == *name && i.action == dockyard_api::Action::Broken)
        {
            return Err(Error::invalid(format!("{name} cannot be built: {}", item.reason)));
        }
        let (run, state) = self.run_build(prepared, &spec, vec![engine.clone()]).await?;
        if state != dockyard_api::RunState::Succeeded {
            return Err(Error::invalid(format!("the build of {label} failed: dockyard builds show {run}")));
        }
        Ok(())
    }
}

/// docker's env-file: `KEY=VALUE` lines, `#` comments, a bare `KEY` taken
/// from this environment.
fn env_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, _)) if k.is_empty() || k.contains(char::is_whitespace) => {
                return Err(format!(
                    "{}:{}: `{}` is not KEY=VALUE",
                    path.display(),
                    i + 1,
                    dockyard_core::limits::quote(line)
                ));
            }
            Some(_) => out.push(line.to_owned()),
            None => {
                if let Ok(v) = std::env::var(line.trim()) {
                    out.push(format!("{}={v}", line.trim()));
                }
            }
        }
    }
    Ok(out)
}

fn git_out(dir: &Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// ZUUL_PROJECT, ZUUL_URL, ZUUL_REF and ZUUL_COMMIT of a git checkout.
pub fn zuul_env(src: &Path) -> Result<Vec<String>, String> {
    let commit =
        git_out(src, &["rev-parse", "HEAD"]).ok_or_else(|| format!("{} is not a git checkout", src.display()))?;
    let reference = git_out(src, &["symbolic-ref", "-q", "HEAD"]).unwrap_or_else(|| commit.clone());
    let name = src
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let (url, project) = match git_out(src, &["remote", "get-url", "origin"]) {
        Some(remote) => {
            let trimmed = remote.trim_end_matches('/').trim_end_matches(".git");
            // Gerrit: https://gerrit.example.org/r/mediawiki/core
            if let Some((base, project)) = trimmed.split_once("/r/") {
                (format!("{base}/r"), project.to_owned())
            } else if let Some(i) =
                trimmed.find("://").map(|i| i + 3).and_then(|s| trimmed[s..].find('/').map(|j| s + j))
            {
                (trimmed[..i].to_owned(), trimmed[i + 1..].to_owned())
            } else {
                (trimmed.to_owned(), name.clone())
            }
        }
        None => (format!("file://{}", src.parent().unwrap_or(src).display()), name),
    };
    Ok(vec![
        format!("ZUUL_PROJECT={project}"),
        format!("ZUUL_URL={url}"),
        format!("ZUUL_REF={reference}"),
        format!("ZUUL_COMMIT={commit}"),
    ])
}
