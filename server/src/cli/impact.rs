//! `dockyard impact`.

use super::args::{ImpactArgs, ReportFormat};
use super::{EXIT_FINDINGS, emit_code, fail, registry_options, service, use_store};
use std::process::ExitCode;

/// `dockyard impact`.
pub fn impact(args: &ImpactArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry_args) {
        return c;
    }
    if args.registry {
        let opts = registry_options(&args.registry_args, &service.repo.registry);
        let rt = match super::runtime() {
            Ok(r) => r,
            Err(c) => return c,
        };
        if let Err(e) = rt.block_on(service.refresh_registry(&opts, &Default::default())) {
            eprintln!("warning: registry: {e}");
        }
        // The work tree's snapshot was loaded to know what to ask: load it
        // again, so that it holds what the registry said.
        match service.load_snapshot() {
            Ok(s) => {
                service.publish(std::sync::Arc::new(s));
            }
            Err(d) => return fail(d),
        }
    }
    let mut report = match service.impact_with_head(&args.base, args.head.as_deref()) {
        Ok((mut r, head)) => {
            if args.registry {
                let opts = registry_options(&args.registry_args, &service.repo.registry);
                let notes = match super::runtime() {
                    Ok(rt) => rt.block_on(service.impact_published(&mut r, &head, &opts)),
                    Err(c) => return c,
                };
                for n in notes {
                    eprintln!("warning: {n}");
                }
            }
            r
        }
        Err(e) => return fail(e),
    };
    report.images.sort_by_key(|i| (i.published_differs.is_none(), i.change.rank(), i.name.clone()));
    let stale = report.stale_parents() && !args.allow_stale_parents;
    let code = if report.fails() || stale { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS };
    match args.format {
        ReportFormat::Json => emit_code(dockyard_api::to_json(&report), code),
        ReportFormat::Junit => emit_code(crate::print::impact::junit(&report), code),
        ReportFormat::Text => emit_code(crate::print::impact::text(&report), code),
    }
}
