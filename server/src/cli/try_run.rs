//! `dockyard try`: a catalog image run the way CI runs it: the project at
//! /src, `log` and `cache` folders (mode 777) at /var/lib/jenkins/log and
//! /cache, beside the checkout as CI's workspace has them, never inside it
//! (a temporary workspace unless `--log-dir`/`--cache-dir` say where);
//! variables from an env file, `-e` and (with `--zuul`) the git checkout;
//! an interactive shell with `--shell`; the container and the temporary
//! folders removed afterwards (a log the job wrote is kept and named), and
//! its exit code is dockyard's.

use super::args::TryArgs;
use super::build::engine_for;
use super::{fail, registry_options, use_store};
use crate::engine::RunSpec;
use crate::print::shell::quote;
use crate::service::build::BuildSpec;
use crate::service::build::engine_auth;
use crate::service::{RepoConfig, RepoFlags, Service};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// `w` as one shell word, quoted only when it needs to be.
fn word(w: &str) -> String {
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+".contains(&b)) {
        w.to_owned()
    } else {
        quote(w)
    }
}

/// A folder created (if missing) with mode 777, as CI's are.
fn open_folder(path: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))
}

/// `dockyard try`.
pub fn try_image(args: &TryArgs) -> ExitCode {
    let flags = RepoFlags {
        repo: args.repo.repo.clone(),
        dir: args.repo.dir.clone(),
        config: args.repo.config.clone(),
        ..RepoFlags::default()
    };
    let config = match RepoConfig::resolve(&flags) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let service = Service::new(config);
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let snapshot = match service.snapshot() {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let (name, version) = match args.image.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (args.image.as_str(), None),
    };
    let Some((catalog, image)) = snapshot
        .catalogs
        .iter()
        .find_map(|c| c.images.iter().find(|i| i.name == name && i.error.is_none()).map(|i| (c, i)))
    else {
        return fail(format!("no image named `{}` in the catalog", crate::print::sanitize(name)));
    };
    let current = image.version.clone().unwrap_or_default();
    let version = version.map(str::to_owned).unwrap_or_else(|| current.clone());
    if version.is_empty() || !dockyard_core::label::valid_tag(&version) {
        return fail(format!("`{}` is not a tag", crate::print::sanitize(&version)));
    }
    let repo_name = dockyard_core::label::image_name(&catalog.config.registry(), &catalog.config.namespace(), name);
    let label = format!("{repo_name}:{version}");
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let src = args.src.clone().unwrap_or_else(|| cwd.clone());
    let src = match src.canonicalize() {
        Ok(s) => s,
        Err(e) => return fail(format!("{}: {e}", src.display())),
    };
    let mut env = Vec::new();
    if let Some(f) = &args.env_file {
        match env_file(f) {
            Ok(e) => env.extend(e),
            Err(e) => return fail(e),
        }
    }
    if args.zuul {
        match zuul_env(&src) {
            Ok(e) => env.extend(e),
            Err(e) => return fail(e),
        }
    }
    for e in &args.env {
        if !e.contains('=') {
            return fail(format!("-e {e}: expected KEY=VALUE"));
        }
        env.push(e.clone());
    }
    let tty = std::io::stdin().is_terminal();
    let entrypoint = args.shell.then(|| {
        vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi".to_owned(),
        ]
    });
    let cmd = (!args.args.is_empty()).then(|| args.args.clone());
    // CI's workspace: the checkout at /src, and log and cache beside it.
    // Without --log-dir/--cache-dir they go in a temporary workspace, never
    // into the checkout.
    let workspace = std::env::temp_dir().join(format!(
        "dockyard-try-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    ));
    let (log, cache) = (
        args.log_dir.clone().unwrap_or_else(|| workspace.join("log")),
        args.cache_dir.clone().unwrap_or_else(|| workspace.join("cache")),
    );
    for (dir, flag) in [(&log, "--log-dir"), (&cache, "--cache-dir")] {
        let abs = if dir.is_absolute() { dir.clone() } else { cwd.join(dir) };
        if abs.starts_with(&src) {
            return fail(format!(
                "{flag} {} is inside the checkout mounted at /src; CI keeps it beside the checkout",
                dir.display()
            ));
        }
    }
    if args.print {
        let mut words: Vec<String> =
            vec!["docker".into(), "run".into(), "--rm".into(), if tty { "-it".into() } else { "-i".into() }];
        for (host, inside) in [(&src, "/src"), (&log, "/var/lib/jenkins/log"), (&cache, "/cache")] {
            words.push("--volume".into());
            words.push(format!("{}:{inside}", host.display()));
        }
        for e in &env {
            words.push("--env".into());
            words.push(e.clone());
        }
        if args.shell {
            words.push("--entrypoint".into());
            words.push("/bin/sh".into());
        }
        words.push(label.clone());
        if let Some(c) = &cmd {
            words.extend(c.iter().cloned());
        } else if args.shell {
            words.extend(["-c".into(), "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi".into()]);
        }
        println!("{}", words.iter().map(|w| word(w)).collect::<Vec<_>>().join(" "));
        return ExitCode::SUCCESS;
    }
    let engine = match engine_for(&service.repo, &args.engine) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    if args.log_dir.is_none() || args.cache_dir.is_none() {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&workspace) {
            return fail(format!("{}: {e}", workspace.display()));
        }
    }
    let (log, cache) = match (open_folder(&log), open_folder(&cache)) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => {
            let _ = std::fs::remove_dir_all(&workspace);
            return fail(e);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let reg_opts = registry_options(&args.registry_args, &service.repo.registry);
    let code = rt.block_on(async {
        // The image: in the engine, else pulled from the registry, else built (--build).
        let have = match engine.inspect(&label).await {
            Ok(h) => h.is_some(),
            Err(e) => return Err(e.to_string()),
        };
        if !have {
            let pulled = engine.pull(&label, engine_auth(&snapshot).as_ref(), crate::engine::discard()).await.is_ok();
            if !pulled {
                // Only the changelog's first version can be built: a command
                // that cannot work is never suggested, and nothing is recorded.
                if version != current {
                    return Err(format!(
                        "neither the engine nor the registry has {label}, and it cannot be built: {name}'s version is {current} \
                         (first entry of its changelog). Try {name}:{current}, or give it that version first: dockyard update {name} --version {}",
                        word(&version)
                    ));
                }
                if !args.build {
                    return Err(format!(
                        "neither the engine nor the registry has {label}; build it first: dockyard build --select {} (or try again with --build)",
                        word(&label)
                    ));
                }
                let spec = BuildSpec { globs: vec![label.clone()], pull: true, push: false, use_cache: true, jobs: 2, suffix: None, trigger: dockyard_api::Trigger::cli(dockyard_api::Operation::Try, ""), command: std::env::args().collect() };
                let prepared = service.plan_build(&spec, engine.as_ref(), &reg_opts).await.map_err(|e| e.to_string())?;
                if let Some(item) = prepared.plan.items.iter().find(|i| i.name == name && i.action == dockyard_api::Action::Broken) {
                    return Err(format!("{name} cannot be built: {}", item.reason));
                }
                let (run, state) = service.run_build(prepared, &spec, vec![engine.clone()]).await.map_err(|e| e.to_string())?;
                if state != dockyard_api::RunState::Succeeded {
                    return Err(format!("the build of {label} failed: dockyard builds show {run}"));
                }
            }
        }
        let spec = RunSpec {
            image: label.clone(),
            entrypoint,
            cmd,
            env,
            binds: vec![
                format!("{}:/src", src.display()),
                format!("{}:/var/lib/jenkins/log", log.display()),
                format!("{}:/cache", cache.display()),
            ],
            tty,
            stdin: tty || args.shell,
        };
        let _raw = tty.then(super::RawMode::enable);
        engine.run(&spec).await.map_err(|e| e.to_string())
    });
    // A read of stdin may still be blocked: do not wait for it.
    rt.shutdown_background();
    // The temporary workspace goes; a log the job wrote is kept and named.
    if args.cache_dir.is_none() {
        let _ = std::fs::remove_dir_all(&cache);
    }
    if args.log_dir.is_none() {
        let written = std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
        if written == 0 {
            let _ = std::fs::remove_dir_all(&log);
            let _ = std::fs::remove_dir(&workspace);
        } else {
            eprintln!("the job's log folder (/var/lib/jenkins/log): {} ({written} entries)", log.display());
        }
    }
    match code {
        Ok(c) => ExitCode::from(c.clamp(0, 255) as u8),
        Err(e) => fail(e),
    }
}
