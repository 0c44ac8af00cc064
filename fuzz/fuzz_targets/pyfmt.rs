//! `str()`/`repr()` of template values that mutate and contain each other:
//! the bytes pick operations on a few lists and dicts (append, extend, update,
//! insert one into another or into itself, copy) and the values are printed.
//! Printing terminates, cycles print `[...]`/`{...}`, and nothing outgrows
//! the limits (fuel, collection length, printed length).
#![no_main]
use dockyard_core::config::Config;
use dockyard_core::render::Renderer;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::new(&Config::defaults(), Vec::<String>::new()))
}

const VARS: [&str; 4] = ["a", "b", "c", "d"];

fuzz_target!(|data: &[u8]| {
    let mut t = String::from("{% set a = [1] %}{% set b = {'k': 'v'} %}{% set c = [] %}{% set d = {} %}");
    for pair in data.chunks(3) {
        let (op, x, y) = (pair[0] % 10, VARS[pair.get(1).copied().unwrap_or(0) as usize % 4], VARS[pair.get(2).copied().unwrap_or(1) as usize % 4]);
        let list = |v: &str| v == "a" || v == "c";
        let stmt = match op {
            0 if list(x) => format!("{{% do {x}.append({y}) %}}"),
            1 if list(x) && list(y) => format!("{{% do {x}.extend({y}) %}}"),
            2 if !list(x) && !list(y) => format!("{{% do {x}.update({y}) %}}"),
            3 if !list(x) => format!("{{% do {x}.setdefault('{y}', {y}) %}}"),
            4 if list(x) => format!("{{% do {x}.insert(0, {y}) %}}"),
            5 => format!("{{% set {x} = {y}.copy() %}}"),
            6 => format!("{{{{ {x} }}}}"),
            7 if list(x) => format!("{{{{ {x}.count({y}) }}}}{{{{ {x} == {y} }}}}"),
            8 => format!("{{{{ {x} ~ {y} }}}}"),
            9 if list(x) => format!("{{% do {x}.sort() %}}"),
            _ => continue,
        };
        t.push_str(&stmt);
    }
    t.push_str("{{ a }}{{ b }}{{ c }}{{ d }}");
    if let Ok(out) = renderer().render_str(&t) {
        assert!(out.len() <= 64 << 20);
    }
});
