//! `dockyard try`: a catalog image run the way CI runs it: the project at
//! /src, `log` and `cache` folders (mode 777) at /var/lib/jenkins/log and
//! /cache, beside the checkout as CI's workspace has them, never inside it
//! (a temporary workspace unless `--log-dir`/`--cache-dir` say where);
//! variables from an env file, `-e` and (with `--zuul`) the git checkout;
//! an interactive shell with `--shell`; the container and the temporary
//! folders removed afterwards (a log the job wrote is kept and named), and
//! its exit code is dockyard's.

use super::args::TryArgs;
use super::{fail, failed, registry_options, use_store};
use crate::engine::RunSpec;
use crate::service::tryout::TryRequest;
use crate::service::{RepoConfig, RepoFlags, Service};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A folder created (if missing) with mode 777, as CI's are.
fn open_folder(path: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))
}

/// `dockyard try`: the service plans and readies the image; this runs it
/// with the terminal attached.
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
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let request = TryRequest {
        image: args.image.clone(),
        src: args.src.clone().unwrap_or_else(|| cwd.clone()),
        env_file: args.env_file.clone(),
        zuul: args.zuul,
        env: args.env.clone(),
        shell: args.shell,
        args: args.args.clone(),
        log_dir: args.log_dir.clone(),
        cache_dir: args.cache_dir.clone(),
        cwd,
    };
    let plan = match service.try_plan(&request) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let tty = std::io::stdin().is_terminal();
    if args.print {
        println!("{}", super::shell_words(&plan.docker_run(tty)));
        return ExitCode::SUCCESS;
    }
    let engine = match service.engine_named(args.engine.host.as_deref()) {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let workspace = &plan.workspace;
    if args.log_dir.is_none() || args.cache_dir.is_none() {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(workspace) {
            return fail(format!("{}: {e}", workspace.display()));
        }
    }
    let (log, cache) = match (open_folder(&plan.log), open_folder(&plan.cache)) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => {
            let _ = std::fs::remove_dir_all(workspace);
            return fail(e);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let reg_opts = registry_options(&args.registry_args, &service.repo.registry);
    let code = rt.block_on(async {
        service.try_image_ready(&plan, &engine, args.build, &reg_opts).await?;
        let spec = RunSpec {
            image: plan.label.clone(),
            entrypoint: plan.entrypoint.clone(),
            cmd: plan.cmd.clone(),
            env: plan.env.clone(),
            binds: vec![
                format!("{}:/src", plan.src.display()),
                format!("{}:/var/lib/jenkins/log", log.display()),
                format!("{}:/cache", cache.display()),
            ],
            tty,
            stdin: tty || args.shell,
        };
        let _raw = tty.then(super::RawMode::enable);
        engine.run(&spec).await.map_err(|e| crate::service::Error::from_source(crate::service::Kind::Unavailable, e))
    });
    // A read of stdin may still be blocked: do not wait for it.
    rt.shutdown_background();
    clean_up(args, workspace, &log, &cache);
    match code {
        Ok(c) => ExitCode::from(c.clamp(0, 255) as u8),
        Err(e) => failed(e),
    }
}

/// The temporary workspace goes; a log the job wrote is kept and named.
fn clean_up(args: &TryArgs, workspace: &Path, log: &Path, cache: &Path) {
    if args.cache_dir.is_none() {
        let _ = std::fs::remove_dir_all(cache);
    }
    if args.log_dir.is_none() {
        let written = std::fs::read_dir(log).map(|d| d.count()).unwrap_or(0);
        if written == 0 {
            let _ = std::fs::remove_dir_all(log);
            let _ = std::fs::remove_dir(workspace);
        } else {
            eprintln!("the job's log folder (/var/lib/jenkins/log): {} ({written} entries)", log.display());
        }
    }
}
