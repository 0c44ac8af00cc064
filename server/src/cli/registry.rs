//! `dockyard registry`.

use super::args::{Format, RegistryCmdArgs};
use super::{EXIT_FINDINGS, emit_code, fail, registry_options, runtime, service, use_store};
use std::process::ExitCode;

/// `dockyard registry`.
pub fn registry(args: &RegistryCmdArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(c) = use_store(&service, &args.registry) {
        return c;
    }
    let opts = registry_options(&args.registry, &service.repo.registry);
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let reports = match rt.block_on(service.refresh_registry(&opts, &Default::default())) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let failed = reports.iter().any(|r| r.has_errors());
    let code = if failed { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS };
    let report = service.registry_report();
    for r in &reports {
        eprintln!(
            "registry {}: {} requests, {} ms",
            crate::print::sanitize(&r.index.registry),
            r.requests,
            r.elapsed_ms
        );
    }
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&report), code),
        Format::Text => emit_code(crate::print::registry_table(&report, crate::store::now()), code),
    }
}
