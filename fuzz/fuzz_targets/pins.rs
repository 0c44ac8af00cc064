//! The pin scanner, include finder and JJB placeholder resolution never
//! panic on arbitrary text, and every pin's spans point inside the text at
//! what they claim.
#![no_main]
use dockyard_core::{jjb, pins, yaml};
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "reg.example/ns/";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let found = pins::scan(text, PREFIX);
    for p in &found {
        assert!(text[p.span.clone()].starts_with(PREFIX));
        assert_eq!(&text[p.span.start + PREFIX.len()..][..p.name.len()], p.name);
        if let (Some(span), Some(tag)) = (&p.tag_span, &p.tag) {
            assert_eq!(&text[span.clone()], tag);
        }
        assert_eq!(text[..p.span.start].matches('\n').count() + 1, p.line);
        assert_eq!(text[..p.span.start].rsplit('\n').next().unwrap().chars().count() + 1, p.column);
        assert!(p.line_span.start <= p.span.start && p.span.start <= p.line_span.end.max(p.span.start));
    }
    let _ = pins::includes(text);
    if let Ok(docs) = yaml::load(text) {
        let indexes: Vec<_> = docs.iter().map(jjb::ScopeIndex::build).collect();
        for p in found.iter().filter(|p| p.has_placeholder()) {
            let needle = format!("{PREFIX}{}", p.name);
            if let Some(scope) = indexes.iter().find_map(|i| i.scope_of(p.span.start, &needle)) {
                if let jjb::Resolution::Values(v) = scope.expand(&p.name) {
                    assert!(v.len() <= dockyard_core::limits::MAX_PLACEHOLDER_EXPANSIONS);
                }
            }
        }
    }
});
