//! `dockyard lint` and `dockyard pull-script`.

use super::args::{LintArgs, LintFormat, PullScriptArgs};
use super::{EXIT_FINDINGS, EXIT_USAGE, emit_code, fail, registry_options, runtime, service, use_store};
use crate::print::{self, sanitize};
use crate::service::Service;
use dockyard_api::Status;
use std::process::ExitCode;
use std::sync::Arc;

fn fail_on(arg: &Option<String>) -> Result<Vec<Status>, ExitCode> {
    let Some(list) = arg else { return Ok(Status::default_fail_on()) };
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty() && *s != "none") {
        match Status::parse(s) {
            Some(st) => out.push(st),
            None => return Err(fail(format!("unknown status `{s}` in --fail-on"))),
        }
    }
    Ok(out)
}

/// Builds the registry index first, so the snapshot lints with it.
fn with_registry(
    service: &Arc<Service>,
    args: &super::args::RegistryArgs,
    want: &std::collections::BTreeSet<(String, String)>,
) -> Result<(), ExitCode> {
    use_store(service, args)?;
    let opts = registry_options(args, &service.repo.registry);
    let rt = runtime()?;
    match rt.block_on(service.refresh_registry(&opts, want)) {
        Ok(reports) => {
            for r in &reports {
                // One line per distinct error (an unreachable registry is one).
                let mut said = std::collections::BTreeMap::<&str, Vec<&str>>::new();
                for e in r.index.entries.iter().filter(|e| e.error.is_some()) {
                    said.entry(e.error.as_deref().unwrap_or("")).or_default().push(&e.image);
                }
                for (err, images) in said {
                    let which = if images.len() == r.index.entries.len() {
                        "every repository".to_owned()
                    } else {
                        images.join(", ")
                    };
                    eprintln!("warning: registry {}: {which}: {}", sanitize(&r.index.registry), sanitize(err));
                }
            }
            // A snapshot that lints with what the registry holds.
            let snapshot = service.load_snapshot().map_err(fail)?;
            service.publish(Arc::new(snapshot));
            Ok(())
        }
        Err(e) => Err(fail(e)),
    }
}

/// `dockyard lint`.
pub fn lint(args: &LintArgs) -> ExitCode {
    let fail_on = match fail_on(&args.fail_on) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    // --fix consults the registry too: a pin is never moved to a version
    // that is not published, unless --allow-unpublished.
    if (args.registry || args.fix)
        && let Err(c) = with_registry(&service, &args.registry_args, &Default::default())
    {
        return c;
    }
    let snapshot = match service.snapshot() {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let state = match snapshot.lint() {
        Ok(l) => l,
        Err(d) => return fail(d),
    };
    if args.fix {
        return fix(&service, !args.allow_unpublished, &fail_on);
    }
    let failed = state.report.failures(&fail_on).next().is_some() || !state.report.errors.is_empty();
    let code = if failed { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS };
    match args.format {
        LintFormat::Json => match snapshot.pins_json() {
            Ok(json) => emit_code(json, code),
            Err(p) => fail(p),
        },
        LintFormat::Junit => emit_code(print::lint::junit(&state.report.to_api(), &fail_on), code),
        LintFormat::Short => emit_code(print::lint::short(&state.report.to_api()), code),
        LintFormat::Text => {
            let fix_command = super::this_command_with("--fix", &["-v", "--verbose"]);
            emit_code(print::lint::text(state, &fail_on, args.verbose, &fix_command), code)
        }
    }
}

/// `lint --fix`: the service fixes (all files or none); this prints. Nothing
/// is printed until the files are written, so a closed pipe (`lint --fix |
/// head -1`) cannot stop a fix half-way.
fn fix(service: &Service, guarded: bool, fail_on: &[Status]) -> ExitCode {
    let report = match service.fix_pins(guarded, fail_on) {
        Ok(r) => r,
        Err(e) => return super::failed(e),
    };
    let mut out = String::new();
    for f in &report.fixed {
        out.push_str(&format!(
            "fixed {} stale pin{} in {}\n",
            f.count,
            if f.count == 1 { "" } else { "s" },
            sanitize(&f.file)
        ));
    }
    for s in &report.skipped {
        eprintln!("warning: {}", sanitize(s));
    }
    // What is left after the fix decides the exit code, as a lint would.
    let code = match (&report.reload_error, report.remaining) {
        (Some(d), _) => {
            eprintln!("error: the fixed files do not load: {}", sanitize(d));
            ExitCode::from(EXIT_USAGE)
        }
        (None, 0) if report.skipped.is_empty() => ExitCode::SUCCESS,
        (None, n) => {
            if n > 0 {
                eprintln!("error: {n} finding(s) remain that --fix cannot change (run dockyard lint to see them)");
            }
            ExitCode::from(EXIT_FINDINGS)
        }
    };
    emit_code(out, code)
}

/// `dockyard pull-script`.
pub fn pull_script(args: &PullScriptArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut plan = match service.pull_plan(false) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if args.digest {
        if let Err(c) = with_registry(&service, &args.registry_args, &plan.pairs()) {
            return c;
        }
        plan = match service.pull_plan(true) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
    }
    let script = print::shell::pull_script(&plan, args.host.as_deref());
    let code = if plan.missing_digest.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDINGS) };
    match &args.output {
        None => emit_code(&script, code),
        Some(path) => match crate::fsio::atomic_write(path, script.as_bytes(), Some(0o755)) {
            Ok(()) => {
                eprintln!("wrote {} ({} images)", path.display(), plan.images.len());
                for m in &plan.missing_digest {
                    eprintln!("warning: no digest for {}: pulled by tag", sanitize(m));
                }
                code
            }
            Err(e) => fail(format!("{}: cannot write: {e}", path.display())),
        },
    }
}
