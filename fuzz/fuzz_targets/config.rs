//! YAML config parsing (and the positioned YAML tree) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(layers) = dockyard_core::config::parse_text(text, std::path::Path::new("config.yaml")) {
        let config = dockyard_core::config::Config::merge("config.yaml".into(), layers);
        let _ = config.base_images();
        let _ = config.registry();
    }
    if let Ok(docs) = dockyard_core::yaml::load(text) {
        for d in docs {
            assert!(d.line >= 1);
        }
    }
});
