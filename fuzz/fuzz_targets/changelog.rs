//! Changelog parsing never panics; the fast head parser agrees with the full one.
#![no_main]
use dockyard_core::changelog;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("changelog");
    let head = changelog::parse_head(text, path);
    if let Ok(all) = changelog::parse(text, path) {
        let head = head.expect("full parse succeeded, so the head parses");
        assert_eq!((&head.name, &head.version), (&all[0].name, &all[0].version));
    }
    for entry in changelog::parse(text, path).into_iter().flatten() {
        let _ = dockyard_core::version::compare(&entry.version, "1.0-s1");
    }
});
