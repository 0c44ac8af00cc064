//! `dockyard serve`: loads the repository, starts the background work
//! (following the files, refreshing the registry index) and serves.

use super::args::ServeArgs;
use super::{EXIT_USAGE, fail, registry_options, service, use_store};
use crate::web::{self, AppState};
use leptos::prelude::LeptosOptions;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

/// `dockyard serve`.
pub fn serve(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,dockyard=info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    // What the files look like before the first snapshot reads them: a write
    // from here on is a change the watch sees.
    let seen = crate::service::watch::fingerprint(&service);
    // The first snapshot, whole, before anything is served.
    match service.snapshot() {
        Ok(s) => s.warm(),
        Err(d) => return fail(d),
    }
    let site = match site_folder(args.site.as_deref(), service.repo.serve.site.as_deref(), &service.repo.root) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if !site.join("pkg/app.js").exists() {
        tracing::warn!(
            "no front end in {} yet (scripts/build-site builds it; scripts/run does so behind the server): \
             pages are server-rendered only until it is there",
            site.display()
        );
    }
    // Runs left `running` by a process that died are interrupted, not live.
    if let Ok(store) = service.store() {
        match store.0.interrupt_dead_runs(&crate::store::owner_alive, crate::store::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!("{n} run(s) left running by a process that is gone: marked interrupted"),
            Err(e) => tracing::warn!("could not check for interrupted runs: {e}"),
        }
    }
    let leptos = LeptosOptions::builder()
        .output_name("app")
        .site_root(site.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .build();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let registry = args.registry || service.repo.registry_index;
    let reg_opts = registry_options(&args.registry_args, &service.repo.registry);
    if registry {
        let _ = service.live_registry.set(reg_opts.clone());
    }
    // Registry knowledge from earlier runs (no request), before anything is served.
    if registry {
        let offline = crate::registry::RegistryOptions { offline: true, ..reg_opts.clone() };
        if let Err(e) = runtime.block_on(service.refresh_registry(&offline, &service.pinned_pairs())) {
            tracing::warn!("registry index: {e}");
        }
        match service.load_snapshot() {
            Ok(s) => {
                s.warm();
                service.publish(Arc::new(s));
            }
            Err(d) => return fail(d),
        }
    }
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.addr);
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let mut allowed = service.repo.serve.allowed_hosts.clone();
        allowed.extend(args.allowed_host.iter().cloned());
        let auth = web::auth::Auth::from_env(&service.repo.token_env, args.private || service.repo.serve.private)
            .with_metrics_token(&service.repo.serve.metrics_token_env);
        if !auth.configured() {
            tracing::warn!(
                "{} is not set (or shorter than 8 characters): nobody can start builds or pulls",
                service.repo.token_env
            );
        }
        let state = AppState {
            service: service.clone(),
            leptos,
            guard: Arc::new(web::guard::Guard::new(addr, &allowed)),
            auth: Arc::new(auth),
            http: Arc::new(web::metrics::HttpMetrics::default()),
            streams: Arc::new(web::live::Streams::new(args.max_streams as usize)),
        };
        tokio::spawn(crate::service::watch::follow(service.clone(), seen));
        if registry && !reg_opts.offline {
            tokio::spawn(crate::service::refresh_loop(service.clone(), reg_opts));
        }
        // The one line tests and scripts wait for, on stdout.
        println!("listening on http://{addr}/");
        tracing::info!(
            generation = service.snapshot().map(|s| s.generation).unwrap_or(0),
            "serving {}",
            service.repo.root.display()
        );
        let limits = web::listen::Limits {
            max_connections: args.max_connections,
            header_timeout: std::time::Duration::from_secs(args.header_timeout),
        };
        web::listen::serve(listener, web::router(state), limits, web::listen::stop_signal()).await;
        ExitCode::SUCCESS
    })
}

/// The site folder: `--site` (or `$DOCKYARD_SITE`), else the operator
/// file's, else `site` beside the binary, else the build output's `site`
/// above it (`target/debug/dockyard` → `target/site`). Absolute, fixed at
/// start, and never inside the repository (a patch could plant the
/// dashboard's own script there).
fn site_folder(
    flag: Option<&std::path::Path>,
    operator: Option<&std::path::Path>,
    repo: &std::path::Path,
) -> Result<std::path::PathBuf, String> {
    let chosen = match flag.or(operator) {
        Some(p) => dockyard_core::files::absolute(p),
        None => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's folder: {e}"))?;
            let dir = exe.parent().map(std::path::Path::to_owned).unwrap_or_default();
            let beside = dir.join("site");
            let build_output = dir.parent().map(|p| p.join("site")).unwrap_or_else(|| beside.clone());
            if beside.is_dir() || !build_output.is_dir() { beside } else { build_output }
        }
    };
    let real = chosen.canonicalize().unwrap_or_else(|_| chosen.clone());
    if real.starts_with(repo) {
        return Err(format!(
            "the site folder {} lies inside the repository {}: the dashboard's own script must not come from files \
             a patch can change; build it elsewhere (scripts/build-site) or pass --site",
            chosen.display(),
            repo.display()
        ));
    }
    Ok(real)
}
