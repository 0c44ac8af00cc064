//! `dockyard build`, `builds`, `update`, `prune` and `pull`: thin shells
//! over the service and the engine.

use super::args::{BuildArgs, BuildsArgs, BuildsCommand, Format, HostsArgs, PruneArgs, PullArgs, UpdateArgs};
use super::{EXIT_FINDINGS, emit_code, fail, failed, registry_options, service, use_store};
use crate::print::{self, sanitize};
use crate::service::build::{BuildSpec, nightly_suffix};
use crate::service::{RepoConfig, RepoFlags, Service};
use dockyard_api::{Operation, PullOutcome, RunState, Trigger};
use std::process::ExitCode;

pub(super) fn multi_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))
}

/// Who runs this: `$USER`, `$LOGNAME`, else the account of this process's
/// user id (never "unknown" without asking the system).
pub(super) fn user() -> String {
    if let Some(u) = ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty())) {
        return u;
    }
    // SAFETY: getuid cannot fail; getpwuid_r fills `pw` and `buf` (both
    // ours, of the sizes given) and sets `found` to `pw` or null.
    unsafe {
        let uid = libc::getuid();
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) == 0 && !found.is_null() {
            return std::ffi::CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned();
        }
        format!("uid {uid}")
    }
}

/// `dockyard build`.
pub fn build(args: &BuildArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let engines = match service.select_engines(args.hosts.as_deref(), args.engine.host.as_deref()) {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let spec = BuildSpec {
        globs: args.select.clone(),
        pull: !args.no_pull,
        push: args.push,
        use_cache: args.use_cache,
        jobs: args.jobs.unwrap_or_else(crate::service::build::default_jobs).max(1),
        suffix: if args.nightly {
            Some(nightly_suffix(false))
        } else if args.snapshot {
            Some(nightly_suffix(true))
        } else {
            None
        },
        trigger: Trigger::cli(Operation::Build, user()),
        command: std::env::args().collect(),
    };
    let rt = match multi_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let reg_opts = registry_options(&args.registry_args, &service.repo.registry);
    rt.block_on(async move {
        if let Err(e) = service.interrupt_dead_runs().await {
            return fail(e);
        }
        // Every engine is asked at once, with a short deadline: one that
        // does not answer is left out (and named) when others do; the plan
        // is made against the first that answers.
        let engines = match crate::service::build::answering(engines, ENGINE_PROBE).await {
            Ok((up, down)) => {
                for d in &down {
                    eprintln!("warning: host {}; building on the others", sanitize(d));
                }
                up
            }
            Err(e) => return failed(e),
        };
        let engine = engines[0].clone();
        let mut prepared = match service.plan_build(&spec, Some(engine.as_ref()), &reg_opts).await {
            Ok(p) => p,
            Err(e) => return failed(e.into()),
        };
        // -j is per engine: the plan says how many run at once in all.
        prepared.plan.jobs = spec.jobs * engines.len();
        for p in &prepared.plan.problems {
            eprintln!("error: {}", sanitize(p));
        }
        for n in &prepared.plan.notes {
            eprintln!("warning: {}", sanitize(n));
        }
        // A broken image, a cycle, a selection that matches nothing or a
        // registry that cannot be reached is a finding: the rest is still
        // planned and built, and the exit code says so.
        let problems = prepared.plan.problems.len();
        let clean = if problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDINGS) };
        if args.dry_run {
            return match args.format {
                Format::Json => emit_code(dockyard_api::to_json(&prepared.plan), clean),
                Format::Text => emit_code(print::plan_text(&prepared.plan), clean),
            };
        }
        let work = prepared.plan.work().count();
        if work == 0 {
            if problems == 0 {
                eprintln!("nothing to build: every selected image is present (see --dry-run)");
                // docker-pkg's "No images are built": a change without a bump.
                let selected: Vec<&str> =
                    prepared.plan.items.iter().filter(|i| i.selected).map(|i| i.name.as_str()).collect();
                let service = service.clone();
                let unbumped =
                    tokio::task::spawn_blocking(move || service.unbumped_in_work_tree()).await.ok().flatten();
                for name in unbumped.iter().flatten().filter(|n| selected.contains(&n.as_str())) {
                    eprintln!(
                        "hint: {name}: its folder changed since HEAD without a version bump, so its tag is the old \
                         one; run `dockyard update {name}`"
                    );
                }
            } else {
                eprintln!("nothing to build, and {problems} problem(s) above");
            }
            return clean;
        }
        let console = tokio::spawn(super::console::follow(service.events.subscribe(), work));
        let (run, state) = match service.run_build(prepared, &spec, engines).await {
            Ok(x) => x,
            Err(e) => return fail(e),
        };
        let _ = console.await;
        let store = service.store();
        if let Ok(store) = store
            && let Ok(Some(detail)) = store.call(move |s| s.get_run(run)).await
        {
            eprintln!("{}", crate::service::build::summary_line(&detail.run));
            if args.format == Format::Json {
                let _ = super::emit(dockyard_api::to_json(&detail));
            }
        }
        eprintln!("logs: dockyard builds show {run}");
        if problems > 0 {
            eprintln!("error: {problems} problem(s) in the plan (above): not everything selected was built");
        }
        if state == RunState::Succeeded { clean } else { ExitCode::from(EXIT_FINDINGS) }
    })
}

/// `dockyard builds` and `dockyard builds show ID`.
pub fn builds(args: &BuildsArgs) -> ExitCode {
    let common = match &args.show {
        Some(BuildsCommand::Show { common, .. }) => common,
        None => &args.common,
    };
    let service = match service(&common.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &common.registry_args) {
        return c;
    }
    let rt = match super::runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    if let Err(e) = rt.block_on(service.interrupt_dead_runs()) {
        return fail(e);
    }
    match &args.show {
        None => match rt.block_on(service.runs(args.limit, args.before)) {
            Ok(list) => match common.format {
                Format::Json => emit_code(dockyard_api::to_json(&list), ExitCode::SUCCESS),
                Format::Text => emit_code(print::runs_table(&list, crate::store::now()), ExitCode::SUCCESS),
            },
            Err(e) => failed(e),
        },
        Some(BuildsCommand::Show { id, image, .. }) => {
            let shown = match rt.block_on(service.run_shown(*id, image.clone())) {
                Ok(s) => s,
                Err(e) => return failed(e),
            };
            match common.format {
                Format::Json => emit_code(dockyard_api::to_json(&shown), ExitCode::SUCCESS),
                Format::Text => {
                    let mut text = print::run_text(&shown.detail, &shown.logs);
                    if shown.logs_truncated {
                        text.push_str(&format!(
                            "… the log goes on after line {}: GET /api/v1/builds/{id}/logs?after=SEQ reads the rest\n",
                            shown.logs.len()
                        ));
                    }
                    emit_code(text, ExitCode::SUCCESS)
                }
            }
        }
    }
}

/// `dockyard update`: the service updates; this prints what it did.
pub fn update(args: &UpdateArgs) -> ExitCode {
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
    let rt = match super::runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let request = crate::service::maintain::UpdateRequest {
        name: args.name.clone(),
        reason: args.reason.clone(),
        version: args.version.clone(),
        pins: args.pins,
    };
    let registry = registry_options(&args.registry_args, &service.repo.registry);
    match rt.block_on(service.update(&request, &registry)) {
        Ok(report) => {
            eprint!("{}", print::update_text(&report));
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// How long `build` waits for each engine to answer before it plans.
const ENGINE_PROBE: std::time::Duration = std::time::Duration::from_secs(5);

/// `dockyard prune`: the service prunes; this prints what it removed.
pub fn prune(args: &PruneArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let engine = match service.engine_named(args.engine.host.as_deref()) {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let rt = match super::runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    match rt.block_on(service.prune(engine.as_ref(), &args.select, args.dry_run)) {
        Ok(report) => {
            let mut out = super::Out::default();
            let verb = if report.dry_run { "would remove" } else { "removed" };
            for tag in &report.removed {
                out.line(&format!("{verb} {}", sanitize(tag)));
            }
            for e in &report.errors {
                eprintln!("error: {}", sanitize(e));
            }
            if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDINGS) }
        }
        Err(e) => failed(e),
    }
}

/// `dockyard pull`.
pub fn pull(args: &PullArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let engines = match service.select_engines(args.hosts.as_deref(), args.engine.host.as_deref()) {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let several = engines.len() > 1 || args.hosts.is_some();
    let rt = match multi_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let planned = if args.digest {
        let opts = registry_options(&args.registry_args, &service.repo.registry);
        rt.block_on(service.pull_plan_refreshed(&opts)).map(|(plan, unread)| {
            if let Some(e) = unread {
                eprintln!("warning: registry: {} (skipping by tag only)", sanitize(&e.to_string()));
            }
            plan
        })
    } else {
        service.pull_plan(false)
    };
    let plan = match planned {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let text = args.format == Format::Text;
    let trigger = Trigger::cli(Operation::Pull, user());
    let report = rt.block_on(service.pull_recorded(engines, &plan, args.jobs, trigger, move |r| {
        if text {
            let what = r.outcome.word();
            let err = r.error.as_deref().map(|e| format!(": {}", sanitize(e))).unwrap_or_default();
            let host = if several { format!("{}: ", sanitize(&r.host)) } else { String::new() };
            eprintln!("{host}{what:8} {} ({} ms){err}", sanitize(&r.image), r.duration_ms);
        }
    }));
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let failed = report.failed();
    let code = if failed > 0 { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS };
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&report), code),
        Format::Text => {
            let mut hosts: Vec<&str> = report.results.iter().map(|r| r.host.as_str()).collect();
            hosts.dedup();
            for host in hosts {
                let mine = || report.results.iter().filter(move |r| r.host == host);
                let count = |o: PullOutcome| mine().filter(|r| r.outcome == o).count();
                let prefix = if several { format!("{}: ", sanitize(host)) } else { String::new() };
                eprintln!(
                    "{prefix}{} images: {} pulled, {} present, {} failed",
                    mine().count(),
                    count(PullOutcome::Pulled),
                    count(PullOutcome::Skipped),
                    count(PullOutcome::Failed)
                );
            }
            if let Some(run) = report.run {
                eprintln!("recorded as run {run}: dockyard builds show {run}");
            }
            code
        }
    }
}

/// `dockyard hosts`: the host × pinned-image matrix.
pub fn hosts(args: &HostsArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let rt = match multi_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    if args.digest {
        let opts = registry_options(&args.registry_args, &service.repo.registry);
        match rt.block_on(service.pull_plan_refreshed(&opts)) {
            Ok((_, Some(e))) => eprintln!("warning: registry: {} (presence by tag only)", sanitize(&e.to_string())),
            Ok(_) => {}
            Err(e) => return failed(e),
        }
    }
    let report = match rt.block_on(service.hosts_report()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if report.hosts.is_empty() {
        return fail("no engine is configured: set DOCKER_HOST, or list engines as [[hosts]] in the operator file");
    }
    let incomplete = report.hosts.iter().any(|h| !h.reachable)
        || report.cells.iter().flatten().any(|c| *c != dockyard_api::Presence::Present);
    let code = if incomplete { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS };
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&report), code),
        Format::Text => emit_code(print::hosts_table(&report), code),
    }
}
