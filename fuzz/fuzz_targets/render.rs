//! Rendering arbitrary templates never panics and never runs away (fuel).
#![no_main]
use dockyard_core::config::Config;
use dockyard_core::render::Renderer;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| {
        let config = Config::merge(
            "config.yaml".into(),
            vec![("registry".into(), "reg.example".into()), ("http_proxy".into(), "http://proxy:8080".into())],
        );
        Renderer::new(&config, ["reg.example/base:1.0-s1".to_owned(), "reg.example/other:2-1".to_owned()])
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = renderer().render_str(text);
    let _ = dockyard_core::jinja_compat::to_minijinja(text);
});
