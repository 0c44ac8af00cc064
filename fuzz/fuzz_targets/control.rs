//! Control parsing never panics; dependencies are trimmed and non-empty.
#![no_main]
use dockyard_core::control;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(deps) = control::parse_depends(text, std::path::Path::new("control")) {
        for d in deps {
            assert!(!d.name.is_empty() && d.name.trim() == d.name);
            assert!(d.line >= 1 && d.line <= text.lines().count());
        }
    }
});
