//! `dockyard cleanup` and `dockyard sizes`.

use super::args::{CleanupArgs, Format, SizesArgs};
use super::build::multi_runtime;
use super::{EXIT_FINDINGS, emit_code, fail, failed, registry_options, service, use_store};
use crate::service::lifecycle::CleanupOptions;
use std::process::ExitCode;

/// `dockyard cleanup`: the plan (exit 1 when something could not be read),
/// or with `--delete` the deletion, recorded as a run (exit 1 when an item
/// failed).
pub fn cleanup(args: &CleanupArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let mut opts = registry_options(&args.registry_args, &service.repo.registry);
    if args.delete {
        if opts.offline {
            return fail("--delete reads the registry: it cannot be --offline");
        }
        // What is deleted is decided from what the registry says now.
        opts.max_age = 0;
    }
    let rt = match multi_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let rules = CleanupOptions { keep_last: args.keep_last, min_age_days: args.min_age };
    let plan = match rt.block_on(service.cleanup_plan(rules, &opts)) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let mut code = if plan.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDINGS) };
    if args.delete {
        let trigger = dockyard_api::Trigger::cli(dockyard_api::Operation::Cleanup, super::build::user());
        match rt.block_on(service.cleanup_delete(&plan, &opts, trigger, std::env::args().collect())) {
            Ok((run, state)) => {
                eprintln!("run {run}: {} (dockyard builds show {run})", state.as_str());
                if state != dockyard_api::RunState::Succeeded {
                    code = ExitCode::from(EXIT_FINDINGS);
                }
            }
            Err(e) => return failed(e),
        }
    }
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&plan), code),
        Format::Text => emit_code(crate::print::lifecycle::cleanup_text(&plan, args.delete), code),
    }
}

/// `dockyard sizes`.
pub fn sizes(args: &SizesArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    let opts = registry_options(&args.registry_args, &service.repo.registry);
    let rt = match multi_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let engines = service.engines();
    let report = match rt.block_on(service.sizes(&engines, &opts)) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let code = if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDINGS) };
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&report), code),
        Format::Text => emit_code(crate::print::lifecycle::sizes_text(&report), code),
    }
}
